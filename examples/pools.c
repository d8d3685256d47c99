/* pools.c: one heap over three static buffers that are not next to each other (memoman's mm_add_pool), its sizes
 * and overheads, a pool given back, and the whole heap emptied at once (mm_reset).
 *
 *   pools   makes a heap in buffer A and adds buffers B and C as pools, allocates records of 20,000 bytes until
 *           all three are full and says which buffer each run of records went to, frees the records of B and
 *           removes B, checks the heap, then resets it: every record gone in one call, the heap empty and
 *           consistent
 *
 * Each pool is a heap of its own inside its buffer (pmp_heap_attach could open it alone); the first heap's handle
 * joins them in this process, so after a restart the program adds them again with PMP_POOL_ATTACH.
 * Must never: use a record after the reset (the reset frees everything; the pointers are dangling).
 */
#include <stdio.h>
#include <string.h>

#include <pmempreload.h>

#define SIZE (512 * 1024)
static _Alignas(4096) unsigned char a[SIZE], b[SIZE], c[SIZE];

static const char *name_of(pmp_heap_t *h, const void *p)
{
	void *m = pmp_heap_pool_of(h, p);
	return m == a ? "A" : m == b ? "B" : m == c ? "C" : "?";
}

static void check(pmp_heap_t *h, const char *when)
{
	pmp_report_t r;
	pmp_stats_t s;
	pmp_stats(h, &s);
	if (pmp_check(h, &r) == 0)
		printf("%s: consistent, %llu used blocks, %llu bytes in its buffers\n", when,
		       (unsigned long long)s.used_blocks, (unsigned long long)s.mapped);
	else
		printf("%s: CORRUPT: %s\n", when, r.msg);
}

int main(void)
{
	pmp_heap_t *h;
	int e = pmp_heap_create(a, sizeof a, 0, &h);
	if (!e)
		e = pmp_heap_add_pool(h, b, sizeof b, 0);
	if (!e)
		e = pmp_heap_add_pool(h, c, sizeof c, 0);
	if (e) {
		fprintf(stderr, "pools: %s\n", pmp_strerror(e));
		return 1;
	}
	printf("each buffer: %d bytes, %zu of metadata; a record of 20000 bytes takes %zu\n", SIZE,
	       pmp_heap_overhead(), 20000 + pmp_alloc_overhead(20000));

	static char *rec[128];
	int n = 0, run = 0;
	const char *cur = NULL;
	while (n < 128 && (rec[n] = pmp_malloc(h, 20000)) != NULL) {
		snprintf(rec[n], 20000, "record %d", n);
		const char *where = name_of(h, rec[n]);
		if (cur && strcmp(cur, where) != 0) {
			printf("  %d records in %s\n", run, cur);
			run = 0;
		}
		cur = where;
		run++;
		n++;
	}
	printf("  %d records in %s\n", run, cur);
	printf("%d records; the heap is full\n", n);

	for (int i = 0; i < n; i++)
		if (pmp_heap_pool_of(h, rec[i]) == (void *)b) {
			pmp_free(h, rec[i]);
			rec[i] = NULL;
		}
	e = pmp_heap_remove_pool(h, b);
	printf("removed B: %s\n", e ? pmp_strerror(e) : "ok");
	e = pmp_heap_remove_pool(h, c);
	printf("removing C: %s\n", e ? pmp_strerror(e) : "ok");
	check(h, "after removing B");

	e = pmp_heap_reset(h);
	printf("reset: %s\n", e ? pmp_strerror(e) : "ok");
	check(h, "after the reset");
	return pmp_close(h) == 0 ? 0 : 1;
}
