/* pages.c: unit tests of the slab pages' placement and of a thread's page lists: where a new page goes, which page
 * a malloc takes its slot from after frees gave room back, and the owner's shadow of a page's live bitmap.
 *
 * Holds: tests over the internal page state (theap.h) of heaps on anonymous memory; pmp_check is the oracle of
 * validity after each scenario.
 * Must never: write the heap or the page state other than through the public calls.
 */
#include "unit.h"

#include <pthread.h>

#include "core/theap.h"

#define MEM ((size_t)16 << 20)
#define REGION(p) ((uintptr_t)(p) & ~(uintptr_t)(PMP_SLAB - 1))

/* Pages of one class emptied between pages of another: the class keeps its current page, PMP_THEAP_EMPTY_MAX of
 * the others wait among the thread's emptied pages and the older ones go back to the chain. The page a new class
 * needs next is the last one emptied, changed to that class (no lock, no new page); when the emptied ones are used
 * up, the next page takes a retired page's place (backed, warm memory) instead of being carved from the untouched
 * rest of the arena. */
Test(pages, emptied_pages_serve_any_class_and_the_surplus_goes_back_to_the_chain)
{
	void *mem = u_map(MEM);
	struct pmp_heap *h = u_heap(mem, MEM);
	enum { PAGES = PMP_THEAP_EMPTY_MAX + 3 };
	void *a[PAGES][8], *b[PAGES][8];
	unsigned ca = _pmp_class_of(16000), cb = _pmp_class_of(12000), cc = _pmp_class_of(3000);
	cr_assert(ca != cb && ca != cc && cb != cc);
	uint32_t na = _pmp_class_capacity(ca), nb = _pmp_class_capacity(cb), ncc = _pmp_class_capacity(cc);
	cr_assert_leq(na, 8);
	cr_assert_leq(nb, 8);
	for (unsigned k = 0; k < PAGES; k++) { /* A B A B ...: each page full before the next is made */
		for (unsigned i = 0; i < na; i++)
			cr_assert_not_null(a[k][i] = pmp_malloc(h, 16000));
		for (unsigned i = 0; i < nb; i++)
			cr_assert_not_null(b[k][i] = pmp_malloc(h, 12000));
	}
	uintptr_t highest = 0;
	for (unsigned k = 0; k < PAGES; k++)
		if (REGION(b[k][0]) > highest)
			highest = REGION(b[k][0]);
	for (unsigned k = 0; k < PAGES; k++)
		for (unsigned i = 0; i < na; i++)
			pmp_free(h, a[k][i]);
	/* A's last page stays its current one, PMP_THEAP_EMPTY_MAX wait, the two emptied first went back */
	struct pmp_theap *th = _pmp_tls.theap;
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.pages, 2 * PAGES - 2, "%llu pages", (unsigned long long)st.pages);
	cr_assert_eq(th->n_empty, PMP_THEAP_EMPTY_MAX);
	cr_assert_eq(th->empty->start, (uint8_t *)REGION(a[PAGES - 2][0]), "the last emptied waits first");
	cr_assert_eq(th->empty->prev->start, (uint8_t *)REGION(a[2][0]), "the oldest of those kept waits last");
	u_assert_check(h, "with emptied pages waiting");
	/* class C's pages: the emptied ones, last emptied first, changed to class C in the heap */
	void *c[PMP_THEAP_EMPTY_MAX + 1];
	for (unsigned k = 0; k < PMP_THEAP_EMPTY_MAX; k++) {
		for (unsigned i = 0; i < ncc; i++) {
			void *r = pmp_malloc(h, 3000);
			cr_assert_not_null(r);
			if (i == 0)
				c[k] = r;
			cr_assert_eq(REGION(r), REGION(a[PAGES - 2 - k][0]), "page %u of class C is not A's page %u", k,
				     PAGES - 2 - k);
		}
		cr_assert_eq(_pmp_page_at(h, (uint64_t)((uint8_t *)REGION(c[k]) - h->base))->cls, cc);
	}
	cr_assert_eq(th->n_empty, 0);
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.pages, 2 * PAGES - 2, "no page was made for class C");
	u_assert_check(h, "after class C took the emptied pages");
	/* the next one comes from the chain, in a retired page's place */
	cr_assert_not_null(c[PMP_THEAP_EMPTY_MAX] = pmp_malloc(h, 3000));
	uintptr_t r = REGION(c[PMP_THEAP_EMPTY_MAX]);
	cr_assert(r == REGION(a[0][0]) || r == REGION(a[1][0]), "the new page lies in a retired page's place");
	cr_assert_lt(r, highest);
	u_assert_check(h, "after the reuse");
	pmp_close(h);
	munmap(mem, MEM);
}

/* Many nearly full pages of one class, a slot freed in each: the page that got one slot back goes to the end of the
 * class's list, so the mallocs after it use up the current page first, and the slow path runs once per page, not
 * once per malloc. Observed through the order of the pages the slots come from. */
Test(pages, a_page_with_room_again_is_used_after_the_current_one)
{
	void *mem = u_map(MEM);
	struct pmp_heap *h = u_heap(mem, MEM);
	unsigned c = _pmp_class_of(1000);
	uint32_t n = _pmp_class_capacity(c);
	enum { PAGES = 6 };
	void *p[PAGES * 70];
	cr_assert_leq(n, 70);
	for (unsigned i = 0; i < PAGES * n; i++)
		cr_assert_not_null(p[i] = pmp_malloc(h, 1000));
	/* half of the first page freed (the page with most room), then one slot in each of the next four; the
	 * current page (the last one made) has none */
	for (unsigned i = 0; i < n / 2; i++)
		pmp_free(h, p[i * 2]);
	for (unsigned k = 1; k < PAGES - 1; k++)
		pmp_free(h, p[k * n + 1]);
	/* the first page's room is used before any page that got a single slot back */
	for (unsigned i = 0; i < n / 2; i++) {
		void *r = pmp_malloc(h, 1000);
		cr_assert_eq(REGION(r), REGION(p[0]), "malloc %u took a page with one slot before the page with room", i);
	}
	u_assert_check(h, "after the mallocs");
	pmp_close(h);
	munmap(mem, MEM);
}

/* Pages emptied while another page of their class still has slots in use wait among the thread's emptied pages;
 * the class's next page is the last one emptied (no lock, no new page). */
Test(pages, an_emptied_page_waits_and_is_the_classs_next_page)
{
	void *mem = u_map(MEM);
	struct pmp_heap *h = u_heap(mem, MEM);
	unsigned c = _pmp_class_of(16000);
	uint32_t n = _pmp_class_capacity(c);
	void *p[3][8];
	cr_assert_leq(n, 8);
	for (unsigned k = 0; k < 3; k++)
		for (unsigned i = 0; i < n; i++)
			cr_assert_not_null(p[k][i] = pmp_malloc(h, 16000));
	for (unsigned k = 0; k < 3; k++)
		for (unsigned i = 1; i < n; i++)
			cr_assert_eq(REGION(p[k][i]), REGION(p[k][0]), "one page per row");
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.pages, 3);
	pmp_free(h, p[0][0]); /* room in the first page, then in the second: both in the class's list */
	pmp_free(h, p[1][0]);
	for (unsigned i = 1; i < n; i++) /* the first page empties while the second holds n - 1 */
		pmp_free(h, p[0][i]);
	struct pmp_theap *th = _pmp_tls.theap;
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.pages, 3, "the emptied page left (%llu pages): it should wait", (unsigned long long)st.pages);
	cr_assert_eq(th->n_empty, 1);
	cr_assert_eq(th->empty->start, (uint8_t *)REGION(p[0][0]));
	cr_assert_eq(th->empty->used, 0);
	u_assert_check(h, "with an emptied page");
	for (unsigned i = 1; i < n; i++) /* the second page empties too */
		pmp_free(h, p[1][i]);
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.pages, 3, "an emptied page left (%llu pages)", (unsigned long long)st.pages);
	cr_assert_eq(th->n_empty, 2);
	/* the third page is full: the next mallocs fill the page emptied last, then the other one; no new page */
	for (unsigned i = 0; i < 2 * n; i++) {
		void *r = pmp_malloc(h, 16000);
		cr_assert_eq(REGION(r), REGION(p[i < n][0]), "malloc %u took no slot of the emptied page", i);
	}
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.pages, 3);
	cr_assert_eq(th->n_empty, 0);
	u_assert_check(h, "after the emptied pages filled");
	pmp_close(h);
	munmap(mem, MEM);
}

/* The shadow of each owned page equals its live bitmap in the heap, and both say which slots are handed out, after
 * mallocs, frees, frees from another thread and their collection. */
struct remote_arg {
	pmp_heap_t *h;
	void **p;
};

static void *free_odd(void *arg)
{
	struct remote_arg *ra = arg;
	for (unsigned i = 1; i < 400; i += 2)
		pmp_free(ra->h, ra->p[i]);
	return NULL;
}

static void assert_shadows_match(struct pmp_heap *h, const char *when)
{
	struct pmp_theap *th = _pmp_tls.theap;
	cr_assert_not_null(th);
	for (unsigned c = 0; c < PMP_CLASSES; c++) {
		struct pmp_prt *lists[2] = {th->pages[c], th->full[c]};
		for (unsigned k = 0; k < 2; k++)
			for (struct pmp_prt *pg = lists[k]; pg; pg = pg->next) {
				const struct pmp_page *page = (const void *)pg->start;
				const uint64_t *s = pg->shadow;
				uint32_t live = 0;
				for (unsigned w = 0; w < (pg->capacity + 63u) / 64u; w++) {
					cr_assert_eq(s[w], page->live[w], "%s: class %u word %u: shadow %#llx, heap %#llx", when,
						     c, w, (unsigned long long)s[w], (unsigned long long)page->live[w]);
					live += (uint32_t)__builtin_popcountll(page->live[w]);
				}
				/* the bitmap marks live every slot handed out and not collected back, and no free one */
				cr_assert_eq(live, _pmp_prt_live(pg), "%s: class %u: %u live bits, %u slots in use", when, c, live,
					     _pmp_prt_live(pg));
				cr_assert_eq(pg->full, k == 1, "%s: class %u: a page's full mark disagrees with its list", when, c);
				if (k == 1) /* free's one test of zero finds a full page: its first free counts 1 down */
					cr_assert_eq(pg->used, 1u, "%s: class %u: a full page's count is %u, not 1", when, c, pg->used);
				for (const uint8_t *f = pg->free; f; f = *(const uint8_t *const *)(const void *)f) {
					uint32_t i = (uint32_t)((uint64_t)(f - pg->start - sizeof(struct pmp_page)) / pg->slot_size);
					cr_assert(!(page->live[i >> 6] & ((uint64_t)1 << (i & 63))), "%s: free slot %u is marked live",
						  when, i);
				}
			}
	}
}

Test(pages, the_owners_shadow_equals_the_live_bitmap)
{
	void *mem = u_map(MEM);
	struct pmp_heap *h = u_heap(mem, MEM);
	void *p[400];
	for (unsigned i = 0; i < 400; i++)
		cr_assert_not_null(p[i] = pmp_malloc(h, i < 300 ? 1000 : 16 + (i % 7) * 100));
	assert_shadows_match(h, "after the mallocs");
	struct remote_arg ra = {h, p};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, free_odd, &ra), 0);
	pthread_join(t, NULL);
	assert_shadows_match(h, "after the frees from another thread");
	for (unsigned i = 0; i < 20; i++) /* the current page runs out of free slots: its remote frees are collected */
		cr_assert_not_null(pmp_malloc(h, 1000));
	assert_shadows_match(h, "after the remote frees were collected");
	for (unsigned i = 0; i < 400; i += 4)
		pmp_free(h, p[i]);
	assert_shadows_match(h, "after the frees");
	u_assert_check(h, "at the end");
	pmp_close(h);
	munmap(mem, MEM);
}

struct span_arg {
	pmp_heap_t *h;
	void **p;
	unsigned n;
};

static void *free_every_other(void *arg)
{
	struct span_arg *sa = arg;
	for (unsigned i = 1; i < sa->n; i += 2)
		pmp_free(sa->h, sa->p[i]);
	return NULL;
}

/* A full page (in its owner's full list) keeps its count aside and shows free's fast path a count of 1, so that
 * one test of zero finds it: its counts stay exact through the owner's frees that bring it back, remote frees
 * collected while it is full, and its emptying. */
Test(pages, a_full_pages_count_stays_exact)
{
	void *mem = u_map(MEM);
	struct pmp_heap *h = u_heap(mem, MEM);
	unsigned c = _pmp_class_of(1000);
	uint32_t n = _pmp_class_capacity(c);
	enum { PAGES = 4 };
	void *p[PAGES * 70];
	cr_assert_leq(n, 70);
	for (unsigned i = 0; i < PAGES * n + 1; i++) /* the first PAGES pages full, one slot of a fifth */
		cr_assert_not_null(p[i] = pmp_malloc(h, 1000));
	struct pmp_theap *th = _pmp_tls.theap;
	unsigned full = 0;
	for (struct pmp_prt *pg = th->full[c]; pg; pg = pg->next)
		full++;
	cr_assert_eq(full, PAGES, "%u pages in the full list, not %u", full, (unsigned)PAGES);
	assert_shadows_match(h, "with the full pages");
	pmp_free(h, p[3]); /* the owner's free brings the first page back */
	assert_shadows_match(h, "after a free into a full page");
	cr_assert(!((struct pmp_prt *)_pmp_prt_of(h, (uint64_t)((uint8_t *)p[3] - h->base)))->full);
	struct span_arg sa = {h, p + n, 2 * n}; /* every other slot of the second and third pages, from another thread */
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, free_every_other, &sa), 0);
	pthread_join(t, NULL);
	assert_shadows_match(h, "after remote frees into full pages");
	for (unsigned i = 0; i < n; i++) /* the class runs short: the full pages' remote frees are collected */
		cr_assert_not_null(pmp_malloc(h, 1000));
	assert_shadows_match(h, "after the remote frees were collected");
	for (unsigned i = 3 * n; i < 4 * n; i++) /* the fourth page emptied by its owner, slot by slot */
		pmp_free(h, p[i]);
	assert_shadows_match(h, "after the fourth page was emptied");
	u_assert_check(h, "at the end");
	pmp_close(h);
	munmap(mem, MEM);
}

/* the OS pages of [p, p + len) that are resident */
static unsigned resident(const void *p, size_t len)
{
	unsigned char vec[PMP_SLAB / 4096];
	cr_assert_leq(len, sizeof vec * 4096);
	cr_assert_eq(mincore((void *)p, len, vec), 0);
	unsigned n = 0;
	for (size_t i = 0; i < (len + 4095) / 4096; i++)
		n += vec[i] & 1;
	return n;
}

/* A new page's slots are harvested a few KiB at a time: a page of large slots that holds one block has not
 * touched the memory of the others (it stays unbacked), and its slots come in order as they are needed. */
Test(pages, a_new_page_touches_its_slots_as_they_are_handed_out)
{
	void *mem = u_map(MEM);
	struct pmp_heap *h = u_heap(mem, MEM);
	unsigned c = _pmp_class_of(12000);
	uint32_t size = _pmp_class_size(c), cap = _pmp_class_capacity(c);
	cr_assert_geq(cap, 4);
	uint8_t *first = pmp_malloc(h, 12000);
	cr_assert_not_null(first);
	uint8_t *page = (uint8_t *)REGION(first);
	/* the slots after the first one's page up to the next region's chain header (the last OS page) */
	uint8_t *from = (uint8_t *)(((uintptr_t)first + size + 4095) & ~(uintptr_t)4095);
	uint8_t *to = page + PMP_SLAB - 4096;
	cr_assert_lt(from, to);
	cr_assert_eq(resident(from, (size_t)(to - from)), 0, "the other slots' memory was touched");
	uint8_t *next[8];
	for (uint32_t i = 1; i < cap; i++) {
		cr_assert_not_null(next[i] = pmp_malloc(h, 12000));
		cr_assert_eq(next[i], first + (uint64_t)i * size, "slot %u comes in order", i);
	}
	u_assert_check(h, "at the end");
	pmp_close(h);
	munmap(mem, MEM);
}

/* When the current page's free list runs out, the slots other threads freed into it are taken before its
 * untouched ones are harvested: the freed slot's memory is warm, and the rest of the page stays unbacked while
 * frees wait. */
Test(pages, a_pages_remote_frees_are_reused_before_its_untouched_slots)
{
	void *mem = u_map(MEM);
	struct pmp_heap *h = u_heap(mem, MEM);
	unsigned c = _pmp_class_of(12000);
	uint32_t size = _pmp_class_size(c);
	cr_assert_geq(_pmp_class_capacity(c), 4);
	cr_assert_geq(size, 4096, "one slot per harvest stretch");
	uint8_t *a = pmp_malloc(h, 12000), *b = pmp_malloc(h, 12000);
	cr_assert_not_null(a);
	cr_assert_eq(b, a + size, "the page's second slot");
	void *just_a[2] = {NULL, a};
	struct span_arg sa = {h, just_a, 2}; /* the other thread frees a alone */
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, free_every_other, &sa), 0);
	pthread_join(t, NULL);
	uint8_t *third = b + size, *from = (uint8_t *)(((uintptr_t)third + 4095) & ~(uintptr_t)4095);
	uint8_t *c2 = pmp_malloc(h, 12000);
	cr_assert_eq(c2, a, "the slot freed from another thread comes back first (got slot %lld)",
		     (long long)((c2 - a) / (long)size));
	cr_assert_eq(resident(from, (size_t)(third + size - from)), 0, "the third slot's memory was touched");
	assert_shadows_match(h, "after the remote free was reused");
	cr_assert_eq(pmp_malloc(h, 12000), third, "then the untouched slots, in order");
	u_assert_check(h, "at the end");
	pmp_close(h);
	munmap(mem, MEM);
}

/* th's direct names, for every size step up to PMP_DIRECT_MAX, the current page of the step's class (or the
 * empty entry when the class has none), and the one page of th flagged alone in a class is the head of its list
 * when nothing follows it (free's fast path keeps an emptied page there on that flag alone) */
static void assert_direct(const struct pmp_theap *th, const char *when)
{
	for (unsigned k = 0; k < PMP_DIRECT_STEPS; k++) {
		unsigned c = _pmp_class_of(k * 16);
		const struct pmp_prt *want = th->pages[c] ? th->pages[c] : &_pmp_no_page;
		cr_assert_eq(th->direct[k], want, "%s: sizes up to %u name %p, their class %u's current page is %p", when,
			     k * 16, (void *)th->direct[k], c, (void *)want);
	}
	for (unsigned c = 0; c < PMP_CLASSES; c++) {
		for (const struct pmp_prt *pg = th->pages[c]; pg; pg = pg->next)
			cr_assert_eq(pg->alone, pg == th->pages[c] && !pg->next,
				     "%s: class %u: page %p (%s head, %s after it) is flagged alone %u", when, c,
				     (void *)pg, pg == th->pages[c] ? "the" : "not the", pg->next ? "a page" : "none", pg->alone);
		for (const struct pmp_prt *pg = th->full[c]; pg; pg = pg->next)
			cr_assert_eq(pg->alone, 0, "%s: class %u: a full page is flagged alone", when, c);
	}
	for (const struct pmp_prt *pg = th->empty; pg; pg = pg->next)
		cr_assert_eq(pg->alone, 0, "%s: an emptied page is flagged alone", when);
}

static void *direct_of_a_new_thread(void *arg)
{
	struct pmp_heap *h = arg;
	void *p = pmp_malloc(h, 5000); /* binds this thread's theap (a pooled one once a thread ended) */
	cr_assert_not_null(p);
	struct pmp_theap *th = _pmp_tls.theap;
	assert_direct(th, "a thread's first theap");
	for (unsigned k = 0; k < PMP_DIRECT_STEPS; k++)
		cr_assert_eq(th->direct[k], &_pmp_no_page, "a new theap names a page for sizes up to %u", k * 16);
	pmp_free(h, p);
	return NULL;
}

/* malloc's fast path for sizes up to PMP_DIRECT_MAX takes its page from direct, not from the class lists: direct
 * must follow every change of a list's head (a page made, filled, given room again, emptied and parked, reused
 * for another class, shed, let go at a thread's end), or a malloc would take a slot of a page that is not the
 * current one */
Test(pages, direct_names_each_sizes_current_page)
{
	void *mem = u_map(MEM);
	struct pmp_heap *h = u_heap(mem, MEM);
	enum { LIVE = 3000, OPS = 60000 };
	static void *live[LIVE];
	unsigned seed = 12345;
	cr_assert_not_null(pmp_malloc(h, 1)); /* binds the theap */
	struct pmp_theap *th = _pmp_tls.theap;
	for (unsigned op = 0; op < OPS; op++) {
		seed = seed * 1103515245u + 12345u;
		unsigned i = (seed >> 8) % LIVE;
		if (live[i]) {
			pmp_free(h, live[i]);
			live[i] = NULL;
		} else {
			/* phases of small and of mixed sizes, so that pages fill, empty and change class */
			size_t n = (op / 10000) % 2 ? (seed >> 12) % 1100 : (seed >> 12) % 200;
			cr_assert_not_null(live[i] = pmp_malloc(h, n));
		}
		if (op % 97 == 0)
			assert_direct(th, "during the random operations");
	}
	for (unsigned i = 0; i < LIVE; i++) /* every page emptied: all but one per class parked or back in the chain */
		if (live[i]) {
			pmp_free(h, live[i]);
			live[i] = NULL;
			assert_direct(th, "while everything is freed");
		}
	u_assert_check(h, "after the random operations");
	pthread_t t;
	for (int k = 0; k < 2; k++) { /* a new theap, then a pooled one after its thread ended */
		cr_assert_eq(pthread_create(&t, NULL, direct_of_a_new_thread, h), 0);
		pthread_join(t, NULL);
	}
	assert_direct(th, "after other threads came and went");
	pmp_close(h);
	munmap(mem, MEM);
}

/* 2 * n slots of 1,000 bytes (n = the class's capacity): the first page full (in the full list), the second
 * current, full */
struct two_pages {
	void *mem;
	struct pmp_heap *h;
	unsigned c;   /* the class of 1,000 bytes */
	uint32_t n;   /* its capacity */
	void *p[140]; /* the slots */
};
static void two_full_pages_of_1000(struct two_pages *t)
{
	t->mem = u_map(MEM);
	t->h = u_heap(t->mem, MEM);
	t->c = _pmp_class_of(1000);
	t->n = _pmp_class_capacity(t->c);
	cr_assert_leq(2 * t->n, sizeof t->p / sizeof t->p[0]);
	for (unsigned i = 0; i < 2 * t->n; i++)
		cr_assert_not_null(t->p[i] = pmp_malloc(t->h, 1000));
}

/* A class's list left empty (its one page, emptied, shed when a chain block found no room) while a full page
 * waits in the full list: the free that gives the full page room makes it the class's head again, and direct
 * must name it (else every malloc of the class would take the slow path) */
Test(pages, direct_follows_a_full_page_back_into_an_empty_list)
{
	struct two_pages t;
	two_full_pages_of_1000(&t);
	struct pmp_theap *th = _pmp_tls.theap;
	for (unsigned i = t.n; i < 2 * t.n; i++) /* the second page emptied: the class's only page, it stays current */
		pmp_free(t.h, t.p[i]);
	cr_assert_not_null(th->pages[t.c]);
	cr_assert_null(pmp_malloc(t.h, MEM), "a chain block larger than the heap"); /* no room: the empty page is shed */
	cr_assert_null(th->pages[t.c], "the emptied page was shed");
	assert_direct(th, "after the class's only page was shed");
	pmp_free(t.h, t.p[0]); /* room in the full page: it heads the class's list again */
	cr_assert_not_null(th->pages[t.c]);
	assert_direct(th, "after a full page got room into an empty list");
	cr_assert_eq(pmp_malloc(t.h, 1000), t.p[0], "the slot just freed is the next");
	u_assert_check(t.h, "at the end");
	pmp_close(t.h);
	munmap(t.mem, MEM);
}

/* free's fast path keeps an emptied page in place only when it is alone (its class's head, no page after it); an
 * emptied page with another page of the class after it goes among the thread's emptied pages (for any class), so
 * that the class's partly used pages are filled first */
Test(pages, an_emptied_page_stays_only_when_it_is_its_classs_only_page)
{
	struct two_pages t;
	two_full_pages_of_1000(&t);
	struct pmp_theap *th = _pmp_tls.theap;
	struct pmp_prt *a = _pmp_prt_of(t.h, (uint64_t)((uint8_t *)t.p[0] - t.h->base));
	struct pmp_prt *b = _pmp_prt_of(t.h, (uint64_t)((uint8_t *)t.p[t.n] - t.h->base));
	cr_assert_neq(a, b);
	cr_assert_eq(th->pages[t.c], b);
	cr_assert_eq(th->full[t.c], a);
	pmp_free(t.h, t.p[0]); /* room in a: behind b */
	cr_assert(th->pages[t.c] == b && b->next == a, "a page given room goes behind the current one");
	assert_direct(th, "after the full page got room");
	uint32_t parked = th->n_empty;
	for (unsigned i = t.n; i < 2 * t.n; i++) /* b emptied, a page after it: b is parked */
		pmp_free(t.h, t.p[i]);
	cr_assert_eq(th->pages[t.c], a, "the emptied head with a page after it left its class's list");
	cr_assert_eq(th->empty, b, "it waits among the emptied pages");
	cr_assert_eq(th->n_empty, parked + 1);
	assert_direct(th, "after the head emptied");
	for (unsigned i = 1; i < t.n; i++) /* a emptied: the class's only page, it stays */
		pmp_free(t.h, t.p[i]);
	cr_assert_eq(th->pages[t.c], a, "the class's only page stays when it empties");
	cr_assert_eq(_pmp_prt_live(a), 0);
	cr_assert_eq(th->n_empty, parked + 1);
	assert_direct(th, "after the only page emptied");
	cr_assert_eq(pmp_malloc(t.h, 1000), t.p[t.n - 1], "its last freed slot comes next, from the same page");
	u_assert_check(t.h, "at the end");
	pmp_close(t.h);
	munmap(t.mem, MEM);
}
