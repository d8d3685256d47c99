/* grep.c: the `grep` verb (a fixed byte string in blocks, with block, offset and a little context) and the
 * `strings` verb (printable runs in blocks).
 *
 * Must never: let a match or a run span two blocks (each block is searched on its own), print raw heap bytes
 * (everything is escaped, the heap may hold anything), or search a file's holes byte by byte (scan.c).
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

#define CONTEXT 16

struct grep {
	const uint8_t *pat;
	size_t plen;
	struct cli_json *j; /* NULL for text */
	uint64_t found;
};

static void show_match(struct grep *g, const pmp_block_t *b, size_t off)
{
	const uint8_t *d = b->data;
	size_t c0 = off > CONTEXT ? off - CONTEXT : 0;
	size_t c1 = off + g->plen + CONTEXT < b->size ? off + g->plen + CONTEXT : b->size;
	g->found++;
	if (g->j) {
		json_obj(g->j, NULL);
		cli_hit_json(g->j, b, off);
		json_bytes(g->j, "context", d + c0, c1 - c0);
		json_obj_end(g->j);
		return;
	}
	cli_hit_print(b, off);
	fputs(": ", stdout);
	cli_print_escaped(stdout, d + c0, off - c0);
	fputs("[[", stdout);
	cli_print_escaped(stdout, d + off, g->plen);
	fputs("]]", stdout);
	cli_print_escaped(stdout, d + off + g->plen, c1 - off - g->plen);
	putchar('\n');
}

static int grep_piece(const pmp_block_t *b, size_t off, const uint8_t *p, size_t len, void *user)
{
	struct grep *g = user;
	const uint8_t *q = p, *end = p + len;
	while ((size_t)(end - q) >= g->plen && (q = memmem(q, (size_t)(end - q), g->pat, g->plen)) != NULL) {
		show_match(g, b, off + (size_t)(q - p));
		q++;
	}
	return 0;
}

int cli_grep(int argc, char **argv)
{
	int json = 0, n;
	const char *pos[2];
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {NULL, NULL, NULL}};
	if (cli_args(argc, argv, opts, pos, 2, 2, &n))
		return CLI_ERR;
	struct grep g = {(const uint8_t *)pos[1], strlen(pos[1]), NULL, 0};
	if (!g.plen) {
		cli_errorf("grep: empty pattern");
		return CLI_ERR;
	}
	struct cli_heap ch;
	int brc;
	if (cli_open_blocks(pos[0], &ch, &brc))
		return CLI_ERR;
	struct cli_json j;
	if (json) {
		json_begin(&j, stdout, "grep");
		json_str(&j, "file", ch.path);
		json_str(&j, "pattern", pos[1]);
		json_arr(&j, "matches");
		g.j = &j;
	}
	for (size_t i = 0; i < ch.nblocks; i++) {
		const pmp_block_t *b = &ch.blocks[i];
		if (b->state == PMP_BLOCK_USED && b->size >= g.plen)
			cli_block_pieces(&ch, b, g.plen - 1, grep_piece, &g);
	}
	if (json) {
		json_arr_end(&j);
		json_u64(&j, "count", g.found);
		json_end(&j);
	}
	cli_close(&ch);
	return !g.found ? CLI_FAIL : brc;
}

static int printable(uint8_t c)
{
	return (c >= 0x20 && c < 0x7f) || c == '\t';
}

struct strs {
	uint64_t min, found;
	struct cli_json *j;
};

/* a run never crosses a piece's edge: pieces end where a hole (zeros) or the payload begins or ends */
static int strings_piece(const pmp_block_t *b, size_t off, const uint8_t *d, size_t len, void *user)
{
	struct strs *st = user;
	uint64_t blk = (uint64_t)(uintptr_t)b->addr;
	for (size_t k = 0; k < len;) {
		if (!printable(d[k])) {
			k++;
			continue;
		}
		size_t s = k;
		while (k < len && printable(d[k]))
			k++;
		if (k - s < st->min)
			continue;
		st->found++;
		if (st->j) {
			json_obj(st->j, NULL);
			cli_hit_json(st->j, b, off + s);
			json_bytes(st->j, "string", d + s, k - s);
			json_obj_end(st->j);
		} else {
			printf("0x%" PRIx64 " ", blk + off + s);
			cli_hit_print(b, off + s);
			fputs(": ", stdout);
			cli_print_escaped(stdout, d + s, k - s);
			putchar('\n');
		}
	}
	return 0;
}

int cli_strings(int argc, char **argv)
{
	int json = 0, n;
	const char *min_s = NULL, *pos[1];
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {"--min", &min_s, NULL}, {NULL, NULL, NULL}};
	if (cli_args(argc, argv, opts, pos, 1, 1, &n))
		return CLI_ERR;
	struct strs st = {4, 0, NULL};
	if (min_s && cli_parse_size(min_s, &st.min))
		return CLI_ERR;
	if (!st.min)
		st.min = 1;
	struct cli_heap ch;
	int brc;
	if (cli_open_blocks(pos[0], &ch, &brc))
		return CLI_ERR;
	struct cli_json j;
	if (json) {
		json_begin(&j, stdout, "strings");
		json_str(&j, "file", ch.path);
		json_u64(&j, "min", st.min);
		json_arr(&j, "strings");
		st.j = &j;
	}
	for (size_t i = 0; i < ch.nblocks; i++)
		if (ch.blocks[i].state == PMP_BLOCK_USED)
			cli_block_pieces(&ch, &ch.blocks[i], 0, strings_piece, &st);
	if (json) {
		json_arr_end(&j);
		json_u64(&j, "count", st.found);
		json_end(&j);
	}
	cli_close(&ch);
	return brc;
}
