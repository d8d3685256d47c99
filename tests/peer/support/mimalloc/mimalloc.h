/* mimalloc.h (peer shim): mimalloc's API names, as far as its test-api.c and test-stress.c use them, mapped onto
 * the standard C and POSIX allocation functions, so that mimalloc's tests exercise the preloaded malloc.
 *
 * mi_malloc_aligned is aligned_alloc (mimalloc's own aligned_alloc is this function); mi_zalloc_aligned is
 * aligned_alloc followed by zeroing, which is what mimalloc guarantees. mimalloc's heaps (mi_heap_*),
 * offset alignment (mi_*_aligned_at) and options have no standard counterpart; the checks that use them are
 * removed from test-api.c by the fetch script (see tests/peer/README.md), so they are not declared here.
 * Must never: map a mimalloc function onto one with a weaker guarantee.
 */
#ifndef PEER_MIMALLOC_H
#define PEER_MIMALLOC_H

#include <limits.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

/* functions, not macros: test-api.c takes the address of one (&mi_calloc) */
static inline void *mi_malloc(size_t n) { return malloc(n); }
static inline void *mi_calloc(size_t n, size_t s) { return calloc(n, s); }
static inline void *mi_realloc(void *p, size_t n) { return realloc(p, n); }
static inline void *mi_reallocarray(void *p, size_t n, size_t s) { return reallocarray(p, n, s); }
static inline void mi_free(void *p) { free(p); }
static inline size_t mi_usable_size(const void *p) { return malloc_usable_size((void *)p); }
static inline int mi_posix_memalign(void **pp, size_t align, size_t n) { return posix_memalign(pp, align, n); }
static inline void *mi_memalign(size_t align, size_t n) { return memalign(align, n); }
static inline void *mi_malloc_aligned(size_t n, size_t align) { return aligned_alloc(align, n); }
static inline char *mi_realpath(const char *f, char *resolved) { return realpath(f, resolved); }

static inline void *mi_zalloc_aligned(size_t n, size_t align)
{
	void *p = aligned_alloc(align, n);
	if (p)
		memset(p, 0, n);
	return p;
}

#endif
