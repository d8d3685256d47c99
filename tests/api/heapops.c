/* heapops.c: api tests of the calls that came from the source libraries: pmp_heap_reset (memoman's mm_reset), the
 * size and overhead helpers (mm_block_size_min/max, mm_pool_overhead, mm_alloc_overhead) against what pmp_stats and
 * pmp_usable_size show, the out-of-memory handler (libmemkit's mem_set_oom_handler), PMP_HEAP_SINGLE_THREAD, the
 * check levels of pmp_set_check on heaps in caller memory, and pmp_stats_print.
 *
 * Holds: behaviour tests over the public API only.
 * Must never: include an internal header, or assert a time.
 */
#include "api.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>

#define MEM ((size_t)8 << 20)

static pmp_heap_t *mem_heap(void **mem, size_t len, unsigned flags)
{
	*mem = t_map(NULL, len);
	pmp_heap_t *h = NULL;
	int e = pmp_heap_create(*mem, len, flags, &h);
	cr_assert_eq(e, 0, "pmp_heap_create: %s", pmp_strerror(e));
	return h;
}

static uint64_t used_bytes(pmp_heap_t *h)
{
	pmp_stats_t s;
	cr_assert_eq(pmp_stats(h, &s), 0);
	return s.used_bytes;
}

static int count_root(const char *name, void *p, void *user)
{
	(void)name;
	(void)p;
	++*(int *)user;
	return 0;
}

/* ---- reset ---- */

static void *other_thread_allocs(void *arg)
{
	pmp_heap_t *h = arg;
	for (int i = 0; i < 500; i++)
		cr_assert_not_null(pmp_malloc(h, 24 + (size_t)(i % 7) * 100)); /* pages of this thread's own */
	return NULL;
}

Test(heapops, reset_empties_blocks_roots_and_thread_pages)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM, 0);
	pmp_stats_t fresh, st;
	cr_assert_eq(pmp_stats(h, &fresh), 0);
	void *small[300], *big = pmp_malloc(h, 200000);
	for (int i = 0; i < 300; i++)
		small[i] = pmp_malloc(h, 16 + (size_t)i * 8);
	cr_assert_eq(pmp_root_set(h, "big", big), 0);
	cr_assert_eq(pmp_root_set(h, "small", small[7]), 0);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, other_thread_allocs, h), 0);
	pthread_join(t, NULL);
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert(st.pages > 1 && st.used_blocks > 800);
	uint64_t mallocs = st.n_malloc;

	cr_assert_eq(pmp_heap_reset(h), 0);
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.used_blocks, 0, "%llu blocks left after reset", (unsigned long long)st.used_blocks);
	cr_assert_eq(st.used_bytes, 0);
	cr_assert_eq(st.pages, 0, "slab pages survived the reset");
	cr_assert_eq(st.free_blocks, 1);
	cr_assert_eq(st.free_bytes, fresh.free_bytes, "the empty heap has all its bytes free again");
	cr_assert_eq(st.n_malloc, mallocs, "operation counts outlive the reset");
	int roots = 0;
	cr_assert_eq(pmp_root_list(h, count_root, &roots), 0);
	cr_assert_eq(roots, 0, "roots survived the reset");
	cr_assert_null(pmp_root_get(h, "big"));
	t_check(h, "after reset");

	/* the heap works as before: the whole arena in one block, then small blocks of this thread and another */
	void *all = pmp_malloc(h, (size_t)fresh.largest_free);
	cr_assert_not_null(all, "the largest block of a fresh heap fits again after reset");
	pmp_free(h, all);
	for (int i = 0; i < 300; i++)
		cr_assert_not_null(small[i] = pmp_malloc(h, 16 + (size_t)i * 8));
	cr_assert_eq(pthread_create(&t, NULL, other_thread_allocs, h), 0);
	pthread_join(t, NULL);
	for (int i = 0; i < 300; i++)
		pmp_free(h, small[i]);
	t_check(h, "used again after reset");
	cr_assert_eq(pmp_heap_reset(h), 0, "a second reset");
	t_check(h, "second reset");
	/* the reset heap is what a detach and an attach find */
	cr_assert_eq(pmp_close(h), 0);
	cr_assert_eq(pmp_heap_attach(mem, &h), 0);
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.used_blocks, 0);
	cr_assert_eq(pmp_close(h), 0);
	munmap(mem, MEM);
}

Test(heapops, reset_errors_and_zeroing)
{
	cr_assert_eq(pmp_heap_reset(NULL), EINVAL);
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM, PMP_HEAP_ZERO_FREED);
	unsigned char *a = pmp_malloc(h, 100), *b = pmp_malloc(h, 50000);
	memset(a, 's', 100);
	memset(b, 's', 50000);
	cr_assert_eq(pmp_heap_reset(h), 0);
	for (size_t i = 16; i < 100; i++) /* past what a free list's link may hold */
		cr_assert_eq(a[i], 0, "a secret of a small block survived the reset of a zeroing heap");
	for (size_t i = 0; i < 50000; i++)
		cr_assert_eq(b[i], 0, "a secret of a large block survived the reset of a zeroing heap (byte %zu)", i);
	t_check(h, "zeroing reset");
	cr_assert_eq(pmp_close(h), 0);
	munmap(mem, MEM);

	/* a read-only file heap refuses */
	char *dir = t_tmpdir(), *path = t_path(dir, "ro.heap");
	pmp_file_opts_t o = t_opts(PMP_OPEN_CREATE, T_ADDR(1), 64u << 20);
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	void *keep = pmp_malloc(h, 5000);
	cr_assert_eq(pmp_root_set(h, "keep", keep), 0);
	cr_assert_eq(pmp_close(h), 0);
	o = t_opts(PMP_OPEN_READONLY, T_ADDR(1), 0);
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	cr_assert_eq(pmp_heap_reset(h), PMP_ERDONLY);
	cr_assert_not_null(pmp_root_get(h, "keep"));
	cr_assert_eq(pmp_close(h), 0);
	/* a file heap reset, closed and opened again is empty */
	o = t_opts(PMP_OPEN_EXISTING, NULL, 0);
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	cr_assert_eq(pmp_heap_reset(h), 0);
	cr_assert_eq(pmp_close(h), 0);
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	cr_assert_null(pmp_root_get(h, "keep"));
	cr_assert_eq(used_bytes(h), 0);
	t_check(h, "file heap reset and reopened");
	cr_assert_eq(pmp_close(h), 0);
	t_rmtree(dir);
	free(path);
}

/* check level 2: blocks in the quarantine and poisoned slots when the reset comes; afterwards the checks hold */
Test(heapops, reset_at_check_level_2)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM, 0);
	cr_assert_eq(pmp_set_check(h, 2, PMP_CHECK_EVERY_MIN), 0);
	void *v[400];
	for (int i = 0; i < 400; i++)
		v[i] = pmp_malloc(h, i % 2 ? 50 : 30000);
	for (int i = 0; i < 400; i += 3)
		pmp_free(h, v[i]);
	cr_assert_eq(pmp_heap_reset(h), 0);
	t_check(h, "reset at level 2");
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < 400; i++)
			v[i] = pmp_malloc(h, i % 2 ? 50 : 30000);
		for (int i = 0; i < 400; i++)
			pmp_free(h, v[i]);
	}
	t_check(h, "used at level 2 after the reset");
	cr_assert_eq(pmp_close(h), 0);
	munmap(mem, MEM);
}

/* ---- sizes and overheads ---- */

Test(heapops, sizes_match_what_stats_show)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM, 0);
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.free_bytes, MEM - pmp_heap_overhead(), "free bytes %llu of %zu, overhead %zu",
		     (unsigned long long)st.free_bytes, MEM, pmp_heap_overhead());
	cr_assert_eq(st.free_bytes + st.used_bytes + pmp_heap_overhead(), st.mapped);

	void *one = pmp_malloc(h, 1);
	cr_assert_eq(pmp_usable_size(h, one), pmp_block_size_min());
	pmp_free(h, one);
	/* every size, slots and chain blocks: used bytes grow by n + pmp_alloc_overhead(n) */
	static const size_t sizes[] = {0, 1, 15, 16, 17, 100, 128, 129, 1000, 1024, 1025, 4000, 8192, 9000,
				       16208, 16209, 16210, 20000, 65536, 100001, 1u << 20};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		uint64_t before = used_bytes(h);
		void *p = pmp_malloc(h, n);
		cr_assert_not_null(p);
		uint64_t grew = used_bytes(h) - before;
		cr_assert_eq(grew, n + pmp_alloc_overhead(n), "malloc(%zu) took %llu bytes, pmp_alloc_overhead says %zu",
			     n, (unsigned long long)grew, n + pmp_alloc_overhead(n));
		cr_assert_geq(pmp_usable_size(h, p), n);
		cr_assert_leq(pmp_usable_size(h, p), n + pmp_alloc_overhead(n));
		pmp_free(h, p);
	}
	cr_assert_eq(pmp_alloc_overhead(pmp_block_size_max() + 1), 0);
	cr_assert_gt(pmp_alloc_overhead(pmp_block_size_max()), 0);
	errno = 0;
	cr_assert_null(pmp_malloc(h, pmp_block_size_max() + 1));
	cr_assert_eq(errno, ENOMEM);

	/* the largest block of a heap of len bytes is len - heap overhead - the block's own overhead */
	cr_assert_eq(pmp_close(h), 0);
	cr_assert_eq(pmp_heap_create(mem, PMP_HEAP_MIN, 0, &h), 0);
	size_t n = PMP_HEAP_MIN - pmp_heap_overhead() - pmp_alloc_overhead(PMP_HEAP_MIN);
	cr_assert_eq(n + pmp_alloc_overhead(n), PMP_HEAP_MIN - pmp_heap_overhead());
	void *all = pmp_malloc(h, n);
	cr_assert_not_null(all, "a block of %zu bytes fills a heap of %zu", n, (size_t)PMP_HEAP_MIN);
	pmp_free(h, all);
	cr_assert_null(pmp_malloc(h, n + 1), "one byte more than fits");
	cr_assert_eq(pmp_close(h), 0);
	munmap(mem, MEM);
}

/* ---- out of memory ---- */

struct oom_ctx {
	void *spare;       /* freed by the handler */
	int calls, nested, retry;
	size_t asked;
};

static int on_oom(pmp_heap_t *h, size_t size, void *user)
{
	struct oom_ctx *c = user;
	c->calls++;
	c->asked = size;
	/* allocations inside the handler: a failing one does not call the handler again */
	if (!pmp_malloc(h, size))
		c->nested++;
	if (c->spare) {
		pmp_free(h, c->spare);
		c->spare = NULL;
	}
	return c->retry;
}

Test(heapops, oom_handler_frees_and_retries_once)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM, 0);
	struct oom_ctx c = {0};
	cr_assert_eq(pmp_set_oom_handler(NULL, on_oom, &c), EINVAL);
	cr_assert_eq(pmp_set_oom_handler(h, on_oom, &c), 0);
	c.spare = pmp_malloc(h, 6u << 20);
	cr_assert_not_null(c.spare);
	/* the handler frees the spare block: the retry finds room */
	c.retry = 1;
	void *p = pmp_malloc(h, 4u << 20);
	cr_assert_not_null(p, "the retry after the handler freed memory failed");
	cr_assert_eq(c.calls, 1);
	cr_assert_eq(c.asked, (size_t)4 << 20);
	cr_assert_eq(c.nested, 1, "the handler's own failing allocation");
	cr_assert_eq(c.calls, 1, "a failure inside the handler called it again");
	/* no retry asked: NULL with ENOMEM, one call */
	c.retry = 0;
	errno = 0;
	cr_assert_null(pmp_malloc(h, 6u << 20));
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(c.calls, 2);
	/* retry asked, nothing freed: one more attempt only, then NULL */
	c.retry = 1;
	cr_assert_null(pmp_memalign(h, 4096, 6u << 20));
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(c.calls, 3);
	cr_assert_null(pmp_calloc(h, 1, 6u << 20));
	cr_assert_null(pmp_realloc(h, p, 16u << 20));
	cr_assert_eq(c.calls, 5, "calloc and a moving realloc call the handler");
	/* other failures are not out of memory: EINVAL alignment, a read-only heap */
	cr_assert_null(pmp_memalign(h, 3, 10));
	cr_assert_eq(c.calls, 5);
	/* removed: no call */
	cr_assert_eq(pmp_set_oom_handler(h, NULL, NULL), 0);
	cr_assert_null(pmp_malloc(h, 6u << 20));
	cr_assert_eq(c.calls, 5);
	t_check(h, "after the handler");
	cr_assert_eq(pmp_close(h), 0);
	munmap(mem, MEM);
}

/* small blocks: the handler runs when no page and no chain block can be had */
static int free_list_on_oom(pmp_heap_t *h, size_t size, void *user)
{
	(void)size;
	void ***list = user;
	int freed = 0;
	for (; **list; (*list)++, freed++) /* frees half of what the list holds, from its front */
		if (freed == 100) {
			break;
		} else {
			pmp_free(h, **list);
			**list = NULL;
		}
	return freed > 0;
}

Test(heapops, oom_handler_on_small_blocks)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, PMP_HEAP_MIN * 4, 0);
	static void *v[40000];
	size_t n = 0;
	while (n < 40000 - 1 && (v[n] = pmp_malloc(h, 48)) != NULL)
		n++;
	cr_assert_lt(n, 40000 - 1, "the heap never filled");
	v[n] = NULL;
	void **cursor = v;
	cr_assert_eq(pmp_set_oom_handler(h, free_list_on_oom, &cursor), 0);
	for (int i = 0; i < 50; i++)
		cr_assert_not_null(pmp_malloc(h, 48), "a full heap whose handler frees blocks gave nothing");
	cr_assert_gt(cursor - v, 0);
	t_check(h, "small blocks after the handler");
	cr_assert_eq(pmp_close(h), 0);
	munmap(mem, PMP_HEAP_MIN * 4);
}

/* ---- single-thread mode ---- */

Test(heapops, single_thread_heap_works_and_walks)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM, PMP_HEAP_SINGLE_THREAD);
	void *v[2000];
	uint64_t seed = 7;
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 2000; i++)
			v[i] = pmp_malloc(h, (size_t)t_below(&seed, i % 10 ? 500 : 50000) + 1);
		for (int i = 0; i < 2000; i += 2)
			v[i] = pmp_realloc(h, v[i], (size_t)t_below(&seed, 30000) + 1);
		for (int i = 0; i < 2000; i++)
			pmp_free(h, v[i]);
	}
	cr_assert_eq(pmp_root_set(h, "r", pmp_malloc(h, 10)), 0);
	t_check(h, "single thread");
	cr_assert_eq(pmp_close(h), 0);
	/* a file heap too */
	char *dir = t_tmpdir(), *path = t_path(dir, "st.heap");
	pmp_file_opts_t o = t_opts(PMP_OPEN_CREATE, T_ADDR(2), 64u << 20);
	o.flags = PMP_FILE_SINGLE_THREAD;
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	cr_assert_not_null(pmp_malloc(h, 100000));
	t_check(h, "single-thread file heap");
	cr_assert_eq(pmp_close(h), 0);
	t_rmtree(dir);
	free(path);
	munmap(mem, MEM);
}

/* ---- check levels on heaps in caller memory ---- */

Test(heapops, set_check_arguments)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM, 0);
	cr_assert_eq(pmp_set_check(NULL, 1, 0), EINVAL);
	cr_assert_eq(pmp_set_check(h, -1, 0), EINVAL);
	cr_assert_eq(pmp_set_check(h, 3, 0), EINVAL);
	cr_assert_eq(pmp_set_check(h, 2, PMP_CHECK_EVERY_MIN - 1), EINVAL);
	cr_assert_eq(pmp_set_check(h, 2, 41), EINVAL);
	cr_assert_eq(pmp_set_check(h, 2, PMP_CHECK_EVERY_MIN), 0);
	/* level 2 to 0 and back, with blocks in the quarantine: the heap stays consistent */
	void *v[100];
	for (int i = 0; i < 100; i++)
		v[i] = pmp_malloc(h, 100 + (size_t)i * 300);
	for (int i = 0; i < 100; i += 2)
		pmp_free(h, v[i]);
	cr_assert_eq(pmp_set_check(h, 0, 0), 0);
	t_check(h, "level 2 to 0");
	for (int i = 1; i < 100; i += 2)
		pmp_free(h, v[i]);
	cr_assert_eq(pmp_set_check(h, 1, 0), 0);
	t_check(h, "level 1");
	cr_assert_eq(pmp_close(h), 0);
	munmap(mem, MEM);
}

/* level 2 poisons freed chain blocks and holds them in a quarantine: a write after free aborts when the block
 * leaves it (level 1 lets it pass: the same program exits normally) */
static void write_after_free(int level)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM, 0);
	cr_assert_eq(pmp_set_check(h, level, 0), 0);
	char *p = pmp_malloc(h, 40000);
	pmp_free(h, p);
	p[1000] = 'X';
	for (int i = 0; i < 100; i++)
		pmp_free(h, pmp_malloc(h, 40000));
}

Test(heapops, check_level_2_finds_a_write_after_free, .signal = SIGABRT)
{
	write_after_free(2);
}

Test(heapops, check_level_1_lets_a_write_after_free_pass)
{
	write_after_free(1);
}

/* level 2 validates: a free block's header overwritten where no operation meets it is found by the check steps */
Test(heapops, check_level_2_validates_as_it_runs, .signal = SIGABRT)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM, 0);
	cr_assert_eq(pmp_set_check(h, 2, PMP_CHECK_EVERY_MIN), 0);
	char *a = pmp_malloc(h, 30000), *b = pmp_malloc(h, 30000);
	cr_assert_not_null(pmp_malloc(h, 30000));
	(void)b;
	memset(a + 30000, 0x55, 16); /* an overrun into b's header */
	for (int i = 0; i < 100000; i++)
		pmp_free(h, pmp_malloc(h, 64));
}

/* ---- statistics printed ---- */

Test(heapops, stats_print_writes_the_figures)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM, 0);
	for (int i = 0; i < 10; i++)
		pmp_malloc(h, 100);
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(pmp_stats_print(h, fds[1]), 0);
	close(fds[1]);
	char buf[2048];
	ssize_t n = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	cr_assert_gt(n, 0);
	buf[n] = 0;
	char want[160];
	snprintf(want, sizeof want, "pmempreload: used %llu bytes in %llu blocks", (unsigned long long)st.used_bytes,
		 (unsigned long long)st.used_blocks);
	cr_assert(strstr(buf, want), "no \"%s\" in:\n%s", want, buf);
	snprintf(want, sizeof want, "%llu mallocs", (unsigned long long)st.n_malloc);
	cr_assert(strstr(buf, want), "no \"%s\" in:\n%s", want, buf);
	cr_assert_eq(pmp_stats_print(NULL, 1), EINVAL);
	cr_assert_eq(pmp_stats_print(h, -1), EINVAL);
	cr_assert_eq(pmp_stats_print(h, 1000), EBADF);
	cr_assert_eq(pmp_close(h), 0);
	munmap(mem, MEM);
}
