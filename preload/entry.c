/* entry.c: the exported malloc family of libpmempreload.so and the routing between the heap and the fallback.
 *
 * Holds: malloc, free, calloc, realloc, reallocarray, aligned_alloc, memalign, posix_memalign, valloc, pvalloc,
 * malloc_usable_size, cfree and working stand-ins for malloc_trim, mallopt, mallinfo, mallinfo2, malloc_info,
 * malloc_stats; operator delete in all its forms (aliases of free); and malloc's slow half and aligned allocation
 * with the call site given, for operator new (cxx.c). A pointer inside [lo, lo+len) belongs to the heap, anything
 * else to jemalloc (one range compare).
 * Every heap call carries the return address of the exported function (CALLER): a tracked heap records it as the
 * call site; the fast path of an untracked heap never reads it.
 * Must never: route by an "initialised" flag alone, hand a heap pointer to jemalloc or a jemalloc pointer to the
 * heap, change errno in free, call the heap while this thread is already inside it (the depth guard sends such
 * nested calls, e.g. from a signal handler, to the fallback), or be compiled with malloc builtins (-fno-builtin-*).
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/alloc.h"
#include "../src/os/os.h"
#include "shim.h"

#define EXPORT __attribute__((visibility("default")))
#define CALLER() ((const void *)__builtin_return_address(0))

/* The heap to allocate from on this call, or NULL for the fallback. Runs the lazy init on the very first call. */
static inline struct pmp_heap *alloc_heap(void)
{
	int s = __atomic_load_n(&_pmp_state, __ATOMIC_ACQUIRE);
	if (__builtin_expect(s != ST_ACTIVE, 0)) {
		if (s != ST_UNINIT || _pmp_depth)
			return NULL;
		_pmp_shim_init();
		if (__atomic_load_n(&_pmp_state, __ATOMIC_ACQUIRE) != ST_ACTIVE)
			return NULL;
	}
	if (_pmp_depth)
		return NULL;
	return _pmp_writable_heap();
}

/* The fallback's configuration (jemalloc's malloc_conf, renamed): one arena and no thread caches. It serves what
 * comes before init, nested calls and a full heap: rare calls, where per-thread state only costs memory. And with
 * a full address space (RLIMIT_AS) jemalloc 5.3 crashes when a new thread must set up an arena of its own (it
 * associates a thread cache with the arena it failed to make): with one arena there is nothing to set up. */
PMP_HIDDEN const char *jefb_malloc_conf = "narenas:1,tcache:false,background_thread:false";

uint64_t _pmp_fallback_allocs;
#define FALLBACK_COUNT() __atomic_add_fetch(&_pmp_fallback_allocs, 1, __ATOMIC_RELAXED)

/* Every call into an allocator, the heap or the fallback, runs at depth > 0: a fork from a signal handler then
 * knows this thread may hold an allocator lock, and a nested call (a signal handler's malloc) goes to the
 * fallback instead of re-entering the heap. */
#define ENTER() _pmp_enter()
#define LEAVE() _pmp_leave()

static void *fb_malloc(size_t n)
{
	FALLBACK_COUNT();
	ENTER();
	void *p = jefb_malloc(n);
	LEAVE();
	return p;
}
static void *fb_calloc(size_t nmemb, size_t size)
{
	FALLBACK_COUNT();
	ENTER();
	void *p = jefb_calloc(nmemb, size);
	LEAVE();
	return p;
}
static void *fb_realloc(void *q, size_t n)
{
	FALLBACK_COUNT();
	ENTER();
	void *p = jefb_realloc(q, n);
	LEAVE();
	return p;
}
static void *fb_aligned(size_t align, size_t n)
{
	FALLBACK_COUNT();
	ENTER();
	void *p = jefb_aligned_alloc(align, n);
	LEAVE();
	return p;
}
static void fb_free(void *p)
{
	ENTER();
	jefb_free(p);
	LEAVE();
}
static size_t fb_usable(void *p)
{
	ENTER();
	size_t n = jefb_malloc_usable_size(p);
	LEAVE();
	return n;
}

/* The heap did not serve n bytes. EROFS: it was sealed meanwhile (exit or exec under way): the fallback, always.
 * ENOMEM: PMEMPRELOAD_ON_FULL decides. align 0 = plain, zero = calloc. */
static void *heap_failed(size_t n, size_t align, int zero)
{
	if (errno != EROFS) {
		if (n > PMP_MAX_BLOCK || align > ((size_t)1 << 40))
			return NULL; /* no allocator can serve it: ENOMEM stands */
		switch (_pmp_opts.on_full) {
		case FULL_ENOMEM:
			errno = ENOMEM;
			return NULL;
		case FULL_ABORT:
			_pmp_os_fatal("pmempreload: heap full (PMEMPRELOAD_ON_FULL=abort)\n");
		default:
			break;
		}
	}
	if (align)
		return fb_aligned(align, n);
	return zero ? fb_calloc(1, n) : fb_malloc(n);
}

/* malloc's slow half: the heap's slow path (a new page, a chain block, an empty free list), or the fallback */
static __attribute__((noinline)) void *malloc_slow(struct pmp_heap *h, size_t n, const void *pc)
{
	ENTER();
	void *p = _pmp_malloc_slow(h, n, pc);
	LEAVE();
	return p ? p : heap_failed(n, 0, 0);
}

/* everything but the heap's fast path: the first call (init), a nested call, an inert or read-only process */
static __attribute__((noinline)) void *malloc_cold(size_t n, const void *pc)
{
	struct pmp_heap *h = alloc_heap();
	return h ? malloc_slow(h, n, pc) : fb_malloc(n);
}

/* The process heap is set once init made it (and never while it is inert): then the heap decides, its fast path
 * inline; it refuses itself what it may not do (sealed, read-only: EROFS), which heap_failed sends to the fallback. */
static inline void *malloc_at(size_t n, const void *pc)
{
	struct pmp_heap *h = __atomic_load_n(&_pmp_default_heap, __ATOMIC_ACQUIRE);
	if (h != NULL && !_pmp_depth) {
		ENTER();
		void *p = _pmp_malloc_inline(h, n, pc);
		LEAVE();
		return p ? p : heap_failed(n, 0, 0);
	}
	return malloc_cold(n, pc);
}

/* malloc_at, out of line: what _pmp_shim_small_fast does not serve */
__attribute__((noinline)) void *_pmp_shim_malloc_other(size_t n, const void *pc)
{
	return malloc_at(n, pc);
}

/* malloc for a caller that has the call site already (realloc of NULL, an alignment malloc's blocks have): the fast
 * path, else the rest out of line (pc is only read there) */
static inline __attribute__((always_inline)) void *malloc_in(size_t n, const void *pc)
{
	void *p = _pmp_shim_small_fast(n);
	return __builtin_expect(p != NULL, 1) ? p : _pmp_shim_malloc_other(n, pc);
}

/* malloc_in's two steps written out, with the call site read in the slow branch: as an argument of malloc_in it
 * is loaded before the fast path */
EXPORT void *malloc(size_t n)
{
	void *p = _pmp_shim_small_fast(n);
	return __builtin_expect(p != NULL, 1) ? p : _pmp_shim_malloc_other(n, CALLER());
}

/* calloc but for a small block of this thread's page (n = nmemb * size, not overflowing) */
static __attribute__((noinline)) void *calloc_other(size_t nmemb, size_t size, size_t n, const void *pc)
{
	struct pmp_heap *h = alloc_heap();
	if (h) {
		ENTER();
		void *p = _pmp_calloc_at(h, nmemb, size, pc);
		LEAVE();
		if (p)
			return p;
		return heap_failed(n, 0, 1);
	}
	return fb_calloc(nmemb, size);
}

/* malloc's fast path, then the zeroing (a reused or reopened slot holds old bytes), as a tail call */
EXPORT void *calloc(size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = _pmp_shim_small_fast(n);
	return __builtin_expect(p != NULL, 1) ? memset(p, 0, n) : calloc_other(nmemb, size, n, CALLER());
}

/* not the process heap's block, or no process heap */
static __attribute__((noinline)) void free_cold(void *p)
{
	if (!p || _pmp_routes(p))
		return; /* a heap block with no heap to take it (a forked child's fallback mode): left in place */
	int saved = errno;
	fb_free(p);
	errno = saved;
}

/* a heap block that free's fast path did not take (another thread's page, a chain block, no theap yet, a heap
 * that takes the slow paths); a nested free (this thread is inside an allocator already) leaves it in place */
static __attribute__((noinline)) void free_heap(void *p, struct pmp_heap *h, const void *pc)
{
	if (!_pmp_depth) {
		ENTER();
		_pmp_free_inline(h, p, pc);
		LEAVE();
	}
}

/* free's fast path freed a slot of a page whose lists change, or found no live slot at p (r, see
 * _pmp_small_release): done here, out of line, still inside the heap (a tail call, so that the fast path saves no
 * register and needs no stack frame) */
static __attribute__((noinline)) void free_released(const uint8_t *p, struct pmp_prt *pg, int r)
{
	_pmp_small_released(_pmp_tls.theap, pg, p, r);
	LEAVE();
}

/* free keeps errno: the heap's paths keep it themselves (the fast one never touches it), the fallback's is kept
 * in free_cold. A heap block is freed only when this thread is not already inside the heap; the heap itself drops
 * the frees it may not do (read-only, sealed at exit), so the file stays as it was. The key test is malloc's; the
 * fast path is a free into a page this thread owns, and the call site is read in the slow branch only (free's
 * return address would otherwise be loaded, and registers saved, before the fast path). */
EXPORT void free(void *p)
{
	struct pmp_heap *h = __atomic_load_n(&_pmp_fast_heap, __ATOMIC_ACQUIRE);
	uint64_t off = (uint64_t)((uint8_t *)p - h->base);
	if (__builtin_expect(off < h->reserved, 1)) {
		if (__builtin_expect(_pmp_tls.key == h->fast_id, 1)) {
			ENTER();
			struct pmp_prt *pg = _pmp_own_page(h, off);
			if (__builtin_expect(pg != NULL, 1)) {
				int r = _pmp_small_release(_pmp_tls.theap, pg, p, off);
				if (__builtin_expect(r == PMP_RELEASED, 1)) {
					LEAVE();
					return;
				}
				free_released(p, pg, r); /* LEAVEs */
				return;
			}
			LEAVE();
		}
		free_heap(p, h, CALLER());
		return;
	}
	free_cold(p);
}

/* Every other free is free itself, under its own name: cfree (glibc dropped its prototype; old binaries still call
 * it), and operator delete and delete[] in every form
 * (plain, sized, nothrow, aligned, sized aligned, aligned nothrow; Itanium ABI names). The block knows its size and
 * alignment, so their further arguments go unread (passed in registers the callee need not read), and free's
 * return address is the program's call site. Declared here with free's type, which is theirs as far as C knows. */
/* nothrow and leaf: free's attributes, as glibc declares it */
#define FREE_ALIAS(name) EXPORT void name(void *p) __attribute__((alias("free"), nothrow, leaf));
FREE_ALIAS(cfree)
FREE_ALIAS(_ZdlPv)
FREE_ALIAS(_ZdaPv)
FREE_ALIAS(_ZdlPvm)
FREE_ALIAS(_ZdaPvm)
FREE_ALIAS(_ZdlPvRKSt9nothrow_t)
FREE_ALIAS(_ZdaPvRKSt9nothrow_t)
FREE_ALIAS(_ZdlPvSt11align_val_t)
FREE_ALIAS(_ZdaPvSt11align_val_t)
FREE_ALIAS(_ZdlPvmSt11align_val_t)
FREE_ALIAS(_ZdaPvmSt11align_val_t)
FREE_ALIAS(_ZdlPvSt11align_val_tRKSt9nothrow_t)
FREE_ALIAS(_ZdaPvSt11align_val_tRKSt9nothrow_t)

static size_t heap_usable(const void *p)
{
	struct pmp_heap *h = (struct pmp_heap *)pmp_default();
	return h ? pmp_usable_size(h, p) : 0;
}

/* A heap block's data moves to the fallback (the heap cannot hold n bytes, or takes no more writes); the block is
 * freed when h is given. */
static void *move_out(void *p, size_t n, struct pmp_heap *h, const void *pc)
{
	size_t old = heap_usable(p);
	void *q = fb_malloc(n);
	if (q) {
		memcpy(q, p, old < n ? old : n);
		if (h) {
			ENTER();
			_pmp_free_at(h, p, pc);
			LEAVE();
		}
	}
	return q;
}

static void *realloc_at(void *p, size_t n, const void *pc)
{
	if (!p)
		return malloc_at(n, pc);
	if (_pmp_routes(p)) {
		struct pmp_heap *h = _pmp_depth ? NULL : _pmp_writable_heap();
		if (h) {
			ENTER();
			void *q = _pmp_realloc_at(h, p, n, pc);
			LEAVE();
			if (q || n == 0 || n > PMP_MAX_BLOCK)
				return q;
			if (errno == EROFS) /* sealed meanwhile: the block stays, its data moves */
				return move_out(p, n, NULL, pc);
			if (errno != ENOMEM || _pmp_opts.on_full == FULL_ENOMEM)
				return NULL;
			if (_pmp_opts.on_full == FULL_ABORT)
				_pmp_os_fatal("pmempreload: heap full (PMEMPRELOAD_ON_FULL=abort)\n");
			return move_out(p, n, h, pc);
		}
		/* no writable heap: move the data out, leave the block */
		return n ? move_out(p, n, NULL, pc) : NULL;
	}
	struct pmp_heap *h = alloc_heap();
	if (h && n > 0) {
		/* a block from before init (or from a nested call) moves into the heap */
		ENTER();
		void *q = _pmp_malloc_inline(h, n, pc);
		LEAVE();
		if (q) {
			size_t old = fb_usable(p);
			memcpy(q, p, old < n ? old : n);
			fb_free(p);
			return q;
		}
		if (n > PMP_MAX_BLOCK)
			return NULL;
		if (errno != EROFS && _pmp_opts.on_full == FULL_ENOMEM) {
			errno = ENOMEM;
			return NULL;
		}
		if (errno != EROFS && _pmp_opts.on_full == FULL_ABORT)
			_pmp_os_fatal("pmempreload: heap full (PMEMPRELOAD_ON_FULL=abort)\n");
	}
	return fb_realloc(p, n);
}

EXPORT void *realloc(void *p, size_t n)
{
	return realloc_at(p, n, CALLER());
}

EXPORT void *reallocarray(void *p, size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc_at(p, n, CALLER());
}

/* align: a power of two (callers check); up to PMP_ALIGN, every block is aligned: malloc's fast path serves it */
static void *aligned(size_t align, size_t n, const void *pc)
{
	if (align <= PMP_ALIGN)
		return malloc_in(n, pc);
	struct pmp_heap *h = alloc_heap();
	if (h) {
		ENTER();
		void *p = _pmp_memalign_at(h, align, n, pc);
		LEAVE();
		if (p)
			return p;
		return heap_failed(n, align, 0);
	}
	if (align > ((size_t)1 << 40)) {
		errno = ENOMEM;
		return NULL;
	}
	return fb_aligned(align, n);
}

void *_pmp_shim_aligned(size_t align, size_t n, const void *pc)
{
	return aligned(align, n, pc);
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	if (align == 0 || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return aligned(align, n, CALLER());
}

EXPORT void *memalign(size_t align, size_t n)
{
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (align & (align - 1)) /* glibc rounds a non-power of two up */
		align = (size_t)1 << (64 - __builtin_clzll((unsigned long long)align));
	return aligned(align ? align : 1, n, CALLER());
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	int saved = errno;
	void *p = aligned(align, n, CALLER());
	if (!p) /* errno stays ENOMEM as glibc leaves it (programs test it, glibc's own tests among them) */
		return errno = ENOMEM;
	errno = saved;
	*out = p;
	return 0;
}

EXPORT void *valloc(size_t n)
{
	return aligned(PMP_PAGE, n, CALLER());
}

EXPORT void *pvalloc(size_t n)
{
	size_t r;
	if (__builtin_add_overflow(n, (size_t)PMP_PAGE - 1, &r)) {
		errno = ENOMEM;
		return NULL;
	}
	r &= ~(size_t)(PMP_PAGE - 1);
	return aligned(PMP_PAGE, r ? r : PMP_PAGE, CALLER());
}

EXPORT size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	if (_pmp_routes(p))
		return heap_usable(p);
	return fb_usable(p);
}

/* ---- stand-ins: the glibc knobs have no meaning here, the statistics come from the heap ---- */

EXPORT int malloc_trim(size_t pad)
{
	(void)pad;
	return pmp_trim(pmp_default()) > 0; /* 1 when memory was given back, as glibc's */
}

EXPORT int mallopt(int param, int value)
{
	return 1; /* accepted and ignored, as glibc does for parameters it does not know */
}

static void heap_stats(pmp_stats_t *s)
{
	memset(s, 0, sizeof *s);
	struct pmp_heap *h = (struct pmp_heap *)pmp_default();
	if (h)
		pmp_stats(h, s);
}

EXPORT struct mallinfo2 mallinfo2(void)
{
	pmp_stats_t s;
	heap_stats(&s);
	struct mallinfo2 m;
	memset(&m, 0, sizeof m);
	m.arena = s.mapped;
	m.ordblks = s.free_blocks;
	m.uordblks = s.used_bytes;
	m.fordblks = s.free_bytes;
	m.keepcost = s.largest_free;
	return m;
}

static int clamp_int(size_t v)
{
	return v > (size_t)__INT_MAX__ ? __INT_MAX__ : (int)v;
}

EXPORT struct mallinfo mallinfo(void)
{
	struct mallinfo2 m2 = mallinfo2();
	struct mallinfo m;
	memset(&m, 0, sizeof m);
	m.arena = clamp_int(m2.arena);
	m.ordblks = clamp_int(m2.ordblks);
	m.uordblks = clamp_int(m2.uordblks);
	m.fordblks = clamp_int(m2.fordblks);
	m.keepcost = clamp_int(m2.keepcost);
	return m;
}

EXPORT int malloc_info(int options, FILE *fp)
{
	if (options != 0) {
		errno = EINVAL;
		return -1;
	}
	pmp_stats_t s;
	heap_stats(&s);
	fprintf(fp,
		"<malloc version=\"pmempreload-1\">\n"
		"<heap nr=\"0\">\n"
		"<total type=\"used\" count=\"%llu\" size=\"%llu\"/>\n"
		"<total type=\"free\" count=\"%llu\" size=\"%llu\"/>\n"
		"<system type=\"current\" size=\"%llu\"/>\n"
		"<system type=\"max\" size=\"%llu\"/>\n"
		"</heap>\n"
		"</malloc>\n",
		(unsigned long long)s.used_blocks, (unsigned long long)s.used_bytes,
		(unsigned long long)s.free_blocks, (unsigned long long)s.free_bytes,
		(unsigned long long)s.mapped, (unsigned long long)s.reserved);
	return 0;
}

/* right-aligned in glibc's 10-character field */
static char *put_field(char *o, char *end, const char *label, uint64_t v)
{
	char num[24], *n = _pmp_fmt_u64(num, num + sizeof num - 1, v);
	o = _pmp_fmt_str(o, end, label);
	for (long pad = 10 - (n - num); pad > 0 && o < end; pad--)
		*o++ = ' ';
	*n = 0;
	o = _pmp_fmt_str(o, end, num);
	return _pmp_fmt_str(o, end, "\n");
}

/* glibc's layout, so that what parses it keeps working: arena 0 is the heap (nothing is mmapped apart from it).
 * Written with a raw system call: no stdio, and no cancellation point inside the allocator's API. */
EXPORT void malloc_stats(void)
{
	pmp_stats_t s;
	heap_stats(&s);
	char buf[512], *o = buf, *end = buf + sizeof buf - 1;
	o = _pmp_fmt_str(o, end, "Arena 0:\n");
	o = put_field(o, end, "system bytes     = ", s.mapped);
	o = put_field(o, end, "in use bytes     = ", s.used_bytes);
	o = _pmp_fmt_str(o, end, "Total (incl. mmap):\n");
	o = put_field(o, end, "system bytes     = ", s.mapped);
	o = put_field(o, end, "in use bytes     = ", s.used_bytes);
	o = put_field(o, end, "max mmap regions = ", 0);
	o = put_field(o, end, "max mmap bytes   = ", 0);
	*o = 0;
	_pmp_os_write_err(buf);
}
