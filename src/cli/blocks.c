/* blocks.c: the `blocks` verb: one line per block of the chain (original address, usable size, state), filtered
 * by state and size; with --by-site, the blocks summed by call site instead (sites.c).
 *
 * Must never: print a local (moved-view) address, or stop silently on a damaged chain.
 */
#include <inttypes.h>

#include "cli.h"

struct filter {
	int used, freeb;
	uint64_t min;
};

static int wanted(const pmp_block_t *b, const struct filter *f)
{
	return !((f->used && b->state != PMP_BLOCK_USED) || (f->freeb && b->state != PMP_BLOCK_FREE) || b->size < f->min);
}

static int pick(const struct cli_heap *ch, size_t i, void *user)
{
	return wanted(&ch->blocks[i], user);
}

int cli_blocks(int argc, char **argv)
{
	int json = 0, used = 0, freeb = 0, by_site = 0, n;
	const char *min_s = NULL, *limit_s = NULL, *pos[1];
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {"--used", NULL, &used}, {"--free", NULL, &freeb},
				       {"--min", &min_s, NULL}, {"--limit", &limit_s, NULL}, {"--by-site", NULL, &by_site},
				       {NULL, NULL, NULL}};
	if (cli_args(argc, argv, opts, pos, 1, 1, &n))
		return CLI_ERR;
	uint64_t min = 0, limit = UINT64_MAX;
	if ((min_s && cli_parse_size(min_s, &min)) || (limit_s && cli_parse_size(limit_s, &limit)))
		return CLI_ERR;
	if (used && freeb) {
		cli_errorf("blocks: --used and --free exclude each other");
		return CLI_ERR;
	}
	struct cli_heap ch;
	if (cli_open(pos[0], &ch))
		return CLI_ERR;
	int rc = cli_load_blocks(&ch);
	if (rc == CLI_ERR) {
		cli_close(&ch);
		return rc;
	}
	struct cli_json j;
	struct filter f = {used, freeb, min};
	if (by_site) {
		if (json) {
			json_begin(&j, stdout, "blocks");
			json_str(&j, "file", ch.path);
		}
		if (cli_sites_table(&ch, pick, &f, limit, json ? &j : NULL))
			rc = CLI_ERR;
		if (json) {
			json_bool(&j, "complete", rc == CLI_OK);
			json_end(&j);
		}
		cli_close(&ch);
		return rc;
	}
	if (json) {
		json_begin_list(&j, "blocks", ch.path, "blocks");
	}
	uint64_t shown = 0;
	for (size_t i = 0; i < ch.nblocks && shown < limit; i++) {
		const pmp_block_t *b = &ch.blocks[i];
		if (!wanted(b, &f))
			continue;
		shown++;
		uint64_t a = (uint64_t)(uintptr_t)b->addr;
		if (json) {
			json_obj(&j, NULL);
			json_addr(&j, "address", a);
			json_u64(&j, "size", b->size);
			json_u64(&j, "block_size", b->block_size);
			json_str(&j, "state", cli_state_name(b->state));
			json_obj_end(&j);
		} else {
			printf("0x%012" PRIx64 " %12zu %s\n", a, b->size, cli_state_name(b->state));
		}
	}
	if (json) {
		json_arr_end(&j);
		json_u64(&j, "count", shown);
		json_bool(&j, "complete", rc == CLI_OK);
		json_end(&j);
	}
	cli_close(&ch);
	return rc;
}
