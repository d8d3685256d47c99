/* recover.c: rebuild everything derived (free index, boundary tags, counters) from the block chain after a heap was
 * not closed cleanly.
 *
 * Holds: one walk that releases cached blocks, finishes an interrupted growth, merges adjacent free blocks, rewrites
 * prev_size tags and refills the TLSF index.
 * Must never: change the size of a used block, or make a store that a second stop (kill during recovery) could not
 * recover from again: merges are single stores to the surviving head, everything else is derived.
 */
#include <string.h>

#include "chain.h"

int _pmp_chain_sound(const struct pmp_heap *h)
{
	struct pmp_chain it;
	int r;
	_pmp_chain_start(&it);
	while ((r = _pmp_chain_next(h, &it)) == 1)
		;
	return r < 0 ? PMP_ECORRUPT : 0;
}

int _pmp_recover(struct pmp_heap *h)
{
	struct pmp_ctl *c = h->ctl;
	c->fl_bitmap = 0;
	memset(c->sl_bitmap, 0, sizeof c->sl_bitmap);
	memset(c->heads, 0, sizeof c->heads);
	c->used_bytes = c->used_blocks = c->free_bytes = c->free_blocks = 0;

	struct pmp_chain it;
	_pmp_chain_start(&it);
	uint64_t run = 0, run_size = 0, last = 0; /* last: size of the block before the current one */
	int r;
	while ((r = _pmp_chain_next(h, &it)) == 1) {
		struct pmp_block_hdr *hd = _pmp_hdr(h, it.off);
		if (it.free || it.cached) {
			if (run) {
				run_size += it.size;
				PMP_CRASHPOINT();
				__atomic_store_n(&_pmp_hdr(h, run)->head, run_size | PMP_B_FREE, __ATOMIC_RELEASE);
			} else {
				PMP_CRASHPOINT();
				hd->prev_size = last;
				run = it.off;
				run_size = it.size;
				if (hd->head != (run_size | PMP_B_FREE)) {
					PMP_CRASHPOINT();
					__atomic_store_n(&hd->head, run_size | PMP_B_FREE, __ATOMIC_RELEASE);
				}
			}
			/* continue after the merged run: the iterator steps by the size it read */
			continue;
		}
		if (run) {
			_pmp_index_insert(h, run, run_size);
			last = run_size;
			run = 0;
		}
		PMP_CRASHPOINT();
		hd->prev_size = last;
		c->used_bytes += it.size;
		c->used_blocks++;
		last = it.size;
	}
	if (r < 0)
		return PMP_ECORRUPT;
	if (run) {
		_pmp_index_insert(h, run, run_size);
		last = run_size;
	}
	_pmp_hdr(h, _pmp_sentinel(h))->prev_size = last;
	if (c->used_bytes > c->peak_used)
		c->peak_used = c->used_bytes;
	return 0;
}
