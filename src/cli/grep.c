/* grep.c: the `grep` verb (a fixed byte string, hex bytes or a pointer value in blocks, live and freed, with block,
 * offset, state and a little context) and the `strings` verb (printable runs in blocks).
 *
 * Must never: let a match or a run span two blocks (each block is searched on its own), print raw heap bytes
 * (everything is escaped, the heap may hold anything), or search a file's holes byte by byte (scan.c).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CONTEXT 16

/* what grep and strings share: the blocks a search selects, handed piece by piece to the verb's reader */
struct search {
	const char *verb, *list; /* the JSON record's verb and the name of its list */
	unsigned mask;           /* CLI_IN_* */
	size_t min_size, pad;    /* blocks smaller than min_size are skipped; pad as for cli_block_pieces */
	cli_piece_fn fn;
	void *user;
};

/* Open path and run the search: on success ch is open and, when j is given, the record is begun with its list
 * open and *jp = j; the caller ends both. */
static int search(const char *path, const struct search *s, struct cli_json *j, struct cli_json **jp,
		  struct cli_heap *ch, int *brc)
{
	if (cli_open_blocks(path, ch, brc))
		return CLI_ERR;
	if (j) {
		json_begin_list(j, s->verb, ch->path, s->list);
		*jp = j;
	}
	for (size_t i = 0; i < ch->nblocks; i++) {
		const pmp_block_t *b = &ch->blocks[i];
		if (cli_scan_wants(s->mask, b) && b->size >= s->min_size)
			cli_block_pieces(ch, b, s->pad, s->fn, s->user);
	}
	return 0;
}

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

/* "de ad be ef", "deadbeef", "de:ad:be:ef": bytes in memory order */
static int parse_hex(const char *s, uint8_t *out, size_t cap, size_t *n)
{
	*n = 0;
	for (const char *p = s; *p;) {
		if (*p == ' ' || *p == ':' || *p == '\t') {
			p++;
			continue;
		}
		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) || *n == cap) {
			cli_errorf("grep: --hex '%s': wanted pairs of hex digits (de ad be ef), at most %zu bytes", s, cap);
			return -1;
		}
		char two[3] = {p[0], p[1], 0};
		out[(*n)++] = (uint8_t)strtoul(two, NULL, 16);
		p += 2;
	}
	if (!*n) {
		cli_errorf("grep: --hex: no bytes given");
		return -1;
	}
	return 0;
}

int cli_grep(int argc, char **argv)
{
	int json = 0, used = 0, freed = 0, n;
	const char *hex = NULL, *ptr = NULL, *pos[2];
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {"--used", NULL, &used}, {"--free", NULL, &freed},
				       {"--hex", &hex, NULL}, {"--ptr", &ptr, NULL}, {NULL, NULL, NULL}};
	if (cli_args(argc, argv, opts, pos, 1, 2, &n))
		return CLI_ERR;
	if ((n == 2) + !!hex + !!ptr != 1) {
		cli_errorf("grep: give one of PATTERN, --hex BYTES, --ptr ADDR");
		cli_usage_verb("grep");
		return CLI_ERR;
	}
	static uint8_t buf[4096];
	struct grep g = {buf, 0, NULL, 0};
	uint64_t a;
	if (hex && parse_hex(hex, buf, sizeof buf, &g.plen))
		return CLI_ERR;
	if (ptr) {
		if (cli_parse_addr(ptr, &a))
			return CLI_ERR;
		memcpy(buf, &a, sizeof a); /* as the writer stored it: a native word */
		g.plen = sizeof a;
	}
	if (n == 2) {
		g.pat = (const uint8_t *)pos[1];
		g.plen = strlen(pos[1]);
	}
	size_t nz = 0;
	while (nz < g.plen && !g.pat[nz])
		nz++;
	if (nz == g.plen) {
		/* zeros match throughout every hole and every untouched byte: no answer worth the time */
		cli_errorf(g.plen ? "grep: a pattern of zero bytes only is not searched (it matches every hole)"
				  : "grep: empty pattern");
		return CLI_ERR;
	}
	const struct search se = {"grep", "matches", cli_scan_mask(used, freed), g.plen, g.plen - 1, grep_piece, &g};
	struct cli_heap ch;
	struct cli_json j;
	int brc;
	if (search(pos[0], &se, json ? &j : NULL, &g.j, &ch, &brc))
		return CLI_ERR;
	if (json) {
		json_arr_end(&j);
		json_bytes(&j, "pattern", g.pat, g.plen);
		json_hex(&j, "pattern_hex", g.pat, g.plen);
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
	int json = 0, used = 0, freed = 0, n;
	const char *min_s = NULL, *pos[1];
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {"--min", &min_s, NULL}, {"--used", NULL, &used},
				       {"--free", NULL, &freed}, {NULL, NULL, NULL}};
	if (cli_args(argc, argv, opts, pos, 1, 1, &n))
		return CLI_ERR;
	struct strs st = {4, 0, NULL};
	if (min_s && cli_parse_size(min_s, &st.min))
		return CLI_ERR;
	if (!st.min)
		st.min = 1;
	const struct search se = {"strings", "strings", cli_scan_mask(used, freed), 1, 0, strings_piece, &st};
	struct cli_heap ch;
	struct cli_json j;
	int brc;
	if (search(pos[0], &se, json ? &j : NULL, &st.j, &ch, &brc))
		return CLI_ERR;
	if (json) {
		json_arr_end(&j);
		json_u64(&j, "min", st.min);
		json_u64(&j, "count", st.found);
		json_end(&j);
	}
	cli_close(&ch);
	return brc;
}
