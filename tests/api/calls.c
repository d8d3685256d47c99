/* calls.c: api tests of every call of <pmempreload.h> on heaps in caller memory, and of its documented errors:
 * create/attach, the malloc family, usable_size, owns, roots, commit, walk, stats, info, strerror, offsets.
 *
 * Holds: behaviour tests over the public API only; each assertion checks what the header promises.
 * Must never: include an internal header or rely on a block layout the API does not promise, except where a test
 * states the precondition it needs (e.g. two blocks being neighbours) and asserts it first.
 */
#include "api.h"

#include <limits.h>

#define MEM ((size_t)64 << 20)

/* Everything freed: a close gives the empty slab pages back to the chain, and the heap attached again is one free
 * block (every split and front gap merged back). */
static void assert_one_free_block_after_close(pmp_heap_t **h, void *mem)
{
	cr_assert_eq(pmp_close(*h), 0);
	cr_assert_eq(pmp_heap_attach(mem, h), 0);
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(*h, &st), 0);
	cr_assert_eq(st.used_blocks, 0);
	cr_assert_eq(st.pages, 0, "empty pages are given back at close");
	cr_assert_eq(st.free_blocks, 1, "every split merged back into one free block");
	t_check(*h, "attached again");
}

static pmp_heap_t *mem_heap(void **mem, size_t len)
{
	*mem = t_map(NULL, len);
	pmp_heap_t *h = NULL;
	int e = pmp_heap_create(*mem, len, 0, &h);
	cr_assert_eq(e, 0, "pmp_heap_create: %s", pmp_strerror(e));
	cr_assert_not_null(h);
	return h;
}

Test(calls, create_errors)
{
	void *mem = t_map(NULL, MEM);
	pmp_heap_t *h = (pmp_heap_t *)1;
	cr_assert_eq(pmp_heap_create(NULL, MEM, 0, &h), EINVAL);
	cr_assert_eq(pmp_heap_create(mem, MEM, 0, NULL), EINVAL);
	cr_assert_eq(pmp_heap_create((char *)mem + 16, MEM - 4096, 0, &h), EINVAL, "unaligned memory");
	cr_assert_eq(pmp_heap_create(mem, PMP_HEAP_MIN - 1, 0, &h), PMP_ETOOSMALL);
	cr_assert_eq(pmp_heap_create(mem, 4096, 0, &h), PMP_ETOOSMALL);
	cr_assert_eq(pmp_heap_create(mem, 0, 0, &h), PMP_ETOOSMALL);
	cr_assert_eq(h, (pmp_heap_t *)1, "a failed create must not write *out");
	/* the smallest heap works */
	cr_assert_eq(pmp_heap_create(mem, PMP_HEAP_MIN, 0, &h), 0);
	void *p = pmp_malloc(h, 1000);
	cr_assert_not_null(p);
	cr_assert(pmp_owns(h, p));
	cr_assert(!pmp_owns(h, (char *)mem + PMP_HEAP_MIN), "a heap must not claim memory past its length");
	t_check(h, "smallest heap");
	cr_assert_eq(pmp_close(h), 0);
	cr_assert_eq(pmp_close(NULL), EINVAL);
	munmap(mem, MEM);
}

Test(calls, attach_errors_and_detach)
{
	void *mem, *other = t_map(NULL, 1 << 20);
	pmp_heap_t *h = mem_heap(&mem, 1 << 20), *h2 = NULL;
	char *p = pmp_malloc(h, 300);
	t_fill(p, 1, 0, 300);
	cr_assert_eq(pmp_root_set(h, "p", p), 0);
	cr_assert_eq(pmp_close(h), 0);
	/* the same bytes at another address */
	memcpy(other, mem, 1 << 20);
	cr_assert_eq(pmp_heap_attach(other, &h2), PMP_EBADADDR);
	/* garbage */
	memset(other, 0x3c, 1 << 20);
	cr_assert_eq(pmp_heap_attach(other, &h2), PMP_EMAGIC);
	memset(other, 0, 1 << 20);
	cr_assert_eq(pmp_heap_attach(other, &h2), PMP_EMAGIC);
	cr_assert_eq(pmp_heap_attach(NULL, &h2), EINVAL);
	cr_assert_eq(pmp_heap_attach((char *)mem + 8, &h2), EINVAL);
	cr_assert_eq(pmp_heap_attach(mem, NULL), EINVAL);
	/* back where it was: the data and the root are there */
	cr_assert_eq(pmp_heap_attach(mem, &h2), 0);
	char *q = pmp_root_get(h2, "p");
	cr_assert_eq(q, p);
	t_assert_pattern(q, 1, 300);
	pmp_info_t i;
	cr_assert_eq(pmp_info(h2, &i), 0);
	cr_assert_eq(i.base, mem);
	cr_assert_eq(i.mapped_at, mem);
	t_check(h2, "reattached");
	cr_assert_eq(pmp_close(h2), 0);
	munmap(mem, 1 << 20);
	munmap(other, 1 << 20);
}

Test(calls, malloc_zero_and_huge)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM);
	enum { N = 200 };
	void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = pmp_malloc(h, 0);
		cr_assert_not_null(p[i], "malloc(0) must return a unique pointer");
		cr_assert_eq((uintptr_t)p[i] % 16, 0);
		for (int j = 0; j < i; j++)
			cr_assert_neq(p[i], p[j], "malloc(0) returned a pointer twice");
	}
	errno = 0;
	cr_assert_null(pmp_malloc(h, SIZE_MAX));
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_null(pmp_malloc(h, SIZE_MAX - 8));
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_null(pmp_malloc(h, MEM), "more than the heap holds");
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_null(pmp_malloc(NULL, 10));
	cr_assert_eq(errno, EINVAL);
	for (int i = 0; i < N; i++)
		pmp_free(h, p[i]);
	pmp_free(h, NULL);
	pmp_free(NULL, p[0]);
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.used_blocks, 0);
	t_check(h, "end");
	assert_one_free_block_after_close(&h, mem);
	pmp_close(h);
	munmap(mem, MEM);
}

Test(calls, free_preserves_errno)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, 1 << 20);
	void *p = pmp_malloc(h, 10);
	errno = 1234;
	pmp_free(h, p);
	cr_assert_eq(errno, 1234);
	pmp_close(h);
	munmap(mem, 1 << 20);
}

Test(calls, calloc_zeroes_reused_memory)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM);
	for (size_t n = 1; n <= (1u << 20); n *= 4) {
		uint8_t *p = pmp_malloc(h, n);
		cr_assert_not_null(p);
		memset(p, 0xab, pmp_usable_size(h, p));
		pmp_free(h, p);
		uint8_t *q = pmp_calloc(h, 1, n);
		cr_assert_eq(q, p, "precondition: calloc reuses the block just freed");
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(q[i], 0, "calloc(%zu) left byte %zu non-zero", n, i);
		pmp_free(h, q);
	}
	uint8_t *z = pmp_calloc(h, 100, 40);
	cr_assert_not_null(z);
	for (size_t i = 0; i < 4000; i++)
		cr_assert_eq(z[i], 0);
	errno = 0;
	cr_assert_null(pmp_calloc(h, SIZE_MAX / 2, 3), "nmemb * size overflows");
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_null(pmp_calloc(h, (size_t)1 << 33, (size_t)1 << 33));
	cr_assert_eq(errno, ENOMEM);
	void *c0 = pmp_calloc(h, 0, 100);
	cr_assert_not_null(c0, "calloc of zero bytes is a unique pointer like malloc(0)");
	t_check(h, "end");
	pmp_close(h);
	munmap(mem, MEM);
}

Test(calls, realloc_in_place_and_moving)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM);
	/* chain blocks (above the largest slot): they resize in place into a free neighbour */
	char *a = pmp_malloc(h, 20000), *b = pmp_malloc(h, 20000), *c = pmp_malloc(h, 20000);
	cr_assert(a && b && c);
	size_t ua = pmp_usable_size(h, a);
	cr_assert_geq(ua, 20000);
	cr_assert_eq(b, a + ua + 16, "precondition: a fresh heap places b right after a");
	t_fill(a, 1, 0, 20000);
	/* grow in place into the freed neighbour */
	pmp_free(h, b);
	char *a2 = pmp_realloc(h, a, 36000);
	cr_assert_eq(a2, a, "growth into a free neighbour must not move");
	t_assert_pattern(a2, 1, 20000);
	cr_assert_geq(pmp_usable_size(h, a2), 36000);
	t_fill(a2, 1, 20000, 36000);
	/* shrink in place (to a size that is still no slot's) */
	char *a3 = pmp_realloc(h, a2, 18000);
	cr_assert_eq(a3, a2, "shrinking must not move");
	t_assert_pattern(a3, 1, 18000);
	cr_assert_geq(pmp_usable_size(h, a3), 18000);
	t_check(h, "after in-place resizes");
	/* the space given back is reusable */
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	uint64_t used_before = st.used_bytes;
	/* growth past a used neighbour moves, keeping the contents */
	char *a4 = pmp_realloc(h, a3, 80000);
	cr_assert_not_null(a4);
	cr_assert_neq(a4, a3, "c blocks growth in place");
	t_assert_pattern(a4, 1, 18000);
	t_fill(a4, 1, 18000, 80000);
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_gt(st.used_bytes, used_before);
	cr_assert_eq(st.used_blocks, 2, "the old block was freed");
	/* a slot: realloc within its size stays, beyond it moves with the contents */
	char *s1 = pmp_malloc(h, 100);
	size_t us = pmp_usable_size(h, s1);
	t_fill(s1, 7, 0, 100);
	cr_assert_eq(pmp_realloc(h, s1, us), s1, "realloc within the slot's size must not move");
	char *s2 = pmp_realloc(h, s1, us + 1);
	cr_assert_not_null(s2);
	cr_assert_neq(s2, s1);
	t_assert_pattern(s2, 7, 100);
	pmp_free(h, s2);
	/* a big move */
	char *a5 = pmp_realloc(h, a4, 3u << 20);
	cr_assert_not_null(a5);
	t_assert_pattern(a5, 1, 9000);
	/* realloc(NULL, n) is malloc */
	char *d = pmp_realloc(h, NULL, 77);
	cr_assert_not_null(d);
	cr_assert_geq(pmp_usable_size(h, d), 77);
	/* realloc(p, 0) frees */
	cr_assert_eq(pmp_stats(h, &st), 0);
	uint64_t nb = st.used_blocks;
	cr_assert_null(pmp_realloc(h, d, 0));
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.used_blocks, nb - 1);
	/* too big: NULL, ENOMEM, the old block untouched */
	errno = 0;
	cr_assert_null(pmp_realloc(h, a5, SIZE_MAX - 100));
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_null(pmp_realloc(h, a5, MEM * 2));
	cr_assert_eq(errno, ENOMEM);
	t_assert_pattern(a5, 1, 9000);
	cr_assert_gt(st.n_realloc, 0);
	t_check(h, "end");
	pmp_close(h);
	munmap(mem, MEM);
}

Test(calls, reallocarray)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM);
	uint32_t *a = pmp_reallocarray(h, NULL, 10, sizeof *a);
	cr_assert_not_null(a);
	for (uint32_t i = 0; i < 10; i++)
		a[i] = i * 7;
	uint32_t *b = pmp_reallocarray(h, a, 100000, sizeof *b);
	cr_assert_not_null(b);
	for (uint32_t i = 0; i < 10; i++)
		cr_assert_eq(b[i], i * 7);
	errno = 0;
	cr_assert_null(pmp_reallocarray(h, b, SIZE_MAX / 4 + 1, 8), "overflow");
	cr_assert_eq(errno, ENOMEM);
	for (uint32_t i = 0; i < 10; i++)
		cr_assert_eq(b[i], i * 7, "a failed reallocarray must leave the block alone");
	t_check(h, "end");
	pmp_close(h);
	munmap(mem, MEM);
}

Test(calls, memalign_every_power_of_two)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM);
	void *keep[64];
	int nk = 0;
	uint64_t id = 0;
	for (size_t a = 1; a <= ((size_t)1 << 20); a *= 2) {
		size_t sizes[] = {0, 1, a / 2 + 1, a, 3 * a + 5, 1000};
		for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
			size_t n = sizes[k];
			void *p = pmp_memalign(h, a, n);
			cr_assert_not_null(p, "memalign(%zu, %zu)", a, n);
			cr_assert_eq((uintptr_t)p % a, 0, "memalign(%zu, %zu) = %p", a, n, p);
			cr_assert_eq((uintptr_t)p % 16, 0);
			cr_assert_geq(pmp_usable_size(h, p), n);
			t_fill(p, id, 0, n);
			if (k == 3 && nk < 64)
				keep[nk++] = p;
			else
				pmp_free(h, p);
			id++;
		}
		t_check(h, "memalign");
	}
	for (int i = 0; i < nk; i++)
		pmp_free(h, keep[i]);
	size_t bad[] = {0, 3, 24, 48, 1000, 4097, ((size_t)1 << 20) + 16, SIZE_MAX};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		cr_assert_null(pmp_memalign(h, bad[i], 64), "memalign(%zu) is not a power of two", bad[i]);
		cr_assert_eq(errno, EINVAL);
	}
	errno = 0;
	cr_assert_null(pmp_memalign(h, 4096, SIZE_MAX - 4096));
	cr_assert_eq(errno, ENOMEM);
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.used_blocks, 0);
	t_check(h, "end");
	assert_one_free_block_after_close(&h, mem);
	pmp_close(h);
	munmap(mem, MEM);
}

Test(calls, usable_size_and_owns)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM);
	for (size_t n = 0; n < 5000; n += 37) {
		char *p = pmp_malloc(h, n);
		size_t u = pmp_usable_size(h, p);
		cr_assert_geq(u, n);
		/* slots of up to 16 KiB: four size classes per power of two, so at most a quarter (and 16 bytes) is extra */
		cr_assert_leq(u, n + n / 4 + 16, "usable size %zu for %zu bytes wastes too much", u, n);
		memset(p, 0x11, u); /* all of it is ours */
		t_check(h, "usable bytes written");
		cr_assert(pmp_owns(h, p));
		cr_assert(pmp_owns(h, p + u - 1));
		pmp_free(h, p);
	}
	cr_assert_eq(pmp_usable_size(h, NULL), 0);
	cr_assert_eq(pmp_usable_size(NULL, mem), 0);
	int local;
	cr_assert(!pmp_owns(h, &local));
	cr_assert(!pmp_owns(h, NULL));
	cr_assert(!pmp_owns(NULL, mem));
	cr_assert(pmp_owns(h, mem));
	cr_assert(pmp_owns(h, (char *)mem + MEM - 1));
	cr_assert(!pmp_owns(h, (char *)mem + MEM));
	cr_assert(!pmp_owns(h, (char *)mem - 1));
	pmp_close(h);
	munmap(mem, MEM);
}

struct rl {
	int n, stop_at;
	char names[PMP_ROOT_COUNT + 1][PMP_ROOT_NAME_MAX + 1];
	void *ptrs[PMP_ROOT_COUNT + 1];
};

static int list_cb(const char *name, void *p, void *user)
{
	struct rl *l = user;
	cr_assert_lt(l->n, PMP_ROOT_COUNT + 1);
	snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
	l->ptrs[l->n] = p;
	l->n++;
	return l->n == l->stop_at ? 42 : 0;
}

static void *find_listed(const struct rl *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->names[i], name))
			return l->ptrs[i];
	return NULL;
}

Test(calls, roots)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM);
	char *a = pmp_malloc(h, 64), *b = pmp_calloc(h, 1, 64);
	cr_assert_eq(pmp_root_set(h, "alpha", a), 0);
	cr_assert_eq(pmp_root_get(h, "alpha"), a);
	/* replace */
	cr_assert_eq(pmp_root_set(h, "alpha", b), 0);
	cr_assert_eq(pmp_root_get(h, "alpha"), b);
	/* two names, one block */
	cr_assert_eq(pmp_root_set(h, "beta", b), 0);
	struct rl l = {0};
	cr_assert_eq(pmp_root_list(h, list_cb, &l), 0);
	cr_assert_eq(l.n, 2);
	cr_assert_eq(find_listed(&l, "alpha"), b);
	cr_assert_eq(find_listed(&l, "beta"), b);
	/* remove */
	cr_assert_eq(pmp_root_set(h, "alpha", NULL), 0);
	errno = 0;
	cr_assert_null(pmp_root_get(h, "alpha"));
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(pmp_root_set(h, "alpha", NULL), ENOENT, "removing a missing root");
	errno = 0;
	cr_assert_null(pmp_root_get(h, "never"));
	cr_assert_eq(errno, ENOENT);
	/* names */
	char longname[PMP_ROOT_NAME_MAX + 2];
	memset(longname, 'n', sizeof longname);
	longname[PMP_ROOT_NAME_MAX + 1] = 0;
	cr_assert_eq(pmp_root_set(h, longname, a), ENAMETOOLONG);
	longname[PMP_ROOT_NAME_MAX] = 0; /* exactly the maximum */
	cr_assert_eq(pmp_root_set(h, longname, a), 0);
	cr_assert_eq(pmp_root_get(h, longname), a);
	cr_assert_eq(pmp_root_set(h, "", a), EINVAL);
	cr_assert_eq(pmp_root_set(h, NULL, a), EINVAL);
	errno = 0;
	cr_assert_null(pmp_root_get(h, ""));
	cr_assert_eq(errno, EINVAL);
	/* pointers that are not block starts */
	cr_assert_eq(pmp_root_set(h, "bad", b + 16), EINVAL, "inside a block");
	cr_assert_eq(pmp_root_set(h, "bad", b + 1), EINVAL, "unaligned");
	int local;
	cr_assert_eq(pmp_root_set(h, "bad", &local), EINVAL, "outside the heap");
	errno = 0;
	cr_assert_null(pmp_root_get(h, "bad"), "a refused set must not create the root");
	char *freed = pmp_malloc(h, 64);
	pmp_malloc(h, 0); /* keeps freed from merging */
	pmp_free(h, freed);
	cr_assert_eq(pmp_root_set(h, "bad", freed), EINVAL, "a free block");
	cr_assert_eq(pmp_root_set(NULL, "x", a), EINVAL);
	t_check(h, "roots");
	pmp_close(h);
	munmap(mem, MEM);
}

Test(calls, root_table_full)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM);
	char name[32];
	void *p[PMP_ROOT_COUNT];
	for (int i = 0; i < PMP_ROOT_COUNT; i++) {
		p[i] = pmp_malloc(h, 16);
		snprintf(name, sizeof name, "root-%d", i);
		cr_assert_eq(pmp_root_set(h, name, p[i]), 0, "root %d", i);
	}
	cr_assert_eq(pmp_root_set(h, "one-too-many", p[0]), PMP_EROOTFULL);
	errno = 0;
	cr_assert_null(pmp_root_get(h, "one-too-many"));
	/* replacing an existing name still works when the table is full */
	cr_assert_eq(pmp_root_set(h, "root-5", p[6]), 0);
	cr_assert_eq(pmp_root_get(h, "root-5"), p[6]);
	/* a removal makes room */
	cr_assert_eq(pmp_root_set(h, "root-9", NULL), 0);
	cr_assert_eq(pmp_root_set(h, "one-too-many", p[0]), 0);
	struct rl l = {0};
	cr_assert_eq(pmp_root_list(h, list_cb, &l), 0);
	cr_assert_eq(l.n, PMP_ROOT_COUNT);
	cr_assert_null(find_listed(&l, "root-9"));
	cr_assert_eq(find_listed(&l, "root-100"), p[100]);
	/* a callback's non-zero return stops the listing and is returned */
	struct rl l2 = {.stop_at = 3};
	cr_assert_eq(pmp_root_list(h, list_cb, &l2), 42);
	cr_assert_eq(l2.n, 3);
	cr_assert_eq(pmp_root_list(h, NULL, NULL), EINVAL);
	pmp_report_t r;
	cr_assert_eq(pmp_check(h, &r), 0);
	cr_assert_eq(r.roots, PMP_ROOT_COUNT);
	pmp_close(h);
	munmap(mem, MEM);
}

struct commit_log {
	int calls;
	uintptr_t lo, hi; /* union of the ranges */
	int fail_with;
};

static int commit_cb(void *addr, size_t len, void *user)
{
	struct commit_log *c = user;
	c->calls++;
	uintptr_t a = (uintptr_t)addr;
	if (!c->lo || a < c->lo)
		c->lo = a;
	if (a + len > c->hi)
		c->hi = a + len;
	return c->fail_with;
}

Test(calls, commit)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM);
	char *p = pmp_malloc(h, 10000);
	cr_assert_eq(pmp_commit(h, p, 10000), 0, "caller memory without a callback has nothing to persist");
	cr_assert_eq(pmp_commit(h, NULL, 0), 0);
	int local;
	cr_assert_eq(pmp_commit(h, &local, 4), EINVAL);
	cr_assert_eq(pmp_commit(NULL, p, 4), EINVAL);
	pmp_close(h);

	struct commit_log log = {0};
	pmp_heap_opts_t o = {.commit = commit_cb, .commit_user = &log};
	cr_assert_eq(pmp_heap_create_opts(mem, MEM, &o, &h), 0);
	p = pmp_malloc(h, 10000);
	char *q = pmp_malloc(h, 100000);
	cr_assert_eq(pmp_commit(h, q, 100000), 0);
	cr_assert_geq(log.calls, 1);
	cr_assert_leq(log.lo, (uintptr_t)mem, "metadata pages not handed over");
	cr_assert_geq(log.hi, (uintptr_t)q + 100000, "the range was not handed over");
	cr_assert_eq(log.lo % 4096, 0);
	cr_assert_eq(log.hi % 4096, 0);
	log.fail_with = EIO;
	cr_assert_eq(pmp_commit(h, p, 10), EIO, "the callback's error is returned");
	log.fail_with = 0;
	int before = log.calls;
	cr_assert_eq(pmp_close(h), 0);
	cr_assert_gt(log.calls, before, "a clean close persists through the callback");
	/* attach with options keeps the callback */
	log.calls = 0;
	cr_assert_eq(pmp_heap_attach_opts(mem, &o, &h), 0);
	cr_assert_eq(pmp_commit(h, p, 10), 0);
	cr_assert_gt(log.calls, 0);
	pmp_close(h);
	munmap(mem, MEM);
}

struct wk {
	uint64_t used, free, used_bytes, free_bytes, calls;
	uint64_t last_off;
	int stop_after;
	pmp_heap_t *h;
};

static int walk_cb(const pmp_block_t *b, void *user)
{
	struct wk *w = user;
	w->calls++;
	cr_assert(w->calls == 1 || b->offset > w->last_off, "walk not in address order");
	w->last_off = b->offset;
	cr_assert_eq(b->addr, b->data, "a heap at its own address");
	/* a chain block has its 16-byte header before addr; a slot of a page has none */
	int slot = b->size == b->block_size;
	cr_assert(slot || b->size + 16 == b->block_size, "block of %zu bytes, %zu usable", b->block_size, b->size);
	cr_assert(!slot || b->size <= 16208, "a slot of %zu bytes", b->size);
	if (b->state == PMP_BLOCK_USED) {
		w->used++;
		w->used_bytes += b->block_size;
		cr_assert_eq(pmp_usable_size(w->h, b->addr), b->size);
		cr_assert_eq(pmp_ptr_to_off(w->h, b->addr), b->offset + (slot ? 0 : 16));
	} else {
		cr_assert_eq(b->state, PMP_BLOCK_FREE);
		w->free++;
		w->free_bytes += b->block_size;
	}
	return w->stop_after && (int)w->calls == w->stop_after ? -77 : 0;
}

Test(calls, walk_and_stats)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM);
	uint64_t seed = 3;
	void *p[500];
	for (int i = 0; i < 500; i++)
		p[i] = pmp_malloc(h, (size_t)t_below(&seed, 3000));
	for (int i = 0; i < 500; i += 3)
		pmp_free(h, p[i]);
	p[1] = pmp_realloc(h, p[1], 20000);
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	struct wk w = {.h = h};
	cr_assert_eq(pmp_walk(h, walk_cb, &w), 0);
	cr_assert_eq(w.used, st.used_blocks);
	cr_assert_eq(w.free, st.free_blocks);
	cr_assert_eq(w.used_bytes, st.used_bytes);
	cr_assert_eq(w.free_bytes, st.free_bytes);
	cr_assert_eq(w.used, 500 - 167);
	/* blocks plus the end sentinel cover the arena, but for the pages' headers, chain headers and slack (less than
	 * a slot of the largest class each) */
	cr_assert_leq(st.used_bytes + st.free_bytes + 16, st.arena);
	cr_assert_leq(st.arena - (st.used_bytes + st.free_bytes + 16), st.pages * (640 + 16 + 16208));
	cr_assert_gt(st.pages, 0, "blocks of up to 3000 bytes live in pages");
	cr_assert_eq(st.reserved, MEM);
	cr_assert_eq(st.mapped, MEM);
	cr_assert_eq(st.n_malloc, 501, "500 mallocs and one moving realloc");
	cr_assert_eq(st.n_free, 168);
	cr_assert_eq(st.n_realloc, 1);
	cr_assert_geq(st.peak_used_bytes, st.used_bytes);
	cr_assert_gt(st.largest_free, 0);
	cr_assert_leq(st.largest_free, st.free_bytes);
	void *big = pmp_malloc(h, st.largest_free);
	cr_assert_not_null(big, "largest_free must be allocatable");
	/* stop early */
	struct wk w2 = {.h = h, .stop_after = 5};
	cr_assert_eq(pmp_walk(h, walk_cb, &w2), -77);
	cr_assert_eq(w2.calls, 5);
	cr_assert_eq(pmp_walk(h, NULL, NULL), EINVAL);
	cr_assert_eq(pmp_walk(NULL, walk_cb, &w), EINVAL);
	cr_assert_eq(pmp_stats(h, NULL), EINVAL);
	cr_assert_eq(pmp_stats(NULL, &st), EINVAL);
	pmp_close(h);
	munmap(mem, MEM);
}

Test(calls, info)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM);
	pmp_info_t i;
	cr_assert_eq(pmp_info(h, &i), 0);
	cr_assert_eq(i.base, mem);
	cr_assert_eq(i.mapped_at, mem);
	cr_assert_eq(i.reserved, MEM);
	cr_assert_eq(i.mapped, MEM);
	cr_assert_eq(i.format_version, 2);
	cr_assert_eq(i.readonly, 0);
	cr_assert_eq(i.clean, 0, "open for writing is dirty");
	cr_assert_eq(i.writer_pid, (uint64_t)getpid());
	cr_assert_eq(i.writer_uid, (uint32_t)getuid());
	cr_assert_gt(i.created_ns, 0);
	cr_assert_gt(strlen(i.writer_exe), 0);
	cr_assert(strstr(i.writer_exe, "api-calls") != NULL, "writer exe is this program: %s", i.writer_exe);
	cr_assert_eq(pmp_info(h, NULL), EINVAL);
	cr_assert_eq(pmp_info(NULL, &i), EINVAL);
	cr_assert_eq(pmp_crash_get(h, &(pmp_crash_info_t){0}), ENOENT, "a fresh heap holds no crash record");
	cr_assert_null(pmp_default(), "no process heap without the preload");
	pmp_close(h);
	munmap(mem, MEM);
}

Test(calls, strerror_every_code)
{
	for (int e = PMP_ERR_MIN; e < 0; e++) {
		const char *s = pmp_strerror(e);
		cr_assert_not_null(s);
		cr_assert_gt(strlen(s), 5, "code %d", e);
		cr_assert(strstr(s, "unknown") == NULL, "code %d has no string: %s", e, s);
		for (int f = PMP_ERR_MIN; f < e; f++)
			cr_assert_str_neq(s, pmp_strerror(f), "codes %d and %d share a string", e, f);
	}
	cr_assert(strstr(pmp_strerror(PMP_ERR_MIN - 1), "unknown") != NULL, "codes below PMP_ERR_MIN are unknown");
	int errs[] = {ENOMEM, EINVAL, ENOENT, EEXIST, EACCES, ENOSPC, EIO, EROFS, ENAMETOOLONG};
	for (unsigned i = 0; i < sizeof errs / sizeof errs[0]; i++) {
		const char *s = pmp_strerror(errs[i]);
		cr_assert(s && *s);
		for (int e = PMP_ERR_MIN; e <= 0; e++)
			cr_assert_str_neq(s, pmp_strerror(e));
	}
	cr_assert_str_neq(pmp_strerror(ENOMEM), pmp_strerror(EINVAL));
}

Test(calls, offsets_round_trip)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM);
	for (int i = 0; i < 100; i++) {
		char *p = pmp_malloc(h, (size_t)i * 100);
		pmp_off_t o = pmp_ptr_to_off(h, p);
		cr_assert_neq(o, PMP_OFF_NULL);
		cr_assert_eq(o, (uint64_t)(p - (char *)mem));
		cr_assert_eq(pmp_off_to_ptr(h, o), p);
		cr_assert_eq(pmp_ptr_to_off(h, p + 5), o + 5, "interior pointers too");
		cr_assert_eq(pmp_off_to_ptr(h, o + 5), p + 5);
	}
	int local;
	cr_assert_eq(pmp_ptr_to_off(h, NULL), PMP_OFF_NULL);
	cr_assert_eq(pmp_ptr_to_off(h, &local), PMP_OFF_NULL);
	cr_assert_eq(pmp_ptr_to_off(NULL, mem), PMP_OFF_NULL);
	cr_assert_null(pmp_off_to_ptr(h, PMP_OFF_NULL));
	cr_assert_null(pmp_off_to_ptr(h, MEM));
	cr_assert_null(pmp_off_to_ptr(h, ~(pmp_off_t)0));
	cr_assert_null(pmp_off_to_ptr(NULL, 4096));
	cr_assert_eq(pmp_off_to_ptr(h, MEM - 1), (char *)mem + MEM - 1);
	pmp_close(h);
	munmap(mem, MEM);
}

Test(calls, trim_without_a_file)
{
	void *mem;
	pmp_heap_t *h = mem_heap(&mem, MEM);
	void *p = pmp_malloc(h, (size_t)4 << 20);
	cr_assert_not_null(p);
	pmp_free(h, p);
	cr_assert_eq(pmp_trim(h), 0, "caller-owned memory has no disk blocks to give back");
	cr_assert_eq(pmp_trim(NULL), 0);
	t_check(h, "after trim");
	pmp_close(h);
	munmap(mem, MEM);
}
