/* diff.c: the `diff` verb: two images of one heap (two kills of one run, two snapshots) compared block by block:
 * live blocks added, removed, resized (same address, other size) and changed (same address and size, other bytes),
 * the growth of each size class and, when both images track call sites, of each allocating site (sites.c). Exit 0 when the live blocks are the same, 1 when they differ (as diff(1)).
 *
 * Must never: compare images of two different heaps as if they were one (same base and creation time, or refuse),
 * read holes byte by byte (a stretch that is a hole in both images is equal), or read one image through the other's
 * addresses (each is read through its own view).
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static int live(const pmp_block_t *b)
{
	return b->state == PMP_BLOCK_USED || b->state == PMP_BLOCK_LOST;
}

/* first offset where two payloads of one size differ: pieces where either image holds data are compared; where
 * both are holes the bytes are zeros in both */
struct cmp {
	const pmp_block_t *other;
	uint64_t first; /* UINT64_MAX: none yet */
};

static int cmp_piece(const pmp_block_t *b, size_t off, const uint8_t *p, size_t len, void *user)
{
	struct cmp *c = user;
	if (off >= c->first)
		return 1;
	const uint8_t *q = (const uint8_t *)c->other->data + off;
	if (!memcmp(p, q, len))
		return 0;
	size_t k = 0;
	while (p[k] == q[k])
		k++;
	if (off + k < c->first)
		c->first = off + k;
	return 1;
}

static uint64_t first_difference(struct cli_heap *a, const pmp_block_t *ba, struct cli_heap *b, const pmp_block_t *bb)
{
	struct cmp c = {bb, UINT64_MAX};
	cli_block_pieces(a, ba, 0, cmp_piece, &c);
	c.other = ba;
	cli_block_pieces(b, bb, 0, cmp_piece, &c);
	return c.first;
}

enum { ADDED, REMOVED, RESIZED, CHANGED, NKINDS };
static const char *const kind_name[NKINDS] = {"added", "removed", "resized", "changed"};

struct out {
	struct cli_json *j;
	uint64_t limit;
	uint64_t n[NKINDS], bytes[NKINDS];
};

static void item(struct out *o, int kind, const pmp_block_t *a, const pmp_block_t *b, uint64_t first)
{
	const pmp_block_t *x = b ? b : a;
	uint64_t addr = (uint64_t)(uintptr_t)x->addr;
	o->bytes[kind] += x->size;
	if (o->n[kind]++ >= o->limit)
		return;
	if (o->j) {
		json_obj(o->j, NULL);
		json_str(o->j, "kind", kind_name[kind]);
		json_addr(o->j, "address", addr);
		if (kind == RESIZED) {
			json_u64(o->j, "size_a", a->size);
			json_u64(o->j, "size_b", b->size);
		} else {
			json_u64(o->j, "size", x->size);
		}
		if (kind == CHANGED)
			json_u64(o->j, "first_difference", first);
		json_obj_end(o->j);
		return;
	}
	static const char mark[NKINDS] = {'+', '-', 'r', '~'};
	printf("%c 0x%012" PRIx64 " %12zu  %s", mark[kind], addr, a && kind != ADDED ? a->size : x->size, kind_name[kind]);
	if (kind == RESIZED)
		printf(" to %zu bytes", b->size);
	if (kind == CHANGED)
		printf(" (first difference at +%" PRIu64 ")", first);
	putchar('\n');
}

static void image(struct cli_json *j, const char *key, const struct cli_heap *ch)
{
	char t[40];
	if (j) {
		json_obj(j, key);
		json_str(j, "file", ch->path);
		json_u64(j, "generation", ch->info.generation);
		json_bool(j, "clean", ch->info.clean);
		json_u64(j, "writer_pid", ch->info.writer_pid);
		json_u64(j, "opened_ns", ch->info.opened_ns);
		json_obj_end(j);
		return;
	}
	printf("%s: ", key);
	cli_print_str(stdout, ch->path);
	printf(" (generation %" PRIu64 ", %s, last opened %s by pid %" PRIu64 ")\n", ch->info.generation,
	       ch->info.clean ? "clean" : "dirty", cli_time(ch->info.opened_ns, t, sizeof t), ch->info.writer_pid);
}

static void classes(struct cli_json *j, const struct cli_census *ca, const struct cli_census *cb)
{
	if (j)
		json_arr(j, "classes");
	else
		printf("\nusable size class     used blocks A -> B          used bytes A -> B\n");
	for (unsigned k = 0; k < CLI_NCLASSES; k++) {
		const struct cli_tally *a = &ca->cls[k][CLI_ST_USED], *b = &cb->cls[k][CLI_ST_USED];
		if (a->blocks == b->blocks && a->bytes == b->bytes)
			continue;
		if (j) {
			json_obj(j, NULL);
			json_u64(j, "min_size", cli_class_min(k));
			json_u64(j, "max_size", cli_class_max(k));
			json_u64(j, "a_blocks", a->blocks);
			json_u64(j, "b_blocks", b->blocks);
			json_u64(j, "a_bytes", a->bytes);
			json_u64(j, "b_bytes", b->bytes);
			json_obj_end(j);
		} else {
			char lab[48];
			printf("  %-18s %8" PRIu64 " -> %-8" PRIu64 " (%+" PRId64 ")  %10" PRIu64 " -> %-10" PRIu64 " (%+" PRId64
			       ")\n", cli_class_label(k, lab, sizeof lab), a->blocks, b->blocks,
			       (int64_t)(b->blocks - a->blocks), a->bytes, b->bytes, (int64_t)(b->bytes - a->bytes));
		}
	}
	if (j)
		json_arr_end(j);
}

int cli_diff(int argc, char **argv)
{
	int json = 0, n;
	const char *limit_s = NULL, *pos[2];
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {"--limit", &limit_s, NULL}, {NULL, NULL, NULL}};
	if (cli_args(argc, argv, opts, pos, 2, 2, &n))
		return CLI_ERR;
	struct out o = {NULL, UINT64_MAX, {0}, {0}};
	if (limit_s && cli_parse_size(limit_s, &o.limit))
		return CLI_ERR;
	struct cli_heap a, b;
	int arc, brc;
	if (cli_open_blocks(pos[0], &a, &arc))
		return CLI_ERR;
	if (cli_open_blocks(pos[1], &b, &brc)) {
		cli_close(&a);
		return CLI_ERR;
	}
	if (a.base != b.base || a.info.created_ns != b.info.created_ns) {
		char ta[40], tb[40];
		cli_errorf("%s and %s are not images of one heap (based at 0x%" PRIx64 " and 0x%" PRIx64 ", created %s and %s)",
			   a.path, b.path, a.base, b.base, cli_time(a.info.created_ns, ta, sizeof ta),
			   cli_time(b.info.created_ns, tb, sizeof tb));
		cli_close(&a);
		cli_close(&b);
		return CLI_ERR;
	}
	struct cli_json j;
	if (json) {
		json_begin(&j, stdout, "diff");
		image(&j, "a", &a);
		image(&j, "b", &b);
		json_arr(&j, "blocks");
		o.j = &j;
	} else {
		image(NULL, "A", &a);
		image(NULL, "B", &b);
	}
	/* both block lists are in address order: one merge */
	size_t i = 0, k = 0;
	while (i < a.nblocks || k < b.nblocks) {
		const pmp_block_t *x = i < a.nblocks ? &a.blocks[i] : NULL, *y = k < b.nblocks ? &b.blocks[k] : NULL;
		if (x && !live(x)) {
			i++;
			continue;
		}
		if (y && !live(y)) {
			k++;
			continue;
		}
		uint64_t xa = x ? (uint64_t)(uintptr_t)x->addr : UINT64_MAX, ya = y ? (uint64_t)(uintptr_t)y->addr : UINT64_MAX;
		if (xa < ya) {
			item(&o, REMOVED, x, NULL, 0);
			i++;
		} else if (ya < xa) {
			item(&o, ADDED, NULL, y, 0);
			k++;
		} else {
			uint64_t first;
			if (x->size != y->size)
				item(&o, RESIZED, x, y, 0);
			else if ((first = first_difference(&a, x, &b, y)) != UINT64_MAX)
				item(&o, CHANGED, x, y, first);
			i++;
			k++;
		}
	}
	struct cli_census ca, cb;
	cli_census(&a, &ca);
	cli_census(&b, &cb);
	struct cli_sites *sa = NULL, *sb = NULL;
	int site_err = cli_sites_take(&a, &sa) || cli_sites_take(&b, &sb);
	const struct cli_tally *ua = &ca.total[CLI_ST_USED], *ub = &cb.total[CLI_ST_USED];
	uint64_t diffs = o.n[ADDED] + o.n[REMOVED] + o.n[RESIZED] + o.n[CHANGED];
	if (json) {
		json_arr_end(&j);
		json_obj(&j, "summary");
		for (int t = 0; t < NKINDS; t++) {
			char key[24];
			json_u64(&j, kind_name[t], o.n[t]);
			snprintf(key, sizeof key, "%s_bytes", kind_name[t]);
			json_u64(&j, key, o.bytes[t]);
		}
		json_u64(&j, "a_used_blocks", ua->blocks);
		json_u64(&j, "b_used_blocks", ub->blocks);
		json_u64(&j, "a_used_bytes", ua->bytes);
		json_u64(&j, "b_used_bytes", ub->bytes);
		json_bool(&j, "complete", arc == CLI_OK && brc == CLI_OK);
		json_obj_end(&j);
		classes(&j, &ca, &cb);
		json_obj(&j, "by_site");
		if (!site_err)
			site_err = cli_sites_growth(sa, sb, o.limit, &j, NULL, NULL);
		json_obj_end(&j);
		json_end(&j);
	} else {
		for (int t = 0; t < NKINDS; t++)
			if (o.n[t] > o.limit)
				printf("  ... %" PRIu64 " more %s\n", o.n[t] - o.limit, kind_name[t]);
		printf("%" PRIu64 " added (%" PRIu64 " bytes), %" PRIu64 " removed (%" PRIu64 " bytes), %" PRIu64
		       " resized, %" PRIu64 " changed; used %" PRIu64 " -> %" PRIu64 " blocks, %" PRIu64 " -> %" PRIu64
		       " bytes (%+" PRId64 ")\n", o.n[ADDED], o.bytes[ADDED], o.n[REMOVED], o.bytes[REMOVED], o.n[RESIZED],
		       o.n[CHANGED], ua->blocks, ub->blocks, ua->bytes, ub->bytes, (int64_t)(ub->bytes - ua->bytes));
		if (diffs)
			classes(NULL, &ca, &cb);
		if (diffs && sa && sb && !site_err) {
			printf("\nlive bytes by allocating site, heaviest growth first:\n");
			site_err = cli_sites_growth(sa, sb, o.limit, NULL, "A", "B");
		}
	}
	cli_sites_drop(sa);
	cli_sites_drop(sb);
	cli_close(&a);
	cli_close(&b);
	if (site_err)
		return CLI_ERR;
	if (arc == CLI_FAIL || brc == CLI_FAIL)
		return CLI_FAIL; /* a chain damaged part way: its damaged stretches compare as blocks of their own */
	return diffs ? CLI_FAIL : CLI_OK;
}
