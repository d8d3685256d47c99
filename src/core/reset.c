/* reset.c: a heap emptied under its live handle (memoman's mm_reset, an arena freed at once).
 *
 * Holds: pmp_heap_reset: the roots go (one store each), then one head store makes the whole arena one free block;
 * everything after it (the boundary tag, the free index, the counters, the thread heaps and page state of this
 * process) is derived, and is rebuilt by the same recovery walk an open runs. A stop anywhere leaves the old heap
 * with some of its roots removed (a valid heap) or the empty heap, dirty, which the next open rebuilds.
 * Must never: write a block header before every root is gone (a root must never point into free space), or run
 * while another thread uses the heap (the caller's promise; the thread heaps are freed under it).
 */
#include <errno.h>
#include <string.h>

#include "block.h"

/* PMP_HEAP_ZERO_FREED: no secret of a used block may outlive the reset (free blocks hold zeros already). Only used
 * blocks are written, and they are backed: a page given back to the file system is never touched here. */
static void zero_used_blocks(struct pmp_heap *h)
{
	uint64_t sent = _pmp_sentinel(h);
	for (uint64_t b = PMP_OFF_ARENA, s; b < sent; b += s) {
		uint64_t head = _pmp_head(h, b);
		s = _pmp_bsize(head);
		if (s < PMP_MIN_BLOCK || s > sent - b)
			return; /* cannot be: the open validated the chain, and it holds the lock */
		if (!(head & (PMP_B_FREE | PMP_B_CACHED))) {
			PMP_CRASHPOINT();
			memset(h->base + b + PMP_HDR, 0, (size_t)(s - PMP_HDR));
		}
	}
}

int pmp_heap_reset(pmp_heap_t *h)
{
	if (!h)
		return EINVAL;
	if (pmp_default() == h)
		return EBUSY; /* the preload's process heap: the program's own pointers live in it */
	if (h->readonly)
		return PMP_ERDONLY;
	_pmp_lock(h);
	if (h->sealed || !h->prt) {
		_pmp_unlock(h);
		return PMP_ERDONLY;
	}
	_pmp_theaps_flush_locked(h); /* the operation counters outlive the reset */
	for (unsigned i = 0; i < PMP_ROOT_COUNT; i++)
		if (__atomic_load_n(&h->roots[i].off, __ATOMIC_RELAXED)) {
			PMP_CRASHPOINT();
			__atomic_store_n(&h->roots[i].off, 0, __ATOMIC_RELEASE);
		}
	if (h->flags & PMP_HEAP_ZERO_FREED)
		zero_used_blocks(h);
	/* the one store: the first header spans the arena to the end sentinel, over every block and page */
	uint64_t first = PMP_OFF_ARENA, sent = _pmp_sentinel(h), s = sent - first;
	PMP_CRASHPOINT();
	_pmp_set_head(h, first, s | PMP_B_FREE);
	PMP_CRASHPOINT();
	_pmp_set_prev(h, sent, s);
	if (h->ops->reserve) { /* free blocks of the old heap may have given pages back: backed again before reuse */
		PMP_CRASHPOINT();
		_pmp_mark_holes(h, first, s);
	}
	/* this process's state: no quarantine, no check position, no thread heap or page (a new handle id, so that
	 * every thread's cached theap misses), the free index and counters from the chain */
	h->q_head = h->q_count = 0;
	h->check_ops = h->check_cursor = 0;
	_pmp_theaps_detach(h);
	uint64_t lost = h->lost_bytes;
	uint32_t regions = h->lost_regions, dropped = h->dropped_roots;
	int e = _pmp_recover(h, 0);
	h->lost_bytes = lost; /* pmp_info's figures of this handle's open */
	h->lost_regions = regions;
	h->dropped_roots = dropped;
	if (!e)
		e = _pmp_theaps_attach(h, NULL);
	_pmp_unlock(h);
	for (unsigned i = 0, n = __atomic_load_n(&h->npools, __ATOMIC_ACQUIRE); !e && i < n; i++)
		e = pmp_heap_reset(h->pools[i]);
	return e;
}
