/* sizes.c: the limits and overheads of the heap format, for callers who size their memory (memoman's
 * mm_block_size_min/max, mm_pool_overhead, mm_alloc_overhead).
 *
 * Holds: pmp_block_size_min, pmp_block_size_max, pmp_heap_overhead, pmp_alloc_overhead, computed from the same
 * constants and class table the allocator uses, so that they cannot drift from what pmp_stats shows.
 * Must never: touch a heap, or describe a size the allocator does not really give.
 */
#include "page.h"

_Static_assert(PMP_MAX_LEN == PMP_MAX_BLOCK, "the header's limit is the format's");

size_t pmp_block_size_min(void)
{
	return _pmp_class_size(_pmp_class_of(1));
}

size_t pmp_block_size_max(void)
{
	/* the one free block of an empty heap of PMP_MAX_LEN bytes, less its header */
	return (size_t)(PMP_MAX_LEN - PMP_OFF_ARENA - PMP_HDR - PMP_HDR);
}

size_t pmp_heap_overhead(void)
{
	return PMP_OFF_ARENA + PMP_HDR; /* page 0 to the arena, and the end sentinel */
}

size_t pmp_alloc_overhead(size_t n)
{
	if (n > pmp_block_size_max())
		return 0;
	if (n <= PMP_SMALL_MAX)
		return _pmp_class_size(_pmp_class_of(n)) - n;
	return (size_t)(_pmp_adjust(n) - n);
}
