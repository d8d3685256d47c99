/* grep.c: the `grep` verb (a fixed byte string in used blocks, with block, offset and a little context) and the
 * `strings` verb (printable runs in used blocks).
 *
 * Must never: let a match or a run span two blocks (each block is searched on its own), or print raw heap bytes:
 * everything is escaped, the heap may hold anything.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

#define CONTEXT 16

int cli_grep(int argc, char **argv)
{
	int json = 0, n;
	const char *pos[2];
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {NULL, NULL, NULL}};
	if (cli_args(argc, argv, opts, pos, 2, 2, &n))
		return CLI_ERR;
	const char *pat = pos[1];
	size_t plen = strlen(pat);
	if (!plen) {
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
		json_str(&j, "pattern", pat);
		json_arr(&j, "matches");
	}
	uint64_t found = 0;
	for (size_t i = 0; i < ch.nblocks; i++) {
		const pmp_block_t *b = &ch.blocks[i];
		if (b->state != PMP_BLOCK_USED || b->size < plen)
			continue;
		const uint8_t *d = b->data, *p = d;
		size_t left = b->size;
		while ((p = memmem(p, left - (size_t)(p - d), pat, plen)) != NULL) {
			size_t off = (size_t)(p - d);
			size_t c0 = off > CONTEXT ? off - CONTEXT : 0;
			size_t c1 = off + plen + CONTEXT < b->size ? off + plen + CONTEXT : b->size;
			uint64_t blk = (uint64_t)(uintptr_t)b->addr;
			found++;
			if (json) {
				json_obj(&j, NULL);
				json_addr(&j, "block", blk);
				json_u64(&j, "offset", off);
				json_addr(&j, "address", blk + off);
				json_u64(&j, "block_size", b->size);
				json_bytes(&j, "context", d + c0, c1 - c0);
				json_obj_end(&j);
			} else {
				printf("0x%" PRIx64 "+%zu (block size %zu): ", blk, off, b->size);
				cli_print_escaped(stdout, d + c0, off - c0);
				fputs("[[", stdout);
				cli_print_escaped(stdout, p, plen);
				fputs("]]", stdout);
				cli_print_escaped(stdout, p + plen, c1 - off - plen);
				putchar('\n');
			}
			p++;
			if ((size_t)(p - d) + plen > b->size)
				break;
		}
	}
	if (json) {
		json_arr_end(&j);
		json_u64(&j, "count", found);
		json_end(&j);
	}
	cli_close(&ch);
	return !found ? CLI_FAIL : brc;
}

static int printable(uint8_t c)
{
	return (c >= 0x20 && c < 0x7f) || c == '\t';
}

int cli_strings(int argc, char **argv)
{
	int json = 0, n;
	const char *min_s = NULL, *pos[1];
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {"--min", &min_s, NULL}, {NULL, NULL, NULL}};
	if (cli_args(argc, argv, opts, pos, 1, 1, &n))
		return CLI_ERR;
	uint64_t min = 4;
	if (min_s && cli_parse_size(min_s, &min))
		return CLI_ERR;
	if (!min)
		min = 1;
	struct cli_heap ch;
	int brc;
	if (cli_open_blocks(pos[0], &ch, &brc))
		return CLI_ERR;
	struct cli_json j;
	if (json) {
		json_begin(&j, stdout, "strings");
		json_str(&j, "file", ch.path);
		json_u64(&j, "min", min);
		json_arr(&j, "strings");
	}
	uint64_t found = 0;
	for (size_t i = 0; i < ch.nblocks; i++) {
		const pmp_block_t *b = &ch.blocks[i];
		if (b->state != PMP_BLOCK_USED)
			continue;
		const uint8_t *d = b->data;
		uint64_t blk = (uint64_t)(uintptr_t)b->addr;
		for (size_t k = 0; k < b->size;) {
			if (!printable(d[k])) {
				k++;
				continue;
			}
			size_t s = k;
			while (k < b->size && printable(d[k]))
				k++;
			if (k - s < min)
				continue;
			found++;
			if (json) {
				json_obj(&j, NULL);
				json_addr(&j, "address", blk + s);
				json_addr(&j, "block", blk);
				json_u64(&j, "offset", s);
				json_bytes(&j, "string", d + s, k - s);
				json_obj_end(&j);
			} else {
				printf("0x%" PRIx64 " (0x%" PRIx64 "+%zu): ", blk + s, blk, s);
				cli_print_escaped(stdout, d + s, k - s);
				putchar('\n');
			}
		}
	}
	if (json) {
		json_arr_end(&j);
		json_u64(&j, "count", found);
		json_end(&j);
	}
	cli_close(&ch);
	return brc;
}
