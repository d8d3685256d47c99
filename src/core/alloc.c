/* alloc.c: the public entry points of the malloc family on an explicit heap: malloc, free, calloc, realloc,
 * reallocarray, memalign, usable_size, owns.
 *
 * Holds: argument checks, the choice of path, the lock around the chain allocator (region.c), the records of a
 * tracked heap (track.c: every operation on one takes these slow paths with its call site), and what follows a
 * failure for want of memory: the heap's pools in order (pools.c), then the out-of-memory handler.
 * Must never: hold the heap lock across a call into another layer, or change errno in free.
 */
#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "track.h"

/* ---- the slow paths ---- */

/* a sealed heap (closed, or the process is exiting or executing another program) gives nothing out */
static void *sealed_fail(void)
{
	errno = EROFS;
	return NULL;
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

/* p lies in a region this process knows as a slab page: its slot is checked without the lock (the page stays while
 * a slot of it is live). Anything else is checked under the lock: a chain block's boundary tags change when its
 * neighbours do, under the lock, and a check racing them would see a tag half changed. */
static int slot_region(const struct pmp_heap *h, const void *p)
{
	uint64_t off = (uint64_t)((const uint8_t *)p - h->base);
	return h->prt && off < h->end && _pmp_prt_of(h, off)->kind == PMP_PRT_PAGE;
}

static void tick(struct pmp_heap *h)
{
	if (h->check_level >= 2) {
		_pmp_lock(h);
		_pmp_check_tick(h);
		_pmp_unlock(h);
	}
}

/* check level 2: a slot handed out again must still hold the poison its free left (its first word is the free
 * list's link): any other byte changed is a write after free */
static void verify_poison(const struct pmp_heap *h, const uint8_t *p, size_t n)
{
	uint8_t want = _pmp_poison_byte(h);
	for (size_t i = sizeof(void *); i < n; i++)
		if (p[i] != want) {
			char why[128], *o = why, *end = why + sizeof why - 1;
			o = _pmp_put_str(o, end, "freed block was written at offset ");
			o = _pmp_put_hex(o, end, i);
			o = _pmp_put_str(o, end, " after it was freed (use after free)");
			*o = 0;
			_pmp_fatal_pointer(h, "malloc", p, why);
		}
}

static void *chain_alloc(struct pmp_heap *h, size_t n, size_t align)
{
	_pmp_lock(h);
	void *p = h->sealed ? sealed_fail() : _pmp_alloc_locked(h, n, align);
	/* no room: the pages kept empty for reuse go back to the chain first */
	if (!p && !h->sealed && _pmp_theaps_shed_locked(h, _pmp_theap_cached(h)))
		p = _pmp_alloc_locked(h, n, align);
	_pmp_check_tick(h);
	_pmp_unlock(h);
	return p;
}

static void *untracked_alloc(struct pmp_heap *h, size_t n)
{
	if (n <= PMP_SMALL_MAX) {
		struct pmp_theap *th = _pmp_theap_of(h);
		if (th) { /* else no memory for a theap: a chain block serves */
			uint8_t *p = _pmp_small_alloc(h, th, _pmp_class_of(n));
			if (p && h->check_level >= 2) {
				/* a slot (with no room for a page, a chain block serves, unpoisoned) */
				const struct pmp_prt *pg = _pmp_prt_of(h, (uint64_t)(p - h->base));
				if (h->poison_all && pg->kind == PMP_PRT_PAGE)
					verify_poison(h, p, pg->slot_size - _pmp_trail(h));
				tick(h);
			}
			return p;
		}
	}
	return chain_alloc(h, n, 0);
}

/* the usable bytes of a block of a tracked heap just handed out (it is this thread's: no lock needed) */
static uint64_t tracked_usable(const struct pmp_heap *h, const uint8_t *p)
{
	uint64_t off = (uint64_t)(p - h->base);
	const struct pmp_prt *pg = h->prt ? _pmp_prt_of(h, off) : NULL;
	if (pg && pg->kind == PMP_PRT_PAGE)
		return pg->slot_size - PMP_TRAIL;
	return _pmp_bsize(_pmp_head(h, off - PMP_HDR)) - PMP_HDR - PMP_TRAIL;
}

/* a tracked heap: room for the trailer (a slot of 32 bytes at least, so it never meets the free list's link) */
static void *tracked_alloc(struct pmp_heap *h, size_t n, size_t align, const void *pc)
{
	size_t m;
	if (__builtin_add_overflow(n ? n : 1, (size_t)PMP_TRAIL, &m)) {
		errno = ENOMEM;
		return NULL;
	}
	uint8_t *p = align > PMP_ALIGN ? chain_alloc(h, m, align) : untracked_alloc(h, m);
	if (p)
		_pmp_track_alloc(h, p, tracked_usable(h, p), (uint64_t)(uintptr_t)pc);
	return p;
}

void *_pmp_malloc_slow(struct pmp_heap *h, size_t n, const void *pc)
{
	if (h->readonly || h->sealed)
		return sealed_fail();
	if (h->track)
		return tracked_alloc(h, n, 0, pc);
	return untracked_alloc(h, n);
}

void _pmp_free_slow(struct pmp_heap *h, void *p, const void *pc)
{
	if (h->readonly || h->sealed) /* a sealed heap stays exactly as it was sealed: the block is left in place */
		return;
	int saved = errno;
	uint64_t off = (uint64_t)((uint8_t *)p - h->base);
	struct pmp_prt *pg = h->prt && off < h->end ? _pmp_prt_of(h, off) : NULL;
	uint32_t site = h->track ? _pmp_site_id(h, (uint64_t)(uintptr_t)pc) : 0;
	if (pg && __atomic_load_n(&pg->kind, __ATOMIC_ACQUIRE) == PMP_PRT_UNVERIFIED)
		_pmp_page_verify(h, pg); /* its first use in this process: a page, or (its header is no page's) none */
	if (pg && pg->kind == PMP_PRT_PAGE) {
		struct pmp_theap *th = _pmp_theap_cached(h);
		if (h->track && h->check_level < 2 && !(h->flags & PMP_HEAP_ZERO_FREED)) {
			/* tracked, nothing else: the checks of the fast path (a slot's start; its live bit, by the
			 * owner now or when it collects a remote free), the record, the fast path's free */
			_pmp_slot_of(h, pg, p);
			_pmp_track_free(h, p, pg->slot_size - PMP_TRAIL, site);
			_pmp_small_free(h, th, pg, p, off);
			errno = saved;
			return;
		}
		uint64_t size;
		const char *why;
		if (_pmp_user_block(h, p, &size, &why) != PMP_USER_SLOT)
			_pmp_small_fatal(h, p, why);
		if (h->track)
			_pmp_track_free(h, p, size, site);
		/* the slot's bytes go before it is free (its first word becomes the free list's link) */
		if (h->check_level >= 2 || (h->flags & PMP_HEAP_ZERO_FREED))
			memset(p, _pmp_poison_byte(h), (size_t)size);
		_pmp_small_free(h, th, pg, p, off);
		tick(h);
		errno = saved;
		return;
	}
	_pmp_lock(h);
	if (!h->sealed) {
		uint64_t b = checked_block(h, "free", p);
		if (b && h->track)
			_pmp_track_free(h, p, _pmp_bsize(_pmp_head(h, b)) - PMP_HDR - PMP_TRAIL, site);
		if (b)
			_pmp_release_locked(h, b);
		_pmp_check_tick(h);
	}
	_pmp_unlock(h);
	errno = saved;
}

/* an allocation aligned above PMP_ALIGN on the one heap h */
static void *aligned_on(struct pmp_heap *h, size_t n, size_t align, const void *pc)
{
	if (h->track) {
		if (h->sealed)
			return sealed_fail();
		return tracked_alloc(h, n, align, pc);
	}
	return chain_alloc(h, n, align);
}

/* ---- out of memory (pmp_set_oom_handler) ---- */

int pmp_set_oom_handler(pmp_heap_t *h, pmp_oom_fn fn, void *user)
{
	if (!h)
		return EINVAL;
	_pmp_lock(h);
	__atomic_store_n(&h->oom, NULL, __ATOMIC_RELEASE); /* a racing failure sees no handler rather than a mix */
	h->oom_user = user;
	__atomic_store_n(&h->oom, fn, __ATOMIC_RELEASE);
	_pmp_unlock(h);
	return 0;
}

/* the pools of h in their order (pmp_heap_add_pool), after h itself had no room */
static void *alloc_in_pools(struct pmp_heap *h, size_t n, size_t align, const void *pc)
{
	unsigned np = __atomic_load_n(&h->npools, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < np; i++) {
		struct pmp_heap *pool = h->pools[i];
		void *p = align ? aligned_on(pool, n, align, pc) : _pmp_malloc_inline(pool, n, pc);
		if (p)
			return p;
	}
	errno = ENOMEM;
	return NULL;
}

static void *alloc_anywhere(struct pmp_heap *h, size_t n, size_t align, const void *pc)
{
	void *p = align ? aligned_on(h, n, align, pc) : _pmp_malloc_inline(h, n, pc);
	if (!p && errno == ENOMEM && h->npools)
		p = alloc_in_pools(h, n, align, pc);
	return p;
}

/* an allocation of n bytes (align: 0, or above PMP_ALIGN) failed on h: the pools are tried, then the handler, if
 * any, may free memory and ask for one more attempt. Runs without the lock; a failure inside the handler is
 * final. */
static __attribute__((noinline)) void *alloc_failed(struct pmp_heap *h, size_t n, size_t align, const void *pc)
{
	if (errno == ENOMEM && __atomic_load_n(&h->npools, __ATOMIC_ACQUIRE)) {
		void *p = alloc_in_pools(h, n, align, pc);
		if (p)
			return p;
	}
	pmp_oom_fn fn = __atomic_load_n(&h->oom, __ATOMIC_ACQUIRE);
	if (!fn || errno != ENOMEM || _pmp_tls.in_oom)
		return NULL;
	_pmp_tls.in_oom = 1;
	int again = fn(h, n, h->oom_user);
	_pmp_tls.in_oom = 0;
	if (!again) {
		errno = ENOMEM;
		return NULL;
	}
	return alloc_anywhere(h, n, align, pc);
}

/* ---- public entry points ---- */

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

#define CALLER() __builtin_return_address(0)

static void *malloc_at(pmp_heap_t *h, size_t n, const void *pc)
{
	if (!h) {
		errno = EINVAL;
		return NULL;
	}
	void *p = _pmp_malloc_inline(h, n, pc);
	return __builtin_expect(p != NULL, 1) ? p : alloc_failed(h, n, 0, pc);
}

void *pmp_malloc(pmp_heap_t *h, size_t n)
{
	return malloc_at(h, n, CALLER());
}

void *_pmp_memalign_at(pmp_heap_t *h, size_t align, size_t n, const void *pc)
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
	if (align <= PMP_ALIGN)
		return malloc_at(h, n, pc);
	void *p = aligned_on(h, n, align, pc);
	return p ? p : alloc_failed(h, n, align, pc);
}

void *pmp_memalign(pmp_heap_t *h, size_t align, size_t n)
{
	return _pmp_memalign_at(h, align, n, CALLER());
}

void *_pmp_calloc_at(pmp_heap_t *h, size_t nmemb, size_t size, const void *pc)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = malloc_at(h, n, pc);
	if (p) /* a reopened or reused heap is not zero */
		memset(p, 0, n);
	return p;
}

void *pmp_calloc(pmp_heap_t *h, size_t nmemb, size_t size)
{
	return _pmp_calloc_at(h, nmemb, size, CALLER());
}

void _pmp_free_at(pmp_heap_t *h, void *p, const void *pc)
{
	if (!p || !h)
		return;
	_pmp_free_inline(_pmp_pool_route(h, p), p, pc);
}

void pmp_free(pmp_heap_t *h, void *p)
{
	_pmp_free_at(h, p, CALLER());
}

static void *realloc_on(pmp_heap_t *h, void *p, size_t n, const void *pc);

void *_pmp_realloc_at(pmp_heap_t *h, void *p, size_t n, const void *pc)
{
	if (!p)
		return malloc_at(h, n, pc);
	if (!writable(h))
		return NULL;
	struct pmp_heap *o = _pmp_pool_route(h, p);
	void *q = realloc_on(o, p, n, pc);
	if (q || o == h || n == 0 || errno != ENOMEM)
		return q;
	/* p's pool has no room for n bytes: a block anywhere in the heap (h, the pools, the handler) */
	size_t size = pmp_usable_size(o, p);
	if ((q = malloc_at(h, n, pc)) != NULL) {
		memcpy(q, p, size < n ? size : n);
		_pmp_free_at(o, p, pc);
	}
	return q;
}

/* realloc within the one heap h (h itself, or a pool: its moves stay in it) */
static void *realloc_on(pmp_heap_t *h, void *p, size_t n, const void *pc)
{
	if (n == 0) { /* glibc semantics: free and return NULL */
		_pmp_free_at(h, p, pc);
		return NULL;
	}
	if (h->sealed)
		return sealed_fail();
	uint64_t trail = _pmp_trail(h);
	uint64_t want = n <= SIZE_MAX - trail ? _pmp_adjust(n + trail) : 0, size;
	const char *why = "";
	int kind, in_place = 0;
	if (slot_region(h, p)) {
		kind = _pmp_user_block(h, p, &size, &why);
	} else { /* a chain block: checked, and grown or shrunk in place if it can be, in one locked stretch */
		_pmp_lock(h);
		kind = _pmp_user_block(h, p, &size, &why);
		if (kind == PMP_USER_CHAIN && n > PMP_SMALL_MAX && want && !h->sealed) {
			in_place = _pmp_resize_locked(h, (uint64_t)((uint8_t *)p - h->base) - PMP_HDR, want);
			_pmp_check_tick(h);
		}
		_pmp_unlock(h);
	}
	if (!kind) {
		if (h->check_level >= 1)
			_pmp_fatal_pointer(h, "realloc", p, why);
		errno = EINVAL;
		return NULL;
	}
	struct pmp_theap *th = _pmp_theap_of(h);
	if (th)
		th->n_realloc++;
	if (in_place || (kind == PMP_USER_SLOT && n <= size)) {
		/* it holds n bytes now; a tracked block's trailer moves to its new end, naming the realloc */
		if (h->track)
			_pmp_track_alloc(h, p, tracked_usable(h, p), (uint64_t)(uintptr_t)pc);
		return p;
	}
	if (!want) {
		errno = ENOMEM;
		return NULL;
	}
	void *q = malloc_at(h, n, pc);
	if (q) {
		memcpy(q, p, size < n ? size : n);
		_pmp_free_at(h, p, pc);
	}
	return q;
}

void *pmp_realloc(pmp_heap_t *h, void *p, size_t n)
{
	return _pmp_realloc_at(h, p, n, CALLER());
}

void *pmp_reallocarray(pmp_heap_t *h, void *p, size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return _pmp_realloc_at(h, p, n, CALLER());
}

size_t pmp_usable_size(pmp_heap_t *h, const void *p)
{
	if (!p || !h)
		return 0;
	h = _pmp_pool_route(h, p);
	const char *why = "";
	uint64_t size;
	int kind;
	if (slot_region(h, p)) {
		kind = _pmp_user_block(h, p, &size, &why);
	} else if (__atomic_load_n(&h->walker, __ATOMIC_RELAXED) == (const void *)&_pmp_tls) {
		kind = _pmp_user_block(h, p, &size, &why); /* from a pmp_walk callback: this thread holds the lock */
	} else {
		_pmp_lock(h);
		kind = _pmp_user_block(h, p, &size, &why);
		_pmp_unlock(h);
	}
	if (!kind) {
		if (h->check_level >= 1 && !h->readonly)
			_pmp_fatal_pointer(h, "malloc_usable_size", p, why);
		return 0;
	}
	return (size_t)size;
}

int pmp_owns(const pmp_heap_t *h, const void *p)
{
	return h && _pmp_holds(_pmp_pool_route((struct pmp_heap *)h, p), p);
}
