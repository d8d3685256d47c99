/* static-heap.c: a heap in a static buffer, validated with pmp_check and listed with pmp_walk.
 *
 *   static-heap   allocates and frees a few strings, lists every block, checks the heap, then overruns one block
 *                 on purpose and shows that pmp_check finds the damage and says where
 *
 * No file, no mmap: the buffer is the heap, and everything about the heap is inside it. pmp_check is the validator
 * to call in a debug build or after a suspected overrun; it returns 0 or PMP_ECORRUPT with the first problem.
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

static int list(const pmp_block_t *b, void *user)
{
	(void)user;
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
	printf("blocks:\n");
	pmp_walk(h, list, NULL);
	check(h);

	/* the bug pmp_check exists for: writing past the end of a block tramples the next block's header */
	size_t usable = pmp_usable_size(h, s[2]);
	memset(s[2], '!', usable + 16);
	printf("after writing %zu bytes into a block of %zu usable:\n", usable + 16, usable);
	check(h);
	return 0; /* the heap is damaged: no pmp_close, which would seal it */
}
