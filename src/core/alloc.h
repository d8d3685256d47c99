/* alloc.h: the inline front of malloc and free on a heap, shared by the public entry points (alloc.c) and the
 * preload's malloc family, so that the fast path is one inlined sequence in both.
 *
 * Holds: the choice between a small block of this thread's pages (lock-free) and the slow paths of alloc.c.
 * Must never: take a lock, or decide anything the slow paths must decide (sealed, read-only, check levels,
 * errors): those set h->fast_ok to 0 and go through _pmp_malloc_slow / _pmp_free_slow.
 */
#ifndef PMP_ALLOC_H
#define PMP_ALLOC_H

#include "theap.h"

/* everything that is not a fast small allocation: large blocks, sealed or read-only heaps, check level 2,
 * zeroing of freed memory, call-site tracking, a thread without a theap yet. pc: the return address of the call
 * into the malloc family (the call site a tracked heap records) */
PMP_HIDDEN void *_pmp_malloc_slow(struct pmp_heap *h, size_t n, const void *pc);
PMP_HIDDEN void _pmp_free_slow(struct pmp_heap *h, void *p, const void *pc);
/* the entry points of alloc.c with the call site given (the preload's malloc family passes its caller's) */
PMP_HIDDEN void *_pmp_calloc_at(struct pmp_heap *h, size_t nmemb, size_t size, const void *pc);
PMP_HIDDEN void *_pmp_realloc_at(struct pmp_heap *h, void *p, size_t n, const void *pc);
PMP_HIDDEN void *_pmp_memalign_at(struct pmp_heap *h, size_t align, size_t n, const void *pc);
PMP_HIDDEN void _pmp_free_at(struct pmp_heap *h, void *p, const void *pc);

/* The fast paths: 1 when they served the call (*out the block), 0 when the slow path must. The call site is not
 * theirs to know: a caller that has one computes it in its slow branch only (the preload's malloc and free), so the
 * fast path of an untracked heap never even loads it. */
static inline __attribute__((always_inline)) int _pmp_malloc_fast(struct pmp_heap *h, size_t n, void **out)
{
	if (__builtin_expect(n <= PMP_SMALL_MAX && h->fast_ok, 1) && __builtin_expect(_pmp_tls.heap_id == h->id, 1))
		return (*out = _pmp_small_pop(h, _pmp_tls.theap, _pmp_class_of(n))) != NULL;
	return 0;
}

static inline __attribute__((always_inline)) int _pmp_free_fast(struct pmp_heap *h, void *p)
{
	uint64_t off = (uint64_t)((uint8_t *)p - h->base);
	if (__builtin_expect(h->fast_ok && off < h->end, 1)) {
		struct pmp_prt *pg = _pmp_prt_of(h, off);
		/* a page this thread owns (a region that is no page has no owner; the cached theap is never NULL while
		 * its heap's id is cached with it) */
		if (__builtin_expect(_pmp_tls.heap_id == h->id && pg->owner == _pmp_tls.theap, 1)) {
			_pmp_small_free_own(h, _pmp_tls.theap, pg, (uint8_t *)p);
			return 1;
		}
		if (pg->kind == PMP_PRT_PAGE) {
			_pmp_small_free_remote(h, pg, (uint8_t *)p, _pmp_slot_of(h, pg, (uint8_t *)p));
			return 1;
		}
	}
	return 0;
}

static inline __attribute__((always_inline)) void *_pmp_malloc_inline(struct pmp_heap *h, size_t n, const void *pc)
{
	void *p;
	return _pmp_malloc_fast(h, n, &p) ? p : _pmp_malloc_slow(h, n, pc);
}

static inline __attribute__((always_inline)) void _pmp_free_inline(struct pmp_heap *h, void *p, const void *pc)
{
	if (!_pmp_free_fast(h, p))
		_pmp_free_slow(h, p, pc);
}

#endif
