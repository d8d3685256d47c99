/* stats.c: the `stats` verb: the heap's counters (pmp_stats) and a power-of-two size histogram of used, free and
 * cached blocks taken from the block walk.
 *
 * Must never: present the derived counters of an unclean heap as if they were trusted (the walk is the truth there).
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

#define NBUCKETS 64

struct hist {
	uint64_t n[NBUCKETS][3], bytes[NBUCKETS][3]; /* [bucket][used, free, cached] */
	uint64_t tot_n[3], tot_bytes[3], largest_free;
};

static unsigned bucket(uint64_t size)
{
	unsigned b = 0;
	while (size >>= 1)
		b++;
	return b;
}

static int slot(int state)
{
	return state == PMP_BLOCK_FREE ? 1 : state == PMP_BLOCK_CACHED ? 2 : 0;
}

static void human(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	unsigned u = 0;
	while (v >= 1024 && !(v % 1024) && u < 6) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 "%c", v, units[u]);
}

int cli_stats(int argc, char **argv)
{
	int json = 0;
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {NULL, NULL, NULL}};
	struct cli_heap ch;
	if (cli_open_args(argc, argv, opts, &ch))
		return CLI_ERR;
	pmp_stats_t s;
	int e = pmp_stats(ch.h, &s);
	if (e) {
		cli_errorf("%s: stats: %s", ch.path, pmp_strerror(e));
		cli_close(&ch);
		return e == PMP_ECORRUPT ? CLI_FAIL : CLI_ERR;
	}
	int rc = cli_load_blocks(&ch);
	if (rc == CLI_ERR) {
		cli_close(&ch);
		return rc;
	}
	struct hist h;
	memset(&h, 0, sizeof h);
	for (size_t i = 0; i < ch.nblocks; i++) {
		const pmp_block_t *b = &ch.blocks[i];
		unsigned k = bucket(b->size);
		int st = slot(b->state);
		h.n[k][st]++;
		h.bytes[k][st] += b->size;
		h.tot_n[st]++;
		h.tot_bytes[st] += b->block_size;
		if (b->state == PMP_BLOCK_FREE && b->block_size > h.largest_free)
			h.largest_free = b->block_size;
	}
	if (!s.largest_free)
		s.largest_free = h.largest_free;
	if (json) {
		struct cli_json j;
		json_begin(&j, stdout, "stats");
		json_str(&j, "file", ch.path);
		json_bool(&j, "clean", ch.info.clean);
		json_u64(&j, "reserved", s.reserved);
		json_u64(&j, "mapped", s.mapped);
		json_u64(&j, "arena", s.arena);
		json_u64(&j, "used_bytes", s.used_bytes);
		json_u64(&j, "used_blocks", s.used_blocks);
		json_u64(&j, "free_bytes", s.free_bytes);
		json_u64(&j, "free_blocks", s.free_blocks);
		json_u64(&j, "cached_blocks", h.tot_n[2]);
		json_u64(&j, "largest_free", s.largest_free);
		json_u64(&j, "peak_used_bytes", s.peak_used_bytes);
		json_u64(&j, "n_malloc", s.n_malloc);
		json_u64(&j, "n_free", s.n_free);
		json_u64(&j, "n_realloc", s.n_realloc);
		json_u64(&j, "n_grow", s.n_grow);
		json_obj(&j, "walk");
		json_u64(&j, "used_blocks", h.tot_n[0]);
		json_u64(&j, "used_bytes", h.tot_bytes[0]);
		json_u64(&j, "free_blocks", h.tot_n[1]);
		json_u64(&j, "free_bytes", h.tot_bytes[1]);
		json_u64(&j, "cached_blocks", h.tot_n[2]);
		json_u64(&j, "cached_bytes", h.tot_bytes[2]);
		json_bool(&j, "complete", rc == CLI_OK);
		json_obj_end(&j);
		json_arr(&j, "histogram");
		for (unsigned k = 0; k < NBUCKETS; k++) {
			if (!h.n[k][0] && !h.n[k][1] && !h.n[k][2])
				continue;
			json_obj(&j, NULL);
			json_u64(&j, "min_size", (uint64_t)1 << k);
			json_u64(&j, "max_size", k == 63 ? UINT64_MAX : ((uint64_t)1 << (k + 1)) - 1);
			json_u64(&j, "used_blocks", h.n[k][0]);
			json_u64(&j, "used_bytes", h.bytes[k][0]);
			json_u64(&j, "free_blocks", h.n[k][1]);
			json_u64(&j, "free_bytes", h.bytes[k][1]);
			json_u64(&j, "cached_blocks", h.n[k][2]);
			json_u64(&j, "cached_bytes", h.bytes[k][2]);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_end(&j);
	} else {
		printf("file:          %s%s\n", ch.path, ch.info.clean ? "" : "  (unclean: counts from the block chain)");
		printf("reserved:      %" PRIu64 " bytes\n", s.reserved);
		printf("mapped:        %" PRIu64 " bytes (arena %" PRIu64 ")\n", s.mapped, s.arena);
		printf("used:          %" PRIu64 " blocks, %" PRIu64 " bytes (peak %" PRIu64 ")\n", s.used_blocks,
		       s.used_bytes, s.peak_used_bytes);
		printf("free:          %" PRIu64 " blocks, %" PRIu64 " bytes (largest %" PRIu64 ")\n", s.free_blocks,
		       s.free_bytes, s.largest_free);
		if (h.tot_n[2])
			printf("cached:        %" PRIu64 " blocks, %" PRIu64 " bytes\n", h.tot_n[2], h.tot_bytes[2]);
		printf("operations:    %" PRIu64 " malloc, %" PRIu64 " free, %" PRIu64 " realloc, %" PRIu64 " grow\n",
		       s.n_malloc, s.n_free, s.n_realloc, s.n_grow);
		printf("\nblock sizes (usable bytes)   used: blocks     bytes   free: blocks     bytes\n");
		for (unsigned k = 0; k < NBUCKETS; k++) {
			if (!h.n[k][0] && !h.n[k][1] && !h.n[k][2])
				continue;
			char lo[24], hi[24];
			human((uint64_t)1 << k, lo, sizeof lo);
			human(k == 63 ? 0 : (uint64_t)1 << (k + 1), hi, sizeof hi);
			printf("  [%6s, %6s)       %12" PRIu64 " %9" PRIu64 "   %12" PRIu64 " %9" PRIu64 "%s\n", lo,
			       k == 63 ? "inf" : hi, h.n[k][0], h.bytes[k][0], h.n[k][1] + h.n[k][2],
			       h.bytes[k][1] + h.bytes[k][2], h.n[k][2] ? "  (incl. cached)" : "");
		}
	}
	cli_close(&ch);
	return rc;
}
