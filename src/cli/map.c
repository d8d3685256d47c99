/* map.c: the `map` verb: a picture of the heap as one SVG: the arena laid out in rows of equal bytes, drawn as one
 * embedded PNG in which each pixel covers the same number of bytes and takes the colours of the block states in it,
 * weighted by their share of its bytes (a pixel half used and half free is half way between the two colours); root
 * markers, address labels, a legend and the scale around it. A slab page is no block: its slots are drawn as the
 * blocks they are, its own bytes (chain header, page header, slack after the slots) as allocator overhead.
 *
 * Must never: grow with the number of blocks (the picture is at most WIDTH x MAX_ROWS pixels and a fixed number of
 * SVG elements; building it costs one pass over the blocks plus one per pixel), or put a byte from the heap (root
 * names, the path) into the SVG unescaped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define WIDTH 1024      /* pixels of one row */
#define ROW_H 6         /* each pixel row is drawn this tall */
#define MAX_ROWS 256
#define LEFT 150        /* address labels */
#define TOP 60
#define MAX_ROOT_MARKS 128

/* the states' colours, the colour of slab pages' own bytes, and that of arena bytes no block or page covers (the
 * end sentinel, a damaged tail) */
enum { C_USED, C_FREE, C_CACHED, C_LOST, C_PAGE, C_NONE, NCOLOURS };
static const uint8_t rgb[NCOLOURS][3] = {{0x3b, 0x7d, 0xd8}, {0xe6, 0xf2, 0xe6}, {0xf0, 0xb4, 0x29},
					 {0xc0, 0x39, 0x2b}, {0x7a, 0x5c, 0x99}, {0xb0, 0xb0, 0xb0}};
static const char *const hex[NCOLOURS] = {"#3b7dd8", "#e6f2e6", "#f0b429", "#c0392b", "#7a5c99", "#b0b0b0"};

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
	uint64_t bpp;          /* bytes per pixel, a power of two */
	uint64_t rows;
};

/* The image, one pass: each pixel gathers the bytes of each state that fall in it; a pixel inside one block is
 * painted at once, so the cost is blocks + pixels whatever the sizes. */
struct painter {
	const struct layout *l;
	uint8_t *img;
	uint64_t cur;             /* pixel being gathered */
	uint64_t acc[NCOLOURS];
};

static void paint(struct painter *p, uint64_t px, const uint64_t *bytes)
{
	double c[3] = {0, 0, 0};
	for (int k = 0; k < NCOLOURS; k++)
		for (int i = 0; i < 3; i++)
			c[i] += (double)bytes[k] * rgb[k][i];
	for (int i = 0; i < 3; i++)
		p->img[px * 3 + i] = (uint8_t)(c[i] / (double)p->l->bpp + 0.5);
}

/* finish the pixel being gathered and paint the untouched ones before px as bytes of no block */
static void flush_to(struct painter *p, uint64_t px)
{
	uint64_t sum = 0, none[NCOLOURS] = {0};
	for (int k = 0; k < NCOLOURS; k++)
		sum += p->acc[k];
	if (sum) {
		p->acc[C_NONE] += p->l->bpp - sum;
		paint(p, p->cur, p->acc);
		memset(p->acc, 0, sizeof p->acc);
		p->cur++;
	}
	none[C_NONE] = p->l->bpp;
	for (; p->cur < px; p->cur++)
		paint(p, p->cur, none);
}

static void add_bytes(struct painter *p, uint64_t a, uint64_t b, int colour)
{
	const struct layout *l = p->l;
	uint64_t solid[NCOLOURS] = {0};
	solid[colour] = l->bpp;
	while (a < b) {
		uint64_t px = (a - l->start) / l->bpp, pend = l->start + (px + 1) * l->bpp;
		if (px != p->cur)
			flush_to(p, px);
		if (a == pend - l->bpp && b - a >= l->bpp) { /* whole pixels */
			uint64_t n = (b - a) / l->bpp;
			for (uint64_t i = 0; i < n; i++)
				paint(p, px + i, solid);
			p->cur = px + n;
			a += n * l->bpp;
			continue;
		}
		uint64_t e = b < pend ? b : pend;
		p->acc[colour] += e - a;
		a = e;
	}
}

static int colour_of(int state)
{
	switch (state) {
	case PMP_BLOCK_FREE: return C_FREE;
	case PMP_BLOCK_CACHED: return C_CACHED;
	case PMP_BLOCK_LOST: return C_LOST;
	case PMP_BLOCK_DAMAGED: return C_NONE;
	default: return C_USED;
	}
}

static void add_range(struct painter *p, uint64_t a, uint64_t e, int colour)
{
	if (a < p->l->start || e > p->l->start + p->l->len || e < a)
		return; /* the walk bounds blocks by the arena; this only keeps the painter's arithmetic safe */
	add_bytes(p, a, e, colour);
}

static uint8_t *picture(const struct cli_heap *ch, const struct layout *l)
{
	uint64_t npx = l->rows * WIDTH, used_px = (l->len + l->bpp - 1) / l->bpp;
	uint8_t *img = malloc(npx * 3);
	if (!img)
		return NULL;
	memset(img, 0xff, npx * 3); /* past the arena's end: white */
	struct painter p = {l, img, 0, {0}};
	for (size_t i = 0; i < ch->nblocks;) {
		const pmp_block_t *b = &ch->blocks[i];
		if (!cli_is_slot(b)) {
			add_range(&p, cli_block_start(b), cli_block_start(b) + b->block_size, colour_of(b->state));
			i++;
			continue;
		}
		/* a page, in address order: its chain header and header, its slots, its slack */
		struct cli_page pg;
		uint64_t end, start;
		cli_page_of_slot(ch, i, &pg);
		start = cli_page_slots(ch, &pg, &end);
		add_range(&p, pg.addr - CLI_HDR, start, C_PAGE);
		for (; i < pg.first + pg.n; i++) {
			b = &ch->blocks[i];
			add_range(&p, (uint64_t)(uintptr_t)b->addr, (uint64_t)(uintptr_t)b->addr + b->size, colour_of(b->state));
		}
		add_range(&p, end, cli_page_end(&pg), C_PAGE);
	}
	flush_to(&p, used_px);
	return img;
}

int cli_map_svg(FILE *f, const struct cli_heap *ch, int brc)
{
	struct layout l;
	/* the arena starts with a chain block (a page's payload is 64 KiB-aligned, the first block's is not) */
	l.start = ch->nblocks ? cli_block_start(&ch->blocks[0]) : ch->base;
	l.len = ch->base + ch->mapped > l.start ? ch->base + ch->mapped - l.start : 1;
	for (l.bpp = 1; (l.len + WIDTH * l.bpp - 1) / (WIDTH * l.bpp) > MAX_ROWS; l.bpp *= 2)
		;
	l.rows = (l.len + WIDTH * l.bpp - 1) / (WIDTH * l.bpp);
	uint8_t *img = picture(ch, &l);
	if (!img)
		return ENOMEM;
	struct cli_census c;
	cli_census(ch, &c);
	uint64_t img_h = l.rows * ROW_H, shown_roots = ch->nroots < 40 ? ch->nroots : 40;
	uint64_t height = TOP + img_h + 100 + 14 * shown_roots;

	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
		   "width=\"%d\" height=\"%" PRIu64 "\" viewBox=\"0 0 %d %" PRIu64 "\" font-family=\"monospace\" "
		   "font-size=\"11\">\n", LEFT + WIDTH + 20, height, LEFT + WIDTH + 20, height);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"10\" y=\"18\" font-size=\"14\">");
	xml(f, ch->path);
	fprintf(f, ": heap at 0x%" PRIx64 ", %" PRIu64 " bytes mapped, %s</text>\n", ch->base, ch->mapped,
		ch->info.clean ? "clean" : "not closed cleanly");
	fprintf(f, "<text x=\"10\" y=\"36\">%" PRIu64 " used blocks (%" PRIu64 " usable bytes), %" PRIu64 " free (%" PRIu64
		   " bytes), %" PRIu64 " cached, %" PRIu64 " lost, %" PRIu64 " slab pages, %zu roots%s</text>\n",
		c.total[CLI_ST_USED].blocks, c.total[CLI_ST_USED].bytes, c.total[CLI_ST_FREE].blocks,
		c.total[CLI_ST_FREE].bytes, c.total[CLI_ST_CACHED].blocks, c.total[CLI_ST_LOST].blocks, c.pages, ch->nroots,
		brc ? "; chain damaged: damaged stretches are drawn as no block" : "");
	fprintf(f, "<text x=\"10\" y=\"52\">each pixel covers %" PRIu64 " bytes and mixes the colours of the states of "
		   "its bytes by their share</text>\n", l.bpp);
	fprintf(f, "<image x=\"%d\" y=\"%d\" width=\"%d\" height=\"%" PRIu64 "\" preserveAspectRatio=\"none\" "
		   "style=\"image-rendering:pixelated\" xlink:href=\"", LEFT, TOP, WIDTH, img_h);
	int e = cli_png_uri(f, img, WIDTH, (unsigned)l.rows);
	free(img);
	if (e)
		return e;
	fputs("\"/>\n", f);
	for (uint64_t r = 0; r < l.rows; r += 16)
		fprintf(f, "<text x=\"10\" y=\"%" PRIu64 "\">0x%" PRIx64 "</text>\n", TOP + r * ROW_H + 9,
			l.start + r * WIDTH * l.bpp);
	/* roots: a red marker over the block start */
	for (size_t i = 0, marks = 0; i < ch->nroots && marks < MAX_ROOT_MARKS; i++) {
		uint64_t a = ch->roots[i].addr;
		if (a < l.start || a - l.start >= l.len)
			continue;
		uint64_t px = (a - l.start) / l.bpp;
		marks++;
		fprintf(f, "<path d=\"M%.1f %" PRIu64 " l-4 -6 h8 z\" fill=\"#d62728\" stroke=\"white\" stroke-width=\"0.5\">"
			   "<title>root ", LEFT + (double)(px % WIDTH) + 0.5, TOP + px / WIDTH * ROW_H + 1);
		xml(f, ch->roots[i].name);
		fprintf(f, " -&gt; 0x%" PRIx64 "</title></path>\n", a);
	}
	/* legend and scale */
	uint64_t ly = TOP + img_h + 20;
	static const char *const labels[NCOLOURS] = {"used", "free", "cached (quarantine)", "lost (salvaged)",
						     "slab page overhead", "no block (end sentinel, damaged stretch)"};
	int lx = LEFT;
	for (int k = 0; k < NCOLOURS; k++) {
		fprintf(f, "<rect x=\"%d\" y=\"%" PRIu64 "\" width=\"12\" height=\"12\" fill=\"%s\" stroke=\"#555\"/>"
			   "<text x=\"%d\" y=\"%" PRIu64 "\">%s</text>\n", lx, ly, hex[k], lx + 16, ly + 10, labels[k]);
		lx += 40 + 7 * (int)strlen(labels[k]);
	}
	fprintf(f, "<path d=\"M%d %" PRIu64 " l-4 -6 h8 z\" fill=\"#d62728\"/><text x=\"%d\" y=\"%" PRIu64
		   "\">root</text>\n", lx + 4, ly + 11, lx + 12, ly + 10);
	uint64_t sy = ly + 30, bar = 128; /* pixels */
	fprintf(f, "<path d=\"M%d %" PRIu64 " v6 h%" PRIu64 " v-6\" stroke=\"black\" fill=\"none\"/>"
		   "<text x=\"%" PRIu64 "\" y=\"%" PRIu64 "\">%" PRIu64 " bytes (1 px = %" PRIu64 " bytes, 1 row = %" PRIu64
		   " bytes, %" PRIu64 " rows)</text>\n", LEFT, sy, bar, LEFT + bar + 8, sy + 7, bar * l.bpp, l.bpp,
		WIDTH * l.bpp, l.rows);
	for (size_t i = 0; i < shown_roots; i++) {
		fprintf(f, "<text x=\"%d\" y=\"%" PRIu64 "\">root ", LEFT, sy + 30 + 14 * i);
		xml(f, ch->roots[i].name);
		fprintf(f, " -&gt; 0x%" PRIx64 "</text>\n", ch->roots[i].addr);
	}
	fputs("</svg>\n", f);
	return 0;
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
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	int e = cli_map_svg(f, &ch, brc);
	int werr = ferror(f);
	if (f != stdout && fclose(f))
		werr = 1;
	if (e || werr) {
		cli_errorf("%s: %s", out ? out : "standard output", e ? strerror(e) : "write error");
		cli_close(&ch);
		return CLI_ERR;
	}
	if (f != stdout)
		fprintf(stderr, "pmempreload: wrote %s\n", out);
	cli_close(&ch);
	return brc;
}
