/* static-heap.c: a heap in a static buffer, validated with pmp_check and listed with pmp_walk.
 *
 *   static-heap   allocates and frees a few strings, lists the blocks in use and counts the free ones, checks the
 *                 heap, then overruns one block on purpose and shows that pmp_check finds the damage and says where
 *
 * No file, no mmap: the buffer is the heap, and everything about the heap is inside it. pmp_check is the validator
 * to call in a debug build or after a suspected overrun; it returns 0 or PMP_ECORRUPT with the first problem.
 * Small blocks (up to 8 KiB) live in slots of 64 KiB slab pages with no header between them, so an overrun of one is
 * found where it lands in a free slot, which check level 2 (pmp_set_check, the debug setting) keeps poisoned.
 * Must never: write past a block outside the demonstration at the end (that is the bug pmp_check is for).
 */
#include <stdio.h>
#include <string.h>

#include <pmempreload.h>

static _Alignas(4096) unsigned char buffer[256 * 1024];

static const char *state_name(int state)
{
	switch (state) {
	case PMP_BLOCK_USED: return "used";
	case PMP_BLOCK_FREE: return "free";
	case PMP_BLOCK_CACHED: return "cached";
	default: return "lost";
	}
}

struct free_count {
	unsigned long long blocks, bytes;
};

static int list(const pmp_block_t *b, void *user)
{
	struct free_count *f = user;
	if (b->state == PMP_BLOCK_FREE) { /* a page has hundreds of free slots: counted, not listed */
		f->blocks++;
		f->bytes += b->size;
		return 0;
	}
	printf("  offset %-7llu %-6s %6zu usable", (unsigned long long)b->offset, state_name(b->state), b->size);
	if (b->state == PMP_BLOCK_USED)
		printf("  \"%.24s\"", (const char *)b->data);
	printf("\n");
	return 0;
}

static void check(pmp_heap_t *h)
{
	pmp_report_t r;
	if (pmp_check(h, &r) == 0)
		printf("check: consistent: %llu blocks, %llu used (%llu bytes), %llu free (%llu bytes)\n",
		       (unsigned long long)r.blocks, (unsigned long long)r.used_blocks,
		       (unsigned long long)r.bytes_used, (unsigned long long)r.free_blocks,
		       (unsigned long long)r.bytes_free);
	else
		printf("check: CORRUPT at offset %llu: %s\n", (unsigned long long)r.offset, r.msg);
}

int main(void)
{
	pmp_heap_t *h;
	int e = pmp_heap_create(buffer, sizeof buffer, 0, &h);
	if (e) {
		fprintf(stderr, "pmp_heap_create: %s\n", pmp_strerror(e));
		return 1;
	}
	pmp_set_check(h, 2, 0); /* the debug setting: freed memory poisoned, so pmp_check sees writes into it */
	static const char *const words[] = {"alpha", "bravo", "charlie", "delta", "echo"};
	char *s[5];
	for (int i = 0; i < 5; i++) {
		size_t n = strlen(words[i]) * 20 + 1;
		if (!(s[i] = pmp_malloc(h, n)))
			return 1;
		memset(s[i], words[i][0], n - 1);
		memcpy(s[i], words[i], strlen(words[i]));
		s[i][n - 1] = 0;
	}
	pmp_free(h, s[1]);
	pmp_free(h, s[3]);
	printf("blocks in use:\n");
	struct free_count f = {0, 0};
	pmp_walk(h, list, &f);
	printf("free: %llu blocks, %llu bytes\n", f.blocks, f.bytes);
	check(h);

	/* the bug pmp_check exists for: writing past the end of a block tramples what follows it (here the free slot
	 * after it; a block of more than 8 KiB is followed by the next block's header) */
	size_t usable = pmp_usable_size(h, s[2]);
	memset(s[2], '!', usable + 16);
	printf("after writing %zu bytes into a block of %zu usable:\n", usable + 16, usable);
	check(h);
	return 0; /* the heap is damaged: no pmp_close, which would seal it */
}
