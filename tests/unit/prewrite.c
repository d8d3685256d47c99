/* prewrite.c: the prewrite of fresh space (region.c), seen through a recording prewrite operation on a memory heap.
 *
 * Holds: one heap of every kind of block (slab sizes, chain blocks below and above the 1 MiB limit, reallocs, frees)
 * whose prewrites are recorded and carried out as the file's are (zeros), and the properties they must have: no byte
 * of a live block or of the chain is written (the patterns and pmp_check see it), nothing in the default first chunk
 * (a small heap is touched only as the program touches it), and past it each block carved from fresh space has the
 * step after it written ahead, but not the middle of a block over the limit.
 * Must never: stand in for the file layer's own test (tests/api/files.c), or pass when no prewrite happens.
 */
#include "unit.h"

#define MAX_RANGES 8192
static struct pmp_heap_ops rec_ops;
static uint64_t rec_lo[MAX_RANGES], rec_hi[MAX_RANGES];
static unsigned rec_n;
static uint64_t rec_bytes;

static int rec_prewrite(struct pmp_heap *h, uint64_t off, uint64_t len)
{
	cr_assert_lt(rec_n, MAX_RANGES);
	cr_assert(off + len <= h->end, "a prewrite past the arena's end (%llu + %llu)", (unsigned long long)off,
		  (unsigned long long)len);
	cr_assert_geq(off, PMP_DEFAULT_INITIAL, "a prewrite at %llu, in the first chunk", (unsigned long long)off);
	memset(h->base + off, 0, len); /* what the file's zeros do */
	rec_lo[rec_n] = off;
	rec_hi[rec_n++] = off + len;
	rec_bytes += len;
	return 0;
}

/* bytes of [lo, hi) that some prewrite covered */
static uint64_t covered(uint64_t lo, uint64_t hi)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < rec_n; i++) {
		uint64_t a = rec_lo[i] > lo ? rec_lo[i] : lo, z = rec_hi[i] < hi ? rec_hi[i] : hi;
		n += z > a ? z - a : 0;
	}
	return n;
}

/* a heap on mem whose prewrites are recorded (none yet) */
static struct pmp_heap *rec_heap(void *mem, size_t len)
{
	struct pmp_heap *h = u_heap(mem, len);
	rec_n = 0;
	rec_bytes = 0;
	rec_ops = *h->ops;
	rec_ops.prewrite = rec_prewrite;
	h->ops = &rec_ops;
	return h;
}

Test(prewrite, only_what_holds_nothing_and_past_the_first_chunk)
{
	size_t len = (size_t)96 << 20;
	void *mem = u_map(len);
	struct pmp_heap *h = rec_heap(mem, len);
	enum { N = 3000 };
	static uint8_t *p[N];
	static size_t n[N];
	uint64_t seed = 99;
	size_t total = 0;
	int k;
	for (k = 0; k < N && total < ((size_t)60 << 20); k++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		unsigned c = (unsigned)(seed >> 60);
		n[k] = c < 11 ? 8 + (seed >> 20) % 16000 : c < 15 ? 20000 + (seed >> 20) % 900000 : (size_t)2 << 20;
		p[k] = pmp_malloc(h, n[k]);
		cr_assert_not_null(p[k], "block %d of %zu bytes", k, n[k]);
		u_fill(p[k], (uint64_t)k, n[k]);
		total += n[k];
		if (k % 5 == 4) { /* a block grows (in place into fresh space when it can) */
			size_t m = n[k] + 1 + (seed >> 40) % 50000;
			uint8_t *q = pmp_realloc(h, p[k], m);
			cr_assert_not_null(q);
			cr_assert_eq(u_verify(q, (uint64_t)k, n[k]), n[k], "block %d lost bytes in its realloc", k);
			p[k] = q;
			n[k] = m;
			u_fill(q, (uint64_t)k, m);
		}
		if (k % 7 == 6) { /* and one goes: its space is no longer fresh */
			pmp_free(h, p[k - 3]);
			p[k - 3] = NULL;
		}
	}
	for (int i = 0; i < k; i++)
		if (p[i])
			cr_assert_eq(u_verify(p[i], (uint64_t)i, n[i]), n[i], "block %d (%zu bytes) was written over", i,
				     n[i]);
	pmp_report_t r;
	cr_assert_eq(pmp_check(h, &r), 0, "%s", r.msg);
	cr_assert_geq(rec_bytes, (uint64_t)16 << 20, "only %llu bytes prewritten past the first chunk of a %zu MiB heap",
		      (unsigned long long)rec_bytes, total >> 20);
	cr_assert_eq(pmp_close(h), 0);
	munmap(mem, len);
}

/* On a new heap: a block over the limit takes the first chunk and more (its middle is not prewritten), and the next
 * block, carved from fresh space past the first chunk, is prewritten with the step after it. */
Test(prewrite, the_step_after_a_fresh_block)
{
	size_t len = (size_t)32 << 20;
	void *mem = u_map(len);
	struct pmp_heap *h = rec_heap(mem, len);
	uint8_t *big = pmp_malloc(h, (size_t)5 << 20), *b = pmp_malloc(h, 100000);
	cr_assert(big && b);
	u_fill(big, 1, (size_t)5 << 20);
	u_fill(b, 2, 100000);
	uint64_t bo = (uint64_t)(big - h->base), o = (uint64_t)(b - h->base);
	uint64_t step = (uint64_t)256 << 10, stop = (o + 100000 + step) & ~(step - 1);
	cr_assert_geq(o, PMP_DEFAULT_INITIAL, "the second block lies in the first chunk");
	cr_assert_eq(covered(bo, bo + ((uint64_t)5 << 20)), 0, "a 5 MiB block was prewritten");
	cr_assert_geq(covered(o, stop), stop - o - 4096, "the block and the step after it: %llu of %llu bytes prewritten",
		      (unsigned long long)covered(o, stop), (unsigned long long)(stop - o));
	pmp_report_t r;
	cr_assert_eq(pmp_check(h, &r), 0, "%s", r.msg);
	cr_assert_eq(pmp_close(h), 0);
	munmap(mem, len);
}
