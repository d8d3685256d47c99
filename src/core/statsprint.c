/* statsprint.c: a heap's statistics as a short text for people (jemalloc's malloc_stats_print, mimalloc's
 * MIMALLOC_SHOW_STATS): pmp_stats_print, and the preload's PMEMPRELOAD_STATS=1 summary at exit.
 *
 * Holds: the one layout of that summary.
 * Must never: allocate or use stdio (it runs at exit under the preload, and inside programs whose malloc is this
 * heap), or print a figure that pmp_stats does not give.
 */
#include <errno.h>
#include <stdio.h>

#include "../os/os.h"
#include "heap.h"

int pmp_stats_print(pmp_heap_t *h, int fd)
{
	if (!h || fd < 0)
		return EINVAL;
	pmp_stats_t s;
	int e = pmp_stats(h, &s);
	if (e)
		return e;
	char buf[640];
	int n = snprintf(buf, sizeof buf,
			 "pmempreload: heap %#llx (%s): %llu bytes mapped of %llu reserved, %llu slab pages\n"
			 "pmempreload: used %llu bytes in %llu blocks (peak %llu), free %llu bytes in %llu blocks "
			 "(largest %llu)\n"
			 "pmempreload: %llu mallocs, %llu frees, %llu reallocs, %llu growths\n",
			 (unsigned long long)h->orig_base, h->ops->name, (unsigned long long)s.mapped,
			 (unsigned long long)s.reserved, (unsigned long long)s.pages, (unsigned long long)s.used_bytes,
			 (unsigned long long)s.used_blocks, (unsigned long long)s.peak_used_bytes,
			 (unsigned long long)s.free_bytes, (unsigned long long)s.free_blocks,
			 (unsigned long long)s.largest_free, (unsigned long long)s.n_malloc,
			 (unsigned long long)s.n_free, (unsigned long long)s.n_realloc, (unsigned long long)s.n_grow);
	if (n < 0)
		return EIO;
	return _pmp_os_write(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}
