/* check.c: the `check` verb: runs pmp_check on the read-only view and reports OK with counts, or the first problem
 * with its offset and original address. Bytes are usable payload (census.c), from the walk of a consistent chain;
 * headers are shown apart.
 *
 * Must never: repair anything, or call an unclean heap consistent without saying that its free index was not checked.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static const char *problem_name(int p)
{
	switch (p) {
	case PMP_OK: return "ok";
	case PMP_P_HEADER: return "header";
	case PMP_P_BLOCK: return "block";
	case PMP_P_PREVSIZE: return "prev-size";
	case PMP_P_ADJFREE: return "adjacent-free";
	case PMP_P_INDEX: return "index";
	case PMP_P_ROOT: return "root";
	case PMP_P_STATS: return "stats";
	case PMP_P_CACHE: return "cache";
	case PMP_P_PAGE: return "page";
	default: return "unknown";
	}
}

static uint64_t overhead(const struct cli_census *c)
{
	uint64_t o = 0;
	for (int s = 0; s < CLI_NSTATES; s++)
		o += c->total[s].overhead;
	return o;
}

int cli_check(int argc, char **argv)
{
	int json = 0;
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {NULL, NULL, NULL}};
	struct cli_heap ch;
	if (cli_open_args(argc, argv, opts, &ch))
		return CLI_ERR;
	pmp_report_t r;
	memset(&r, 0, sizeof r);
	int e = pmp_check(ch.h, &r);
	if (e && e != PMP_ECORRUPT) {
		cli_errorf("%s: check failed: %s", ch.path, pmp_strerror(e));
		cli_close(&ch);
		return CLI_ERR;
	}
	r.msg[sizeof r.msg - 1] = 0;
	int ok = e == 0;
	/* pmp_report_t's byte counts include headers: the payload comes from the walk, which a consistent chain allows */
	struct cli_census c;
	memset(&c, 0, sizeof c);
	if (ok) {
		if (cli_load_blocks(&ch) == CLI_ERR) {
			cli_close(&ch);
			return CLI_ERR;
		}
		cli_census(&ch, &c);
	}
	uint64_t addr = (uint64_t)(uintptr_t)r.addr;
	if (json) {
		struct cli_json j;
		json_begin(&j, stdout, "check");
		json_str(&j, "file", ch.path);
		json_bool(&j, "consistent", ok);
		json_bool(&j, "clean", ch.info.clean);
		json_bool(&j, "index_checked", r.index_checked);
		if (!ok) {
			json_obj(&j, "problem");
			json_str(&j, "kind", problem_name(r.problem));
			json_addr(&j, "offset", r.offset);
			json_addr(&j, "address", addr);
			json_str(&j, "message", r.msg);
			json_obj_end(&j);
		}
		json_u64(&j, "blocks", r.blocks);
		json_u64(&j, "used_blocks", r.used_blocks);
		json_u64(&j, "free_blocks", r.free_blocks);
		json_u64(&j, "cached_blocks", r.cached_blocks);
		json_u64(&j, "roots", r.roots);
		json_u64(&j, "pages", r.pages);
		if (ok) {
			json_u64(&j, "used_bytes", c.total[CLI_ST_USED].bytes + c.total[CLI_ST_LOST].bytes);
			json_u64(&j, "free_bytes", c.total[CLI_ST_FREE].bytes);
			json_u64(&j, "cached_bytes", c.total[CLI_ST_CACHED].bytes);
			json_u64(&j, "overhead_bytes", overhead(&c));
			json_u64(&j, "page_overhead_bytes", c.page_overhead);
		} else {
			json_null(&j, "used_bytes");
			json_null(&j, "free_bytes");
		}
		json_end(&j);
	} else if (ok) {
		/* a slot of a slab page is a block (used or free) with no header; the pages' own bytes are apart */
		printf("OK: %" PRIu64 " blocks (%" PRIu64 " used, %" PRIu64 " free, %" PRIu64 " cached), %" PRIu64
		       " roots, %" PRIu64 " slab pages, %" PRIu64 " bytes used, %" PRIu64 " bytes free (usable bytes; %" PRIu64
		       " bytes of block headers, %" PRIu64 " bytes of slab page overhead)\n",
		       r.blocks, r.used_blocks, r.free_blocks, r.cached_blocks, r.roots, r.pages,
		       c.total[CLI_ST_USED].bytes + c.total[CLI_ST_LOST].bytes, c.total[CLI_ST_FREE].bytes, overhead(&c),
		       c.page_overhead);
	} else {
		/* the library's message may already start with the place; say it once */
		const char *msg = r.msg, *rest;
		if (!strncmp(msg, "at offset ", 10) && (rest = strstr(msg, "): ")) != NULL)
			msg = rest + 3;
		printf("INCONSISTENT: %s problem at offset 0x%" PRIx64 " (address 0x%" PRIx64 "): %s\n",
		       problem_name(r.problem), r.offset, addr, msg);
	}
	if (!json && !ch.info.clean)
		printf("note: the heap was not closed cleanly, so its free index is stale and was not checked; "
		       "the block chain and the roots were\n");
	cli_close(&ch);
	return ok ? CLI_OK : CLI_FAIL;
}
