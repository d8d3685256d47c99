/* layout.h: what the cli suite's heap builders (mkheap, mksparse, mkload) expect a closed heap to hold, derived from
 * the blocks they allocated and freed and from the heap format (format.h: blocks of up to PMP_SMALL_MAX bytes are
 * slots of PMP_SLAB-byte slab pages whose payload is PMP_SLAB-aligned, with a struct pmp_page header before the
 * slots; every other block is a chain block with a PMP_HDR-byte header; the arena runs from PMP_OFF_ARENA to the
 * PMP_HDR-byte end sentinel; no two free chain blocks are adjacent).
 *
 * Must never: ask the library what the heap holds (no walk, no stats counts, no check: the expectations must be able
 * to disagree with the command's answers; where the arena ends is the caller's to say), or be linked into anything
 * but the test programs.
 */
#ifndef PMP_TEST_LAYOUT_H
#define PMP_TEST_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

struct layout_page {
	uint64_t start;  /* original address of the page (its header) */
	uint64_t slot;   /* slot size: the usable size of its blocks */
	uint64_t live;   /* slots the program holds */
};

struct layout {
	uint64_t base;               /* the heap's original address */
	struct layout_page *pages;   /* sorted by start */
	size_t npages, pcap, last;   /* last: the page looked up last (allocations come in address order) */
	uint64_t (*chain)[2];        /* the live chain blocks, [header, end) */
	size_t nchain, ccap;
};

/* what a check of the closed heap counts: every slot a block, the pages apart, the free chain blocks between */
struct layout_counts {
	uint64_t used, free, pages;
};

void layout_init(struct layout *l, const void *base);
/* a block of usable size n that the program now holds / has given back (chain blocks given back leave the layout:
 * only the slots' pages remember them) */
void layout_alloc(struct layout *l, const void *p, size_t n);
void layout_free(struct layout *l, const void *p, size_t n);
/* the page a slot at p is in; NULL for a chain block's address */
const struct layout_page *layout_page(struct layout *l, const void *p);
uint64_t layout_capacity(uint64_t slot); /* slots of that size in one page */
uint64_t layout_slot_index(const struct layout_page *pg, const void *p); /* which slot of its page p is */
/* the closed heap, whose arena ends at mapped bytes from the base: a page whose slots were all given back is given
 * back to the chain by the close */
void layout_counts(struct layout *l, uint64_t mapped, struct layout_counts *c);
void layout_fini(struct layout *l);

#endif
