/* decay.c: large free blocks keep their disk blocks for a while before they are given back.
 *
 * Holds: the process-local list of free blocks of PMP_PUNCH_MIN bytes or more that are still backed (oldest first),
 * and the one punch sequence (mark the block as holed, then give its interior pages back). A block is punched when it
 * has been free for the heap's decay time (pmp_set_decay: 10 s unless set), when the list holds more than the keep
 * limit (the most of PMP_DECAY_KEEP_MIN, twice the used bytes and the heap's peak of used bytes) or is full, and at
 * seal. A free block that leaves the free index leaves this list in the same step (_pmp_index_remove), so a punch
 * never reaches a block that is in use. A stop at any point loses nothing: the list is not in the file, an unpunched
 * free block is backed, a marked one is backed again before reuse.
 * Must never: punch a block that is not in the free index, or run without the heap lock.
 */
#include <errno.h>
#include <string.h>

#include "../os/os.h"
#include "block.h"
#include "theap.h"

#define PMP_DECAY_KEEP_MIN ((uint64_t)64 << 20) /* and the list may hold this many bytes at least */

/* 0 or the bytes given back */
static uint64_t punch(struct pmp_heap *h, uint64_t b, uint64_t s)
{
	/* the block's first 48 bytes (header, links, marker) stay, and so does the page of the next header. The marker
	 * is written before the punch: a stop between them costs an fallocate later, never an unbacked write. */
	uint64_t from = (b + 3 * PMP_HDR + PMP_PAGE - 1) & ~(uint64_t)(PMP_PAGE - 1);
	uint64_t to = (b + s) & ~(uint64_t)(PMP_PAGE - 1);
	if (to <= from || !h->ops->discard)
		return 0;
	PMP_CRASHPOINT();
	_pmp_mark_holes(h, b, s);
	PMP_CRASHPOINT();
	return h->ops->discard(h, from, to - from) == 0 ? to - from : 0;
}

static void drop(struct pmp_decay *d, unsigned i)
{
	d->bytes -= d->e[i].size;
	memmove(&d->e[i], &d->e[i + 1], (size_t)(d->count - i - 1) * sizeof d->e[0]);
	d->count--;
}

/* punch the oldest entries while the list is over its limits (all of them when `all`) */
static uint64_t trim(struct pmp_heap *h, uint64_t now, int all)
{
	uint64_t given = 0;
	struct pmp_decay *d = &h->decay;
	/* A program that frees and reallocates its large buffers in waves (malloc-large, python3 bytes copies) keeps
	 * more than its used bytes free between waves. Once the used bytes punched them; twice the used bytes still
	 * punched (and refaulted) a wave whose use dips below half its peak. Up to the heap's peak costs no growth:
	 * those blocks are in the file already, and the decay time still gives them back. */
	uint64_t keep = 2 * h->ctl->used_bytes;
	if (keep < h->ctl->peak_used)
		keep = h->ctl->peak_used;
	if (keep < PMP_DECAY_KEEP_MIN)
		keep = PMP_DECAY_KEEP_MIN;
	while (d->count &&
	       (all || d->count == PMP_DECAY_SLOTS || d->bytes > keep || now - d->e[0].t >= d->ns)) {
		uint64_t b = d->e[0].off, s = d->e[0].size;
		drop(d, 0);
		given += punch(h, b, s);
	}
	return given;
}

void _pmp_decay_note(struct pmp_heap *h, uint64_t b, uint64_t s)
{
	struct pmp_decay *d = &h->decay;
	uint64_t now = _pmp_os_mono_ns();
	if (d->count == PMP_DECAY_SLOTS)
		trim(h, now, 0);
	/* also when marked as holed: a merge marks the whole block, backed parts and all */
	d->e[d->count].off = b;
	d->e[d->count].size = s;
	d->e[d->count].t = now;
	d->count++;
	d->bytes += s;
	trim(h, now, 0);
}

void _pmp_decay_forget(struct pmp_heap *h, uint64_t b)
{
	struct pmp_decay *d = &h->decay;
	for (unsigned i = d->count; i-- > 0;)
		if (d->e[i].off == b) {
			drop(d, i);
			return;
		}
}

void _pmp_decay_flush(struct pmp_heap *h)
{
	trim(h, 0, 1);
}

size_t _pmp_trim_one(struct pmp_heap *h)
{
	if (!h || h->readonly)
		return 0;
	_pmp_lock(h);
	uint64_t given = 0;
	if (!h->sealed) {
		/* empty slab pages first (the caller's kept ones, and abandoned pages emptied by frees from other threads
		 * or after a reopen): back to the chain, where they merge and can be given back too */
		if (h->prt)
			_pmp_theaps_shed_locked(h, _pmp_theap_cached(h));
		given = trim(h, 0, 1);
	}
	_pmp_unlock(h);
	return (size_t)given;
}

int pmp_set_decay(pmp_heap_t *h, unsigned long ms)
{
	if (!h || ms > PMP_DECAY_MAX_MS)
		return EINVAL;
	_pmp_lock(h);
	h->decay.ns = (uint64_t)ms * 1000000;
	if (!h->readonly && !h->sealed) /* what waits longer than the new time goes now */
		trim(h, _pmp_os_mono_ns(), 0);
	_pmp_unlock(h);
	for (unsigned i = 0, n = __atomic_load_n(&h->npools, __ATOMIC_ACQUIRE); i < n; i++)
		pmp_set_decay(h->pools[i], ms);
	return 0;
}

unsigned long pmp_get_decay(pmp_heap_t *h)
{
	return h ? (unsigned long)(h->decay.ns / 1000000) : 0;
}

void _pmp_decay_reset(struct pmp_heap *h)
{
	h->decay.count = 0;
	h->decay.bytes = 0;
}
