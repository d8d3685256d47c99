/* recover.c: rebuild everything derived (free index, boundary tags, counters) from the block chain after a heap was
 * not closed cleanly, and salvage a chain damaged by a power loss.
 *
 * Holds: one walk that releases cached blocks, finishes an interrupted growth, merges adjacent free blocks, rewrites
 * prev_size tags and refills the TLSF index. With salvage (a dirty heap whose chain is not walkable: pages written
 * back in any order after the last pmp_commit), a header that fails its check starts a damaged stretch that ends
 * at the next header that passes its check; the stretch becomes one LOST block, kept as used so that no byte that
 * may hold live data is handed out again, and roots that no longer point at a block are dropped.
 * Must never: change the size of a used block except to absorb a 16-byte damaged stretch, free a byte that a header
 * passing its check says is used, or make a store that a second stop (kill during recovery) could not recover from
 * again: merges are single stores to the surviving head, everything else is derived.
 */
#include <string.h>

#include "chain.h"
#include "page.h"

/* a live slot of a page: at a slot start, its bit set, not on the remote list */
static int live_slot(const struct pmp_heap *h, uint64_t pg, uint64_t off)
{
	const struct pmp_page *page = _pmp_page_at(h, pg);
	uint64_t d = off - pg - sizeof(struct pmp_page), remote[PMP_PAGE_WORDS];
	uint32_t i = _pmp_slot_index(d, _pmp_class_inv(page->cls));
	if (off < pg + sizeof(struct pmp_page) || i >= page->capacity || (uint64_t)i * page->slot_size != d ||
	    _pmp_page_remote_set(h, pg, remote))
		return 0;
	uint64_t bit = (uint64_t)1 << (i & 63);
	return (page->live[i >> 6] & bit) && !(remote[i >> 6] & bit);
}

/* salvage only: a page whose header passes its checks but whose bitmap or remote list is damaged keeps every slot
 * it may hold: the remote list goes (its slots stay live: a leak, never a loss) and bits past the capacity too */
static void repair_page(struct pmp_heap *h, uint64_t pg)
{
	struct pmp_page *page = _pmp_page_at(h, pg);
	uint32_t live;
	if (!_pmp_page_wrong(h, pg, &live))
		return;
	PMP_CRASHPOINT();
	__atomic_store_n(&page->remote, 0, __ATOMIC_RELEASE);
	for (unsigned w = 0; w < PMP_PAGE_WORDS; w++) {
		uint64_t keep = _pmp_page_word_mask(page->capacity, w);
		if (page->live[w] & ~keep) {
			PMP_CRASHPOINT();
			page->live[w] &= keep;
		}
	}
	h->lost_regions++;
}

/* salvage only: drop roots that do not point at the user pointer of a used (or lost) block, or at a live slot */
static void drop_bad_roots(struct pmp_heap *h)
{
	for (unsigned i = 0; i < PMP_ROOT_COUNT; i++) {
		struct pmp_root *r = &h->roots[i];
		uint64_t off = r->off, b = off - PMP_HDR;
		if (!off)
			continue;
		struct pmp_chain it;
		int ok = 0;
		/* a root is a block start iff the walk meets it; roots are few, so walk once per root */
		_pmp_chain_start(&it);
		while (off >= PMP_OFF_ARENA + PMP_HDR && _pmp_chain_next(h, &it) == 1 && it.off <= b) {
			if (!it.free && !it.cached && !it.lost && _pmp_page_block(h, it.off, it.size) &&
			    off < it.off + it.size) {
				ok = live_slot(h, it.off + PMP_HDR, off);
				break;
			}
			if (it.off == b) {
				ok = !it.free && !it.cached;
				break;
			}
		}
		if (!ok || !memchr(r->name, 0, sizeof r->name) || !r->name[0]) {
			PMP_CRASHPOINT();
			__atomic_store_n(&r->off, 0, __ATOMIC_RELEASE);
			h->dropped_roots++;
		}
	}
}

int _pmp_recover(struct pmp_heap *h, int salvage)
{
	struct pmp_ctl *c = h->ctl;
	c->fl_bitmap = 0;
	memset(c->sl_bitmap, 0, sizeof c->sl_bitmap);
	memset(c->heads, 0, sizeof c->heads);
	_pmp_decay_reset(h);
	c->used_bytes = c->used_blocks = c->free_bytes = c->free_blocks = 0;
	h->lost_bytes = 0;
	h->lost_regions = h->dropped_roots = 0;

	uint64_t sent = _pmp_sentinel(h);
	if (salvage && (!_pmp_head_valid(h, sent, _pmp_head(h, sent)) || (_pmp_head(h, sent) & PMP_W_VALUE) != PMP_B_END)) {
		PMP_CRASHPOINT();
		_pmp_set_head(h, sent, PMP_B_END); /* its boundary tag is written at the end of the walk */
	}

	struct pmp_chain it;
	uint64_t run = 0, run_size = 0;    /* the free run being merged */
	int run_holes = 0;                 /* a block of the run may have punched pages */
	uint64_t last = 0, last_off = 0;  /* size and offset of the block before the current one */
	uint64_t off = PMP_OFF_ARENA;
	while (off < sent) {
		int r = _pmp_chain_at(h, off, &it);
		if (r == 1 && !_pmp_chain_growth_real(h, &it))
			r = -1; /* an end header with blocks after it: damage, whose stretch stays used */
		if (r < 0) {
			if (!salvage)
				return PMP_ECORRUPT;
			uint64_t head = _pmp_head(h, off), y = _pmp_chain_resync(h, off);
			if (_pmp_head_valid(h, off, head) && (head & PMP_W_VALUE) == PMP_B_END && y == sent &&
			    (!h->sb.grow_from || off == h->sb.grow_from - PMP_HDR)) {
				/* an interrupted growth whose new sentinel's tag never reached the disk: nothing lives past
				 * the old end, which the superblock names: free space to the end */
				it.size = sent - off;
				it.free = 1;
				it.cached = it.lost = 0;
			} else {
				if (y - off < PMP_MIN_BLOCK && off > PMP_OFF_ARENA) {
					/* 16 damaged bytes: the block before absorbs them */
					uint64_t grow_to = (run ? run_size : last) + (y - off);
					uint64_t at = run ? run : last_off;
					PMP_CRASHPOINT();
					_pmp_set_head(h, at, grow_to | (_pmp_head(h, at) & PMP_B_FLAGS));
					if (run)
						run_size = grow_to;
					else {
						c->used_bytes += y - off;
						last = grow_to;
					}
					h->lost_bytes += y - off;
					h->lost_regions++;
					off = y;
					continue;
				}
				if (y - off < PMP_MIN_BLOCK)
					y = _pmp_chain_resync(h, y); /* at the arena start: take the next header too */
				it.size = y - off;
				it.free = it.cached = 0;
				it.lost = 1;
				if (h->ops->reserve && _pmp_back(h, off, off + PMP_HDR))
					return ENOMEM; /* the damaged header's page was given back and the disk is full */
				PMP_CRASHPOINT();
				_pmp_set_head(h, off, it.size | PMP_B_LOST);
				h->lost_bytes += it.size;
				h->lost_regions++;
			}
		}
		if (it.free || it.cached) {
			if (it.free && !it.grown && _pmp_may_have_holes(h, off, it.size))
				run_holes = 1;
			if (run) {
				run_size += it.size;
				PMP_CRASHPOINT();
				_pmp_set_head(h, run, run_size | PMP_B_FREE);
				_pmp_forget_head(h, off);
			} else {
				PMP_CRASHPOINT();
				_pmp_set_prev(h, off, last);
				run = off;
				run_size = it.size;
				if (_pmp_head(h, off) != _pmp_head_word(h, off, run_size | PMP_B_FREE)) {
					PMP_CRASHPOINT();
					_pmp_set_head(h, off, run_size | PMP_B_FREE);
				}
			}
			off += it.size;
			continue;
		}
		if (run) {
			if (run_holes)
				_pmp_mark_holes(h, run, run_size);
			_pmp_index_insert(h, run, run_size);
			last = run_size;
			last_off = run;
			run = 0;
			run_holes = 0;
		}
		if (salvage && !it.lost && _pmp_page_block(h, off, it.size))
			repair_page(h, off + PMP_HDR);
		PMP_CRASHPOINT();
		_pmp_set_prev(h, off, last);
		c->used_bytes += it.size;
		c->used_blocks++;
		last = it.size;
		last_off = off;
		off += it.size;
	}
	if (off != sent)
		return PMP_ECORRUPT;
	if (run) {
		if (run_holes)
			_pmp_mark_holes(h, run, run_size);
		_pmp_index_insert(h, run, run_size);
		last = run_size;
	}
	PMP_CRASHPOINT();
	_pmp_set_prev(h, sent, last);
	if (c->used_bytes > c->peak_used)
		c->peak_used = c->used_bytes;
	if (salvage)
		drop_bad_roots(h);
	return 0;
}
