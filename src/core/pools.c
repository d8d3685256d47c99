/* pools.c: several discontiguous regions of caller memory in one heap (memoman's mm_add_pool, mm_remove_pool,
 * mm_get_pool_for_ptr).
 *
 * Holds: joining a pool to a heap and letting it go, the routing of a pointer to the heap among h and its pools
 * whose memory holds it, and the public calls that cover every pool (check, walk, stats, trim, close). A pool is an
 * ordinary heap on caller memory (made by pmp_heap_create_opts or pmp_heap_attach_opts, so it has its own
 * superblock and recovers alone); the join is process-local: the heap's list of pool handles.
 * Must never: record a pool in the first heap's file (the caller owns, maps and re-adds pool memory), hand a pool
 * handle to the caller, or let a pool go while a block of it is allocated.
 */
#include <errno.h>
#include <string.h>

#include "heap.h"

struct pmp_heap *_pmp_pool_route_slow(struct pmp_heap *h, const void *p)
{
	unsigned n = __atomic_load_n(&h->npools, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++)
		if (_pmp_holds(h->pools[i], p))
			return h->pools[i];
	return h;
}

static int overlaps(const struct pmp_heap *h, uintptr_t a, uintptr_t len)
{
	uintptr_t b = (uintptr_t)h->base;
	return a < b + h->reserved && b < a + len;
}

/* may [a, a+len) join h? 0, EINVAL (it overlaps h or a pool), ENOSPC or PMP_ERDONLY. Under h's lock. */
static int may_join(const struct pmp_heap *h, uintptr_t a, uintptr_t len)
{
	unsigned n = h->npools;
	if (h->sealed)
		return PMP_ERDONLY;
	if (n == PMP_POOL_MAX)
		return ENOSPC;
	for (unsigned i = 0; i <= n; i++)
		if (overlaps(i < n ? h->pools[i] : h, a, len))
			return EINVAL;
	return 0;
}

int pmp_heap_add_pool(pmp_heap_t *h, void *mem, size_t len, unsigned flags)
{
	if (!h || !mem || ((uintptr_t)mem & (PMP_PAGE - 1)) || (flags & ~PMP_POOL_ATTACH))
		return EINVAL;
	if (pmp_default() == h)
		return EBUSY; /* the preload routes by the one range of its process heap */
	if (h->readonly)
		return PMP_ERDONLY;
	/* the range the pool will cover, known before a byte of mem is written: a pool over h's own memory or another
	 * pool's would destroy it */
	if (flags & PMP_POOL_ATTACH) {
		struct pmp_sb sb;
		int e = _pmp_sb_of_memory(mem, &sb);
		if (e)
			return e;
		len = (size_t)sb.reserved;
	}
	if (len < PMP_HEAP_MIN)
		return PMP_ETOOSMALL;
	_pmp_lock(h);
	int e = may_join(h, (uintptr_t)mem, (uintptr_t)len);
	_pmp_unlock(h);
	if (e)
		return e;
	pmp_heap_opts_t o = {.flags = h->flags & (PMP_HEAP_ZERO_FREED | PMP_HEAP_SINGLE_THREAD),
			     .commit = h->user_commit, .commit_user = h->user_commit_arg};
	struct pmp_heap *pool;
	e = (flags & PMP_POOL_ATTACH) ? pmp_heap_attach_opts(mem, &o, &pool) : pmp_heap_create_opts(mem, len, &o, &pool);
	if (e)
		return e;
	pmp_set_check(pool, h->check_level, h->check_every_log2);
	_pmp_lock(h);
	e = may_join(h, (uintptr_t)pool->base, (uintptr_t)pool->reserved); /* again: another thread may have added */
	if (!e) {
		h->pools[h->npools] = pool;
		__atomic_store_n(&h->npools, h->npools + 1, __ATOMIC_RELEASE);
	}
	_pmp_unlock(h);
	if (e)
		pmp_close(pool); /* closed cleanly: it can be added again with PMP_POOL_ATTACH */
	return e;
}

int pmp_heap_remove_pool(pmp_heap_t *h, void *mem)
{
	if (!h || !mem)
		return EINVAL;
	_pmp_lock(h);
	unsigned n = h->npools, i = 0;
	while (i < n && h->pools[i]->base != (uint8_t *)mem)
		i++;
	if (i == n) {
		_pmp_unlock(h);
		return ENOENT;
	}
	struct pmp_heap *pool = h->pools[i];
	pmp_stats_t s;
	int e = _pmp_stats_one(pool, &s);
	if (!e && s.used_blocks)
		e = EBUSY;
	if (!e) {
		memmove(&h->pools[i], &h->pools[i + 1], (n - i - 1) * sizeof h->pools[0]);
		__atomic_store_n(&h->npools, n - 1, __ATOMIC_RELEASE);
	}
	_pmp_unlock(h);
	return e ? e : pmp_close(pool);
}

void *pmp_heap_pool_of(pmp_heap_t *h, const void *p)
{
	if (!h || !p)
		return NULL;
	struct pmp_heap *o = _pmp_pool_route(h, p);
	return _pmp_holds(o, p) ? o->base : NULL;
}

int _pmp_pools_close(struct pmp_heap *h)
{
	int first = 0;
	_pmp_lock(h);
	unsigned n = h->npools;
	__atomic_store_n(&h->npools, 0, __ATOMIC_RELEASE);
	_pmp_unlock(h);
	for (unsigned i = 0; i < n; i++) {
		int e = pmp_close(h->pools[i]);
		if (e && !first)
			first = e;
	}
	return first;
}

/* ---- the calls over every pool ---- */

int pmp_check(pmp_heap_t *h, pmp_report_t *r)
{
	if (!h)
		return EINVAL;
	pmp_report_t local, one;
	if (!r)
		r = &local;
	int e = _pmp_check_one(h, r);
	unsigned n = __atomic_load_n(&h->npools, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; !e && i < n; i++) {
		e = _pmp_check_one(h->pools[i], &one);
		if (e) { /* the pool's report: its offset is the pool's, its address says where */
			*r = one;
			break;
		}
		r->blocks += one.blocks;
		r->used_blocks += one.used_blocks;
		r->free_blocks += one.free_blocks;
		r->cached_blocks += one.cached_blocks;
		r->roots += one.roots;
		r->bytes_used += one.bytes_used;
		r->bytes_free += one.bytes_free;
		r->bytes_cached += one.bytes_cached;
		r->pages += one.pages;
		r->index_checked &= one.index_checked;
	}
	return e;
}

int pmp_walk(pmp_heap_t *h, pmp_walk_cb cb, void *user)
{
	if (!h || !cb)
		return EINVAL;
	int e = _pmp_walk_one(h, cb, user);
	unsigned n = __atomic_load_n(&h->npools, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; !e && i < n; i++)
		e = _pmp_walk_one(h->pools[i], cb, user);
	return e;
}

int pmp_stats(pmp_heap_t *h, pmp_stats_t *s)
{
	if (!h || !s)
		return EINVAL;
	int e = _pmp_stats_one(h, s);
	unsigned n = __atomic_load_n(&h->npools, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; !e && i < n; i++) {
		pmp_stats_t p;
		if ((e = _pmp_stats_one(h->pools[i], &p)) != 0)
			break;
		s->reserved += p.reserved;
		s->mapped += p.mapped;
		s->arena += p.arena;
		s->used_bytes += p.used_bytes;
		s->used_blocks += p.used_blocks;
		s->free_bytes += p.free_bytes;
		s->free_blocks += p.free_blocks;
		if (p.largest_free > s->largest_free)
			s->largest_free = p.largest_free;
		s->peak_used_bytes += p.peak_used_bytes; /* each pool's own peak: an upper bound of the heap's */
		s->n_malloc += p.n_malloc;
		s->n_free += p.n_free;
		s->n_realloc += p.n_realloc;
		s->n_grow += p.n_grow;
		s->pages += p.pages;
	}
	return e;
}

size_t pmp_trim(pmp_heap_t *h)
{
	if (!h)
		return 0;
	size_t given = _pmp_trim_one(h);
	unsigned n = __atomic_load_n(&h->npools, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++)
		given += _pmp_trim_one(h->pools[i]);
	return given;
}
