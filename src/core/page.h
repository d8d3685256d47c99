/* page.h: slab pages (see format.h): the size classes, and the persistent page header read and written in place.
 *
 * Holds: the request-size to class mapping, each class's slot size and capacity, the slot index of an address
 * (a multiply by a precomputed reciprocal, exact for every offset inside a page), the keyed page magic, and the
 * checks of a header and of a remote list that recovery, the check and the walk share.
 * Must never: trust a header field before _pmp_page_valid passed, follow a remote link it has not range-checked,
 * or keep any process-local state (that is theap.h's).
 */
#ifndef PMP_PAGE_H
#define PMP_PAGE_H

#include <stdint.h>

#include "block.h"

/* ---- size classes ---- */
/* above 8 KiB: the largest multiples of 16 of which 7, 6, 5 and 4 fill a page's slot area (PMP_SLOTS_BYTES) */
#define PMP_CLASS_BIG0 9264u
#define PMP_CLASS_BIG1 10800u
#define PMP_CLASS_BIG2 12976u
#define PMP_CLASS_BIG3 16208u
static inline unsigned _pmp_class_compute(size_t n)
{
	if (n > 8192)
		return 32u + (n > PMP_CLASS_BIG0) + (n > PMP_CLASS_BIG1) + (n > PMP_CLASS_BIG2);
	if (n <= 128)
		return n ? (unsigned)((n - 1) >> 4) : 0;
	unsigned f = _pmp_fls((uint64_t)(n - 1)); /* 2^f <= n-1 < 2^(f+1), f >= 7 */
	return 8 + (f - 7) * 4 + (unsigned)(((n - 1) >> (f - 2)) & 3);
}
/* every small request by table (one load on the fast path); the computation is the table's definition */
#define PMP_CLASS_STEPS 1024u
PMP_HIDDEN extern const uint8_t _pmp_class_table[PMP_CLASS_STEPS];
static inline __attribute__((always_inline)) unsigned _pmp_class_of(size_t n)
{
	if (__builtin_expect(n <= PMP_SMALL_MAX, 1))
		return _pmp_class_table[(n + 15) >> 4];
	return _pmp_class_compute(n);
}
static inline uint32_t _pmp_class_size(unsigned c)
{
	if (c >= 32)
		return c == 32 ? PMP_CLASS_BIG0 : c == 33 ? PMP_CLASS_BIG1 : c == 34 ? PMP_CLASS_BIG2 : PMP_CLASS_BIG3;
	if (c < 8)
		return (c + 1) << 4;
	unsigned g = (c - 8) / 4, q = (c - 8) % 4;
	return (128u << g) + (32u << g) * (q + 1);
}
/* slot 0's offset in its 64 KiB region: a page (its header) starts the region, as a chain block's payload aligned
 * to PMP_SLAB (region.c), and the next block's chain header ends it */
#define PMP_SLOT0 ((uint32_t)sizeof(struct pmp_page))
#define PMP_SLOTS_BYTES (PMP_SLAB - PMP_HDR - (uint32_t)sizeof(struct pmp_page)) /* the next header ends a region */
static inline uint32_t _pmp_class_capacity(unsigned c) { return PMP_SLOTS_BYTES / _pmp_class_size(c); }
/* a page header's class, capacity and slot size, as the one word that struct pmp_page's shape overlays */
static inline uint64_t _pmp_class_shape(unsigned c)
{
	return (uint64_t)c | (uint64_t)_pmp_class_capacity(c) << 16 | (uint64_t)_pmp_class_size(c) << 32;
}
/* ceil(2^32 / size): (d * inv) >> 32 == d / size for every d < PMP_SLAB (the error d * (inv - 2^32 / size) / 2^32
 * stays below 2^-16 <= 1/size, as size < 2^16) */
static inline uint32_t _pmp_class_inv(unsigned c)
{
	return (uint32_t)((((uint64_t)1 << 32) + _pmp_class_size(c) - 1) / _pmp_class_size(c));
}

/* ---- pages in the heap ---- */
static inline uint64_t _pmp_page_magic(const struct pmp_heap *h, uint64_t off)
{
	return PMP_PAGE_MAGIC ^ ((h->salt ^ (off * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull);
}
static inline struct pmp_page *_pmp_page_at(const struct pmp_heap *h, uint64_t off)
{
	return (struct pmp_page *)(void *)(h->base + off);
}
/* Is the chain block at b (size s, used) a page whose header passes its checks? Its payload offset is the page. */
static inline int _pmp_page_block(const struct pmp_heap *h, uint64_t b, uint64_t s)
{
	uint64_t off = b + PMP_HDR;
	if (s != PMP_SLAB || (off & (PMP_SLAB - 1)))
		return 0;
	const struct pmp_page *pg = _pmp_page_at(h, off);
	return pg->magic == _pmp_page_magic(h, off) && pg->cls < PMP_CLASSES &&
	       pg->slot_size == _pmp_class_size(pg->cls) && pg->capacity == _pmp_class_capacity(pg->cls) &&
	       pg->first_slot == sizeof(struct pmp_page);
}
static inline __attribute__((always_inline)) uint32_t _pmp_slot_index(uint64_t d, uint32_t inv) { return (uint32_t)((d * inv) >> 32); }
/* Is d (< PMP_SLAB) a multiple of the size whose reciprocal is inv? The same product's low 32 bits tell: with
 * d = i * size + r they are r * 2^32 / size + d * (inv - 2^32 / size), that is below d < 2^16 when r == 0 and at
 * least 2^32 / size > 2^16 when r > 0 (size < 2^16). One multiply gives the index and the check. */
static inline __attribute__((always_inline)) int _pmp_slot_exact(uint64_t d, uint32_t inv)
{
	return ((d * inv) & 0xffffffffu) < ((uint64_t)1 << 16);
}
/* The fast paths' form of the two above: the product d * *inv of an offset d < 2^16 and a reciprocal, its high half
 * the index (*index) and its low half the test (returned: below 2^16 when d is a multiple of the size). On x86-64 one
 * mull, which takes the reciprocal from memory and leaves the halves in two registers, where GCC's 64-bit imul
 * needs a load, a copy and two shifts. Both halves are 64-bit values: a 32-bit result clears a register's upper half. */
static inline __attribute__((always_inline)) uint64_t _pmp_slot_divide(uint32_t d, const uint32_t *inv, uint64_t *index)
{
	uint64_t lo = d;
#if defined(__x86_64__)
	__asm__("mull %2" : "+a"(lo), "=d"(*index) : "rm"(*inv) : "cc");
#else
	lo *= *inv;
	*index = lo >> 32;
	lo &= 0xffffffffu;
#endif
	return lo;
}
/* does the low half that _pmp_slot_divide returned say that d is a slot's start? */
static inline __attribute__((always_inline)) int _pmp_slot_low_exact(uint64_t lo) { return (lo & 0xffff0000u) == 0; }

/* the bits of live bitmap word w that stand for slots of a page of capacity slots (the others are always clear) */
static inline uint64_t _pmp_page_word_mask(uint32_t capacity, unsigned w)
{
	return w * 64u >= capacity ? 0 : capacity - w * 64u >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << (capacity - w * 64u)) - 1;
}

/* hidden helpers of page.c */
/* Make the chain block at b (size PMP_SLAB, aligned payload, taken from the index by the caller, not yet marked
 * used) a page of class c: header fields and an empty bitmap first, the magic last; the caller's store of the used
 * head then commits it. */
PMP_HIDDEN void _pmp_page_format(struct pmp_heap *h, uint64_t off, unsigned c, uint32_t owner_tag);
/* Under the lock: the empty page at off (no live bit, no remote free; its owner calls) becomes a page of class c:
 * its shape in one store, so that a stop anywhere leaves a page of one class or the other, both empty. */
PMP_HIDDEN void _pmp_page_reshape(struct pmp_heap *h, uint64_t off, unsigned c);
/* The slots on the page's remote list, as a bitmap (words[PMP_PAGE_WORDS]); NULL when the list is damaged (a link
 * outside the page's slots, not at a slot start, or a slot listed twice: the list is bounded by the capacity). */
PMP_HIDDEN const char *_pmp_page_remote_set(const struct pmp_heap *h, uint64_t off, uint64_t *words);
/* NULL, or what is wrong with the page's bitmap beyond its capacity (what no correct operation changes: safe to
 * check while the page is in use) */
PMP_HIDDEN const char *_pmp_page_beyond(const struct pmp_page *pg);
/* NULL when the page at off is consistent (no bit beyond the capacity, a sound remote list of live slots),
 * else what is wrong; *live gets the number of live slots (bitmap minus the remote list) */
PMP_HIDDEN const char *_pmp_page_wrong(const struct pmp_heap *h, uint64_t off, uint32_t *live);

#endif
