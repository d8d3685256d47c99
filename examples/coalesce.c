/* coalesce.c: four adjacent blocks freed in any order leave one free block, and pmp_walk shows it.
 *
 *   coalesce   walks the heap after each free of one order, then tries all 24 orders
 *
 * Freeing a block merges it at once with a free neighbour on either side (boundary tags tell the size of the
 * block before), so no order of frees leaves two free blocks side by side: pmp_check would call that corrupt.
 * A fence block after the four keeps them apart from the rest of the heap's free space, so the merged block is
 * exactly their four blocks.
 * Must never: depend on a block's header size (block_size from the walk says what a block takes).
 */
#include <stdint.h>
#include <stdio.h>

#include <pmempreload.h>

#define BLOCK 32768 /* a size served from the block chain itself, not from a small-size cache */

static _Alignas(4096) unsigned char memory[1 << 20];

struct span {
	uintptr_t lo, hi; /* the bytes of the four blocks, headers included */
	int free_blocks;  /* free blocks inside the span */
	size_t largest;   /* the largest of them */
};

static int in_span(const pmp_block_t *b, void *user)
{
	struct span *s = user;
	uintptr_t a = (uintptr_t)b->addr;
	if (b->state == PMP_BLOCK_FREE && a >= s->lo && a < s->hi) {
		s->free_blocks++;
		if (b->block_size > s->largest)
			s->largest = b->block_size;
	}
	return 0;
}

static int show(const pmp_block_t *b, void *user)
{
	const struct span *s = user;
	uintptr_t a = (uintptr_t)b->addr;
	if (a >= s->lo && a < s->hi)
		printf("    +%-6llu %-4s %6zu bytes\n", (unsigned long long)(a - s->lo),
		       b->state == PMP_BLOCK_FREE ? "free" : "used", b->block_size);
	return 0;
}

/* allocate the four blocks and the fence, free them in order; 0 when one free block spans the four */
static int run(const int order[4], int verbose)
{
	pmp_heap_t *h;
	if (pmp_heap_create(memory, sizeof memory, 0, &h))
		return -1;
	void *b[4];
	for (int i = 0; i < 4; i++)
		b[i] = pmp_malloc(h, BLOCK);
	void *fence = pmp_malloc(h, BLOCK);
	struct span s = {.lo = (uintptr_t)b[0], .hi = (uintptr_t)fence};
	int ok = 1;
	for (int i = 0; i < 4; i++) {
		pmp_free(h, b[order[i]]);
		if (verbose) {
			printf("  after free(b%d):\n", order[i]);
			pmp_walk(h, show, &s);
		}
		ok &= pmp_check(h, NULL) == 0;
	}
	s.free_blocks = 0;
	s.largest = 0;
	pmp_walk(h, in_span, &s);
	ok &= s.free_blocks == 1 && s.largest == s.hi - s.lo;
	pmp_close(h);
	return ok ? 0 : 1;
}

int main(void)
{
	printf("four blocks of %d bytes, freed in the order b2 b0 b3 b1:\n", BLOCK);
	if (run((const int[4]){2, 0, 3, 1}, 1))
		return 1;
	int good = 0, orders = 0;
	for (int a = 0; a < 4; a++)
		for (int b = 0; b < 4; b++)
			for (int c = 0; c < 4; c++)
				for (int d = 0; d < 4; d++) {
					if (a == b || a == c || a == d || b == c || b == d || c == d)
						continue;
					orders++;
					good += run((const int[4]){a, b, c, d}, 0) == 0;
				}
	printf("%d of %d orders left one free block spanning all four\n", good, orders);
	return good != orders;
}
