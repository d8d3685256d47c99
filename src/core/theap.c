/* theap.c: thread heaps: the slow paths of small blocks, and the life of a page in this process.
 *
 * Holds: binding a thread to a heap (a theap per thread and heap, pooled for the next thread when one exits),
 * the page state built from the chain at open, harvesting a page's free slots from its bitmap (a few KiB at a
 * time, so a new page is not touched all at once), collecting remote frees, switching pages, adopting abandoned pages,
 * making and retiring pages, the emptied pages a thread keeps for any class, a thread's exit (its pages are
 * abandoned for others to adopt), a forked child's pages, and the counters kept per thread and summed on demand.
 * Must never: touch the live bits of a page it does not own, take the heap lock on a fast path, or keep a page's
 * free list once the page is not the theap's.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "../os/os.h"
#include "theap.h"
#include "track.h"

__thread struct pmp_tls _pmp_tls __attribute__((tls_model("initial-exec"))) = {.key = PMP_TLS_KEY(PMP_TLS_NO_ID)};

static uint64_t next_heap_id; /* below PMP_TLS_NO_ID: 2^48 - 2 opens */

/* the page's count of slots in use becomes n (a full page keeps it in full_used, see struct pmp_prt; read it
 * with _pmp_prt_live) */
static void set_live(struct pmp_prt *pg, uint32_t n)
{
	if (pg->full)
		pg->full_used = n;
	else
		pg->used = n;
}
/* one slot less in use: a free counted */
static void count_free(struct pmp_prt *pg) { set_live(pg, _pmp_prt_live(pg) - 1); }
/* the page enters (1) or leaves (0) its owner's full list: the flag other threads read, and the count */
static void set_full(struct pmp_prt *pg, int full)
{
	if (full == pg->full)
		return;
	if (full) {
		pg->full_used = pg->used;
		pg->used = 1;
	} else {
		pg->used = pg->full_used;
	}
	__atomic_store_n(&pg->full, (uint8_t)full, __ATOMIC_RELAXED);
}
static struct pmp_page *hdr(const struct pmp_prt *pg) { return (struct pmp_page *)(void *)pg->start; }

_Noreturn void _pmp_small_fatal(const struct pmp_heap *h, const void *p, const char *why)
{
	_pmp_fatal_pointer(h, "free", p, why);
}

/* ---- lists: a page is in exactly one (its owner's pages or full list of its class, or the abandoned list) ----
 * Linked forward through next (NULL ends it) and backward through prev, where the head's prev is the last page, so
 * that a page goes to either end at once. */

static void list_remove(struct pmp_prt **head, struct pmp_prt *pg)
{
	struct pmp_prt *first = *head;
	if (first == pg)
		*head = pg->next;
	else
		pg->prev->next = pg->next;
	if (pg->next)
		pg->next->prev = pg->prev;
	else if (first != pg)
		first->prev = pg->prev; /* pg was the last */
	pg->next = pg->prev = NULL;
}

static void list_push(struct pmp_prt **head, struct pmp_prt *pg)
{
	struct pmp_prt *first = *head;
	pg->prev = first ? first->prev : pg;
	pg->next = first;
	if (first)
		first->prev = pg;
	*head = pg;
}

/* last place: a page that got room again is used after the pages that had room already (it had one slot free,
 * they likely more), so that a class with many nearly full pages does not take the slow path at every malloc */
static void list_append(struct pmp_prt **head, struct pmp_prt *pg)
{
	struct pmp_prt *first = *head;
	if (!first) {
		list_push(head, pg);
		return;
	}
	struct pmp_prt *last = first->prev;
	last->next = pg;
	pg->prev = last;
	pg->next = NULL;
	first->prev = pg;
}

/* ---- a theap's class lists: their heads and what direct derives from them ---- */

/* slots past 0: its empty free list (NULL) fails the fast path's one test of the list's first link */
struct pmp_prt _pmp_no_page = {.slots = (uint8_t *)(uintptr_t)PMP_SLAB};

/* what derives from class c's list (theap.h), after a change of it: every size step of the class names the head
 * in direct (the steps of class c follow those of class c - 1: sizes above the smaller class's, up to its own),
 * and the head is alone when no page follows it (no other page of the list is: the class changes below clear the
 * flag of a page that enters the list or stops being its head) */
static void head_set(struct pmp_theap *th, unsigned c)
{
	struct pmp_prt *head = th->pages[c];
	if (head)
		head->alone = head->next == NULL;
	for (uint32_t k = c ? _pmp_class_size(c - 1) / 16 + 1 : 0; k <= _pmp_class_size(c) / 16 && k < PMP_DIRECT_STEPS; k++)
		th->direct[k] = head ? head : &_pmp_no_page;
}

/* the changes of th->pages[c] one page at a time, each keeping what head_set derives (release and shed, which let
 * pages go in bulk, call head_set themselves). A page becomes the head only of an empty list: the slow path looks
 * for one (adopts, unparks, makes) only when every page of the class is full, so no head before it keeps a stale
 * alone flag. */
static void class_push(struct pmp_theap *th, unsigned c, struct pmp_prt *pg)
{
	assert(th->pages[c] == NULL);
	list_push(&th->pages[c], pg);
	head_set(th, c);
}
static void class_append(struct pmp_theap *th, unsigned c, struct pmp_prt *pg)
{
	pg->alone = 0;
	list_append(&th->pages[c], pg);
	head_set(th, c);
}
static void class_remove(struct pmp_theap *th, unsigned c, struct pmp_prt *pg)
{
	list_remove(&th->pages[c], pg);
	pg->alone = 0;
	head_set(th, c);
}

#ifndef NDEBUG
/* direct equals the heads of th's class lists, and each head is alone when no page follows it, the page after it
 * not (an assertion's test: the slow path checks it; the unit tests check every page) */
static int heads_ok(const struct pmp_theap *th)
{
	for (unsigned k = 0; k < PMP_DIRECT_STEPS; k++) {
		struct pmp_prt *head = th->pages[_pmp_class_table[k]];
		if (th->direct[k] != (head ? head : &_pmp_no_page))
			return 0;
	}
	for (unsigned c = 0; c < PMP_CLASSES; c++) {
		const struct pmp_prt *head = th->pages[c];
		if (head && (head->alone != (head->next == NULL) || (head->next && head->next->alone)))
			return 0;
	}
	return 1;
}
#endif

/* ---- a page's free slots ---- */

/* Slots are harvested in stretches of one bitmap word and about PMP_HARVEST_BYTES of slot memory at most (one
 * slot at least): a page's memory is touched as its slots are handed out, not all at its making (the free list's
 * links live in the slots), so a page of large slots that holds a few blocks keeps the rest of its memory
 * unbacked, and a page made under the lock links a few slots there. */
#define PMP_HARVEST_BYTES 4096u

/* push the slots of the next stretch from pg->scan whose bits are clear (highest first, so the lowest pops first),
 * pg->scan moves past it; how many were pushed */
static int harvest_step(struct pmp_heap *h, struct pmp_prt *pg)
{
	uint32_t first = pg->scan, w = first >> 6, end = (w + 1) * 64, n = PMP_HARVEST_BYTES / pg->slot_size;
	if (end > first + (n ? n : 1))
		end = first + (n ? n : 1);
	if (end > pg->capacity)
		end = pg->capacity;
	pg->scan = (uint16_t)end;
	/* the clear bits of the word from first (bit first & 63) to end */
	uint64_t free = ~pg->shadow[w] >> (first & 63) << (first & 63);
	if (end - w * 64 < 64)
		free &= ((uint64_t)1 << (end - w * 64)) - 1;
	int got = 0;
	while (free) {
		uint32_t i = w * 64 + 63 - (uint32_t)__builtin_clzll(free);
		free &= ~((uint64_t)1 << (i & 63));
		uint8_t *p = pg->start + sizeof(struct pmp_page) + (uint64_t)i * pg->slot_size;
		if (h->check_level >= 2) /* poisoned like a freed slot, so the reuse check holds for every slot */
			memset(p, _pmp_poison_byte(h), pg->slot_size - _pmp_trail(h));
		*(uint8_t **)(void *)p = pg->free;
		pg->free = p;
		got++;
	}
	return got;
}

/* the next stretch with free slots into the free list; 0 when every slot is harvested */
static int harvest(struct pmp_heap *h, struct pmp_prt *pg)
{
	while (pg->scan < pg->capacity)
		if (harvest_step(h, pg))
			return 1;
	return 0;
}

/* the slots other threads freed: their bits cleared here, by the owner; a slot freed twice aborts */
static void collect(struct pmp_heap *h, struct pmp_prt *pg)
{
	struct pmp_page *page = hdr(pg);
	if (!__atomic_load_n(&page->remote, __ATOMIC_RELAXED))
		return;
	uint64_t x = __atomic_exchange_n(&page->remote, 0, __ATOMIC_ACQUIRE);
	uint64_t off = (uint64_t)(pg->start - h->base);
	uint32_t n = 0;
	for (; x; n++) {
		uint64_t d = x - off - sizeof(struct pmp_page);
		uint32_t i = _pmp_slot_index(d, pg->inv);
		if (n >= pg->capacity || x < off || d >= PMP_SLOTS_BYTES || i >= pg->capacity || (uint64_t)i * pg->slot_size != d)
			_pmp_fatal_pointer(h, "free", h->base + x, "a page's list of frees from other threads is damaged");
		uint8_t *p = h->base + x;
		uint64_t next = *(uint64_t *)(void *)p, v = pg->shadow[i >> 6], bit = (uint64_t)1 << (i & 63);
		if (!(v & bit))
			_pmp_small_fatal(h, p, "block is already free (double free?)");
		if (h->check_level >= 2)
			memset(p, _pmp_poison_byte(h), pg->slot_size - _pmp_trail(h));
		_pmp_live_store(pg, i >> 6, v & ~bit);
		*(uint8_t **)(void *)p = pg->free; /* it was handed out: it was harvested */
		pg->free = p;
		count_free(pg);
		x = next;
	}
	/* counted as frees here, by whoever collects (the freeing thread may have no theap of this heap), straight
	 * into the heap's counter: one add for the whole list */
	__atomic_add_fetch(&h->ctl->n_free, n, __ATOMIC_RELAXED);
}

/* a free slot at hand in pg, the owner's: when its free list is empty, the slots other threads freed come before
 * its untouched ones (as mimalloc's collect before its extend), so that warm memory is reused and the rest of the
 * page stays unbacked while frees wait; 0 when the page is full */
static int refill(struct pmp_heap *h, struct pmp_prt *pg)
{
	if (!pg->free)
		collect(h, pg);
	return pg->free || harvest(h, pg);
}

/* a page new to this process (opened, or left by a forked-away thread): its count and its whole free list from
 * the bitmap (so that every live slot is below the harvest cursor: a free never finds its slot unharvested), then
 * the remote frees. Every word of the shadow is set, and no bit past the capacity (the page was checked to have
 * none, but the heap is a shared file): the owner's free takes a set bit for a slot's start (theap.h). */
static void rebuild(struct pmp_heap *h, struct pmp_prt *pg)
{
	uint32_t used = 0;
	uint64_t *shadow = pg->shadow;
	for (unsigned w = 0; w < PMP_PAGE_WORDS; w++) {
		uint64_t keep = _pmp_page_word_mask(pg->capacity, w);
		shadow[w] = keep ? __atomic_load_n(&hdr(pg)->live[w], __ATOMIC_RELAXED) & keep : 0;
		used += (uint32_t)__builtin_popcountll(shadow[w]);
	}
	set_live(pg, used);
	pg->free = NULL;
	pg->scan = 0;
	pg->stale = 0;
	while (pg->scan < pg->capacity)
		harvest_step(h, pg);
	collect(h, pg);
}

/* the class of a page, as this process keeps it (the header's shape is page.c's) */
static void prt_shape(struct pmp_prt *pg, unsigned c)
{
	pg->cls = (uint8_t)c;
	pg->capacity = (uint16_t)_pmp_class_capacity(c);
	pg->slot_size = _pmp_class_size(c);
	pg->inv = pg->own_inv = _pmp_class_inv(c);
	pg->slots_end = (uint32_t)pg->capacity * pg->slot_size;
}

static void prt_init(struct pmp_heap *h, struct pmp_prt *pg, uint64_t off, unsigned c, int stale, uint8_t kind)
{
	/* the shadow too: a page just made has an empty bitmap (a stale one's shadow is read at its rebuild) */
	memset(pg, 0, sizeof *pg);
	pg->start = h->base + off;
	pg->slots = pg->start + sizeof(struct pmp_page);
	assert(((uint64_t)(pg->slots - h->base) & (PMP_SLAB - 1)) == PMP_SLOT0); /* the fast free's index needs it */
	prt_shape(pg, c);
	pg->stale = (uint8_t)stale;
	__atomic_store_n(&pg->kind, kind, __ATOMIC_RELEASE);
}

/* ---- pages a trusted seal record listed: checked at their first use ---- */

static _Noreturn void damaged_page(const struct pmp_heap *h, uint64_t off, const char *why)
{
	char msg[200], *o = msg, *end = msg + sizeof msg - 1;
	o = _pmp_put_str(o, end, why);
	o = _pmp_put_str(o, end, " since the heap's clean close (see pmempreload check)");
	*o = 0;
	_pmp_fatal_pointer(h, "page check", h->base + off, msg);
}

/* Under the lock: the UNVERIFIED page pg, in the list *head, checked as the full open would have checked it. A
 * header that is no page's makes the region a plain used block (as that open would have seen it); a page of another
 * class than the record said moves to that class; damage that open would have refused (the page's chain header,
 * its bitmap past the capacity, its remote list) aborts with one message (at check level 0 the page is dropped
 * instead: its slots are neither handed out nor freed). Returns 1 when pg stays in *head as a page. */
static int verify_locked(struct pmp_heap *h, struct pmp_prt *pg, struct pmp_prt **head)
{
	uint64_t off = (uint64_t)(pg->start - h->base), b = off - PMP_HDR, w = _pmp_head(h, b);
	const char *why = NULL;
	uint32_t live;
	if (!_pmp_head_valid(h, b, w) || !_pmp_prev_valid(h, b))
		why = "the page's chain header fails its check";
	else if ((w & PMP_B_FLAGS) || _pmp_bsize(w) != PMP_SLAB)
		why = "the page's chain block is no longer a used block of a page's size";
	else if (_pmp_page_block(h, b, PMP_SLAB) && (why = _pmp_page_wrong(h, off, &live)) == NULL) {
		unsigned c = _pmp_page_at(h, off)->cls;
		if (c == pg->cls) {
			__atomic_store_n(&pg->kind, PMP_PRT_PAGE, __ATOMIC_RELEASE);
			return 1;
		}
		list_remove(head, pg);
		prt_init(h, pg, off, c, 1, PMP_PRT_PAGE);
		list_push(&h->abandoned[c], pg);
		return 0;
	}
	if (why && h->check_level >= 1)
		damaged_page(h, off, why);
	list_remove(head, pg);
	__atomic_store_n(&pg->kind, PMP_PRT_NONE, __ATOMIC_RELEASE);
	return 0;
}

void _pmp_page_verify(struct pmp_heap *h, struct pmp_prt *pg)
{
	pthread_mutex_lock(&h->lock);
	if (__atomic_load_n(&pg->kind, __ATOMIC_ACQUIRE) == PMP_PRT_UNVERIFIED)
		verify_locked(h, pg, &h->abandoned[pg->cls]); /* never owned before it is checked */
	pthread_mutex_unlock(&h->lock);
}

/* an empty page goes back to the chain (under the lock): its bits are all clear, so no slot of it is live */
static void retire_locked(struct pmp_heap *h, struct pmp_prt *pg)
{
	uint64_t off = (uint64_t)(pg->start - h->base);
	__atomic_store_n(&pg->kind, PMP_PRT_NONE, __ATOMIC_RELEASE);
	pg->owner = NULL;
	_pmp_free_locked(h, off - PMP_HDR); /* the head store makes it a free block: a page no more */
}

/* ---- owning pages ---- */

static void own(struct pmp_theap *th, struct pmp_prt *pg)
{
	__atomic_store_n(&pg->owner, th, __ATOMIC_RELEASE);
	PMP_CRASHPOINT();
	__atomic_store_n(&hdr(pg)->owner_tag, th->tag, __ATOMIC_RELAXED);
	set_full(pg, 0);
	class_push(th, pg->cls, pg);
}

/* ---- emptied pages kept for reuse: owned, in no class list, their bitmap clear ---- */

/* pg (taken out of its list, used 0) waits among th's emptied pages; when they are many, the oldest goes back to
 * the chain */
static void park(struct pmp_heap *h, struct pmp_theap *th, struct pmp_prt *pg)
{
	set_full(pg, 0);
	list_push(&th->empty, pg);
	if (++th->n_empty <= PMP_THEAP_EMPTY_MAX)
		return;
	struct pmp_prt *old = th->empty->prev;
	list_remove(&th->empty, old);
	th->n_empty--;
	_pmp_lock(h);
	retire_locked(h, old);
	_pmp_unlock(h);
}

/* an emptied page, one of class c if th keeps one, becomes the current page of class c; 0 when none can (the
 * heap is sealed). A change of class is made under the lock, as every change of a page's shape is: the checks
 * and a fork's copy of the heap, which hold it, never see a page's shape change under them. */
static int unpark(struct pmp_heap *h, struct pmp_theap *th, unsigned c)
{
	struct pmp_prt *pg = th->empty;
	for (struct pmp_prt *q = pg; q; q = q->next)
		if (q->cls == c) {
			pg = q;
			break;
		}
	collect(h, pg); /* nothing waits there but a free of a slot that is not live: it aborts */
	if (pg->cls != c) {
		_pmp_lock(h);
		if (h->sealed) {
			_pmp_unlock(h);
			return 0;
		}
		_pmp_page_reshape(h, (uint64_t)(pg->start - h->base), c);
		prt_shape(pg, c);
		pg->free = NULL;
		pg->scan = 0;
		_pmp_unlock(h);
	}
	list_remove(&th->empty, pg);
	th->n_empty--;
	class_push(th, c, pg);
	if (!pg->free)
		harvest(h, pg);
	return 1;
}

/* Under the lock: a page for class c that has a free slot, now first in th's list: adopted, or made. */
static struct pmp_prt *acquire_locked(struct pmp_heap *h, struct pmp_theap *th, unsigned c)
{
	struct pmp_prt *pg;
	while ((pg = h->abandoned[c]) != NULL) {
		if (pg->kind == PMP_PRT_UNVERIFIED && !verify_locked(h, pg, &h->abandoned[c]))
			continue;
		list_remove(&h->abandoned[c], pg);
		if (pg->stale)
			rebuild(h, pg);
		own(th, pg);
		if (refill(h, pg))
			return pg;
		/* full: kept in the full list, where a free finds it */
		class_remove(th, c, pg);
		set_full(pg, 1);
		list_push(&th->full[c], pg);
	}
	uint64_t off = _pmp_page_new_locked(h, c, th->tag);
	if (!off)
		return NULL;
	pg = _pmp_prt_of(h, off);
	prt_init(h, pg, off, c, 0, PMP_PRT_PAGE);
	own(th, pg);
	harvest(h, pg);
	return pg;
}

/* the full pages that got remote frees since the hint was set go back into their class's list */
static void recheck_full(struct pmp_heap *h, struct pmp_theap *th)
{
	__atomic_store_n(&th->remote_hint, 0, __ATOMIC_RELAXED);
	for (unsigned c = 0; c < PMP_CLASSES; c++) {
		struct pmp_prt *pg = th->full[c], *next;
		for (; pg; pg = next) {
			next = pg->next;
			if (!__atomic_load_n(&hdr(pg)->remote, __ATOMIC_ACQUIRE))
				continue;
			collect(h, pg);
			if (_pmp_prt_live(pg) == 0) {
				list_remove(&th->full[c], pg);
				park(h, th, pg);
			} else if (pg->free || harvest(h, pg)) {
				list_remove(&th->full[c], pg);
				set_full(pg, 0);
				class_append(th, c, pg);
			}
		}
	}
}

void *_pmp_small_alloc_slow(struct pmp_heap *h, struct pmp_theap *th, unsigned c)
{
	assert(heads_ok(th));
	for (;;) {
		struct pmp_prt *pg = th->pages[c];
		while (pg) {
			if (refill(h, pg))
				return _pmp_small_alloc(h, th, c);
			/* full: out of the way */
			class_remove(th, c, pg);
			set_full(pg, 1);
			list_push(&th->full[c], pg);
			pg = th->pages[c];
		}
		if (__atomic_load_n(&th->remote_hint, __ATOMIC_RELAXED)) {
			recheck_full(h, th);
			if (th->pages[c])
				continue;
		}
		/* an emptied page of this thread's, unless another thread left pages of the class (their slots first) */
		if (th->empty && !__atomic_load_n(&h->abandoned[c], __ATOMIC_RELAXED) &&
		    !__atomic_load_n(&h->sealed, __ATOMIC_RELAXED) && unpark(h, th, c))
			continue;
		_pmp_lock(h);
		_pmp_theap_flush_counts(th);
		pg = h->sealed ? NULL : acquire_locked(h, th, c);
		if (!pg) {
			/* no room for a page (a small heap, or a full one): a chain block of the request's size, after the
			 * empty pages went back to the chain if there is no room for that either */
			void *p = h->sealed ? NULL : _pmp_alloc_locked(h, _pmp_class_size(c), 0);
			if (!p && !h->sealed && _pmp_theaps_shed_locked(h, th))
				p = _pmp_alloc_locked(h, _pmp_class_size(c), 0);
			if (h->sealed)
				errno = EROFS;
			_pmp_unlock(h);
			return p;
		}
		_pmp_unlock(h);
	}
}

void _pmp_small_free_remote(struct pmp_heap *h, struct pmp_prt *pg, uint8_t *p, uint32_t i)
{
	struct pmp_page *page = hdr(pg);
	if (h->check_level >= 1 &&
	    !(__atomic_load_n(&page->live[i >> 6], __ATOMIC_RELAXED) & ((uint64_t)1 << (i & 63))))
		_pmp_small_fatal(h, p, "block is already free (double free?)");
	uint64_t self = (uint64_t)(p - h->base), old = __atomic_load_n(&page->remote, __ATOMIC_RELAXED);
	do {
		__atomic_store_n((uint64_t *)(void *)p, old, __ATOMIC_RELAXED);
		PMP_CRASHPOINT();
	} while (!__atomic_compare_exchange_n(&page->remote, &old, self, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
	/* the owner keeps full pages out of its way: tell it one has a free slot (a theap is never unmapped while
	 * its heap is open, so a stale owner pointer only costs that theap a needless look) */
	if (__atomic_load_n(&pg->full, __ATOMIC_RELAXED)) {
		struct pmp_theap *o = __atomic_load_n(&pg->owner, __ATOMIC_RELAXED);
		if (o && !__atomic_load_n(&o->remote_hint, __ATOMIC_RELAXED))
			__atomic_store_n(&o->remote_hint, 1, __ATOMIC_RELAXED);
	}
}

/* the owner's page became empty or stopped being full */
static void page_changed(struct pmp_heap *h, struct pmp_theap *th, struct pmp_prt *pg)
{
	unsigned c = pg->cls;
	if (pg->full) { /* a free made room: back among the pages with free slots. The fast path counted it down on
			 * the 1 a full page shows (to 0); it is counted on the page's count here */
		count_free(pg);
		list_remove(&th->full[c], pg);
		set_full(pg, 0);
		class_append(th, c, pg);
	}
	/* an empty page that is not the class's only one waits among the thread's emptied pages, for any class */
	if (_pmp_prt_live(pg) == 0 && !pg->alone) {
		class_remove(th, c, pg);
		park(h, th, pg);
	}
}

void _pmp_small_released(struct pmp_theap *th, struct pmp_prt *pg, const uint8_t *p, int r)
{
	if (r == PMP_RELEASE_BAD) {
		_pmp_slot_of(th->heap, pg, p); /* aborts when no slot starts at p */
		_pmp_small_fatal(th->heap, p, "block is already free (double free?)");
	}
	page_changed(th->heap, th, pg);
}

/* ---- a thread's end: its pages are abandoned ---- */

/* pg, out of its list: back to the chain when empty (the frees other threads made collected first, so that an empty
 * page goes), else abandoned for another thread to adopt; a forked-away thread's page is abandoned as it is, to be
 * rebuilt from its bitmap */
static void let_go_locked(struct pmp_heap *h, struct pmp_prt *pg, int stale)
{
	if (!stale) {
		collect(h, pg);
		if (_pmp_prt_live(pg) == 0) {
			retire_locked(h, pg);
			return;
		}
	}
	__atomic_store_n(&pg->owner, NULL, __ATOMIC_RELEASE);
	set_full(pg, 0);
	pg->stale = (uint8_t)(pg->stale | stale);
	list_push(&h->abandoned[pg->cls], pg);
}

static void release_locked(struct pmp_heap *h, struct pmp_theap *th, int stale)
{
	struct pmp_prt *pg;
	for (unsigned c = 0; c < PMP_CLASSES; c++) {
		struct pmp_prt **lists[2] = {&th->pages[c], &th->full[c]};
		for (unsigned k = 0; k < 2; k++)
			while ((pg = *lists[k]) != NULL) {
				list_remove(lists[k], pg);
				let_go_locked(h, pg, stale);
			}
		head_set(th, c);
	}
	while ((pg = th->empty) != NULL) {
		list_remove(&th->empty, pg);
		let_go_locked(h, pg, stale);
	}
	th->n_empty = 0;
	_pmp_theap_flush_counts(th);
	th->in_use = 0;
}

static void thread_exit(void *arg)
{
	struct pmp_theap *th = arg;
	struct pmp_heap *h = th->heap;
	_pmp_lock(h);
	release_locked(h, th, 0);
	_pmp_unlock(h);
	if (_pmp_tls.theap == th)
		_pmp_tls_cache(PMP_TLS_NO_ID, NULL);
}

struct pmp_theap *_pmp_theap_bind(struct pmp_heap *h)
{
	if (!h->prt)
		return NULL;
	struct pmp_theap *th = h->has_key ? pthread_getspecific(h->theap_key) : NULL;
	int first = th == NULL; /* this thread's first theap of h: the hook runs */
	if (first) {
		_pmp_lock(h);
		for (th = h->theaps; th && th->in_use; th = th->next)
			;
		if (!th) {
			void *mem;
			if (_pmp_os_pages_alloc(sizeof *th, &mem) != 0) {
				_pmp_unlock(h);
				return NULL;
			}
			th = mem;
			th->heap = h;
			th->heap_id = h->id;
			for (unsigned c = 0; c < PMP_CLASSES; c++)
				head_set(th, c);
			th->malloc_left = th->free_left = PMP_COUNT_BATCH;
			th->next = h->theaps;
			h->theaps = th;
		}
		th->in_use = 1;
		th->tag = (uint32_t)_pmp_os_tid();
		_pmp_unlock(h);
		if (h->has_key)
			pthread_setspecific(h->theap_key, th);
	}
	_pmp_tls_cache(h->id, th); /* before the hook: what the hook allocates finds th at once */
	void (*hook)(void) = first ? __atomic_load_n(&h->thread_hook, __ATOMIC_ACQUIRE) : NULL;
	if (hook)
		hook();
	return th;
}

void _pmp_heap_set_thread_hook(struct pmp_heap *h, void (*fn)(void))
{
	__atomic_store_n(&h->thread_hook, fn, __ATOMIC_RELEASE);
}

/* ---- the handle's page state ---- */

int _pmp_theaps_attach(struct pmp_heap *h, const struct pmp_dir *dir)
{
	h->id = __atomic_add_fetch(&next_heap_id, 1, __ATOMIC_RELAXED);
	uint64_t regions = (h->reserved + PMP_SLAB - 1) >> PMP_SLAB_SHIFT;
	uint64_t bytes = (regions * sizeof(struct pmp_prt) + PMP_PAGE - 1) & ~(uint64_t)(PMP_PAGE - 1);
	void *mem;
	int e = _pmp_os_pages_alloc((size_t)bytes, &mem);
	if (e)
		return e;
	h->prt = mem;
	h->prt_bytes = bytes;
	h->has_key = pthread_key_create(&h->theap_key, thread_exit) == 0;
	/* the pages the chain holds (or the seal record lists: not read before their first use), for any thread to
	 * adopt; their state is built from the bitmap then */
	for (uint64_t i = 0; dir && i < dir->n; i++) {
		uint64_t off = dir->e[i] & ~(uint64_t)(PMP_SLAB - 1);
		struct pmp_prt *pg = _pmp_prt_of(h, off);
		prt_init(h, pg, off, (unsigned)(dir->e[i] & (PMP_SLAB - 1)), 1, PMP_PRT_UNVERIFIED);
		list_push(&h->abandoned[pg->cls], pg);
	}
	uint64_t sent = _pmp_sentinel(h);
	for (uint64_t b = PMP_OFF_ARENA; !dir && b < sent;) {
		uint64_t s = _pmp_bsize(_pmp_head(h, b));
		if (!(_pmp_head(h, b) & PMP_B_FLAGS) && _pmp_page_block(h, b, s)) {
			struct pmp_prt *pg = _pmp_prt_of(h, b + PMP_HDR);
			prt_init(h, pg, b + PMP_HDR, _pmp_page_at(h, b + PMP_HDR)->cls, 1, PMP_PRT_PAGE);
			list_push(&h->abandoned[pg->cls], pg);
		}
		b += s;
	}
	h->poison_all = h->check_level >= 2;
	_pmp_heap_refresh(h);
	return 0;
}

void _pmp_theaps_detach(struct pmp_heap *h)
{
	if (h->has_key)
		pthread_key_delete(h->theap_key);
	h->has_key = 0;
	struct pmp_theap *th = h->theaps, *next;
	for (; th; th = next) {
		next = th->next;
		_pmp_os_pages_free(th, sizeof *th);
	}
	h->theaps = NULL;
	if (h->prt)
		_pmp_os_pages_free(h->prt, (size_t)h->prt_bytes);
	h->prt = NULL;
	memset(h->abandoned, 0, sizeof h->abandoned); /* entries of the page state just freed */
	_pmp_heap_refresh(h);
	if (_pmp_theap_cached(h))
		_pmp_tls_cache(PMP_TLS_NO_ID, NULL);
}

/* the empty pages of one list (a theap's class list, or an abandoned list) go back to the chain; how many did */
static unsigned shed_list_locked(struct pmp_heap *h, struct pmp_prt **head)
{
	unsigned n = 0;
	for (struct pmp_prt *pg = *head, *next; pg; pg = next) {
		next = pg->next;
		if (pg->kind == PMP_PRT_UNVERIFIED && !verify_locked(h, pg, head))
			continue;
		if (pg->stale)
			rebuild(h, pg);
		else
			collect(h, pg);
		if (_pmp_prt_live(pg) == 0) {
			list_remove(head, pg);
			retire_locked(h, pg);
			n++;
		}
	}
	return n;
}

static unsigned shed_abandoned_locked(struct pmp_heap *h)
{
	unsigned n = 0;
	for (unsigned c = 0; c < PMP_CLASSES; c++)
		n += shed_list_locked(h, &h->abandoned[c]);
	return n;
}

void _pmp_theaps_release_all_locked(struct pmp_heap *h)
{
	for (struct pmp_theap *th = h->theaps; th; th = th->next)
		if (th->in_use)
			release_locked(h, th, 0);
	shed_abandoned_locked(h);
}

unsigned _pmp_theaps_shed_locked(struct pmp_heap *h, struct pmp_theap *mine)
{
	unsigned n = shed_abandoned_locked(h);
	for (unsigned c = 0; mine && c < PMP_CLASSES; c++) { /* the caller's own pages kept empty for reuse */
		n += shed_list_locked(h, &mine->pages[c]);
		head_set(mine, c); /* the head may be new, or have lost what followed it */
	}
	if (mine) {
		unsigned k = shed_list_locked(h, &mine->empty);
		mine->n_empty -= k;
		n += k;
	}
	return n;
}

void _pmp_theaps_flush_locked(struct pmp_heap *h)
{
	for (struct pmp_theap *th = h->theaps; th; th = th->next)
		_pmp_theap_flush_counts(th);
}

void _pmp_theaps_fork_child(struct pmp_heap *h)
{
	_pmp_lock(h);
	struct pmp_theap *mine = h->has_key ? pthread_getspecific(h->theap_key) : NULL;
	for (struct pmp_theap *th = h->theaps; th; th = th->next)
		if (th->in_use && th != mine)
			release_locked(h, th, 1);
	_pmp_unlock(h);
}

void _pmp_theaps_pending(struct pmp_heap *h, uint64_t *n_malloc, uint64_t *n_free, uint64_t *n_realloc)
{
	for (struct pmp_theap *th = h->theaps; th; th = th->next) {
		*n_malloc += (uint64_t)(PMP_COUNT_BATCH - __atomic_load_n(&th->malloc_left, __ATOMIC_RELAXED));
		*n_free += (uint64_t)(PMP_COUNT_BATCH - __atomic_load_n(&th->free_left, __ATOMIC_RELAXED));
		*n_realloc += __atomic_load_n(&th->n_realloc, __ATOMIC_RELAXED);
	}
}
