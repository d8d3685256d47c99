/* chain.h: the bounds-checked iterator over the block chain, shared by recovery, check and walk.
 *
 * Holds: one definition of "what the next block is", including the one state a stop can leave mid-growth (an end
 * header before the end, read as a free block reaching the real sentinel).
 * Must never: read outside [arena, end) or loop: every step advances by at least a minimum block.
 */
#ifndef PMP_CHAIN_H
#define PMP_CHAIN_H

#include "block.h"

struct pmp_chain {
	uint64_t off;       /* current block */
	uint64_t size;      /* its size */
	uint64_t head;      /* its raw head word */
	int free;           /* FREE (or an interrupted growth block) */
	int cached;         /* CACHED */
	int lost;           /* LOST: a used block recovery made over damage */
	int grown;          /* an end header before the end: interrupted growth */
	const char *why;    /* when _pmp_chain_next returns -1 */
};

static inline void _pmp_chain_start(struct pmp_chain *c)
{
	c->off = 0;
	c->size = 0;
	c->why = 0;
}

/* The block at off. 1: c describes it; 0: off is the end sentinel; -1: malformed header at off (c->why says how). */
static inline int _pmp_chain_at(const struct pmp_heap *h, uint64_t off, struct pmp_chain *c)
{
	uint64_t sent = _pmp_sentinel(h);
	c->off = off;
	c->size = 0;
	c->free = c->cached = c->lost = c->grown = 0;
	if (off == sent) {
		if (!_pmp_head_valid(h, off, _pmp_head(h, off)) || (_pmp_head(h, off) & PMP_W_VALUE) != PMP_B_END) {
			c->why = "end sentinel overwritten";
			return -1;
		}
		return 0;
	}
	if (off > sent) {
		c->why = "block runs past the end of the arena";
		return -1;
	}
	uint64_t head = _pmp_hdr(h, off)->head, s = _pmp_bsize(head);
	c->head = head;
	c->grown = 0;
	c->lost = 0;
	if (!_pmp_head_valid(h, off, head)) {
		c->why = "block header fails its check (torn, stale or overwritten)";
		return -1;
	}
	if ((head & PMP_W_VALUE) == PMP_B_END) {
		uint64_t gs = sent - off;
		/* growth leaves its end header at the old end, which the superblock names (heaps from before grow_from
		 * existed have 0 there: recovery then looks past the header before it frees anything) */
		if (_pmp_prev(h, sent) != gs || gs < PMP_MIN_BLOCK ||
		    (h->sb.grow_from && off != h->sb.grow_from - PMP_HDR)) {
			c->why = "end header before the end of the arena";
			return -1;
		}
		c->size = gs;
		c->free = 1;
		c->cached = 0;
		c->grown = 1;
		return 1;
	}
	if ((head & PMP_B_END) || s < PMP_MIN_BLOCK || s > sent - off) {
		c->why = s > sent - off ? "block size runs past the end of the arena" : "malformed block header";
		return -1;
	}
	c->size = s;
	c->free = (head & PMP_B_FREE) != 0;
	c->cached = (head & PMP_B_CACHED) != 0;
	c->lost = (head & PMP_B_LOST) != 0;
	if (c->free + c->cached + c->lost > 1) {
		c->why = "block marked with more than one of free, cached and lost";
		return -1;
	}
	return 1;
}

/* The first offset after off where a block starts whose header passes its check and whose size the next block's
 * boundary tag confirms (or the sentinel). The confirmation turns away a header of a layout long gone, which could
 * otherwise claim bytes of blocks that are live now. Skips what the layer says holds no data (file holes), so a
 * sparse file costs what it holds, not what it declares. */
static inline uint64_t _pmp_chain_resync(const struct pmp_heap *h, uint64_t off)
{
	uint64_t sent = _pmp_sentinel(h), data = 0, hole = 0;
	struct pmp_chain c;
	for (uint64_t y = off + PMP_ALIGN; y < sent; y += PMP_ALIGN) {
		if (y >= hole && h->ops->data_extent) {
			if (h->ops->data_extent((struct pmp_heap *)h, y, &data, &hole) || data >= sent)
				return sent;
			if (data > y)
				y = (data + PMP_ALIGN - 1) & ~(uint64_t)(PMP_ALIGN - 1);
			if (y >= sent)
				return sent;
		}
		if (_pmp_chain_at(h, y, &c) == 1 &&
		    (y + c.size == sent || (_pmp_prev_valid(h, y + c.size) && _pmp_prev(h, y + c.size) == c.size)))
			return y;
	}
	return sent;
}

/* Is the interrupted growth c describes real? Where the superblock names the old end, _pmp_chain_at checked the
 * position; a heap from before grow_from (0) only had growth if no block follows the end header. */
static inline int _pmp_chain_growth_real(const struct pmp_heap *h, const struct pmp_chain *c)
{
	return !c->grown || h->sb.grow_from || _pmp_chain_resync(h, c->off) == _pmp_sentinel(h);
}

/* The next block after c (the first one after _pmp_chain_start); same results as _pmp_chain_at. */
static inline int _pmp_chain_next(const struct pmp_heap *h, struct pmp_chain *c)
{
	return _pmp_chain_at(h, c->off ? c->off + c->size : PMP_OFF_ARENA, c);
}

#endif
