/* layout.c: the expected layout of a heap built by the cli suite's test programs (see layout.h): the slab pages
 * their slots make up, and the counts a check of the closed heap must arrive at.
 *
 * Must never: call the library (the expectation is derived, not read back), or stop silently on a lack of memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/format.h"
#include "layout.h"

static void *grow(void *v, size_t *cap, size_t size)
{
	size_t n = *cap ? *cap * 2 : 64;
	void *w = realloc(v, n * size);
	if (!w) {
		fprintf(stderr, "layout: out of memory\n");
		exit(2);
	}
	*cap = n;
	return w;
}

void layout_init(struct layout *l, const void *base)
{
	memset(l, 0, sizeof *l);
	l->base = (uint64_t)(uintptr_t)base;
}

uint64_t layout_capacity(uint64_t slot)
{
	/* the page's payload is the chain block's PMP_SLAB bytes less its header; the page header comes first */
	return (PMP_SLAB - PMP_HDR - sizeof(struct pmp_page)) / slot;
}

uint64_t layout_slot_index(const struct layout_page *pg, const void *p)
{
	return ((uint64_t)(uintptr_t)p - pg->start - sizeof(struct pmp_page)) / pg->slot;
}

static uint64_t page_start(const struct layout *l, const void *p)
{
	return l->base + (((uint64_t)(uintptr_t)p - l->base) & ~(uint64_t)(PMP_SLAB - 1));
}

/* the index of the page starting at start, or where it would go */
static size_t find(struct layout *l, uint64_t start)
{
	if (l->last < l->npages && l->pages[l->last].start == start)
		return l->last;
	size_t lo = 0, hi = l->npages;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->pages[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct layout_page *page(struct layout *l, const void *p, uint64_t slot)
{
	uint64_t start = page_start(l, p);
	size_t i = find(l, start);
	if (i == l->npages || l->pages[i].start != start) {
		if (l->npages == l->pcap)
			l->pages = grow(l->pages, &l->pcap, sizeof *l->pages);
		memmove(&l->pages[i + 1], &l->pages[i], (l->npages - i) * sizeof *l->pages);
		l->pages[i] = (struct layout_page){start, slot, 0};
		l->npages++;
	}
	l->last = i;
	return &l->pages[i];
}

void layout_alloc(struct layout *l, const void *p, size_t n)
{
	if (n <= PMP_SMALL_MAX) {
		page(l, p, n)->live++;
		return;
	}
	if (l->nchain == l->ccap)
		l->chain = grow(l->chain, &l->ccap, sizeof *l->chain);
	l->chain[l->nchain][0] = (uint64_t)(uintptr_t)p - PMP_HDR;
	l->chain[l->nchain][1] = (uint64_t)(uintptr_t)p + n;
	l->nchain++;
}

void layout_free(struct layout *l, const void *p, size_t n)
{
	if (n <= PMP_SMALL_MAX) {
		page(l, p, n)->live--;
		return;
	}
	for (size_t i = 0; i < l->nchain; i++)
		if (l->chain[i][1] == (uint64_t)(uintptr_t)p + n) {
			l->chain[i][0] = l->chain[--l->nchain][0];
			l->chain[i][1] = l->chain[l->nchain][1];
			return;
		}
}

const struct layout_page *layout_page(struct layout *l, const void *p)
{
	uint64_t start = page_start(l, p);
	size_t i = find(l, start);
	return i < l->npages && l->pages[i].start == start ? &l->pages[i] : NULL;
}

static int by_start(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void layout_counts(struct layout *l, uint64_t mapped, struct layout_counts *c)
{
	memset(c, 0, sizeof *c);
	/* the used chain blocks: the live chain blocks and the pages that still hold a slot, each page one block from
	 * its header's PMP_HDR bytes before it to the next block's header */
	size_t n = 0;
	uint64_t (*used)[2] = malloc((l->nchain + l->npages + 1) * sizeof *used);
	if (!used) {
		fprintf(stderr, "layout: out of memory\n");
		exit(2);
	}
	for (size_t i = 0; i < l->nchain; i++, n++) {
		used[n][0] = l->chain[i][0];
		used[n][1] = l->chain[i][1];
		c->used++;
	}
	for (size_t i = 0; i < l->npages; i++) {
		const struct layout_page *pg = &l->pages[i];
		if (!pg->live)
			continue;
		c->pages++;
		c->used += pg->live;
		c->free += layout_capacity(pg->slot) - pg->live;
		used[n][0] = pg->start - PMP_HDR;
		used[n][1] = pg->start + PMP_SLAB - PMP_HDR;
		n++;
	}
	qsort(used, n, sizeof *used, by_start);
	/* the rest of the arena is free chain blocks, one per stretch between used ones (no two are adjacent) */
	uint64_t at = l->base + PMP_OFF_ARENA, end = l->base + mapped - PMP_HDR;
	for (size_t i = 0; i < n; at = used[i][1], i++)
		c->free += used[i][0] > at;
	c->free += end > at;
	free(used);
}

void layout_fini(struct layout *l)
{
	free(l->pages);
	free(l->chain);
	memset(l, 0, sizeof *l);
}
