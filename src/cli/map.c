/* map.c: the `map` verb: an SVG picture of the heap: the arena laid out in rows of equal bytes, used, free and cached
 * blocks in their colours (adjacent blocks of one state drawn as one run), roots marked, a legend and a scale.
 *
 * Must never: put a byte from the heap (root names) into the SVG unescaped, or grow with the heap's size: the
 * picture has at most MAX_ROWS rows and one shape per run of blocks.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "cli.h"

#define WIDTH 1024      /* pixels of one row */
#define ROW_H 8
#define ROW_GAP 6       /* room for the root markers */
#define MAX_ROWS 256
#define LEFT 150        /* address labels */
#define TOP 60

static const char *colour(int state)
{
	return state == PMP_BLOCK_USED ? "#3b7dd8" : state == PMP_BLOCK_FREE ? "#cfe8cf" :
	       state == PMP_BLOCK_LOST ? "#c0392b" : "#f0b429";
}

static void xml(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default: fputc(c >= 0x20 && c < 0x7f ? c : '?', f);
		}
	}
}

struct layout {
	uint64_t start, len;   /* arena bytes pictured (original addresses) */
	uint64_t bpp;          /* bytes per pixel */
	uint64_t row_bytes;
	uint64_t rows;
};

static double px(const struct layout *l, uint64_t bytes)
{
	return (double)bytes / (double)l->bpp;
}

/* [a, b) of the arena as rectangles, one per row it touches */
static void span(FILE *f, const struct layout *l, uint64_t a, uint64_t b, const char *fill, const char *title)
{
	a -= l->start;
	b -= l->start;
	while (a < b) {
		uint64_t row = a / l->row_bytes, in = a % l->row_bytes;
		uint64_t end = b - a < l->row_bytes - in ? b : a + (l->row_bytes - in);
		double x = LEFT + px(l, in), w = px(l, end - a);
		if (w < 1)
			w = 1;
		fprintf(f, "<rect x=\"%.2f\" y=\"%" PRIu64 "\" width=\"%.2f\" height=\"%d\" fill=\"%s\"><title>", x,
			TOP + row * (ROW_H + ROW_GAP), w, ROW_H, fill);
		xml(f, title);
		fputs("</title></rect>\n", f);
		a = end;
	}
}

static void point(const struct layout *l, uint64_t a, double *x, double *y)
{
	a -= l->start;
	*x = LEFT + px(l, a % l->row_bytes);
	*y = (double)(TOP + a / l->row_bytes * (ROW_H + ROW_GAP));
}

int cli_map(int argc, char **argv)
{
	const char *out = NULL;
	const struct cli_opt opts[] = {{"-o", &out, NULL}, {"--output", &out, NULL}, {NULL, NULL, NULL}};
	struct cli_heap ch;
	if (cli_open_args(argc, argv, opts, &ch))
		return CLI_ERR;
	int brc;
	if (cli_load(&ch, 1, &brc))
		return CLI_ERR;
	FILE *f = stdout;
	if (out && strcmp(out, "-") && !(f = fopen(out, "w"))) {
		cli_errorf("%s: %s", out, strerror(errno));
		cli_close(&ch);
		return CLI_ERR;
	}
	struct layout l;
	uint64_t hdr0 = ch.nblocks ? ch.blocks[0].block_size - ch.blocks[0].size : 0;
	l.start = ch.nblocks ? (uint64_t)(uintptr_t)ch.blocks[0].addr - hdr0 : ch.base;
	l.len = ch.base + ch.mapped > l.start ? ch.base + ch.mapped - l.start : 1;
	for (l.bpp = 1; (l.len + WIDTH * l.bpp - 1) / (WIDTH * l.bpp) > MAX_ROWS; l.bpp *= 2)
		;
	l.row_bytes = (uint64_t)WIDTH * l.bpp;
	l.rows = (l.len + l.row_bytes - 1) / l.row_bytes;
	uint64_t height = TOP + l.rows * (ROW_H + ROW_GAP) + 90 + 14 * (ch.nroots < 40 ? ch.nroots : 40);
	struct cli_census c;
	cli_census(&ch, &c);

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%" PRIu64 "\" "
		   "font-family=\"monospace\" font-size=\"11\">\n", LEFT + WIDTH + 20, height);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"10\" y=\"18\" font-size=\"14\">");
	xml(f, ch.path);
	fprintf(f, ": heap at 0x%" PRIx64 ", %" PRIu64 " bytes mapped, %s</text>\n", ch.base, ch.mapped,
		ch.info.clean ? "clean" : "not closed cleanly");
	fprintf(f, "<text x=\"10\" y=\"36\">%" PRIu64 " used blocks (%" PRIu64 " usable bytes), %" PRIu64 " free (%" PRIu64
		   " bytes), %" PRIu64 " cached, %zu roots%s</text>\n",
		c.total[CLI_ST_USED].blocks, c.total[CLI_ST_USED].bytes, c.total[CLI_ST_FREE].blocks,
		c.total[CLI_ST_FREE].bytes, c.total[CLI_ST_CACHED].blocks, ch.nroots,
		brc ? "; chain damaged, picture incomplete" : "");
	/* arena background: whatever no block covers (the end sentinel, or a damaged tail) */
	for (uint64_t r = 0; r < l.rows; r++) {
		uint64_t rb = r + 1 == l.rows ? l.len - r * l.row_bytes : l.row_bytes;
		fprintf(f, "<rect x=\"%d\" y=\"%" PRIu64 "\" width=\"%.2f\" height=\"%d\" fill=\"#dddddd\"/>\n", LEFT,
			TOP + r * (ROW_H + ROW_GAP), px(&l, rb), ROW_H);
		if (r % 8 == 0)
			fprintf(f, "<text x=\"10\" y=\"%" PRIu64 "\">0x%" PRIx64 "</text>\n", TOP + r * (ROW_H + ROW_GAP) + ROW_H,
				l.start + r * l.row_bytes);
	}
	/* runs of blocks in one state */
	for (size_t i = 0; i < ch.nblocks;) {
		size_t k = i;
		uint64_t run_bytes = 0;
		while (k < ch.nblocks && ch.blocks[k].state == ch.blocks[i].state)
			run_bytes += ch.blocks[k++].block_size;
		const pmp_block_t *b = &ch.blocks[i];
		uint64_t a = (uint64_t)(uintptr_t)b->addr - (b->block_size - b->size);
		char title[128];
		snprintf(title, sizeof title, "%zu %s block%s at 0x%" PRIx64 ", %" PRIu64 " bytes", k - i,
			 cli_state_name(b->state), k - i > 1 ? "s" : "", a + (b->block_size - b->size), run_bytes);
		span(f, &l, a, a + run_bytes, colour(b->state), title);
		i = k;
	}
	/* roots: a red marker over the block start */
	for (size_t i = 0; i < ch.nroots; i++) {
		uint64_t a = ch.roots[i].addr;
		if (a < l.start || a - l.start >= l.len)
			continue;
		double x, y;
		point(&l, a, &x, &y);
		fprintf(f, "<path d=\"M%.2f %.2f l-4 -5 h8 z\" fill=\"#d62728\"><title>root ", x, y);
		xml(f, ch.roots[i].name);
		fprintf(f, " -&gt; 0x%" PRIx64 "</title></path>\n", a);
	}
	/* legend and scale */
	uint64_t ly = TOP + l.rows * (ROW_H + ROW_GAP) + 20;
	static const struct { int state; const char *label; } legend[] = {
		{PMP_BLOCK_USED, "used"}, {PMP_BLOCK_FREE, "free"}, {PMP_BLOCK_CACHED, "cached (quarantine)"},
		{PMP_BLOCK_LOST, "lost (salvaged)"}};
	int lx = LEFT;
	for (size_t i = 0; i < sizeof legend / sizeof legend[0]; i++) {
		fprintf(f, "<rect x=\"%d\" y=\"%" PRIu64 "\" width=\"12\" height=\"12\" fill=\"%s\" stroke=\"#555\"/>"
			   "<text x=\"%d\" y=\"%" PRIu64 "\">%s</text>\n", lx, ly, colour(legend[i].state), lx + 16, ly + 10,
			legend[i].label);
		lx += 60 + 7 * (int)strlen(legend[i].label);
	}
	fprintf(f, "<path d=\"M%d %" PRIu64 " l-4 -6 h8 z\" fill=\"#d62728\"/><text x=\"%d\" y=\"%" PRIu64
		   "\">root</text>\n", lx + 4, ly + 11, lx + 12, ly + 10);
	lx += 60;
	fprintf(f, "<rect x=\"%d\" y=\"%" PRIu64 "\" width=\"12\" height=\"12\" fill=\"#dddddd\" stroke=\"#555\"/>"
		   "<text x=\"%d\" y=\"%" PRIu64 "\">no block (end sentinel)</text>\n", lx, ly, lx + 16, ly + 10);
	uint64_t sy = ly + 30;
	uint64_t bar = 128; /* pixels */
	fprintf(f, "<path d=\"M%d %" PRIu64 " v6 h%" PRIu64 " v-6\" stroke=\"black\" fill=\"none\"/>"
		   "<text x=\"%" PRIu64 "\" y=\"%" PRIu64 "\">%" PRIu64 " bytes (1 px = %" PRIu64 " bytes, 1 row = %" PRIu64
		   " bytes)</text>\n", LEFT, sy, bar, LEFT + bar + 8, sy + 7, bar * l.bpp, l.bpp, l.row_bytes);
	for (size_t i = 0; i < ch.nroots && i < 40; i++) {
		fprintf(f, "<text x=\"%d\" y=\"%" PRIu64 "\">root ", LEFT, sy + 30 + 14 * i);
		xml(f, ch.roots[i].name);
		fprintf(f, " -&gt; 0x%" PRIx64 "</text>\n", ch.roots[i].addr);
	}
	fputs("</svg>\n", f);
	int werr = ferror(f);
	if (f != stdout && fclose(f))
		werr = 1;
	if (werr) {
		cli_errorf("%s: write error", out ? out : "standard output");
		cli_close(&ch);
		return CLI_ERR;
	}
	if (f != stdout)
		fprintf(stderr, "pmempreload: wrote %s (%" PRIu64 " rows of %" PRIu64 " bytes)\n", out, l.rows, l.row_bytes);
	cli_close(&ch);
	return brc;
}
