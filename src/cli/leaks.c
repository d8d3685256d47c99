/* leaks.c: the `leaks` verb (used blocks sorted by what holds them: anchored from the named roots, from globals,
 * stacks or registers of the crash-time root set, reachable from those through blocks, or leaked, with counts and
 * bytes per class, and the leaked blocks listed) and the `path` verb (one chain from an anchor to a block).
 * The mark itself is reach.c's.
 *
 * Must never: call a block leaked without saying what the mark started from (without a crash record only the named
 * roots are known, and a block held by a global, a stack or a register then shows as leaked).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct tally {
	uint64_t blocks, bytes;
};

/* the heap's blocks and roots, the crash's root set and the mark from both; on failure everything is released */
static int load_marked(struct cli_heap *ch, struct cli_rootset *rs, struct cli_reach *r, int *brc)
{
	if (cli_load(ch, 1, brc))
		return CLI_ERR;
	if (cli_rootset_load(ch, rs)) {
		cli_close(ch);
		return CLI_ERR;
	}
	if (cli_reach_run(ch, rs, r)) {
		cli_rootset_free(rs);
		cli_close(ch);
		return CLI_ERR;
	}
	return 0;
}

static void root_set_json(struct cli_json *j, const struct cli_rootset *rs, const char *missing)
{
	unsigned stacks = 0, segments = 0, registers = 0;
	for (size_t i = 0; i < rs->n; i++) {
		stacks += rs->r[i].kind == PMP_CRASH_ROOT_STACK;
		segments += rs->r[i].kind == PMP_CRASH_ROOT_DATA;
		registers += rs->r[i].kind == PMP_CRASH_ROOT_REGISTERS;
	}
	json_obj(j, "root_set");
	json_bool(j, "crash_record", rs->record);
	json_bool(j, "complete", !missing);
	if (missing)
		json_str(j, "missing", missing);
	json_bool(j, "registers", registers > 0);
	json_u64(j, "stacks", stacks);
	json_u64(j, "segments", segments);
	json_obj_end(j);
}

static void root_set_text(const struct cli_rootset *rs)
{
	unsigned stacks = 0, segments = 0, registers = 0;
	uint64_t bytes = 0;
	for (size_t i = 0; i < rs->n; i++) {
		stacks += rs->r[i].kind == PMP_CRASH_ROOT_STACK;
		segments += rs->r[i].kind == PMP_CRASH_ROOT_DATA;
		registers += rs->r[i].kind == PMP_CRASH_ROOT_REGISTERS;
		bytes += rs->r[i].kind != PMP_CRASH_ROOT_REGISTERS ? rs->r[i].len : 0;
	}
	printf("root set of the crash: %s, %u stack%s, %u writable segment%s (%" PRIu64 " bytes)\n",
	       registers ? "the crashing thread's registers" : "no registers", stacks, stacks == 1 ? "" : "s", segments,
	       segments == 1 ? "" : "s", bytes);
}

int cli_leaks(int argc, char **argv)
{
	int json = 0, by_site = 0, n;
	const char *limit_s = NULL, *pos[1];
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {"--limit", &limit_s, NULL}, {"--by-site", NULL, &by_site},
				       {NULL, NULL, NULL}};
	uint64_t limit = UINT64_MAX;
	if (cli_args(argc, argv, opts, pos, 1, 1, &n) || (limit_s && cli_parse_size(limit_s, &limit)))
		return CLI_ERR;
	struct cli_heap ch;
	struct cli_rootset rs;
	struct cli_reach r;
	int brc;
	if (cli_open(pos[0], &ch) || load_marked(&ch, &rs, &r, &brc))
		return CLI_ERR;
	if (by_site) { /* the leaked blocks summed by the site that allocated them (sites.c) */
		uint8_t *mark = malloc(ch.nblocks ? ch.nblocks : 1);
		int rc = -1;
		if (mark) {
			for (size_t i = 0; i < ch.nblocks; i++)
				mark[i] = r.cls[i] != CLI_A_LEAKED;
			rc = cli_sites_leaks(&ch, mark, limit, json);
		}
		free(mark);
		cli_reach_free(&r);
		cli_rootset_free(&rs);
		cli_close(&ch);
		return rc ? CLI_ERR : brc;
	}
	char why[256];
	const char *missing = cli_rootset_missing(&rs, why, sizeof why);
	struct tally cls[CLI_NANCHORS] = {{0, 0}};
	uint64_t used = 0, used_bytes = 0, listed = 0;
	struct cli_json j;
	if (json)
		json_begin_list(&j, "leaks", ch.path, "leaks");
	else if (missing)
		printf("%s; a block held by a global, a stack or a register shows as leaked\n", missing);
	else
		root_set_text(&rs);
	for (size_t i = 0; i < ch.nblocks; i++) {
		const pmp_block_t *b = &ch.blocks[i];
		if (b->state != PMP_BLOCK_USED)
			continue;
		used++;
		used_bytes += b->size;
		cls[r.cls[i]].blocks++;
		cls[r.cls[i]].bytes += b->size;
		if (r.cls[i] != CLI_A_LEAKED || listed++ >= limit)
			continue;
		if (json) {
			json_obj(&j, NULL);
			json_addr(&j, "address", (uint64_t)(uintptr_t)b->addr);
			json_u64(&j, "size", b->size);
			json_obj_end(&j);
		} else {
			printf("0x%012" PRIx64 " %12zu  unreachable\n", (uint64_t)(uintptr_t)b->addr, b->size);
		}
	}
	uint64_t leaked = cls[CLI_A_LEAKED].blocks, leaked_bytes = cls[CLI_A_LEAKED].bytes;
	if (json) {
		static const char *const keys[CLI_NANCHORS] = {"leaked", "roots", "globals", "stacks", "registers",
							       "reachable"};
		json_arr_end(&j);
		json_bool(&j, "truncated", leaked > limit);
		json_u64(&j, "leaked_blocks", leaked);
		json_u64(&j, "leaked_bytes", leaked_bytes);
		json_u64(&j, "used_blocks", used);
		json_u64(&j, "used_bytes", used_bytes);
		json_u64(&j, "roots", ch.nroots);
		root_set_json(&j, &rs, missing);
		json_obj(&j, "classes");
		for (int c = 0; c < CLI_NANCHORS; c++) {
			json_obj(&j, keys[c]);
			json_u64(&j, "blocks", cls[c].blocks);
			json_u64(&j, "bytes", cls[c].bytes);
			json_obj_end(&j);
		}
		json_obj_end(&j);
		json_end(&j);
	} else {
		if (leaked > limit)
			printf("... %" PRIu64 " more unreachable blocks\n", leaked - limit);
		printf("used blocks by what holds them:\n");
		static const struct {
			int cls;
			const char *label;
		} shown[] = {{CLI_A_ROOT, "anchored: roots"}, {CLI_A_GLOBAL, "anchored: globals"},
			     {CLI_A_STACK, "anchored: stacks"}, {CLI_A_REGISTER, "anchored: registers"},
			     {CLI_A_REACHABLE, "reachable"}, {CLI_A_LEAKED, "leaked"}};
		for (size_t k = 0; k < sizeof shown / sizeof shown[0]; k++)
			printf("  %-20s %10" PRIu64 " blocks %14" PRIu64 " bytes\n", shown[k].label, cls[shown[k].cls].blocks,
			       cls[shown[k].cls].bytes);
		printf("%" PRIu64 " of %" PRIu64 " used blocks unreachable from %zu roots%s: %" PRIu64 " of %" PRIu64
		       " bytes\n", leaked, used, ch.nroots, missing ? "" : " and the crash's root set", leaked_bytes,
		       used_bytes);
	}
	cli_reach_free(&r);
	cli_rootset_free(&rs);
	cli_close(&ch);
	return brc;
}

/* ---- path ---- */

/* the word at off in block b: what points to the next block of the chain (maybe into it, not at its start) */
static uint64_t word_at(const pmp_block_t *b, size_t off)
{
	uint64_t w;
	memcpy(&w, (const uint8_t *)b->data + off, sizeof w);
	return w;
}

/* the word an anchor holds: a root's address, or the word at off in region g */
static uint64_t anchor_word(const struct cli_heap *ch, const struct cli_rootset *rs, int region, size_t off)
{
	if (region < 0)
		return ch->roots[off].addr;
	uint64_t w;
	memcpy(&w, rs->r[region].data + off, sizeof w);
	return w;
}

int cli_path(int argc, char **argv)
{
	int json = 0, n, brc;
	const char *pos[2];
	uint64_t a;
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {NULL, NULL, NULL}};
	if (cli_args(argc, argv, opts, pos, 2, 2, &n) || cli_parse_addr(pos[1], &a))
		return CLI_ERR;
	struct cli_heap ch;
	struct cli_rootset rs;
	struct cli_reach r;
	if (cli_open(pos[0], &ch) || load_marked(&ch, &rs, &r, &brc))
		return CLI_ERR;
	size_t *chain = NULL, len = 0;
	const pmp_block_t *t = cli_block_at(&ch, a);
	if (!t || t->state != PMP_BLOCK_USED) {
		cli_errorf("%s: 0x%" PRIx64 " is not in a used block", ch.path, a);
		brc = CLI_FAIL;
		goto out;
	}
	char why[256], where[256];
	const char *missing = cli_rootset_missing(&rs, why, sizeof why);
	size_t k = (size_t)(t - ch.blocks);
	/* the chain, target first: follow `from` back to the anchor (each block was reached once, so it ends) */
	chain = malloc((ch.nblocks ? ch.nblocks : 1) * sizeof *chain);
	if (!chain) {
		cli_errorf("out of memory");
		brc = CLI_ERR;
		goto out;
	}
	if (r.cls[k] != CLI_A_LEAKED)
		for (long at = (long)k; at >= 0; at = r.from[at])
			chain[len++] = (size_t)at;
	uint64_t ta = (uint64_t)(uintptr_t)t->addr;
	struct cli_json j;
	if (json) {
		json_begin(&j, stdout, "path");
		json_str(&j, "file", ch.path);
		json_addr(&j, "address", a);
		json_addr(&j, "block", ta);
		json_u64(&j, "size", t->size);
		json_str(&j, "class", cli_anchor_name(r.cls[k]));
		if (missing)
			json_str(&j, "root_set_missing", missing);
	}
	if (!len) {
		if (json) {
			json_null(&j, "anchor");
			json_end(&j);
		} else {
			printf("block 0x%" PRIx64 " (size %zu) is reachable from no anchor: leaked\n", ta, t->size);
			if (missing)
				printf("(%s)\n", missing);
		}
		brc = CLI_FAIL;
		goto out;
	}
	size_t first = chain[len - 1];
	long anchor = r.from[first];
	int region = anchor == CLI_FROM_ROOT ? -1 : (int)(-2 - anchor);
	cli_anchor_where(&ch, &rs, region, r.from_off[first], where, sizeof where);
	if (json) {
		json_obj(&j, "anchor");
		json_str(&j, "kind", cli_anchor_kind(&rs, region));
		json_str(&j, "where", where);
		if (region >= 0 && rs.r[region].kind != PMP_CRASH_ROOT_REGISTERS)
			json_addr(&j, "address", rs.r[region].addr + r.from_off[first]);
		json_addr(&j, "holds", anchor_word(&ch, &rs, region, r.from_off[first]));
		json_obj_end(&j);
		json_arr(&j, "chain");
		for (size_t i = len; i-- > 0;) {
			const pmp_block_t *b = &ch.blocks[chain[i]];
			json_obj(&j, NULL);
			json_addr(&j, "block", (uint64_t)(uintptr_t)b->addr);
			json_u64(&j, "size", b->size);
			if (i > 0) {
				json_u64(&j, "offset", r.from_off[chain[i - 1]]);
				json_addr(&j, "holds", word_at(b, r.from_off[chain[i - 1]]));
			}
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_end(&j);
	} else {
		printf("block 0x%" PRIx64 " (size %zu) is %s%s:\n", ta, t->size,
		       r.cls[k] == CLI_A_REACHABLE ? "reachable from " : "anchored by ", cli_anchor_kind(&rs, region));
		printf("  %s holds 0x%" PRIx64 "\n", where, anchor_word(&ch, &rs, region, r.from_off[first]));
		for (size_t i = len; i-- > 1;) {
			const pmp_block_t *b = &ch.blocks[chain[i]];
			size_t off = r.from_off[chain[i - 1]];
			printf("  -> block 0x%" PRIx64 " (%s, size %zu) holds 0x%" PRIx64 " at +%zu\n",
			       (uint64_t)(uintptr_t)b->addr, cli_life(b->state), b->size, word_at(b, off), off);
		}
		if (missing)
			printf("(%s)\n", missing);
	}
out:
	free(chain);
	cli_reach_free(&r);
	cli_rootset_free(&rs);
	cli_close(&ch);
	return brc;
}
