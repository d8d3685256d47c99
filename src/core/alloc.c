/* alloc.c: the public entry points of the malloc family on an explicit heap: malloc, free, calloc, realloc,
 * reallocarray, memalign, usable_size, owns.
 *
 * Holds: argument checks, the choice of path, and the lock around the chain allocator (region.c).
 * Must never: hold the heap lock across a call into another layer, or change errno in free.
 */
#include <errno.h>
#include <string.h>

#include "block.h"

/* ---- public entry points ---- */

/* a sealed heap (closed, or the process is exiting or executing another program) gives nothing out */
static void *sealed_fail(void)
{
	errno = EROFS;
	return NULL;
}

static int writable(pmp_heap_t *h)
{
	if (!h) {
		errno = EINVAL;
		return 0;
	}
	if (h->readonly) {
		errno = EROFS;
		return 0;
	}
	return 1;
}

void *pmp_malloc(pmp_heap_t *h, size_t n)
{
	if (!writable(h))
		return NULL;
	_pmp_lock(h);
	void *p = h->sealed ? sealed_fail() : _pmp_alloc_locked(h, n, 0);
	_pmp_check_tick(h);
	_pmp_unlock(h);
	return p;
}

void *pmp_memalign(pmp_heap_t *h, size_t align, size_t n)
{
	if (!writable(h))
		return NULL;
	if (align == 0 || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	if (align > ((size_t)1 << 40)) { /* a valid alignment no heap can serve: out of memory, as glibc says */
		errno = ENOMEM;
		return NULL;
	}
	_pmp_lock(h);
	void *p = h->sealed ? sealed_fail() : _pmp_alloc_locked(h, n, align);
	_pmp_check_tick(h);
	_pmp_unlock(h);
	return p;
}

void *pmp_calloc(pmp_heap_t *h, size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = pmp_malloc(h, n);
	if (p) /* a reopened or reused heap is not zero */
		memset(p, 0, n);
	return p;
}

/* Validate p for op; aborts with one message when the check level asks for it, else returns 0. */
static uint64_t checked_block(pmp_heap_t *h, const char *op, const void *p)
{
	const char *why = "";
	uint64_t b = _pmp_block_of(h, p, &why);
	if (!b && h->check_level >= 1)
		_pmp_fatal_pointer(h, op, p, why);
	return b;
}

void pmp_free(pmp_heap_t *h, void *p)
{
	if (!p || !h)
		return;
	int saved = errno;
	if (h->readonly) {
		errno = saved;
		return;
	}
	_pmp_lock(h);
	if (!h->sealed) { /* a sealed heap stays exactly as it was sealed: the block is left in place */
		uint64_t b = checked_block(h, "free", p);
		if (b)
			_pmp_release_locked(h, b);
		_pmp_check_tick(h);
	}
	_pmp_unlock(h);
	errno = saved;
}

void *pmp_realloc(pmp_heap_t *h, void *p, size_t n)
{
	if (!p)
		return pmp_malloc(h, n);
	if (!writable(h))
		return NULL;
	if (n == 0) { /* glibc semantics: free and return NULL */
		pmp_free(h, p);
		return NULL;
	}
	uint64_t want = _pmp_adjust(n);
	if (!want) {
		errno = ENOMEM;
		return NULL;
	}
	_pmp_lock(h);
	if (h->sealed) {
		_pmp_unlock(h);
		return sealed_fail();
	}
	uint64_t b = checked_block(h, "realloc", p);
	if (!b) {
		_pmp_unlock(h);
		errno = EINVAL;
		return NULL;
	}
	h->ctl->n_realloc++;
	_pmp_check_tick(h);
	if (_pmp_resize_locked(h, b, want)) {
		_pmp_unlock(h);
		return p;
	}
	uint64_t old = _pmp_bsize(_pmp_hdr(h, b)->head) - PMP_HDR;
	void *q = _pmp_alloc_locked(h, n, 0);
	if (q) {
		memcpy(q, p, old < n ? old : n);
		_pmp_release_locked(h, b);
	}
	_pmp_unlock(h);
	return q;
}

void *pmp_reallocarray(pmp_heap_t *h, void *p, size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return pmp_realloc(h, p, n);
}

size_t pmp_usable_size(pmp_heap_t *h, const void *p)
{
	if (!p || !h)
		return 0;
	const char *why = "";
	uint64_t b = _pmp_block_of(h, p, &why);
	if (!b) {
		if (h->check_level >= 1 && !h->readonly)
			_pmp_fatal_pointer(h, "malloc_usable_size", p, why);
		return 0;
	}
	return _pmp_bsize(_pmp_hdr(h, b)->head) - PMP_HDR;
}

int pmp_owns(const pmp_heap_t *h, const void *p)
{
	return h && (uintptr_t)p >= (uintptr_t)h->base && (uintptr_t)p - (uintptr_t)h->base < h->reserved;
}
