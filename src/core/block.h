/* block.h: block headers and the TLSF free index (segregated lists + two-level bitmaps), inline for the hot path.
 *
 * Holds: header access by heap offset, size rounding, the size-to-list mapping, list insert/remove and the O(1)
 * good-fit search.
 * Must never: take locks (callers hold the heap lock), write a header in an order that leaves the chain unwalkable,
 * or trust a header without the caller having validated it.
 */
#ifndef PMP_BLOCK_H
#define PMP_BLOCK_H

#include <errno.h>
#include <stdint.h>

#include "heap.h"

static inline struct pmp_block_hdr *_pmp_hdr(const struct pmp_heap *h, uint64_t off)
{
	return (struct pmp_block_hdr *)(void *)(h->base + off);
}
static inline struct pmp_free_links *_pmp_links(const struct pmp_heap *h, uint64_t off)
{
	return (struct pmp_free_links *)(void *)(h->base + off + PMP_HDR);
}
static inline uint64_t _pmp_bsize(uint64_t head) { return head & PMP_W_SIZE; }
static inline uint64_t _pmp_sentinel(const struct pmp_heap *h) { return h->end - PMP_HDR; }

/* ---- header words with check bits (see format.h) ---- */
#define PMP_K_HEAD 0x68656164u /* the kind of word enters the check: a prev word never passes for a head */
#define PMP_K_PREV 0x70726576u

static inline uint64_t _pmp_wcheck(uint64_t salt, uint64_t off, uint64_t value, uint64_t kind)
{
	/* the top 16 bits of a product depend on every bit of its operand: one keyed multiply is enough for a check
	 * that tells a torn, stale or stray word from a real one (1 in 65536 passes by chance) */
	uint64_t x = (value ^ salt ^ (off * 0x9e3779b97f4a7c15ull) ^ (kind << 32)) * 0xbf58476d1ce4e5b9ull;
	return x & ~PMP_W_VALUE;
}
/* the word to store at off for a value (size | flags, or a previous size) */
static inline uint64_t _pmp_head_word(const struct pmp_heap *h, uint64_t off, uint64_t v)
{
	v &= PMP_W_VALUE;
	return v | _pmp_wcheck(h->salt, off, v, PMP_K_HEAD);
}
static inline uint64_t _pmp_prev_word(const struct pmp_heap *h, uint64_t off, uint64_t v)
{
	v &= PMP_W_VALUE;
	return v | _pmp_wcheck(h->salt, off + 8, v, PMP_K_PREV);
}
static inline int _pmp_head_valid(const struct pmp_heap *h, uint64_t off, uint64_t w)
{
	return w == _pmp_head_word(h, off, w);
}
static inline int _pmp_prev_valid(const struct pmp_heap *h, uint64_t off)
{
	uint64_t w = _pmp_hdr(h, off)->prev_size;
	return w == _pmp_prev_word(h, off, w);
}
/* one 8-byte store each: a stop leaves the old word or the new one */
static inline void _pmp_set_head(const struct pmp_heap *h, uint64_t off, uint64_t v)
{
	__atomic_store_n(&_pmp_hdr(h, off)->head, _pmp_head_word(h, off, v), __ATOMIC_RELEASE);
}
static inline void _pmp_set_prev(const struct pmp_heap *h, uint64_t off, uint64_t v)
{
	__atomic_store_n(&_pmp_hdr(h, off)->prev_size, _pmp_prev_word(h, off, v), __ATOMIC_RELAXED);
}
/* A header absorbed by a merge is payload now; left as it was it would still pass its check, and recovery, resyncing
 * after damage, could take it for a block of a layout long gone. Called after the merge store, never before. */
static inline void _pmp_forget_head(const struct pmp_heap *h, uint64_t off)
{
	PMP_CRASHPOINT();
	__atomic_store_n(&_pmp_hdr(h, off)->head, 0, __ATOMIC_RELAXED);
}
static inline uint64_t _pmp_prev(const struct pmp_heap *h, uint64_t off) { return _pmp_hdr(h, off)->prev_size & PMP_W_VALUE; }
static inline uint64_t _pmp_head(const struct pmp_heap *h, uint64_t off) { return _pmp_hdr(h, off)->head; }

/* block size for a request of n bytes; 0 if too large */
static inline uint64_t _pmp_adjust(size_t n)
{
	if (n > PMP_MAX_BLOCK)
		return 0;
	uint64_t s = ((uint64_t)n + PMP_HDR + PMP_ALIGN - 1) & ~(uint64_t)(PMP_ALIGN - 1);
	return s < PMP_MIN_BLOCK ? PMP_MIN_BLOCK : s;
}

/* the free block b, whose space up to next (the header after it) the file has never written (the format made it,
 * or a growth), becomes the fresh space: its interior past the header, links and holes word (region.c) */
static inline void _pmp_fresh_set(struct pmp_heap *h, uint64_t b, uint64_t next)
{
	h->fresh_lo = b + 3 * PMP_HDR;
	h->fresh_hi = next;
}

/* ---- pages given back to the file system (see PMP_HOLES in format.h) ---- */
static inline uint64_t *_pmp_holes_word(const struct pmp_heap *h, uint64_t b)
{
	return (uint64_t *)(void *)(h->base + b + 2 * PMP_HDR);
}
/* may free block b (size s) contain punched pages? */
static inline int _pmp_may_have_holes(const struct pmp_heap *h, uint64_t b, uint64_t s)
{
	return h->ops->reserve && s >= 3 * PMP_HDR && *_pmp_holes_word(h, b) == (PMP_HOLES ^ b);
}
static inline void _pmp_mark_holes(const struct pmp_heap *h, uint64_t b, uint64_t s)
{
	if (s >= 3 * PMP_HDR)
		*_pmp_holes_word(h, b) = PMP_HOLES ^ b;
}
/* back the pages of [from, to) with disk blocks again (to is capped at the heap's end); 0 or ENOMEM */
static inline int _pmp_back(struct pmp_heap *h, uint64_t from, uint64_t to)
{
	uint64_t a = from & ~(uint64_t)(PMP_PAGE - 1), z = (to + PMP_PAGE - 1) & ~(uint64_t)(PMP_PAGE - 1);
	if (z > h->end)
		z = h->end;
	return z > a && h->ops->reserve(h, a, z - a) ? ENOMEM : 0;
}

static inline unsigned _pmp_fls(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }

/* list of a free block of size s */
static inline void _pmp_map_insert(uint64_t s, unsigned *fl, unsigned *sl)
{
	if (s < PMP_SMALL_BLOCK) {
		*fl = 0;
		*sl = (unsigned)(s >> PMP_ALIGN_LOG2);
	} else {
		unsigned f = _pmp_fls(s);
		*sl = (unsigned)(s >> (f - PMP_SL_LOG2)) ^ PMP_SL_COUNT;
		*fl = f - PMP_FL_SHIFT + 1;
	}
}

/* first list whose every block fits s (rounds s up to the next list boundary) */
static inline void _pmp_map_search(uint64_t s, unsigned *fl, unsigned *sl)
{
	if (s >= PMP_SMALL_BLOCK)
		s += ((uint64_t)1 << (_pmp_fls(s) - PMP_SL_LOG2)) - 1;
	_pmp_map_insert(s, fl, sl);
}

/* a free-list link that can be followed: none, or a block offset inside the arena */
static inline int _pmp_link_ok(const struct pmp_heap *h, uint64_t x)
{
	return x == 0 || (x >= PMP_OFF_ARENA && x < _pmp_sentinel(h) && !(x & (PMP_ALIGN - 1)));
}

static inline void _pmp_index_insert(struct pmp_heap *h, uint64_t b, uint64_t s)
{
	struct pmp_ctl *c = h->ctl;
	unsigned fl, sl;
	PMP_CRASHPOINT();
	_pmp_map_insert(s, &fl, &sl);
	uint64_t first = c->heads[fl][sl];
	struct pmp_free_links *l = _pmp_links(h, b);
	l->next = first;
	l->prev = 0;
	if (first)
		_pmp_links(h, first)->prev = b;
	c->heads[fl][sl] = b;
	c->fl_bitmap |= (uint64_t)1 << fl;
	c->sl_bitmap[fl] |= 1u << sl;
	c->free_bytes += s;
	c->free_blocks++;
	if (s >= PMP_PUNCH_MIN && h->ops->discard)
		_pmp_decay_note(h, b, s);
}

static inline void _pmp_index_remove(struct pmp_heap *h, uint64_t b, uint64_t s)
{
	struct pmp_ctl *c = h->ctl;
	unsigned fl, sl;
	PMP_CRASHPOINT();
	_pmp_map_insert(s, &fl, &sl);
	struct pmp_free_links *l = _pmp_links(h, b);
	/* safe unlinking: links a write after free has changed would make the unlink write into other blocks. At every
	 * check level: after an open that trusted the seal record, the links are as the file holds them */
	if (!_pmp_link_ok(h, l->prev) || !_pmp_link_ok(h, l->next) ||
	    (l->prev ? _pmp_links(h, l->prev)->next : c->heads[fl][sl]) != b ||
	    (l->next && _pmp_links(h, l->next)->prev != b))
		_pmp_fatal_pointer(h, "heap", h->base + b + PMP_HDR,
				   "free block's list links were overwritten (write after free)");
	if (l->next)
		_pmp_links(h, l->next)->prev = l->prev;
	if (l->prev)
		_pmp_links(h, l->prev)->next = l->next;
	else {
		c->heads[fl][sl] = l->next;
		if (!l->next) {
			c->sl_bitmap[fl] &= ~(1u << sl);
			if (!c->sl_bitmap[fl])
				c->fl_bitmap &= ~((uint64_t)1 << fl);
		}
	}
	c->free_bytes -= s;
	c->free_blocks--;
	if (s >= PMP_PUNCH_MIN && h->decay.count)
		_pmp_decay_forget(h, b); /* before anything may reuse it: a punch must never reach a block in use */
}

/* a free block of at least s bytes, or 0 */
static inline uint64_t _pmp_index_find(const struct pmp_heap *h, uint64_t s)
{
	const struct pmp_ctl *c = h->ctl;
	unsigned fl, sl;
	_pmp_map_search(s, &fl, &sl);
	if (fl >= PMP_FL_COUNT)
		return 0;
	uint32_t slmap = sl < 32 ? c->sl_bitmap[fl] & (~0u << sl) : 0;
	if (!slmap) {
		uint64_t flmap = fl + 1 < 64 ? c->fl_bitmap & (~(uint64_t)0 << (fl + 1)) : 0;
		if (!flmap)
			return 0;
		fl = (unsigned)__builtin_ctzll(flmap);
		slmap = c->sl_bitmap[fl];
	}
	sl = (unsigned)__builtin_ctz(slmap);
	return c->heads[fl][sl];
}

#endif
