/* stats.c: the `stats` verb: block counts and bytes by state, the slab pages and their slots, and a size-class
 * histogram, all from the block walk (bytes are usable payload; headers and the pages' bytes outside their slots are
 * shown apart as overhead), and the heap's own counters (pmp_stats: operations, peak, and its derived byte counts,
 * which include headers); with --by-site, the used bytes by the call site that allocated them (sites.c).
 *
 * Must never: present the derived counters of an unclean heap as if they were trusted (the walk is the truth there),
 * or call a number "used bytes" that includes headers.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static int used_block(const struct cli_heap *ch, size_t i, void *user)
{
	(void)user;
	return ch->blocks[i].state == PMP_BLOCK_USED;
}

int cli_stats(int argc, char **argv)
{
	int json = 0, by_site = 0;
	const char *limit_s = NULL;
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {"--by-site", NULL, &by_site}, {"--limit", &limit_s, NULL},
				       {NULL, NULL, NULL}};
	struct cli_heap ch;
	if (cli_open_args(argc, argv, opts, &ch))
		return CLI_ERR;
	uint64_t limit = 20;
	if (limit_s && cli_parse_size(limit_s, &limit)) {
		cli_close(&ch);
		return CLI_ERR;
	}
	pmp_stats_t s;
	int e = pmp_stats(ch.h, &s);
	if (e == PMP_ECORRUPT) {
		/* a damaged chain: the counts below come from the walk, which goes past the damage; the sizes from the
		 * superblock, and the heap's own operation counters are not trusted */
		memset(&s, 0, sizeof s);
		s.reserved = ch.info.reserved;
		s.mapped = ch.info.mapped;
	} else if (e) {
		cli_errorf("%s: stats: %s", ch.path, pmp_strerror(e));
		cli_close(&ch);
		return CLI_ERR;
	}
	int rc = cli_load_blocks(&ch);
	if (rc == CLI_ERR) {
		cli_close(&ch);
		return rc;
	}
	struct cli_census c;
	cli_census(&ch, &c);
	const struct cli_tally *u = &c.total[CLI_ST_USED], *fr = &c.total[CLI_ST_FREE], *ca = &c.total[CLI_ST_CACHED],
			       *lo = &c.total[CLI_ST_LOST], *da = &c.total[CLI_ST_DAMAGED];
	if (json) {
		struct cli_json j;
		json_begin(&j, stdout, "stats");
		json_str(&j, "file", ch.path);
		json_bool(&j, "clean", ch.info.clean);
		json_bool(&j, "complete", rc == CLI_OK);
		json_u64(&j, "reserved", s.reserved);
		json_u64(&j, "mapped", s.mapped);
		json_u64(&j, "arena", s.arena);
		static const char *const names[CLI_NSTATES] = {"used", "free", "cached", "lost", "damaged"};
		for (int st = 0; st < CLI_NSTATES; st++) {
			char key[32];
			snprintf(key, sizeof key, "%s_blocks", names[st]);
			json_u64(&j, key, c.total[st].blocks);
			snprintf(key, sizeof key, "%s_bytes", names[st]);
			json_u64(&j, key, c.total[st].bytes);
			snprintf(key, sizeof key, "%s_overhead_bytes", names[st]);
			json_u64(&j, key, c.total[st].overhead);
		}
		json_u64(&j, "largest_free", c.largest_free);
		json_u64(&j, "pages", c.pages);
		json_u64(&j, "page_overhead_bytes", c.page_overhead);
		json_u64(&j, "used_slots", c.slots[CLI_ST_USED].blocks);
		json_u64(&j, "free_slots", c.slots[CLI_ST_FREE].blocks);
		json_u64(&j, "free_slot_bytes", c.slots[CLI_ST_FREE].bytes);
		json_u64(&j, "n_malloc", s.n_malloc);
		json_u64(&j, "n_free", s.n_free);
		json_u64(&j, "n_realloc", s.n_realloc);
		json_u64(&j, "n_grow", s.n_grow);
		/* the heap's own derived counters, as pmp_stats gives them (headers included) */
		json_obj(&j, "counters");
		json_u64(&j, "used_bytes", s.used_bytes);
		json_u64(&j, "used_blocks", s.used_blocks);
		json_u64(&j, "free_bytes", s.free_bytes);
		json_u64(&j, "free_blocks", s.free_blocks);
		json_u64(&j, "peak_used_bytes", s.peak_used_bytes);
		json_u64(&j, "pages", s.pages);
		json_obj_end(&j);
		json_arr(&j, "histogram");
		for (unsigned k = 0; k < CLI_NCLASSES; k++) {
			if (cli_class_empty(&c, k))
				continue;
			json_obj(&j, NULL);
			json_u64(&j, "min_size", cli_class_min(k));
			json_u64(&j, "max_size", cli_class_max(k));
			for (int st = 0; st < CLI_NSTATES; st++) {
				char key[32];
				snprintf(key, sizeof key, "%s_blocks", names[st]);
				json_u64(&j, key, c.cls[k][st].blocks);
				snprintf(key, sizeof key, "%s_bytes", names[st]);
				json_u64(&j, key, c.cls[k][st].bytes);
			}
			json_obj_end(&j);
		}
		json_arr_end(&j);
		if (by_site) {
			json_obj(&j, "by_site");
			if (cli_sites_table(&ch, used_block, NULL, limit, &j))
				rc = CLI_ERR;
			json_obj_end(&j);
		}
		json_end(&j);
	} else {
		printf("file:          %s%s\n", ch.path, ch.info.clean ? "" : "  (unclean: counts from the block chain)");
		printf("reserved:      %" PRIu64 " bytes\n", s.reserved);
		if (s.arena)
			printf("mapped:        %" PRIu64 " bytes (arena %" PRIu64 ")\n", s.mapped, s.arena);
		else /* a damaged heap's own statistics are not read */
			printf("mapped:        %" PRIu64 " bytes\n", s.mapped);
		printf("used:          %" PRIu64 " blocks, %" PRIu64 " bytes (+%" PRIu64 " bytes of headers)\n", u->blocks,
		       u->bytes, u->overhead);
		printf("free:          %" PRIu64 " blocks, %" PRIu64 " bytes (+%" PRIu64 " bytes of headers; largest chain "
		       "block %" PRIu64 ")\n", fr->blocks, fr->bytes, fr->overhead, c.largest_free);
		/* free slots count among the free blocks, but only a request of their own size class can take one */
		printf("slab pages:    %" PRIu64 " of 64 KiB: %" PRIu64 " slots used, %" PRIu64 " free (%" PRIu64
		       " bytes, for their size class only); %" PRIu64 " bytes of overhead (page headers, slack)\n", c.pages,
		       c.slots[CLI_ST_USED].blocks, c.slots[CLI_ST_FREE].blocks, c.slots[CLI_ST_FREE].bytes, c.page_overhead);
		if (ca->blocks)
			printf("cached:        %" PRIu64 " blocks, %" PRIu64 " bytes (+%" PRIu64 " bytes of headers)\n",
			       ca->blocks, ca->bytes, ca->overhead);
		if (lo->blocks)
			printf("lost:          %" PRIu64 " blocks, %" PRIu64 " bytes (salvaged stretches)\n", lo->blocks,
			       lo->bytes);
		printf("peak used:     %" PRIu64 " bytes, headers included (the heap's own counter)\n", s.peak_used_bytes);
		printf("operations:    %" PRIu64 " malloc, %" PRIu64 " free, %" PRIu64 " realloc, %" PRIu64 " grow\n",
		       s.n_malloc, s.n_free, s.n_realloc, s.n_grow);
		if (da->blocks)
			printf("damaged:       %" PRIu64 " stretches, %" PRIu64 " bytes (headers that fail their check; "
			       "counted apart)\n", da->blocks, da->bytes);
		if (rc != CLI_OK)
			printf("note:          the block chain is damaged: counts cover the blocks around the damage\n");
		printf("\nusable size class      used: blocks        bytes   free: blocks        bytes\n");
		for (unsigned k = 0; k < CLI_NCLASSES; k++) {
			if (cli_class_empty(&c, k))
				continue;
			char lab[48];
			const struct cli_tally *cu = c.cls[k];
			printf("  %-18s %12" PRIu64 " %12" PRIu64 "   %12" PRIu64 " %12" PRIu64 "%s\n",
			       cli_class_label(k, lab, sizeof lab), cu[CLI_ST_USED].blocks + cu[CLI_ST_LOST].blocks,
			       cu[CLI_ST_USED].bytes + cu[CLI_ST_LOST].bytes, cu[CLI_ST_FREE].blocks + cu[CLI_ST_CACHED].blocks,
			       cu[CLI_ST_FREE].bytes + cu[CLI_ST_CACHED].bytes, cu[CLI_ST_CACHED].blocks ? "  (incl. cached)" : "");
		}
		if (by_site) {
			printf("\nused blocks by the site that allocated them:\n");
			if (cli_sites_table(&ch, used_block, NULL, limit, NULL))
				rc = CLI_ERR;
		}
	}
	cli_close(&ch);
	return rc;
}
