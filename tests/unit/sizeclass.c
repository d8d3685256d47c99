/* sizeclass.c: unit tests of the size classes: request rounding (_pmp_adjust), the size-to-list mapping
 * (_pmp_map_insert / _pmp_map_search) and the good-fit search over a real index (_pmp_index_find).
 *
 * Holds: properties checked over every block size up to 4 MiB and over sampled sizes up to the largest block.
 * Must never: compare against a table copied from the implementation; each property is derived from what the
 * allocator promises (a found block always fits, insert and search agree, the mapping is monotonic).
 */
#include "unit.h"

/* smallest block size that _pmp_map_insert puts into list (fl, sl) */
static uint64_t list_low(unsigned fl, unsigned sl)
{
	if (fl == 0)
		return (uint64_t)sl << PMP_ALIGN_LOG2;
	return (uint64_t)(PMP_SL_COUNT + sl) << (fl + PMP_FL_SHIFT - 1 - PMP_SL_LOG2);
}

static int list_cmp(unsigned f1, unsigned s1, unsigned f2, unsigned s2)
{
	if (f1 != f2)
		return f1 < f2 ? -1 : 1;
	return s1 < s2 ? -1 : s1 > s2;
}

Test(sizeclass, adjust_rounds_up_minimally)
{
	for (size_t n = 0; n < 70000; n++) {
		uint64_t s = _pmp_adjust(n);
		cr_assert(s >= n + PMP_HDR, "adjust(%zu) = %llu leaves no room", n, (unsigned long long)s);
		cr_assert_eq(s % PMP_ALIGN, 0, "adjust(%zu) = %llu not aligned", n, (unsigned long long)s);
		cr_assert(s >= PMP_MIN_BLOCK);
		cr_assert(s == PMP_MIN_BLOCK || s - PMP_ALIGN < n + PMP_HDR, "adjust(%zu) = %llu wastes a granule", n,
			  (unsigned long long)s);
	}
	cr_assert_eq(_pmp_adjust(0), PMP_MIN_BLOCK);
	cr_assert_neq(_pmp_adjust((size_t)PMP_MAX_BLOCK - 64), 0);
	cr_assert_eq(_pmp_adjust((size_t)PMP_MAX_BLOCK + 1), 0, "a request above the largest block must fail");
	cr_assert_eq(_pmp_adjust(SIZE_MAX), 0, "SIZE_MAX must not wrap around to a small block");
	cr_assert_eq(_pmp_adjust(SIZE_MAX - 15), 0);
}

/* every property of one block size s (a multiple of 16, >= the minimum block) */
static void check_size(uint64_t s, unsigned *pf, unsigned *ps)
{
	unsigned fl, sl, sf, ss;
	_pmp_map_insert(s, &fl, &sl);
	cr_assert(fl < PMP_FL_COUNT && sl < PMP_SL_COUNT, "insert(%llu) = %u/%u out of range", (unsigned long long)s, fl,
		  sl);
	uint64_t lo = list_low(fl, sl);
	cr_assert(lo <= s, "insert(%llu) = %u/%u whose smallest size is %llu", (unsigned long long)s, fl, sl,
		  (unsigned long long)lo);
	/* the next list starts above s */
	unsigned nf = sl + 1 < PMP_SL_COUNT ? fl : fl + 1, ns = sl + 1 < PMP_SL_COUNT ? sl + 1 : 0;
	if (fl == 0 && sl + 1 == PMP_SL_COUNT)
		nf = 1, ns = 0;
	cr_assert(list_low(nf, ns) > s, "insert(%llu) = %u/%u but list %u/%u starts at %llu", (unsigned long long)s, fl,
		  sl, nf, ns, (unsigned long long)list_low(nf, ns));
	/* monotonic in s */
	if (pf)
		cr_assert(list_cmp(*pf, *ps, fl, sl) <= 0, "insert not monotonic at %llu", (unsigned long long)s);
	_pmp_map_search(s, &sf, &ss);
	/* every block of the search list fits s: its smallest member is >= s */
	if (sf < PMP_FL_COUNT) {
		cr_assert(sl < PMP_SL_COUNT);
		cr_assert(list_low(sf, ss) >= s, "search(%llu) = %u/%u holds blocks from %llu", (unsigned long long)s, sf, ss,
			  (unsigned long long)list_low(sf, ss));
	}
	/* insert and search agree: search is the insert list when all its blocks fit, else the next one */
	int c = list_cmp(fl, sl, sf, ss);
	cr_assert(c <= 0, "search(%llu) below insert", (unsigned long long)s);
	if (lo == s)
		cr_assert_eq(c, 0, "search(%llu) skips the list that starts exactly at s", (unsigned long long)s);
	else
		cr_assert(sf == nf && ss == ns, "search(%llu) = %u/%u, expected the next list %u/%u", (unsigned long long)s,
			  sf, ss, nf, ns);
	if (pf) {
		*pf = fl;
		*ps = sl;
	}
}

Test(sizeclass, every_small_size)
{
	unsigned pf = 0, ps = 0;
	for (uint64_t s = PMP_MIN_BLOCK; s <= ((uint64_t)4 << 20); s += PMP_ALIGN)
		check_size(s, &pf, &ps);
}

Test(sizeclass, sampled_huge_sizes)
{
	uint64_t seed = 42;
	unsigned pf = 0, ps = 0;
	/* every power of two and its neighbours, in order */
	for (unsigned k = 6; k < 47; k++) {
		uint64_t p = (uint64_t)1 << k;
		check_size(p - 16, &pf, &ps);
		check_size(p, &pf, &ps);
		check_size(p + 16, &pf, &ps);
	}
	check_size(PMP_MAX_BLOCK - 16, NULL, NULL);
	for (int i = 0; i < 200000; i++) {
		uint64_t s = (u_rand(&seed) % PMP_MAX_BLOCK) & ~(uint64_t)15;
		if (s < PMP_MIN_BLOCK)
			s = PMP_MIN_BLOCK;
		check_size(s, NULL, NULL);
	}
}

/* _pmp_index_find on a real heap: whatever it returns fits the request, and it gives up only when no list at or
 * above the search list holds a block. */
Test(sizeclass, index_find_fits)
{
	size_t len = 64u << 20;
	void *mem = u_map(len);
	struct pmp_heap *h = u_heap(mem, len);
	uint64_t seed = 7;
	/* free blocks of many sizes, kept apart by small used blocks so that they cannot merge */
	enum { N = 3000 };
	static void *blk[N], *sep[N];
	for (int i = 0; i < N; i++) {
		size_t n = (size_t)(u_rand(&seed) % 3 == 0 ? u_rand(&seed) % 20000 : u_rand(&seed) % 600);
		blk[i] = pmp_malloc(h, n);
		sep[i] = pmp_malloc(h, 0);
		cr_assert(blk[i] && sep[i]);
	}
	for (int i = 0; i < N; i += 2)
		pmp_free(h, blk[i]);
	u_assert_check(h, "after building the index");
	for (uint64_t s = PMP_MIN_BLOCK; s < 40000; s += PMP_ALIGN) {
		uint64_t b = _pmp_index_find(h, s);
		if (b) {
			uint64_t head = _pmp_hdr(h, b)->head;
			cr_assert(head & PMP_B_FREE, "find(%llu) returned a used block", (unsigned long long)s);
			cr_assert(_pmp_bsize(head) >= s, "find(%llu) returned a block of %llu", (unsigned long long)s,
				  (unsigned long long)_pmp_bsize(head));
		} else {
			unsigned fl, sl;
			_pmp_map_search(s, &fl, &sl);
			for (unsigned f = fl; f < PMP_FL_COUNT; f++)
				for (unsigned l = f == fl ? sl : 0; l < PMP_SL_COUNT; l++)
					cr_assert_eq(h->ctl->heads[f][l], 0, "find(%llu) gave up although list %u/%u holds a block",
						     (unsigned long long)s, f, l);
		}
	}
	/* the biggest request that can be served is served */
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	void *big = pmp_malloc(h, st.largest_free);
	cr_assert_not_null(big, "largest_free %llu could not be allocated", (unsigned long long)st.largest_free);
	cr_assert_geq(pmp_usable_size(h, big), st.largest_free);
	u_assert_check(h, "after the biggest allocation");
	munmap(mem, len);
}

#include "core/page.h"

/* slab classes: every request up to the largest slot fits its class, the next smaller class would not hold it, the
 * lookup table agrees with the computation, and a class's slots fill its page without running past it */
Test(sizeclass, slab_classes)
{
	for (size_t n = 0; n <= PMP_SMALL_MAX; n++) {
		unsigned c = _pmp_class_of(n);
		cr_assert_lt(c, PMP_CLASSES);
		cr_assert_eq(c, _pmp_class_compute(n), "table and computation disagree for %zu", n);
		cr_assert_geq(_pmp_class_size(c), n, "class %u (%u bytes) too small for %zu", c, _pmp_class_size(c), n);
		cr_assert(c == 0 || _pmp_class_size(c - 1) < n, "%zu fits class %u already", n, c - 1);
		cr_assert(_pmp_class_size(c) <= n + n / 4 + 16, "class %u wastes too much for %zu", c, n);
	}
	cr_assert_eq(_pmp_class_size(PMP_CLASSES - 1), PMP_SMALL_MAX);
	for (unsigned c = 0; c < PMP_CLASSES; c++) {
		uint32_t size = _pmp_class_size(c), cap = _pmp_class_capacity(c), inv = _pmp_class_inv(c);
		cr_assert_eq(size % 16, 0);
		/* up to 8 KiB a page holds 7 slots or more; the four classes above hold 7, 6, 5 and 4, and each is the
		 * largest multiple of 16 that many fill (a slot more would not fit, 16 bytes more per slot neither) */
		if (c < 32) {
			cr_assert_geq(cap, 7, "class %u holds only %u slots", c, cap);
		} else {
			cr_assert_eq(cap, 7 - (c - 32), "class %u holds %u slots", c, cap);
			cr_assert_gt((uint64_t)cap * (size + 16), PMP_SLOTS_BYTES, "class %u could be 16 bytes larger", c);
		}
		cr_assert_leq(cap, PMP_PAGE_WORDS * 64);
		cr_assert_leq((uint64_t)cap * size, PMP_SLOTS_BYTES);
		for (uint64_t d = 0; d < PMP_SLAB; d++) { /* the reciprocal divides exactly over a whole page */
			cr_assert_eq(_pmp_slot_index(d, inv), d / size, "class %u, offset %llu", c, (unsigned long long)d);
			cr_assert_eq(_pmp_slot_exact(d, inv), d % size == 0, "class %u, offset %llu: a slot start?", c,
				     (unsigned long long)d);
			/* the fast paths' form (one mull on x86-64) agrees, its index a whole 64-bit value */
			uint64_t i = UINT64_MAX, lo = _pmp_slot_divide((uint32_t)d, &inv, &i);
			cr_assert_eq(i, d / size, "class %u, offset %llu: divide", c, (unsigned long long)d);
			cr_assert_eq(_pmp_slot_low_exact(lo), d % size == 0, "class %u, offset %llu: divide's test", c,
				     (unsigned long long)d);
		}
	}
}
