/* stress.c: the randomized shadow-model stress of the allocator: mixed malloc/calloc/memalign/realloc/free with
 * sizes from 0 to several MiB (mostly small, some medium, rare multi-MiB), every live block filled with a pattern
 * derived from (id, offset) and verified before it is freed or resized and at every check; pmp_check, usable sizes
 * and the used-block count are checked every N operations. One run on caller memory, one on a growing file heap
 * that is also closed and reopened along the way.
 *
 * Seeded and reproducible: PMP_STRESS_SEED=<n> repeats a run (the seed is in every failure message and in the
 * summary line); PMP_STRESS_OPS=<n> sets the operations per test for soaks. Each test prints one summary line:
 *   stress(memory): 2000000 ops, 400 checks, seed 1234, 3.1 s
 * Must never: hold the heap to a promise the API does not make, or shrink its default work below a few million
 * operations in total (unsanitized builds).
 */
#include "api.h"

#define SLOTS 4096
#define BUDGET ((size_t)96 << 20) /* live bytes above which the stress only frees and shrinks */

#if T_SANITIZED
#define DEFAULT_OPS_MEM 1500000ull
#define DEFAULT_OPS_FILE 1000000ull
#else
#define DEFAULT_OPS_MEM 6000000ull
#define DEFAULT_OPS_FILE 4000000ull
#endif

struct slot {
	uint8_t *p;
	size_t n;
	uint64_t id;
	size_t align;
};

struct run {
	const char *name;
	pmp_heap_t *h;
	uint64_t seed0, rng, op, ops, checks, next_id, reopens;
	uint64_t live, live_bytes, peak_bytes;
	struct slot s[SLOTS];
	/* file runs */
	const char *path;
	pmp_file_opts_t o;
};

#define SA(r, cond, fmt, ...)                                                                                   \
	cr_assert(cond, "stress(%s) seed %llu op %llu: " fmt, (r)->name, (unsigned long long)(r)->seed0,       \
		  (unsigned long long)(r)->op, ##__VA_ARGS__)

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	char *end;
	unsigned long long x = strtoull(v, &end, 0);
	cr_assert(*end == 0, "%s=%s is not a number", name, v);
	return x;
}

static size_t pick_size(struct run *r)
{
	uint64_t k = t_below(&r->rng, 10000);
	if (k < 150)
		return 0;
	if (k < 7000)
		return (size_t)t_below(&r->rng, 257);
	if (k < 9550)
		return 257 + (size_t)t_below(&r->rng, 8192 - 257);
	if (k < 9990)
		return 8192 + (size_t)t_below(&r->rng, 128 << 10);
	return (256 << 10) + (size_t)t_below(&r->rng, 6 << 20); /* up to ~6 MiB */
}

static void verify_slot(struct run *r, const struct slot *s, size_t upto)
{
	size_t bad = t_find_bad(s->p, s->id, 0, upto);
	SA(r, bad == upto, "block id %llu at %p (%zu bytes) damaged at byte %zu", (unsigned long long)s->id,
	   (void *)s->p, s->n, bad);
}

/* the used blocks as pmp_walk reports them, sorted by address */
struct used_list {
	uintptr_t *addr;
	size_t *size, n, cap;
};
static int collect_used(const pmp_block_t *b, void *u)
{
	struct used_list *l = u;
	if (b->state != PMP_BLOCK_USED)
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 4096;
		l->addr = realloc(l->addr, l->cap * sizeof *l->addr);
		l->size = realloc(l->size, l->cap * sizeof *l->size);
	}
	l->addr[l->n] = (uintptr_t)b->addr;
	l->size[l->n++] = b->block_size;
	return 0;
}

/* pmp_check, and the walk against the model: every live block of the model is a used block of the walk, and the
 * walk's used blocks are exactly those (their count and their bytes, so that no block leaks or vanishes) */
static void check_all(struct run *r)
{
	pmp_report_t rep;
	int e = pmp_check(r->h, &rep);
	SA(r, e == 0, "pmp_check: problem %d: %s", rep.problem, rep.msg);
	SA(r, rep.used_blocks == r->live, "check counts %llu used blocks, the model holds %llu",
	   (unsigned long long)rep.used_blocks, (unsigned long long)r->live);
	struct used_list l = {0};
	SA(r, pmp_walk(r->h, collect_used, &l) == 0, "%s", "pmp_walk failed");
	SA(r, l.n == r->live, "the walk has %zu used blocks, the model %llu", l.n, (unsigned long long)r->live);
	uint64_t bytes = 0;
	for (unsigned i = 0; i < SLOTS; i++) {
		struct slot *s = &r->s[i];
		if (!s->p)
			continue;
		size_t u = pmp_usable_size(r->h, s->p);
		SA(r, u >= s->n, "usable size %zu < %zu", u, s->n);
		size_t lo = 0, hi = l.n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (l.addr[mid] < (uintptr_t)s->p)
				lo = mid + 1;
			else
				hi = mid;
		}
		SA(r, lo < l.n && l.addr[lo] == (uintptr_t)s->p, "live block %p is not a used block of the walk",
		   (void *)s->p);
		SA(r, l.size[lo] >= u, "the walk's block %p is smaller than its usable size", (void *)s->p);
		bytes += l.size[lo];
		verify_slot(r, s, s->n);
	}
	SA(r, bytes == rep.bytes_used, "the model's blocks add up to %llu bytes, the check's used bytes to %llu",
	   (unsigned long long)bytes, (unsigned long long)rep.bytes_used);
	free(l.addr);
	free(l.size);
	r->checks++;
}

static void after_alloc(struct run *r, struct slot *s, void *p, size_t n, size_t align, int zeroed)
{
	SA(r, p != NULL, "allocation of %zu bytes (align %zu) failed: errno %d, %llu live bytes", n, align, errno,
	   (unsigned long long)r->live_bytes);
	SA(r, (uintptr_t)p % (align > 16 ? align : 16) == 0, "%p not aligned to %zu", p, align);
	SA(r, pmp_usable_size(r->h, p) >= n, "usable size %zu < %zu", pmp_usable_size(r->h, p), n);
	if (zeroed) {
		const uint8_t *b = p;
		size_t i = 0;
		for (; i + 8 <= n; i += 8) {
			uint64_t w;
			memcpy(&w, b + i, 8);
			if (w)
				break;
		}
		for (; i < n; i++)
			SA(r, b[i] == 0, "calloc byte %zu of %zu is not zero", i, n);
	}
	s->p = p;
	s->n = n;
	s->id = ++r->next_id;
	s->align = align;
	t_fill(p, s->id, 0, n);
	r->live++;
	r->live_bytes += n;
	if (r->live_bytes > r->peak_bytes)
		r->peak_bytes = r->live_bytes;
}

static void one_op(struct run *r)
{
	struct slot *s = &r->s[t_below(&r->rng, SLOTS)];
	uint64_t k = t_below(&r->rng, 100);
	if (!s->p) {
		size_t n = pick_size(r);
		if (r->live_bytes + n > BUDGET)
			return;
		if (k < 55) {
			after_alloc(r, s, pmp_malloc(r->h, n), n, 0, 0);
		} else if (k < 70) {
			size_t m = 1 + (size_t)t_below(&r->rng, 16), q = n / m;
			after_alloc(r, s, pmp_calloc(r->h, m, q), m * q, 0, 1);
		} else if (k < 85) {
			size_t a = (size_t)1 << (t_below(&r->rng, 100) ? t_below(&r->rng, 17) : 20);
			after_alloc(r, s, pmp_memalign(r->h, a, n), n, a, 0);
		} else {
			after_alloc(r, s, pmp_realloc(r->h, NULL, n), n, 0, 0);
		}
		return;
	}
	verify_slot(r, s, s->n);
	if (k < 50 || r->live_bytes > BUDGET) {
		pmp_free(r->h, s->p);
		r->live--;
		r->live_bytes -= s->n;
		s->p = NULL;
		return;
	}
	size_t n = k < 52 ? 0 : k < 75 ? (size_t)t_below(&r->rng, s->n + 1) : pick_size(r);
	if (n > s->n && r->live_bytes + (n - s->n) > BUDGET)
		n = s->n / 2;
	uint8_t *q = pmp_realloc(r->h, s->p, n);
	r->live_bytes -= s->n;
	if (n == 0) {
		SA(r, q == NULL, "realloc(p, 0) returned %p", (void *)q);
		r->live--;
		s->p = NULL;
		return;
	}
	SA(r, q != NULL, "realloc to %zu failed: errno %d", n, errno);
	SA(r, pmp_usable_size(r->h, q) >= n, "usable size after realloc %zu < %zu", pmp_usable_size(r->h, q), n);
	size_t keep = n < s->n ? n : s->n;
	s->p = q;
	verify_slot(r, s, keep);
	t_fill(q, s->id, keep, n);
	s->n = n;
	s->align = 0;
	r->live_bytes += n;
	if (r->live_bytes > r->peak_bytes)
		r->peak_bytes = r->live_bytes;
}

static void reopen(struct run *r)
{
	int e = pmp_close(r->h);
	SA(r, e == 0, "close: %s", pmp_strerror(e));
	pmp_file_opts_t o = r->o;
	o.mode = PMP_OPEN_EXISTING;
	r->h = NULL;
	e = pmp_file_open(r->path, &o, &r->h);
	SA(r, e == 0, "reopen: %s", pmp_strerror(e));
	r->reopens++;
}

static void drive(struct run *r, uint64_t check_every, uint64_t reopen_every)
{
	double t0 = t_now();
	for (r->op = 0; r->op < r->ops; r->op++) {
		one_op(r);
		if ((r->op + 1) % check_every == 0)
			check_all(r);
		if (reopen_every && (r->op + 1) % reopen_every == 0) {
			reopen(r);
			check_all(r);
		}
	}
	check_all(r);
	/* empty: one free block again */
	for (unsigned i = 0; i < SLOTS; i++)
		if (r->s[i].p) {
			verify_slot(r, &r->s[i], r->s[i].n);
			pmp_free(r->h, r->s[i].p);
			r->s[i].p = NULL;
		}
	r->live = r->live_bytes = 0;
	pmp_stats_t st;
	/* nothing left in use; the empty slab pages (a thread keeps one per class, pages no thread owns stay until
	 * adopted) all go back to the chain at pmp_trim */
	pmp_trim(r->h);
	cr_assert_eq(pmp_stats(r->h, &st), 0);
	SA(r, st.used_blocks == 0 && st.pages == 0, "emptied and trimmed heap: %llu used blocks, %llu pages",
	   (unsigned long long)st.used_blocks, (unsigned long long)st.pages);
	check_all(r);
	double dt = t_now() - t0;
	fprintf(stderr, "stress(%s): %llu ops, %llu checks, seed %llu, %.1f s (peak %.1f MiB live, %llu grows, %llu reopens)\n",
		r->name, (unsigned long long)r->ops, (unsigned long long)r->checks, (unsigned long long)r->seed0, dt,
		(double)r->peak_bytes / (1 << 20), (unsigned long long)st.n_grow, (unsigned long long)r->reopens);
}

static struct run *new_run(const char *name, uint64_t dflt_ops, uint64_t salt)
{
	static struct run run; /* one per test process */
	struct run *r = &run;
	memset(r, 0, sizeof *r);
	r->name = name;
	r->seed0 = env_u64("PMP_STRESS_SEED", 0);
	if (!r->seed0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r->seed0 = ((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ salt ^ (uint64_t)getpid() << 40) %
			   1000000007ull + 1;
	}
	r->rng = r->seed0;
	r->ops = env_u64("PMP_STRESS_OPS", dflt_ops);
	return r;
}

Test(stress, memory, .timeout = 900)
{
	struct run *r = new_run("memory", DEFAULT_OPS_MEM, 1);
	size_t len = (size_t)256 << 20;
	void *mem = t_map(NULL, len);
	cr_assert_eq(pmp_heap_create(mem, len, 0, &r->h), 0);
	drive(r, 5000, 0);
	cr_assert_eq(pmp_close(r->h), 0);
	munmap(mem, len);
}

Test(stress, file_growing, .timeout = 900)
{
	struct run *r = new_run("file", DEFAULT_OPS_FILE, 2);
	char *dir = t_tmpdir(), *path = t_path(dir, "stress.heap");
	r->path = path;
	r->o = t_opts(PMP_OPEN_CREATE, T_ADDR(40), (size_t)1 << 30);
	r->o.grow = 1 << 20;
	int e = pmp_file_open(path, &r->o, &r->h);
	cr_assert_eq(e, 0, "%s", pmp_strerror(e));
	drive(r, 5000, r->ops / 4 + 1);
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(r->h, &st), 0);
	SA(r, st.n_grow > 0, "the file heap never grew (mapped %llu)", (unsigned long long)st.mapped);
	cr_assert_eq(pmp_close(r->h), 0);
	free(path);
	t_rmtree(dir);
}
