/* pools.c: api tests of several discontiguous pools in one heap (pmp_heap_add_pool, pmp_heap_remove_pool,
 * pmp_heap_pool_of): allocation spilling into the pools in order, routing of free, realloc, usable_size, owns and
 * commit by address, check, walk and stats over every pool, removal only when empty, a restart that adds the
 * pools back with PMP_POOL_ATTACH, a pool left by a killed process that checks alone, threads, and reset.
 * Holds: behaviour tests over the public API only.
 * Must never: include an internal header, or place two regions next to each other by chance (each test maps its
 * regions with gaps between them, so that "discontiguous" holds).
 */
#include "api.h"

#include <pthread.h>
#include <sys/wait.h>

#define LEN ((size_t)2 << 20)
#define NREG 3

/* three regions of LEN bytes with unmapped gaps between them, shared so that a child's writes are seen */
static char *regions(void)
{
	char *r = mmap(NULL, NREG * 2 * LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(r, MAP_FAILED);
	for (int i = 0; i < NREG; i++)
		cr_assert_neq(mmap(r + 2 * i * LEN, LEN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1,
				   0), MAP_FAILED);
	return r;
}
#define REG(r, i) ((r) + 2 * (i) * LEN)

static pmp_heap_t *pooled(char *r)
{
	pmp_heap_t *h;
	cr_assert_eq(pmp_heap_create(REG(r, 0), LEN, 0, &h), 0);
	cr_assert_eq(pmp_heap_add_pool(h, REG(r, 1), LEN, 0), 0);
	cr_assert_eq(pmp_heap_add_pool(h, REG(r, 2), LEN, 0), 0);
	return h;
}

struct count {
	uint64_t used, bytes;
	int in[NREG];
	char *r;
};

static int count_cb(const pmp_block_t *b, void *user)
{
	struct count *c = user;
	if (b->state == PMP_BLOCK_USED) {
		c->used++;
		c->bytes += b->block_size;
		for (int i = 0; i < NREG; i++)
			if ((char *)b->addr >= REG(c->r, i) && (char *)b->addr < REG(c->r, i) + LEN)
				c->in[i]++;
	}
	return 0;
}

Test(pools, allocation_spills_into_pools_in_order_and_routes_by_address)
{
	char *r = regions();
	pmp_heap_t *h = pooled(r);
	static char *v[300];
	int n = 0, where[NREG] = {0};
	for (; n < 300; n++) { /* 300 blocks of 20,000 bytes: more than two regions hold */
		v[n] = pmp_malloc(h, 20000);
		cr_assert_not_null(v[n], "block %d: the pools were not used", n);
		t_fill(v[n], (uint64_t)n, 0, 20000);
		char *pool = pmp_heap_pool_of(h, v[n]);
		int k = pool == REG(r, 0) ? 0 : pool == REG(r, 1) ? 1 : pool == REG(r, 2) ? 2 : -1;
		cr_assert_geq(k, 0, "block %p in no region (pool_of %p)", (void *)v[n], (void *)pool);
		cr_assert(k >= (n ? (pmp_heap_pool_of(h, v[n - 1]) == REG(r, 0) ? 0 :
				     pmp_heap_pool_of(h, v[n - 1]) == REG(r, 1) ? 1 : 2) : 0),
			  "block %d went back to an earlier region while it was full", n);
		where[k]++;
		cr_assert(pmp_owns(h, v[n]));
		cr_assert_geq(pmp_usable_size(h, v[n]), 20000);
	}
	cr_assert(where[0] > 0 && where[1] > 0 && where[2] > 0, "regions used: %d %d %d", where[0], where[1], where[2]);
	cr_assert_null(pmp_heap_pool_of(h, r + LEN), "a gap between regions belongs to no pool");
	cr_assert(!pmp_owns(h, r + LEN));

	/* stats, walk and check cover every pool */
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.mapped, 3 * LEN);
	struct count c = {.r = r};
	cr_assert_eq(pmp_walk(h, count_cb, &c), 0);
	cr_assert_eq(c.used, st.used_blocks);
	cr_assert_eq(c.bytes, st.used_bytes);
	cr_assert_eq(c.in[0], where[0]);
	cr_assert_eq(c.in[2], where[2]);
	pmp_report_t rep;
	cr_assert_eq(pmp_check(h, &rep), 0, "%s", rep.msg);
	cr_assert_eq(rep.used_blocks, st.used_blocks, "the check counted %llu blocks of %llu",
		     (unsigned long long)rep.used_blocks, (unsigned long long)st.used_blocks);

	/* realloc: a block of the last pool grows past what any region has left, then moves into freed room */
	int last = 299;
	for (int i = 0; i < 40; i++) { /* room in the first region */
		pmp_free(h, v[i]);
		v[i] = NULL;
	}
	char *q = pmp_realloc(h, v[last], 500000);
	cr_assert_not_null(q, "realloc from a full pool into the first region failed");
	cr_assert_eq(pmp_heap_pool_of(h, q), REG(r, 0));
	t_assert_pattern(q, (uint64_t)last, 20000);
	v[last] = q;
	/* every block is intact, and freeing them all through h leaves every region empty */
	for (int i = 0; i < 300; i++)
		if (v[i] && i != last)
			t_assert_pattern(v[i], (uint64_t)i, 20000);
	/* damage in a pool is found by pmp_check on h */
	char *in2 = NULL;
	for (int i = 0; i < 300 && !in2; i++)
		if (v[i] && pmp_heap_pool_of(h, v[i]) == REG(r, 2))
			in2 = v[i];
	cr_assert_not_null(in2);
	uint64_t saved;
	memcpy(&saved, in2 - 16, 8);
	memset(in2 - 16, 0x5a, 8);
	cr_assert_eq(pmp_check(h, &rep), PMP_ECORRUPT, "damage in a pool went unseen");
	cr_assert((char *)rep.addr >= REG(r, 2) && (char *)rep.addr < REG(r, 2) + LEN, "report names %p", rep.addr);
	memcpy(in2 - 16, &saved, 8);
	t_check(h, "repaired");
	for (int i = 0; i < 300; i++)
		pmp_free(h, v[i]);
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.used_blocks, 0);
	cr_assert_eq(pmp_close(h), 0);
	munmap(r, NREG * 2 * LEN);
}

Test(pools, add_and_remove_errors)
{
	char *r = regions();
	pmp_heap_t *h;
	cr_assert_eq(pmp_heap_create(REG(r, 0), LEN, 0, &h), 0);
	cr_assert_eq(pmp_heap_add_pool(NULL, REG(r, 1), LEN, 0), EINVAL);
	cr_assert_eq(pmp_heap_add_pool(h, REG(r, 1) + 16, LEN - 4096, 0), EINVAL, "unaligned");
	cr_assert_eq(pmp_heap_add_pool(h, REG(r, 1), PMP_HEAP_MIN - 1, 0), PMP_ETOOSMALL);
	cr_assert_eq(pmp_heap_add_pool(h, REG(r, 0) + LEN / 2, LEN / 2, 0), EINVAL, "over the heap's own memory");
	cr_assert_eq(pmp_heap_add_pool(h, REG(r, 1), LEN, 0x100), EINVAL, "unknown flag");
	cr_assert_eq(pmp_heap_add_pool(h, REG(r, 1), LEN, PMP_POOL_ATTACH), PMP_EMAGIC, "attach of unformatted memory");
	t_check(h, "refused pools leave the heap alone");
	cr_assert_eq(pmp_heap_add_pool(h, REG(r, 1), LEN, 0), 0);
	cr_assert_eq(pmp_heap_add_pool(h, REG(r, 1) + LEN / 2, LEN / 2, 0), EINVAL, "over another pool");
	t_check(h, "the pool is untouched by the refused overlap");
	cr_assert_eq(pmp_heap_remove_pool(h, REG(r, 2)), ENOENT);
	cr_assert_eq(pmp_heap_remove_pool(h, REG(r, 0)), ENOENT, "the first heap is no pool");
	/* a block in the pool: EBUSY until it is freed */
	void *big = pmp_malloc(h, LEN - 200000), *inpool = pmp_malloc(h, 300000);
	cr_assert_not_null(big);
	cr_assert_eq(pmp_heap_pool_of(h, inpool), REG(r, 1));
	cr_assert_eq(pmp_heap_remove_pool(h, REG(r, 1)), EBUSY);
	void *small = pmp_malloc(h, 100);
	cr_assert_eq(pmp_heap_pool_of(h, small), REG(r, 0));
	pmp_free(h, inpool);
	cr_assert_eq(pmp_heap_remove_pool(h, REG(r, 1)), 0);
	cr_assert_null(pmp_heap_pool_of(h, REG(r, 1) + 4096));
	errno = 0;
	cr_assert_null(pmp_malloc(h, 300000), "a removed pool still served");
	cr_assert_eq(errno, ENOMEM);
	/* removed cleanly: the memory is a heap of its own, and can join again */
	pmp_heap_t *alone;
	cr_assert_eq(pmp_heap_attach(REG(r, 1), &alone), 0);
	t_check(alone, "a removed pool, alone");
	cr_assert_eq(pmp_close(alone), 0);
	cr_assert_eq(pmp_heap_add_pool(h, REG(r, 1), 0, PMP_POOL_ATTACH), 0);
	cr_assert_not_null(pmp_malloc(h, 300000));
	cr_assert_eq(pmp_close(h), 0);
	munmap(r, NREG * 2 * LEN);
}

struct obj { char *parts[3]; };

Test(pools, restart_adds_the_pools_back)
{
	char *r = regions();
	pmp_heap_t *h = pooled(r);
	struct obj *o = pmp_calloc(h, 1, sizeof *o);
	cr_assert_eq(pmp_root_set(h, "obj", o), 0);
	pmp_malloc(h, LEN - 300000); /* the first region full: the parts go to the pools */
	for (int i = 0; i < 3; i++) {
		o->parts[i] = pmp_malloc(h, 900000);
		cr_assert_not_null(o->parts[i]);
		t_fill(o->parts[i], 77 + (uint64_t)i, 0, 900000);
	}
	cr_assert_eq(pmp_heap_pool_of(h, o->parts[2]), REG(r, 2));
	cr_assert_eq(pmp_root_set(h, "part", o->parts[1]), EINVAL, "a root names a block of the first heap only");
	cr_assert_eq(pmp_close(h), 0);

	cr_assert_eq(pmp_heap_attach(REG(r, 0), &h), 0);
	cr_assert_eq(pmp_heap_add_pool(h, REG(r, 1), 0, PMP_POOL_ATTACH), 0);
	cr_assert_eq(pmp_heap_add_pool(h, REG(r, 2), 0, PMP_POOL_ATTACH), 0);
	o = pmp_root_get(h, "obj");
	cr_assert_not_null(o);
	for (int i = 0; i < 3; i++) {
		t_assert_pattern(o->parts[i], 77 + (uint64_t)i, 900000);
		cr_assert_geq(pmp_usable_size(h, o->parts[i]), 900000);
	}
	pmp_free(h, o->parts[2]);
	t_check(h, "after the restart");
	cr_assert_eq(pmp_close(h), 0);
	munmap(r, NREG * 2 * LEN);
}

/* a process killed with the pools open: each pool is a heap that recovers and checks alone, and the heap attached
 * again with its pools finds every block */
Test(pools, a_pool_left_by_a_killed_process_checks_alone)
{
	char *r = regions();
	pid_t pid = fork();
	if (pid == 0) {
		pmp_heap_t *h = pooled(r);
		struct obj *o = pmp_calloc(h, 1, sizeof *o);
		pmp_root_set(h, "obj", o);
		pmp_malloc(h, LEN - 300000);
		for (int i = 0; i < 3; i++) {
			o->parts[i] = pmp_malloc(h, 900000);
			t_fill(o->parts[i], 5 + (uint64_t)i, 0, 900000);
		}
		for (int i = 0; i < 1000; i++) /* small blocks in every region: thread pages in the pools too */
			pmp_malloc(h, 24 + (size_t)(i % 9) * 40);
		kill(getpid(), SIGKILL);
	}
	int st;
	waitpid(pid, &st, 0);
	cr_assert(WIFSIGNALED(st));
	for (int i = 1; i < NREG; i++) {
		pmp_heap_t *alone;
		cr_assert_eq(pmp_heap_attach(REG(r, i), &alone), 0);
		pmp_info_t in;
		cr_assert_eq(pmp_info(alone, &in), 0);
		t_check(alone, "a pool alone after a kill");
		cr_assert_eq(pmp_close(alone), 0);
	}
	pmp_heap_t *h;
	cr_assert_eq(pmp_heap_attach(REG(r, 0), &h), 0);
	cr_assert_eq(pmp_heap_add_pool(h, REG(r, 1), 0, PMP_POOL_ATTACH), 0);
	cr_assert_eq(pmp_heap_add_pool(h, REG(r, 2), 0, PMP_POOL_ATTACH), 0);
	struct obj *o = pmp_root_get(h, "obj");
	for (int i = 0; i < 3; i++)
		t_assert_pattern(o->parts[i], 5 + (uint64_t)i, 900000);
	t_check(h, "attached with its pools after the kill");
	cr_assert_eq(pmp_close(h), 0);
	munmap(r, NREG * 2 * LEN);
}

struct job {
	pmp_heap_t *h;
	char **out;
	int id;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	uint64_t seed = (uint64_t)j->id;
	for (int i = 0; i < 3000; i++) {
		size_t n = t_below(&seed, 4) ? (size_t)t_below(&seed, 2000) + 1 : (size_t)t_below(&seed, 60000) + 17000;
		char *p = pmp_malloc(j->h, n);
		if (!p)
			continue;
		t_fill(p, (uint64_t)i, 0, n < 64 ? n : 64);
		if (i % 3 == 0) { /* freed by the other worker: a remote free into whichever pool p lies in */
			char *old = __atomic_exchange_n(&j->out[i % 64], p, __ATOMIC_ACQ_REL);
			pmp_free(j->h, old);
		} else {
			pmp_free(j->h, p);
		}
	}
	return NULL;
}

Test(pools, threads_across_pools)
{
	char *r = regions();
	pmp_heap_t *h = pooled(r);
	pmp_malloc(h, LEN - 400000); /* little room left in the first region */
	static char *shared[64];
	pthread_t t[2];
	struct job j[2] = {{h, shared, 1}, {h, shared, 2}};
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, worker, &j[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 64; i++)
		pmp_free(h, shared[i]);
	t_check(h, "threads across pools");
	/* reset covers every pool */
	cr_assert_eq(pmp_heap_reset(h), 0);
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.used_blocks, 0);
	cr_assert_eq(st.free_blocks, 3, "one free block per region after the reset");
	t_check(h, "reset with pools");
	cr_assert_eq(pmp_close(h), 0);
	munmap(r, NREG * 2 * LEN);
}
