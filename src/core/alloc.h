/* alloc.h: the inline front of malloc and free on a heap, shared by the public entry points (alloc.c) and the
 * preload's malloc family, so that the fast path is one inlined sequence in both.
 *
 * Holds: the choice between a small block of this thread's pages (lock-free) and the slow paths of alloc.c.
 * Must never: take a lock, or decide anything the slow paths must decide (sealed, read-only, check levels,
 * errors): those set h->fast_id to PMP_NOT_FAST and go through _pmp_malloc_slow / _pmp_free_slow.
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
 * fast path of an untracked heap never even loads it.
 * The preload's entry points test the whole key (theap.h) against fast_id themselves, with their depth in it, and
 * call the parts below; the core's test the key's heap id only (_pmp_fast_bound). */
static inline __attribute__((always_inline)) int _pmp_fast_bound(const struct pmp_heap *h)
{
	return _pmp_tls_heap_key() == h->fast_id;
}

/* the caller found the key equal to h's fast_id; NULL (n no small size, or no free slot at hand): the slow path
 * decides (and aborts on a damaged free list) */
static inline __attribute__((always_inline)) void *_pmp_malloc_fast_bound(struct pmp_heap *h, size_t n)
{
	return _pmp_small_take_size(h, _pmp_tls.theap, n);
}

static inline __attribute__((always_inline)) int _pmp_malloc_fast(struct pmp_heap *h, size_t n, void **out)
{
	if (__builtin_expect(_pmp_fast_bound(h), 1)) /* the size is tested inside */
		return (*out = _pmp_malloc_fast_bound(h, n)) != NULL;
	return 0;
}

/* the caller found the key equal to h's fast_id and off = p - base below h->reserved (the region table covers
 * the reservation: a region that is no page has no owner): p's region when it is a page of this thread's, else
 * NULL */
static inline __attribute__((always_inline)) struct pmp_prt *_pmp_own_page(const struct pmp_heap *h, uint64_t off)
{
	struct pmp_prt *pg = _pmp_prt_of(h, off);
	return __builtin_expect(pg->owner == _pmp_tls.theap, 1) ? pg : NULL;
}

/* a free without the key tested: this thread's own page, or another's (onto its remote list), when h allows the
 * fast path */
static inline __attribute__((always_inline)) int _pmp_free_fast(struct pmp_heap *h, void *p)
{
	uint64_t off = (uint64_t)((uint8_t *)p - h->base);
	if (__builtin_expect(off < h->reserved, 1)) {
		struct pmp_prt *pg = _pmp_prt_of(h, off);
		if (__builtin_expect(_pmp_fast_bound(h) && pg->owner == _pmp_tls.theap, 1)) {
			_pmp_small_free_own(_pmp_tls.theap, pg, (uint8_t *)p, off);
			return 1;
		}
		if (h->fast_id != PMP_NOT_FAST && pg->kind == PMP_PRT_PAGE) {
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
