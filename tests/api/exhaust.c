/* exhaust.c: api tests of running out (a heap on caller memory and a file heap with a small reserve, filled until
 * NULL with ENOMEM, then emptied back to one free block) and of threads sharing one heap.
 *
 * Holds: tests whose oracle is pmp_check, pmp_stats and the contents of every block the test still holds.
 * Must never: accept a NULL that is not ENOMEM, or a heap that does not return to one free block when emptied.
 */
#include "api.h"

#include <pthread.h>

struct held {
	void **p;
	size_t *n;
	size_t count, cap;
};

static void hold(struct held *h, void *p, size_t n)
{
	if (h->count == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 1024;
		h->p = realloc(h->p, h->cap * sizeof *h->p);
		h->n = realloc(h->n, h->cap * sizeof *h->n);
		cr_assert(h->p && h->n);
	}
	h->p[h->count] = p;
	h->n[h->count] = n;
	h->count++;
}

/* allocate until NULL, with sizes from big to small so that the heap really ends up full */
static void fill_up(pmp_heap_t *heap, struct held *hd, uint64_t *seed)
{
	for (size_t limit = 1 << 20; limit >= 16; limit /= 4) {
		for (;;) {
			size_t n = (size_t)t_below(seed, limit) + 1;
			errno = 0;
			void *p = t_below(seed, 8) ? pmp_malloc(heap, n) : pmp_memalign(heap, 64, n);
			if (!p) {
				cr_assert_eq(errno, ENOMEM, "NULL with errno %d", errno);
				break;
			}
			t_fill(p, hd->count, 0, n);
			hold(hd, p, n);
		}
	}
	/* the very end: malloc(0) until nothing is left */
	for (;;) {
		errno = 0;
		void *p = pmp_malloc(heap, 0);
		if (!p) {
			cr_assert_eq(errno, ENOMEM);
			break;
		}
		hold(hd, p, 0);
	}
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(heap, &st), 0);
	cr_assert_lt(st.largest_free, 32, "malloc(0) failed although a block of %llu bytes is free",
		     (unsigned long long)st.largest_free);
	t_check(heap, "full");
	for (size_t i = 0; i < hd->count; i++)
		t_assert_pattern(hd->p[i], i, hd->n[i]);
}

struct chain_free { uint64_t n, bytes; };
static int count_chain_free(const pmp_block_t *b, void *user)
{
	struct chain_free *cf = user;
	cr_assert_neq(b->state, PMP_BLOCK_USED, "a used block at %p in an emptied heap", b->addr);
	if (b->block_size == b->size + 16) { /* a chain block (a slot has no header) */
		cf->n++;
		cf->bytes += b->block_size;
	}
	return 0;
}

static void empty_out(pmp_heap_t *heap, struct held *hd, uint64_t *seed)
{
	/* free in random order */
	for (size_t i = hd->count; i > 1; i--) {
		size_t j = (size_t)t_below(seed, i);
		void *tp = hd->p[j];
		size_t tn = hd->n[j];
		hd->p[j] = hd->p[i - 1];
		hd->n[j] = hd->n[i - 1];
		hd->p[i - 1] = tp;
		hd->n[i - 1] = tn;
	}
	for (size_t i = 0; i < hd->count; i++) {
		pmp_free(heap, hd->p[i]);
		if (i % 5000 == 0)
			t_check(heap, "emptying");
	}
	hd->count = 0;
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(heap, &st), 0);
	cr_assert_eq(st.used_blocks, 0);
	cr_assert_eq(st.used_bytes, 0);
	/* free chain blocks, and the pages this thread keeps (at most one per size class, empty: their free slots are
	 * free blocks too) between them; nothing else */
	struct chain_free cf = {0};
	cr_assert_eq(pmp_walk(heap, count_chain_free, &cf), 0);
	cr_assert_leq(st.pages, 36, "%llu pages kept by one thread", (unsigned long long)st.pages);
	cr_assert_leq(cf.n, st.pages + 1, "an empty heap is free chain blocks between empty pages, not %llu chain blocks "
		      "around %llu pages", (unsigned long long)cf.n, (unsigned long long)st.pages);
	cr_assert_eq(cf.bytes + 16 + st.pages * 65536, st.arena, "free chain blocks and pages cover the arena");
	if (!st.pages)
		cr_assert_eq(st.largest_free, cf.bytes - 16);
	t_check(heap, "empty");
}

Test(exhaust, caller_memory, .timeout = 120)
{
	size_t len = 16 << 20;
	void *mem = t_map(NULL, len);
	pmp_heap_t *h = NULL;
	cr_assert_eq(pmp_heap_create(mem, len, 0, &h), 0);
	struct held hd = {0};
	uint64_t seed = 21;
	for (int round = 0; round < 3; round++) {
		fill_up(h, &hd, &seed);
		empty_out(h, &hd, &seed);
	}
	/* all of it is usable again, as one block: the pages kept empty for reuse go back to the chain first */
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	void *all = pmp_malloc(h, st.arena - 32);
	cr_assert_not_null(all, "the whole arena (%llu bytes, %llu pages kept) is not one block again",
			   (unsigned long long)st.arena, (unsigned long long)st.pages);
	errno = 0;
	cr_assert_null(pmp_malloc(h, 0));
	cr_assert_eq(errno, ENOMEM);
	pmp_free(h, all);
	pmp_close(h);
	free(hd.p);
	free(hd.n);
	munmap(mem, len);
}

Test(exhaust, file_small_reserve, .timeout = 120)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "full.heap");
	size_t reserve = 12 << 20;
	pmp_file_opts_t o = t_opts(PMP_OPEN_CREATE, T_ADDR(30), reserve);
	pmp_heap_t *h = NULL;
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	struct held hd = {0};
	uint64_t seed = 22;
	fill_up(h, &hd, &seed);
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_geq(st.n_grow, 1, "the heap grew from its initial size");
	cr_assert_leq(st.mapped, reserve);
	cr_assert_gt(st.mapped, reserve - (1 << 20), "the heap grew to (almost) its reserve");
	/* full and reopened: still full, contents intact */
	cr_assert_eq(pmp_close(h), 0);
	o.mode = PMP_OPEN_EXISTING;
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	for (size_t i = 0; i < hd.count; i++)
		t_assert_pattern(hd.p[i], i, hd.n[i]);
	errno = 0;
	cr_assert_null(pmp_malloc(h, 4096));
	cr_assert_eq(errno, ENOMEM);
	t_check(h, "reopened full");
	empty_out(h, &hd, &seed);
	fill_up(h, &hd, &seed);
	empty_out(h, &hd, &seed);
	cr_assert_eq(pmp_close(h), 0);
	free(hd.p);
	free(hd.n);
	free(path);
	t_rmtree(dir);
}

/* ---- threads ---- */
#define NT 6
#define SLOTS 512

struct worker {
	pmp_heap_t *h;
	int idx;
	uint64_t seed, ops;
	void *p[SLOTS];
	size_t n[SLOTS];
	uint64_t id[SLOTS];
};

/* a handoff box: a block allocated by one thread and freed by another */
static pthread_mutex_t box_lock = PTHREAD_MUTEX_INITIALIZER;
static void *box_p[64];
static size_t box_n[64];
static uint64_t box_id[64];

static uint64_t fresh_id(struct worker *w) { return ((uint64_t)w->idx << 40) | ++w->ops; }

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int op = 0; op < (T_SANITIZED ? 20000 : 60000); op++) {
		unsigned i = (unsigned)t_below(&w->seed, SLOTS);
		unsigned r = (unsigned)t_below(&w->seed, 100);
		if (!w->p[i]) {
			size_t n = t_below(&w->seed, 20) ? (size_t)t_below(&w->seed, 600) : (size_t)t_below(&w->seed, 200000);
			void *p;
			if (r < 60)
				p = pmp_malloc(w->h, n);
			else if (r < 80)
				p = pmp_calloc(w->h, 1, n);
			else
				p = pmp_memalign(w->h, (size_t)1 << t_below(&w->seed, 13), n);
			if (!p)
				return (void *)"allocation failed";
			if (r >= 60 && r < 80)
				for (size_t k = 0; k < n; k++)
					if (((uint8_t *)p)[k])
						return (void *)"calloc memory not zero";
			w->id[i] = fresh_id(w);
			t_fill(p, w->id[i], 0, n);
			w->p[i] = p;
			w->n[i] = n;
			continue;
		}
		if (t_find_bad(w->p[i], w->id[i], 0, w->n[i]) != w->n[i])
			return (void *)"a block's contents changed under another thread";
		if (r < 45) {
			pmp_free(w->h, w->p[i]);
			w->p[i] = NULL;
		} else if (r < 80) {
			/* mostly small (slots), some beyond 8 KiB (chain blocks, resized in place when they can be) */
			size_t n = t_below(&w->seed, 8) ? (size_t)t_below(&w->seed, 5000) : (size_t)t_below(&w->seed, 100000);
			void *q = pmp_realloc(w->h, w->p[i], n);
			if (!q && n)
				return (void *)"realloc failed";
			if (!n) {
				w->p[i] = NULL;
				continue;
			}
			if (t_find_bad(q, w->id[i], 0, n < w->n[i] ? n : w->n[i]) != (n < w->n[i] ? n : w->n[i]))
				return (void *)"realloc lost contents";
			t_fill(q, w->id[i], 0, n);
			w->p[i] = q;
			w->n[i] = n;
		} else {
			/* swap with the box: give this block away, take (and later free) another thread's */
			unsigned b = (unsigned)t_below(&w->seed, 64);
			pthread_mutex_lock(&box_lock);
			void *tp = box_p[b];
			size_t tn = box_n[b];
			uint64_t tid = box_id[b];
			box_p[b] = w->p[i];
			box_n[b] = w->n[i];
			box_id[b] = w->id[i];
			pthread_mutex_unlock(&box_lock);
			w->p[i] = tp;
			w->n[i] = tn;
			w->id[i] = tid;
		}
	}
	return NULL;
}

/* while the workers run: pmp_check must find the heap consistent (pages other threads own are checked for what
 * does not change under them), and pmp_usable_size of a block in the box (held still by the box's lock) must cover
 * its bytes */
struct checker {
	pmp_heap_t *h;
	int stop;
	unsigned checks;
	char msg[512];
};

static void *check_loop(void *arg)
{
	struct checker *c = arg;
	uint64_t seed = 77;
	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		pmp_report_t r;
		int e = pmp_check(c->h, &r);
		if (e) {
			snprintf(c->msg, sizeof c->msg, "pmp_check during the run: %s (%s at offset %llu)", r.msg,
				 pmp_strerror(e), (unsigned long long)r.offset);
			return c->msg;
		}
		c->checks++;
		for (int k = 0; k < 200; k++) {
			unsigned b = (unsigned)t_below(&seed, 64);
			pthread_mutex_lock(&box_lock);
			size_t u = box_p[b] ? pmp_usable_size(c->h, box_p[b]) : 0, n = box_n[b];
			pthread_mutex_unlock(&box_lock);
			if (u < n) {
				snprintf(c->msg, sizeof c->msg, "usable size %zu of a %zu-byte block", u, n);
				return c->msg;
			}
		}
	}
	return NULL;
}

static void run_threads(pmp_heap_t *h)
{
	static struct worker w[NT];
	pthread_t t[NT], ct;
	static struct checker chk;
	memset(&chk, 0, sizeof chk);
	chk.h = h;
	memset(box_p, 0, sizeof box_p);
	for (int i = 0; i < NT; i++) {
		memset(&w[i], 0, sizeof w[i]);
		w[i].h = h;
		w[i].idx = i + 1;
		w[i].seed = 1000 + (uint64_t)i;
		cr_assert_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	cr_assert_eq(pthread_create(&ct, NULL, check_loop, &chk), 0);
	for (int i = 0; i < NT; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		cr_assert_null(ret, "thread %d: %s", i, (const char *)ret);
	}
	__atomic_store_n(&chk.stop, 1, __ATOMIC_RELEASE);
	void *cret;
	pthread_join(ct, &cret);
	cr_assert_null(cret, "checker: %s", (const char *)cret);
	cr_assert_gt(chk.checks, 0, "no check ran during the threads' work");
	t_check(h, "after the threads");
	uint64_t live = 0;
	for (int i = 0; i < NT; i++)
		for (int k = 0; k < SLOTS; k++)
			if (w[i].p[k]) {
				t_assert_pattern(w[i].p[k], w[i].id[k], w[i].n[k]);
				live++;
			}
	for (int b = 0; b < 64; b++)
		if (box_p[b]) {
			t_assert_pattern(box_p[b], box_id[b], box_n[b]);
			live++;
		}
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.used_blocks, live, "%llu used blocks, threads hold %llu", (unsigned long long)st.used_blocks,
		     (unsigned long long)live);
	for (int i = 0; i < NT; i++)
		for (int k = 0; k < SLOTS; k++)
			pmp_free(h, w[i].p[k]);
	for (int b = 0; b < 64; b++)
		pmp_free(h, box_p[b]);
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.used_blocks, 0);
	t_check(h, "emptied");
}

/* A chain block's checks read its neighbours' boundary tags, which change when a neighbour is freed, merged or
 * split (under the lock). realloc and malloc_usable_size of one block while another thread keeps reshaping the
 * blocks before it must never see a tag half changed (an abort "boundary tag disagrees" at check level 1). */
struct reshaper {
	pmp_heap_t *h;
	void *a1, *a2;
	int stop;
	unsigned rounds;
};

static void *reshape(void *arg)
{
	struct reshaper *r = arg;
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		pmp_free(r->h, r->a1);
		pmp_free(r->h, r->a2); /* merges with a1's block: the tag before the watched block changes */
		r->a1 = pmp_malloc(r->h, 20000);
		r->a2 = pmp_malloc(r->h, 20000); /* splits the merged block again */
		if (!r->a1 || !r->a2)
			return (void *)"allocation failed";
		r->rounds++;
	}
	return NULL;
}

Test(threads, chain_block_checked_while_its_neighbours_change, .timeout = 60)
{
	size_t len = 64 << 20;
	void *mem = t_map(NULL, len);
	pmp_heap_t *h = NULL;
	cr_assert_eq(pmp_heap_create(mem, len, 0, &h), 0);
	struct reshaper r = {h, pmp_malloc(h, 20000), pmp_malloc(h, 20000), 0, 0};
	char *x = pmp_malloc(h, 20000);
	cr_assert(r.a1 && r.a2 && x);
	cr_assert((char *)r.a2 < x && (char *)r.a1 < (char *)r.a2, "chain blocks not in address order");
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, reshape, &r), 0);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned long calls = 0;
	do {
		for (int k = 0; k < 1000; k++, calls++) {
			cr_assert_geq(pmp_usable_size(h, x), 20000);
			cr_assert_eq(pmp_realloc(h, x, 20000 + (size_t)(k & 7)), x, "a same-size realloc moved the block");
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) < 700000000L);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	void *ret;
	pthread_join(t, &ret);
	cr_assert_null(ret, "%s", (const char *)ret);
	cr_assert_gt(r.rounds, 100, "the neighbours changed only %u times", r.rounds);
	t_check(h, "after the race");
	pmp_close(h);
	munmap(mem, len);
}

/* closed: the pages the threads left (abandoned, with frees from other threads waiting in them) are collected and
 * go back to the chain, which is one free block again */
static void assert_empty_after_close(pmp_heap_t *h)
{
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.used_blocks, 0);
	cr_assert_eq(st.pages, 0, "%llu empty pages left after close", (unsigned long long)st.pages);
	cr_assert_eq(st.free_blocks, 1);
	t_check(h, "emptied, closed and opened again");
}

Test(threads, caller_memory, .timeout = 120)
{
	size_t len = 512 << 20;
	void *mem = t_map(NULL, len);
	pmp_heap_t *h = NULL;
	cr_assert_eq(pmp_heap_create(mem, len, 0, &h), 0);
	run_threads(h);
	cr_assert_eq(pmp_close(h), 0);
	cr_assert_eq(pmp_heap_attach(mem, &h), 0);
	assert_empty_after_close(h);
	pmp_close(h);
	munmap(mem, len);
}

Test(threads, file_heap_growing, .timeout = 120)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "threads.heap");
	pmp_file_opts_t o = t_opts(PMP_OPEN_CREATE, T_ADDR(31), (size_t)1 << 30);
	pmp_heap_t *h = NULL;
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	run_threads(h);
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_gt(st.n_grow, 0, "threads grew the file concurrently");
	cr_assert_eq(pmp_close(h), 0);
	o.mode = PMP_OPEN_EXISTING;
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	assert_empty_after_close(h);
	cr_assert_eq(pmp_close(h), 0);
	free(path);
	t_rmtree(dir);
}
