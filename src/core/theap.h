/* theap.h: thread heaps and the process-local state of slab pages: the small-block fast paths (inline).
 *
 * Holds: struct pmp_prt (what this process knows of each 64 KiB region: is it a page, its free list, its owner, its
 * count of live slots, the shadow of its live bitmap) and struct pmp_theap (a thread's pages per size class and its
 * operation counters), and the fast paths: a malloc that pops the current page's free list and sets the slot's live
 * bit, a free that clears the bit and pushes the slot when this thread owns the page, or hands it to the owner
 * through the page's remote list.
 * Neither takes a lock or writes a cache line another thread writes.
 * Must never: be stored in the heap (pointers, owners and free lists are this process's), write a live bit of a
 * page this thread does not own, or trust an address before its page and slot are checked.
 */
#ifndef PMP_THEAP_H
#define PMP_THEAP_H

#include <stddef.h>
#include <stdint.h>

#include "page.h"

/* UNVERIFIED: a page a trusted seal record lists, not yet checked against its header in the heap (the first use,
 * under the lock, makes it a PAGE, or NONE when its header is no page's); the fast paths treat it as no page */
enum { PMP_PRT_NONE = 0, PMP_PRT_PAGE = 1, PMP_PRT_UNVERIFIED = 2 };

struct pmp_theap;

struct pmp_prt {
	/* Read by every thread that frees into the page (its checks of a pointer), written at changes of the page's
	 * list, owner or class only: a line that stays shared between the cores. */
	uint8_t *start;           /* the page (its header) in this process */
	struct pmp_theap *owner;  /* NULL: abandoned, adopted under the heap lock */
	struct pmp_prt *next, *prev; /* in the owner's list of the class (pages or full), or the abandoned list */
	uint32_t slot_size, inv;  /* of the class */
	uint32_t slots_end;       /* capacity * slot_size: a pointer's offset in the slot area is below it */
	uint16_t capacity;        /* slots */
	uint8_t kind;             /* PMP_PRT_* */
	uint8_t cls;
	uint8_t stale;            /* used and the free list are not built from the bitmap yet (first use here) */
	uint8_t full;             /* in the owner's full list */
	/* The owner's, written at every malloc and free: on a line of their own, so that another thread's free, which
	 * reads the line above, does not take it from the owner's core. */
	_Alignas(64) uint8_t *free; /* first free slot, its first 8 bytes link the next; the owner's alone */
	uint8_t *slots;           /* slot 0 (start plus the header), and inv: the owner's copies, on the line its */
	uint32_t own_inv;         /* malloc reads anyway (the fields above are another thread's free's) */
	uint32_t used;            /* live slots as the owner counts them (remote frees not collected count too); 1
				   * while the page is in the owner's full list, so that free's one decrement and test of
				   * zero finds both a page that empties and a full one (theap.c keeps the count in
				   * full_used then) */
	uint32_t full_used;
	uint16_t scan;            /* the harvest cursor: slots below it went to the free list (or were live) */
	uint8_t alone;            /* the head of its class's list with no page after it: emptied, it stays (theap.c's
				   * head_set keeps it, 0 on every other page) */
	/* The shadow of the page's live bitmap: a copy that the owner (or, for a page no thread owns, the lock holder)
	 * keeps equal to the bitmap in the heap. The fast paths test a slot's bit here and then store the whole new
	 * word into the heap, so that they never wait for the heap's bitmap line (page headers sit 64 KiB apart and
	 * compete for the same cache sets): the store goes out on its own. A page new to this process gets its
	 * shadow from the heap (rebuild), a page just made an empty one (prt_init). Its first four words share the
	 * owner's line: a page of at most 256 slots (slots of 256 bytes or more) has all of its shadow there, so that
	 * malloc and the owner's free read one line of the entry, and the page pointer plus a constant addresses any
	 * word (no addition on the fast paths). */
	_Alignas(32) uint64_t shadow[PMP_PAGE_WORDS];
};
_Static_assert(offsetof(struct pmp_prt, free) == 64 && offsetof(struct pmp_prt, shadow) == 96,
	       "a region's shared fields and the owner's each start a cache line, and the shadow's first words share "
	       "the owner's");
_Static_assert(sizeof(struct pmp_prt) % 64 == 0, "entries of two regions share no cache line");

/* the page's slots in use as its owner counts them (a full page keeps them in full_used) */
static inline uint32_t _pmp_prt_live(const struct pmp_prt *pg) { return pg->full ? pg->full_used : pg->used; }

/* A thread keeps this many emptied pages for its next pages of any class (512 KiB): a class whose pages empty and
 * fill in turn, or a program whose sizes shift, takes no lock for them; more go back to the chain. */
#define PMP_THEAP_EMPTY_MAX 8u

/* Sizes up to PMP_DIRECT_MAX find their current page in one load (theap->direct, in 16-byte steps as the class
 * table has them), not through their class: one dependent load less on malloc's fast path, as mimalloc's
 * pages_free_direct. */
#define PMP_DIRECT_MAX 1024u
#define PMP_DIRECT_STEPS (PMP_DIRECT_MAX / 16 + 1)

/* what direct names for a class with no current page: an entry with no free slot, never written (its fast path
 * reads its empty free list and goes to the slow path), so that direct is never NULL */
PMP_HIDDEN extern struct pmp_prt _pmp_no_page;

struct pmp_theap {
	struct pmp_heap *heap;
	uint64_t heap_id;                      /* the heap's id: a thread-local cache naming another handle misses */
	/* the current page of the class of each size (n + 15) / 16 up to PMP_DIRECT_MAX: pages[class] or
	 * &_pmp_no_page. Derived: set only by theap.c's head_set, at every change of a class list. */
	struct pmp_prt *direct[PMP_DIRECT_STEPS];
	struct pmp_prt *pages[PMP_CLASSES];    /* pages with free slots (or not known to be full), current first */
	struct pmp_prt *full[PMP_CLASSES];     /* pages found full */
	struct pmp_prt *empty;                 /* pages emptied, kept for any class, last emptied first */
	uint32_t n_empty;                      /* their number, PMP_THEAP_EMPTY_MAX at most */
	int in_use;                            /* a thread owns this theap (else pooled for the next thread) */
	uint32_t tag;                          /* the owning thread's id, recorded in its pages (forensics) */
	/* operations not yet added to the heap's counters: the fast paths' mallocs and frees count down from
	 * PMP_COUNT_BATCH (a decrement and a test of zero, in one instruction), reallocs up */
	uint32_t malloc_left, free_left;
	uint64_t n_realloc;
	uint64_t seq_next, seq_end;            /* call-site tracking: the batch of sequence numbers taken (track.c) */
	struct pmp_theap *next;                /* in the heap's list, under the heap lock */
	struct pmp_theap *thread_next;         /* in the owning thread's list (its exit releases them) */
	/* a full page got a remote free: set by other threads (only when clear), so on a line of its own, away from
	 * the counters the owner writes at every operation */
	_Alignas(64) int remote_hint;
};

/* ---- the thread's state: one cached (heap id, theap) pair, and the preload's re-entry depth ----
 * One thread-local object, so that the fast paths find all of it from one address. The key holds the id of the
 * heap whose theap is cached (its high 48 bits; PMP_TLS_NO_ID when none) and the preload's depth (its low 16: > 0
 * while this thread is inside an allocator, see preload/shim.h). A heap's fast_id is its id as a key while it
 * allows the fast paths, else PMP_NOT_FAST (0, as a handle starts), which no key equals: one compare of the key
 * with it says that the cached theap is the heap's, that the heap takes the fast path and (for the preload, which
 * compares the whole key) that no call is under way. */
struct pmp_tls {
	uint64_t key;
	struct pmp_theap *theap;
	int in_oom;                /* this thread runs an out-of-memory handler (alloc.c): no second call from it */
};
PMP_HIDDEN extern __thread struct pmp_tls _pmp_tls __attribute__((tls_model("initial-exec")));
#define PMP_TLS_ID_SHIFT 16
#define PMP_TLS_DEPTH_MASK (((uint64_t)1 << PMP_TLS_ID_SHIFT) - 1)
#define PMP_TLS_NO_ID (UINT64_MAX >> PMP_TLS_ID_SHIFT) /* no heap's: ids count up from 1 */
#define PMP_NOT_FAST 0u /* the key of id 0, which no heap has */
/* a heap id as its key (depth 0) */
#define PMP_TLS_KEY(id) ((uint64_t)(id) << PMP_TLS_ID_SHIFT)
/* the key of the heap whose theap this thread has cached (0: none), depth 0 */
static inline __attribute__((always_inline)) uint64_t _pmp_tls_heap_key(void) { return _pmp_tls.key & ~PMP_TLS_DEPTH_MASK; }
/* th (of the heap with id id; PMP_TLS_NO_ID and NULL: none) becomes the cached theap; the depth stays */
static inline void _pmp_tls_cache(uint64_t id, struct pmp_theap *th)
{
	_pmp_tls.theap = th;
	_pmp_tls.key = (_pmp_tls.key & PMP_TLS_DEPTH_MASK) | PMP_TLS_KEY(id);
}
/* this thread's theap of h if it has cached it, else NULL */
static inline struct pmp_theap *_pmp_theap_cached(const struct pmp_heap *h)
{
	return _pmp_tls_heap_key() == PMP_TLS_KEY(h->id) ? _pmp_tls.theap : NULL;
}
/* this thread's theap for h, made when it has none; NULL when none can be made (no memory) */
PMP_HIDDEN struct pmp_theap *_pmp_theap_bind(struct pmp_heap *h);
static inline __attribute__((always_inline)) struct pmp_theap *_pmp_theap_of(struct pmp_heap *h)
{
	if (__builtin_expect(_pmp_tls_heap_key() == PMP_TLS_KEY(h->id), 1))
		return _pmp_tls.theap;
	return _pmp_theap_bind(h);
}

/* ---- slow paths (theap.c) ---- */
/* the fast path found no free slot in the current page of class c: collect, switch, adopt or make a page */
PMP_HIDDEN void *_pmp_small_alloc_slow(struct pmp_heap *h, struct pmp_theap *th, unsigned c);
/* a free that is not the page owner's: onto the page's remote list */
PMP_HIDDEN void _pmp_small_free_remote(struct pmp_heap *h, struct pmp_prt *pg, uint8_t *p, uint32_t i);
/* a free found its region UNVERIFIED: the page is checked now (takes the lock) */
PMP_HIDDEN void _pmp_page_verify(struct pmp_heap *h, struct pmp_prt *pg);
PMP_HIDDEN _Noreturn void _pmp_small_fatal(const struct pmp_heap *h, const void *p, const char *why);
/* the rest of th's free of p in its page pg, r what _pmp_small_release returned (not PMP_RELEASED): the page
 * changes lists, or (no live slot starts at p) an abort that says which it was, an invalid pointer or a double free */
PMP_HIDDEN void _pmp_small_released(struct pmp_theap *th, struct pmp_prt *pg, const uint8_t *p, int r);

/* Under the lock, when the chain has no room: the empty abandoned pages, and the empty pages `mine` (the calling
 * thread's theap, or NULL) keeps for reuse, go back to the chain. Returns how many did. */
PMP_HIDDEN unsigned _pmp_theaps_shed_locked(struct pmp_heap *h, struct pmp_theap *mine);

/* the thread's operation counts into the heap's counters (in the file): every PMP_COUNT_BATCH operations, at
 * page changes and at the end, so that a heap left by a crash counts all but the last batch of each thread */
#define PMP_COUNT_BATCH 256
/* inline: the fast paths call nothing, so they save no register; the heap is th's own, so that they need not keep
 * the heap's address in a register for this rare branch */
static inline __attribute__((always_inline)) void _pmp_theap_flush_counts(struct pmp_theap *th)
{
	struct pmp_heap *h = th->heap;
	/* atomic adds: threads flush without the lock */
	__atomic_add_fetch(&h->ctl->n_malloc, (uint64_t)(PMP_COUNT_BATCH - th->malloc_left), __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->ctl->n_free, (uint64_t)(PMP_COUNT_BATCH - th->free_left), __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->ctl->n_realloc, th->n_realloc, __ATOMIC_RELAXED);
	th->malloc_left = th->free_left = PMP_COUNT_BATCH;
	th->n_realloc = 0;
}

/* the region entry of heap offset off */
static inline __attribute__((always_inline)) struct pmp_prt *_pmp_prt_of(const struct pmp_heap *h, uint64_t off)
{
	return &h->prt[off >> PMP_SLAB_SHIFT];
}

/* ---- fast paths ---- */

/* v as a value GCC cannot see through (an empty asm that may change it): it addresses shadow[v] with the shadow's
 * offset as displacement then, where it would add the offset to v in a register of its own for two uses */
#define PMP_OPAQUE(v) __asm__("" : "+r"(v))

/* the one store sequence of a live-bitmap word: the shadow, then (the crash point between them) the heap's word,
 * written whole and never read */
static inline __attribute__((always_inline)) void _pmp_live_store(struct pmp_prt *pg, uintptr_t w, uint64_t v)
{
	/* PMP_OPAQUE: GCC must take w as changed, so that it cannot keep the shadow word's index from the load before
	 * (w plus the shadow's offset in a register of its own: a lea, and on free a register too many) */
	PMP_OPAQUE(w);
	pg->shadow[w] = v;
	PMP_CRASHPOINT();
	((struct pmp_page *)(void *)(pg->slots - sizeof(struct pmp_page)))->live[w] = v;
}

/* the live-bitmap word v with the bit of slot i (i % 64: its place in its word) set; _pmp_bit_take clears it and
 * says whether it was set. On x86-64 one bts or btr (whose carry is the bit before), which GCC does not emit for
 * the C forms below. */
#if defined(__x86_64__)
static inline __attribute__((always_inline)) uint64_t _pmp_bit_set(uint64_t v, uint64_t i)
{
	__asm__("btsq %1, %0" : "+r"(v) : "r"(i) : "cc");
	return v;
}
static inline __attribute__((always_inline)) int _pmp_bit_take(uint64_t *v, uint64_t i)
{
	_Bool was;
	__asm__("btrq %2, %0" : "+r"(*v), "=@ccc"(was) : "r"(i));
	return was;
}
#else
static inline __attribute__((always_inline)) uint64_t _pmp_bit_set(uint64_t v, uint64_t i)
{
	return v | (uint64_t)1 << (i & 63);
}
static inline __attribute__((always_inline)) int _pmp_bit_take(uint64_t *v, uint64_t i)
{
	uint64_t bit = (uint64_t)1 << (i & 63);
	int was = (*v & bit) != 0;
	*v &= ~bit;
	return was;
}
#endif

/* a slot of page pg (th's current page of its class, or &_pmp_no_page) from its free list, live; NULL (nothing
 * changed) when that list is empty, or (strict 0) when its first link was overwritten: the caller's slow path meets
 * that link again (strict) and aborts, so that the fast path makes no call and needs no stack frame */
static inline __attribute__((always_inline)) void *_pmp_small_take_from(struct pmp_heap *h, struct pmp_theap *th, struct pmp_prt *pg, int strict)
{
	uint8_t *p = pg->free;
	/* one test for both: an empty list (NULL lies below every page's slots, and _pmp_no_page's slots are set
	 * past 0 for it) and a link that a write after free overwrote */
	uint64_t d = (uint64_t)((uintptr_t)p - (uintptr_t)pg->slots);
	if (__builtin_expect(d >= PMP_SLOTS_BYTES, 0)) {
		if (p != NULL && strict)
			_pmp_fatal_pointer(h, "heap", pg->start, "a page's free list was overwritten (write after free)");
		return NULL;
	}
	pg->free = *(uint8_t **)(void *)p;
	pg->used++;
	uint64_t i;
	(void)_pmp_slot_divide((uint32_t)d, &pg->own_inv, &i);
	_pmp_live_store(pg, i >> 6, _pmp_bit_set(pg->shadow[i >> 6], i));
	if (__builtin_expect(--th->malloc_left == 0, 0))
		_pmp_theap_flush_counts(th);
	return p;
}

/* a slot of class c from the current page's free list (see _pmp_small_take_from) */
static inline __attribute__((always_inline)) void *_pmp_small_take(struct pmp_heap *h, struct pmp_theap *th, unsigned c, int strict)
{
	struct pmp_prt *pg = th->pages[c];
	return __builtin_expect(pg != NULL, 1) ? _pmp_small_take_from(h, th, pg, strict) : NULL;
}

/* a slot for n bytes from the current page of its class, or NULL, as _pmp_small_take (strict 0); NULL too when n
 * is no small size (the sizes up to PMP_DIRECT_MAX tested first: they pass one compare) */
static inline __attribute__((always_inline)) void *_pmp_small_take_size(struct pmp_heap *h, struct pmp_theap *th, size_t n)
{
	if (__builtin_expect(n <= PMP_DIRECT_MAX, 1))
		return _pmp_small_take_from(h, th, th->direct[(n + 15) >> 4], 0);
	if (n <= PMP_SMALL_MAX)
		return _pmp_small_take(h, th, _pmp_class_of(n), 0);
	return NULL;
}

static inline __attribute__((always_inline)) void *_pmp_small_pop(struct pmp_heap *h, struct pmp_theap *th, unsigned c)
{
	return _pmp_small_take(h, th, c, 1);
}

/* a slot of class c, live; NULL with errno ENOMEM when no page can be had */
static inline __attribute__((always_inline)) void *_pmp_small_alloc(struct pmp_heap *h, struct pmp_theap *th, unsigned c)
{
	void *p = _pmp_small_pop(h, th, c);
	return __builtin_expect(p != NULL, 1) ? p : _pmp_small_alloc_slow(h, th, c);
}

/* the slot index of p in page pg, or abort on a pointer that is no slot's start (from any thread: the fields it
 * reads are the shared ones) */
static inline __attribute__((always_inline)) uint32_t _pmp_slot_of(const struct pmp_heap *h, const struct pmp_prt *pg, const uint8_t *p)
{
	uint64_t d = (uint64_t)(p - pg->start) - sizeof(struct pmp_page);
	if (__builtin_expect(d >= pg->slots_end || !_pmp_slot_exact(d, pg->inv), 0))
		_pmp_small_fatal(h, p, "no block starts here (invalid pointer)");
	return _pmp_slot_index(d, pg->inv);
}

/* what _pmp_small_release leaves to its caller: nothing, a change of the page's lists, or an abort */
enum { PMP_RELEASED = 0, PMP_RELEASED_MOVE = 1, PMP_RELEASE_BAD = 2 };

/* p lies in page pg, which th owns (the caller checked pg->owner == th, th not NULL): free the slot. Returns
 * PMP_RELEASED_MOVE when the page must change lists (a full page has room again, or an empty page that is not the
 * class's only one goes to the emptied ones), PMP_RELEASE_BAD (nothing changed) when no live slot starts at p: the
 * caller then calls _pmp_small_released, out of line (so that the fast path makes no call of its own and needs no
 * stack frame). */
static inline __attribute__((always_inline)) int _pmp_small_release(struct pmp_theap *th, struct pmp_prt *pg, uint8_t *p,
								    uint64_t off)
{
	/* p (at heap offset off) lies in pg's 64 KiB region, so its offset from slot 0 taken modulo 2^16 is below 2^16
	 * (where the index and its exactness test hold, and the index is below 4,096: a word of the shadow). A
	 * pointer into the header or past the last slot gives an offset past the slots, whose bits are always clear:
	 * it fails the test of the live bit, and _pmp_small_released tells the two apart. Slot 0 lies PMP_SLOT0
	 * past its region's start, at a heap offset that is a multiple of 2^16 (prt_init), so the offset comes from
	 * off alone, without waiting for the load of pg->slots. */
	uint64_t i, lo = _pmp_slot_divide((uint16_t)(off - PMP_SLOT0), &pg->own_inv, &i);
	uintptr_t w = i >> 6;
	PMP_OPAQUE(w); /* as in _pmp_live_store: GCC then addresses both the load and the store with a displacement */
	uint64_t v = pg->shadow[w];
	int was = _pmp_bit_take(&v, i); /* v is stored only when both tests pass */
	if (__builtin_expect(!was || !_pmp_slot_low_exact(lo), 0))
		return PMP_RELEASE_BAD;
	_pmp_live_store(pg, w, v);
	/* every slot handed out lies below the harvest cursor: its place is the free list */
	*(uint8_t **)(void *)p = pg->free;
	pg->free = p;
	if (__builtin_expect(--th->free_left == 0, 0))
		_pmp_theap_flush_counts(th);
	if (__builtin_expect(--pg->used != 0, 1)) /* else empty, or full (see used; a full page is never alone) */
		return PMP_RELEASED;
	return pg->alone ? PMP_RELEASED : PMP_RELEASED_MOVE;
}

static inline __attribute__((always_inline)) void _pmp_small_free_own(struct pmp_theap *th, struct pmp_prt *pg, uint8_t *p,
								      uint64_t off)
{
	int r = _pmp_small_release(th, pg, p, off);
	if (__builtin_expect(r != PMP_RELEASED, 0))
		_pmp_small_released(th, pg, p, r);
}

/* p (at heap offset off) lies in the page pg (kind PMP_PRT_PAGE): free its slot, or abort on a pointer that is no
 * live slot's */
static inline __attribute__((always_inline)) void _pmp_small_free(struct pmp_heap *h, struct pmp_theap *th, struct pmp_prt *pg, uint8_t *p,
								  uint64_t off)
{
	if (__builtin_expect(th != NULL && pg->owner == th, 1))
		_pmp_small_free_own(th, pg, p, off);
	else
		_pmp_small_free_remote(h, pg, p, _pmp_slot_of(h, pg, p));
}

#endif
