/* top.c: the `top` verb: a live view of a running program's heap. The heap file is shared, so a read-only view of
 * it sees the program's stores as they happen, and reading costs the program nothing (no lock, no signal). Every
 * tick: used and free blocks and bytes, operations per second from the heap's counters, the growth of each size
 * class since the previous tick and since the first, and on a heap that tracks call sites the growth of each
 * allocating site (since the first tick in text, since the previous one in JSON; sites.c); in a terminal the screen is redrawn, with --json one record
 * per line per tick.
 *
 * Must never: write to the heap or take its owner lock, stop at a torn read (the program changes the chain while it
 * is walked: a tick whose walk stops at a header being rewritten is retried, then shown as incomplete), or wait
 * longer than asked between ticks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define SHOW_CLASSES 10
#define SHOW_SITES 10
#define WALK_TRIES 3

struct tick {
	struct cli_census c;
	pmp_stats_t s;
	int have_stats, complete, alive;
	struct cli_sites *sites; /* live bytes per allocating site; NULL when the heap does not track them */
	double t;         /* CLOCK_MONOTONIC seconds */
	uint64_t mapped;
	char why[160];
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One look at the heap: a fresh read-only view each time, so the program's growth of the file is seen. */
static int look(const char *path, struct tick *k)
{
	struct cli_heap ch;
	if (cli_open(path, &ch))
		return CLI_ERR;
	k->t = now();
	k->mapped = ch.mapped;
	k->alive = cli_writer_alive(&ch.info, k->why, sizeof k->why);
	int e = PMP_ECORRUPT;
	for (int i = 0; i < WALK_TRIES && e == PMP_ECORRUPT; i++)
		e = cli_walk(&ch);
	if (e && e != PMP_ECORRUPT) {
		cli_errorf("%s: %s", path, pmp_strerror(e));
		cli_close(&ch);
		return CLI_ERR;
	}
	k->complete = e == 0;
	cli_census(&ch, &k->c);
	if (cli_sites_take(&ch, &k->sites)) {
		cli_close(&ch);
		return CLI_ERR;
	}
	/* on an unclean view pmp_stats checks the whole chain, which a torn read can fail: the counters then wait */
	k->have_stats = 0;
	for (int i = 0; i < WALK_TRIES && !k->have_stats; i++)
		k->have_stats = pmp_stats(ch.h, &k->s) == 0;
	cli_close(&ch);
	return CLI_OK;
}

static double rate(const struct tick *k, const struct tick *p, uint64_t now_v, uint64_t then_v)
{
	double dt = k->t - p->t;
	return dt > 0 && now_v >= then_v ? (double)(now_v - then_v) / dt : 0;
}

struct growth {
	unsigned k;
	int64_t bytes, blocks;
};

static int by_growth(const void *a, const void *b)
{
	int64_t x = ((const struct growth *)a)->bytes, y = ((const struct growth *)b)->bytes;
	x = x < 0 ? -x : x;
	y = y < 0 ? -y : y;
	return x < y ? 1 : x > y ? -1 : 0;
}

static void show_json(const char *path, unsigned n, const struct tick *k, const struct tick *p,
		      const struct tick *first)
{
	struct cli_json j;
	const struct cli_tally *u = &k->c.total[CLI_ST_USED], *f = &k->c.total[CLI_ST_FREE];
	json_begin_line(&j, stdout, "top");
	json_str(&j, "file", path);
	json_u64(&j, "tick", n);
	json_u64(&j, "elapsed_ms", (uint64_t)((k->t - first->t) * 1000 + 0.5));
	if (k->alive < 0)
		json_null(&j, "writer_alive");
	else
		json_bool(&j, "writer_alive", k->alive);
	json_bool(&j, "complete", k->complete);
	json_u64(&j, "mapped", k->mapped);
	json_u64(&j, "used_blocks", u->blocks);
	json_u64(&j, "used_bytes", u->bytes);
	json_u64(&j, "free_blocks", f->blocks);
	json_u64(&j, "free_bytes", f->bytes);
	json_u64(&j, "free_slots", k->c.slots[CLI_ST_FREE].blocks);
	json_u64(&j, "pages", k->c.pages);
	if (k->have_stats) {
		json_u64(&j, "n_malloc", k->s.n_malloc);
		json_u64(&j, "n_free", k->s.n_free);
		json_u64(&j, "n_realloc", k->s.n_realloc);
	}
	static const char *const keys[3] = {"malloc_per_s", "free_per_s", "realloc_per_s"};
	for (int i = 0; i < 3; i++) {
		if (!p || !k->have_stats || !p->have_stats) {
			json_null(&j, keys[i]);
			continue;
		}
		const uint64_t now_v = i == 0 ? k->s.n_malloc : i == 1 ? k->s.n_free : k->s.n_realloc;
		const uint64_t then_v = i == 0 ? p->s.n_malloc : i == 1 ? p->s.n_free : p->s.n_realloc;
		json_u64(&j, keys[i], (uint64_t)(rate(k, p, now_v, then_v) + 0.5));
	}
	json_arr(&j, "classes");
	for (unsigned c = 0; c < CLI_NCLASSES; c++) {
		const struct cli_tally *t = &k->c.cls[c][CLI_ST_USED], *q = &(p ? p : k)->c.cls[c][CLI_ST_USED];
		const struct cli_tally *o = &first->c.cls[c][CLI_ST_USED];
		if (!t->blocks && !q->blocks && !o->blocks)
			continue;
		json_obj(&j, NULL);
		json_u64(&j, "min_size", cli_class_min(c));
		json_u64(&j, "max_size", cli_class_max(c));
		json_u64(&j, "used_blocks", t->blocks);
		json_u64(&j, "used_bytes", t->bytes);
		json_i64(&j, "growth_blocks", (int64_t)(t->blocks - q->blocks));
		json_i64(&j, "growth_bytes", (int64_t)(t->bytes - q->bytes));
		json_i64(&j, "growth_since_start_bytes", (int64_t)(t->bytes - o->bytes));
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj(&j, "by_site");
	cli_sites_growth(p ? p->sites : k->sites, k->sites, SHOW_SITES, &j, NULL, NULL);
	json_obj_end(&j);
	json_end(&j);
}

static void show_text(const char *path, unsigned n, const struct tick *k, const struct tick *p,
		      const struct tick *first, int tty)
{
	const struct cli_tally *u = &k->c.total[CLI_ST_USED], *f = &k->c.total[CLI_ST_FREE];
	if (tty)
		fputs("\033[H\033[2J", stdout);
	fputs("pmempreload top: ", stdout);
	cli_print_str(stdout, path);
	printf("  tick %u, %.1f s\n", n, k->t - first->t);
	printf("writer:  %s: %s\n", k->alive > 0 ? "running" : k->alive == 0 ? "not running" : "unknown", k->why);
	printf("used:    %" PRIu64 " blocks, %" PRIu64 " bytes%s\n", u->blocks, u->bytes,
	       k->complete ? "" : "  (the walk met a header being rewritten: counts are partial)");
	printf("free:    %" PRIu64 " blocks, %" PRIu64 " bytes (%" PRIu64 " of them slots in %" PRIu64 " slab pages); "
	       "mapped %" PRIu64 " bytes\n", f->blocks, f->bytes, k->c.slots[CLI_ST_FREE].blocks, k->c.pages, k->mapped);
	if (p && k->have_stats && p->have_stats)
		printf("ops/s:   %.0f malloc, %.0f free, %.0f realloc\n", rate(k, p, k->s.n_malloc, p->s.n_malloc),
		       rate(k, p, k->s.n_free, p->s.n_free), rate(k, p, k->s.n_realloc, p->s.n_realloc));
	else
		printf("ops/s:   (from the second tick on)\n");
	struct growth g[CLI_NCLASSES];
	unsigned ng = 0;
	for (unsigned c = 0; c < CLI_NCLASSES; c++) {
		const struct cli_tally *t = &k->c.cls[c][CLI_ST_USED], *o = &first->c.cls[c][CLI_ST_USED];
		if (t->bytes != o->bytes || t->blocks != o->blocks)
			g[ng++] = (struct growth){c, (int64_t)(t->bytes - o->bytes), (int64_t)(t->blocks - o->blocks)};
	}
	qsort(g, ng, sizeof g[0], by_growth);
	printf("\ngrowth since the first tick (usable bytes), largest first:\n");
	for (unsigned i = 0; i < ng && i < SHOW_CLASSES; i++) {
		char lab[48];
		const struct cli_tally *t = &k->c.cls[g[i].k][CLI_ST_USED], *q = &(p ? p : k)->c.cls[g[i].k][CLI_ST_USED];
		printf("  %-18s %+10" PRId64 " blocks %+14" PRId64 " bytes   (last tick %+" PRId64 " bytes)\n",
		       cli_class_label(g[i].k, lab, sizeof lab), g[i].blocks, g[i].bytes, (int64_t)(t->bytes - q->bytes));
	}
	if (!ng)
		printf("  none\n");
	if (k->sites) {
		printf("\ngrowth by allocating site since the first tick, heaviest first:\n");
		cli_sites_growth(first->sites, k->sites, SHOW_SITES, NULL, "first", "now");
	}
	if (!tty)
		putchar('\n');
}

int cli_top(int argc, char **argv)
{
	int json = 0, n;
	const char *count_s = NULL, *every_s = NULL, *pos[1];
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {"--count", &count_s, NULL},
				       {"--interval", &every_s, NULL}, {NULL, NULL, NULL}};
	if (cli_args(argc, argv, opts, pos, 1, 1, &n))
		return CLI_ERR;
	uint64_t count = 0;
	double every = 1.0;
	char *end = NULL;
	if (count_s && cli_parse_size(count_s, &count))
		return CLI_ERR;
	if (every_s && ((every = strtod(every_s, &end)), !end || *end || !(every >= 0.01 && every <= 3600))) {
		cli_errorf("top: --interval '%s': seconds from 0.01 to 3600", every_s);
		return CLI_ERR;
	}
	struct tick *k = calloc(3, sizeof *k); /* this tick, the previous one, the first */
	if (!k) {
		cli_errorf("out of memory");
		return CLI_ERR;
	}
	struct tick *cur = &k[0], *prev = &k[1], *first = &k[2];
	int tty = !json && isatty(STDOUT_FILENO), rc = CLI_OK;
	for (unsigned t = 1; !count || t <= count; t++) {
		if (t > 1) {
			struct timespec d = {(time_t)every, (long)((every - (double)(time_t)every) * 1e9)};
			while (nanosleep(&d, &d) && errno == EINTR)
				;
		}
		struct stat st;
		if (t > 1 && stat(pos[0], &st) && errno == ENOENT) {
			cli_errorf("%s: the heap file is gone (the program ended and did not keep it)", pos[0]);
			break;
		}
		if (cur->sites != first->sites)
			cli_sites_drop(cur->sites); /* the first tick's stay: every text tick is compared with them */
		cur->sites = NULL;
		if (look(pos[0], cur)) {
			rc = CLI_ERR;
			break;
		}
		if (t == 1)
			*first = *cur;
		if (json)
			show_json(pos[0], t, cur, t > 1 ? prev : NULL, first);
		else
			show_text(pos[0], t, cur, t > 1 ? prev : NULL, first, tty);
		fflush(stdout);
		struct tick *x = prev;
		prev = cur;
		cur = x;
	}
	for (int i = 0; i < 2; i++)
		if (k[i].sites != first->sites)
			cli_sites_drop(k[i].sites);
	cli_sites_drop(first->sites);
	free(k);
	return rc;
}
