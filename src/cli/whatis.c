/* whatis.c: the `whatis` verb (which block holds an address, the offset into it, the roots pointing at it; for a
 * slot, its slab page; for an address in no block, what is there) and the `refs` verb (which roots, which globals,
 * stack slots and registers of the crash-time root set, and which blocks hold an aligned word pointing into that
 * block).
 *
 * Must never: read a block through its original address (the view may be moved: payloads are read via .data), or
 * read words past a block's usable bytes.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

/* What the bytes at a, in no block, are, into buf; 0 when a is not in the heap at all. A slab page's own bytes
 * (chain header, page header, slack) also fill *pg and set *in_page. */
static int region(const struct cli_heap *ch, uint64_t a, char *buf, size_t len, struct cli_page *pg, int *in_page)
{
	*in_page = 0;
	if (a < ch->base || a - ch->base >= ch->info.reserved)
		return 0;
	uint64_t first = ch->nblocks ? ch->blocks[0].offset : ch->mapped;
	if (a - ch->base >= ch->mapped) {
		snprintf(buf, len, "reserved address space beyond the heap's end (never written)");
	} else if (a - ch->base < first) {
		snprintf(buf, len, "heap metadata (superblock, free index, root table, crash record)");
	} else if ((*in_page = cli_page_at(ch, a, pg)) != 0) {
		uint64_t slots_end, slots = cli_page_slots(ch, pg, &slots_end);
		const char *part = a < pg->addr ? "the chain header of" : a < slots ? "the header of"
							: "the slack after the last slot of";
		snprintf(buf, len, "%s the slab page 0x%" PRIx64 " (%zu slots of %" PRIu64 " bytes, %" PRIu64 " used)", part,
			 pg->addr, pg->n, pg->slot, pg->used);
	} else {
		snprintf(buf, len, "the arena's end sentinel or a damaged part of the chain");
	}
	return 1;
}

static void page_json(struct cli_json *j, const struct cli_page *pg)
{
	json_obj(j, "page");
	json_addr(j, "address", pg->addr);
	json_u64(j, "slot_size", pg->slot);
	json_u64(j, "slots", pg->n);
	json_u64(j, "used_slots", pg->used);
	json_obj_end(j);
}

static int load(int argc, char **argv, const struct cli_opt *opts, struct cli_heap *ch, uint64_t *addr,
		const pmp_block_t **b, int *brc)
{
	int n;
	const char *pos[2];
	if (cli_args(argc, argv, opts, pos, 2, 2, &n) || cli_parse_addr(pos[1], addr))
		return CLI_ERR;
	if (cli_open(pos[0], ch) || cli_load(ch, 1, brc))
		return CLI_ERR;
	*b = cli_block_at(ch, *addr);
	return CLI_OK;
}

int cli_whatis(int argc, char **argv)
{
	struct cli_heap ch;
	uint64_t a;
	int json = 0, brc, in_page = 0;
	const pmp_block_t *b;
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {NULL, NULL, NULL}};
	if (load(argc, argv, opts, &ch, &a, &b, &brc))
		return CLI_ERR;
	char where[192];
	struct cli_page pg;
	int in_heap = !b && region(&ch, a, where, sizeof where, &pg, &in_page);
	struct cli_json j;
	if (json) {
		json_begin(&j, stdout, "whatis");
		json_str(&j, "file", ch.path);
		json_addr(&j, "address", a);
		json_bool(&j, "found", b != NULL);
	}
	if (!b) {
		if (json) {
			if (in_heap)
				json_str(&j, "region", where);
			if (in_page)
				page_json(&j, &pg);
			json_end(&j);
		} else if (in_heap) {
			printf("0x%" PRIx64 ": not in a block: %s\n", a, where);
		} else {
			printf("0x%" PRIx64 ": not in this heap (0x%" PRIx64 "-0x%" PRIx64 ")\n", a, ch.base, ch.base + ch.mapped);
		}
		cli_close(&ch);
		return CLI_FAIL;
	}
	uint64_t start = (uint64_t)(uintptr_t)b->addr;
	int64_t off = (int64_t)(a - start);
	/* a slot has no header of its own: its page's header describes it */
	if ((in_page = cli_is_slot(b)) != 0)
		cli_page_of_slot(&ch, (size_t)(b - ch.blocks), &pg);
	if (json) {
		json_obj(&j, "block");
		json_addr(&j, "address", start);
		json_u64(&j, "size", b->size);
		json_u64(&j, "block_size", b->block_size);
		json_str(&j, "state", cli_state_name(b->state));
		json_obj_end(&j);
		json_i64(&j, "offset", off);
		json_bool(&j, "in_header", off < 0);
		if (in_page) {
			page_json(&j, &pg);
			json_u64(&j, "slot", (size_t)(b - ch.blocks) - pg.first);
		}
		cli_sites_block(&ch, b, &j);
		json_arr(&j, "roots");
	} else {
		printf("0x%" PRIx64 " is %s %" PRId64 " of the %s block 0x%" PRIx64 " (size %zu)\n", a,
		       off < 0 ? "in the header, offset" : "at offset", off, cli_state_name(b->state), start, b->size);
		if (in_page)
			printf("%s slot %zu of %zu in the slab page 0x%" PRIx64 " (size class %" PRIu64 " bytes, %" PRIu64
			       " of its slots used; a slot has no header)\n", cli_state_name(b->state), (size_t)(b - ch.blocks) - pg.first,
			       pg.n, pg.addr, pg.slot, pg.used);
		cli_sites_block(&ch, b, NULL);
	}
	for (size_t i = 0; i < ch.nroots; i++) {
		const struct cli_root *r = &ch.roots[i];
		if (r->addr - start >= b->size && r->addr != start)
			continue;
		if (json)
			json_str(&j, NULL, r->name);
		else {
			fputs("root: ", stdout);
			cli_print_escaped(stdout, (const uint8_t *)r->name, strlen(r->name));
			if (r->addr != start)
				printf(" (at offset %" PRIu64 ")", r->addr - start);
			putchar('\n');
		}
	}
	if (json) {
		json_arr_end(&j);
		json_end(&j);
	}
	cli_close(&ch);
	return brc;
}

struct refs {
	uint64_t lo, len;   /* the target's payload */
	struct cli_json *j; /* NULL for text */
	uint64_t found;
};

static int ref_word(const pmp_block_t *b, size_t off, uint64_t w, void *user)
{
	struct refs *r = user;
	if (w - r->lo >= r->len)
		return 0;
	r->found++;
	if (!r->j)
		fputs("  ", stdout);
	cli_word_hit(r->j, b, off, w);
	if (r->j)
		json_obj_end(r->j);
	else
		putchar('\n');
	return 0;
}

int cli_refs(int argc, char **argv)
{
	struct cli_heap ch;
	uint64_t a;
	int json = 0, used = 0, freed = 0, brc;
	const pmp_block_t *t;
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {"--used", NULL, &used}, {"--free", NULL, &freed},
				       {NULL, NULL, NULL}};
	if (load(argc, argv, opts, &ch, &a, &t, &brc))
		return CLI_ERR;
	if (!t) {
		char where[192];
		struct cli_page pg;
		int in_page;
		if (region(&ch, a, where, sizeof where, &pg, &in_page))
			cli_errorf("%s: 0x%" PRIx64 " is not in any block: %s", ch.path, a, where);
		else
			cli_errorf("%s: 0x%" PRIx64 " is not in this heap", ch.path, a);
		cli_close(&ch);
		return CLI_FAIL;
	}
	uint64_t lo = (uint64_t)(uintptr_t)t->addr, len = t->size;
	struct cli_json j;
	if (json) {
		json_begin(&j, stdout, "refs");
		json_str(&j, "file", ch.path);
		json_obj(&j, "target");
		json_addr(&j, "address", lo);
		json_u64(&j, "size", t->size);
		json_str(&j, "state", cli_state_name(t->state));
		json_obj_end(&j);
		json_arr(&j, "roots");
	} else {
		printf("block 0x%" PRIx64 " (%s, size %zu) is referenced by:\n", lo, cli_life(t->state), t->size);
	}
	uint64_t found = 0;
	for (size_t i = 0; i < ch.nroots; i++)
		if (ch.roots[i].addr - lo < len) {
			found++;
			if (json)
				json_str(&j, NULL, ch.roots[i].name);
			else {
				fputs("  root ", stdout);
				cli_print_escaped(stdout, (const uint8_t *)ch.roots[i].name, strlen(ch.roots[i].name));
				putchar('\n');
			}
		}
	struct cli_rootset rs;
	if (cli_rootset_load(&ch, &rs)) {
		cli_close(&ch);
		return CLI_ERR;
	}
	if (json) {
		json_arr_end(&j);
		json_arr(&j, "anchors");
	}
	for (size_t i = 0; i < rs.n; i++) {
		const struct cli_region *g = &rs.r[i];
		for (size_t off = 0; off + 8 <= g->len; off += 8) {
			uint64_t w;
			memcpy(&w, g->data + off, 8);
			if (w - lo >= len)
				continue;
			char where[256];
			cli_anchor_where(&ch, &rs, (int)i, off, where, sizeof where);
			found++;
			if (json) {
				json_obj(&j, NULL);
				json_str(&j, "kind", cli_anchor_kind(&rs, (int)i));
				json_str(&j, "where", where);
				if (g->kind != PMP_CRASH_ROOT_REGISTERS)
					json_addr(&j, "address", g->addr + off);
				json_addr(&j, "value", w);
				json_obj_end(&j);
			} else {
				printf("  %s holds 0x%" PRIx64 "\n", where, w);
			}
		}
	}
	char why[256];
	const char *missing = cli_rootset_missing(&rs, why, sizeof why);
	if (json) {
		json_arr_end(&j);
		if (missing)
			json_str(&j, "root_set_missing", missing);
		json_arr(&j, "holders");
	}
	cli_rootset_free(&rs);
	struct refs rf = {lo, len, json ? &j : NULL, 0};
	unsigned mask = cli_scan_mask(used, freed);
	for (size_t i = 0; i < ch.nblocks; i++)
		if (cli_scan_wants(mask, &ch.blocks[i]))
			cli_block_words(&ch, &ch.blocks[i], ref_word, &rf);
	found += rf.found;
	if (json) {
		json_arr_end(&j);
		json_u64(&j, "count", found);
		json_end(&j);
	} else {
		if (!found)
			printf("  nothing\n");
		if (missing)
			printf("(%s)\n", missing);
	}
	cli_close(&ch);
	return !found ? CLI_FAIL : brc;
}
