/* track.c: api tests of call-site tracking (PMP_HEAP_TRACK, PMP_FILE_TRACK, pmp_block_site, pmp_site_modules):
 * every allocating entry point names its caller, a free names the freeing caller and a later sequence number, the
 * record survives a reattach and a read-only open, an overrun of the usable bytes reads as no record, check level 2
 * (poison) and tracking live together, and an untracked heap says it is not tracked.
 *
 * Holds: behaviour tests over the public API only; the heap's validity is pmp_check's to say.
 * Must never: include an internal header or read a trailer by its layout (pmp_block_site is the one reader).
 */
#include "api.h"

#include <pthread.h>

#define MEM ((size_t)64 << 20)

/* a call site is the return address of the call: inside the calling function, near its start (each is short) */
#define FN(fn) ((uint64_t)(uintptr_t)(fn))
#define NEAR(pc, fn) ((uint64_t)(pc) > FN(fn) && (uint64_t)(pc) < FN(fn) + 512)
/* after the call: no tail call (a tail call returns to the caller's caller, which would be the site) */
#define NO_TAIL() __asm__ volatile("" ::: "memory")

static pmp_heap_t *tracked_heap(void **mem)
{
	*mem = t_map(NULL, MEM);
	pmp_heap_t *h = NULL;
	int e = pmp_heap_create(*mem, MEM, PMP_HEAP_TRACK, &h);
	cr_assert_eq(e, 0, "pmp_heap_create: %s", pmp_strerror(e));
	return h;
}

struct found {
	pmp_heap_t *h;
	const void *p;
	pmp_block_t b;
	int hit;
};

static int find_cb(const pmp_block_t *b, void *user)
{
	struct found *f = user;
	if (b->addr == f->p) {
		f->b = *b;
		f->hit = 1;
		return 1;
	}
	return 0;
}

/* the record of the block at p: pmp_block_site's answer */
static int record_of(pmp_heap_t *h, const void *p, pmp_site_record_t *r)
{
	struct found f = {h, p, {0}, 0};
	pmp_walk(h, find_cb, &f);
	cr_assert(f.hit, "block %p is in the walk", p);
	return pmp_block_site(h, &f.b, r);
}

__attribute__((noinline)) static void *alloc_small(pmp_heap_t *h)
{
	void *p = pmp_malloc(h, 100);
	NO_TAIL();
	return p;
}
__attribute__((noinline)) static void *alloc_large(pmp_heap_t *h)
{
	void *p = pmp_malloc(h, 100000);
	NO_TAIL();
	return p;
}
__attribute__((noinline)) static void *alloc_zeroed(pmp_heap_t *h)
{
	void *p = pmp_calloc(h, 10, 30);
	NO_TAIL();
	return p;
}
__attribute__((noinline)) static void *alloc_aligned(pmp_heap_t *h)
{
	void *p = pmp_memalign(h, 4096, 200);
	NO_TAIL();
	return p;
}
__attribute__((noinline)) static void *grow(pmp_heap_t *h, void *p, size_t n)
{
	void *q = pmp_realloc(h, p, n);
	NO_TAIL();
	return q;
}
__attribute__((noinline)) static void release(pmp_heap_t *h, void *p)
{
	pmp_free(h, p);
	NO_TAIL();
}

Test(track, every_entry_point_names_its_caller)
{
	void *mem;
	pmp_heap_t *h = tracked_heap(&mem);
	void *(*fns[])(pmp_heap_t *) = {alloc_small, alloc_large, alloc_zeroed, alloc_aligned};
	void *p[4];
	for (int i = 0; i < 4; i++) {
		p[i] = fns[i](h);
		cr_assert_not_null(p[i]);
		/* the usable bytes are the program's: filling them leaves the record and the heap intact */
		memset(p[i], 0xa5, pmp_usable_size(h, p[i]));
	}
	t_check(h, "filled");
	uint64_t last = 0;
	for (int i = 0; i < 4; i++) {
		pmp_site_record_t r;
		cr_assert_eq(record_of(h, p[i], &r), 0, "block %d has a record", i);
		cr_assert(NEAR(r.alloc_site, fns[i]), "block %d: site %#lx in its allocator %#lx", i,
			  (unsigned long)r.alloc_site, (unsigned long)FN(fns[i]));
		cr_assert_eq(r.freed, 0);
		cr_assert_eq(r.free_site, 0);
		cr_assert_gt(r.seq, last, "sequence numbers grow");
		last = r.seq;
	}
	/* realloc: the moved block names the realloc; the old one its free by the realloc */
	void *q = grow(h, p[0], 50000);
	cr_assert_not_null(q);
	pmp_site_record_t r;
	cr_assert_eq(record_of(h, q, &r), 0);
	cr_assert(NEAR(r.alloc_site, grow));
	for (int i = 1; i < 4; i++)
		release(h, p[i]);
	release(h, q);
	t_check(h, "freed");
	cr_assert_eq(pmp_close(h), 0);
}

Test(track, a_freed_slot_names_who_freed_it)
{
	void *mem;
	pmp_heap_t *h = tracked_heap(&mem);
	void *p = alloc_small(h);
	pmp_site_record_t a, f;
	cr_assert_eq(record_of(h, p, &a), 0);
	release(h, p);
	cr_assert_eq(record_of(h, p, &f), 0, "the freed slot keeps its record");
	cr_assert_eq(f.freed, 1);
	cr_assert(NEAR(f.alloc_site, alloc_small), "the allocating site stays");
	cr_assert(NEAR(f.free_site, release), "free site %#lx in release %#lx", (unsigned long)f.free_site,
		  (unsigned long)FN(release));
	cr_assert_gt(f.seq, a.seq, "the free comes after the allocation");
	t_check(h, "freed");
	cr_assert_eq(pmp_close(h), 0);
}

struct remote {
	pmp_heap_t *h;
	void *p;
};

static void *free_elsewhere(void *arg)
{
	struct remote *r = arg;
	release(r->h, r->p);
	return NULL;
}

/* a free from another thread than the page's owner goes onto the page's remote list: its record is written all the
 * same, by the freeing thread, and survives the owner's collection of the slot */
Test(track, a_free_from_another_thread_is_recorded)
{
	void *mem;
	pmp_heap_t *h = tracked_heap(&mem);
	void *keep = alloc_small(h);
	struct remote r = {h, alloc_small(h)};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, free_elsewhere, &r), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	pmp_site_record_t f;
	cr_assert_eq(record_of(h, r.p, &f), 0);
	cr_assert_eq(f.freed, 1);
	cr_assert(NEAR(f.free_site, release));
	cr_assert(NEAR(f.alloc_site, alloc_small));
	for (int i = 0; i < 2000; i++) /* the owner runs out of free slots of the class and collects the remote one */
		cr_assert_not_null(pmp_malloc(h, 100));
	t_check(h, "collected");
	(void)keep;
	cr_assert_eq(pmp_close(h), 0);
}

Test(track, an_overrun_reads_as_no_record)
{
	void *mem;
	pmp_heap_t *h = tracked_heap(&mem);
	uint8_t *p = alloc_small(h);
	size_t n = pmp_usable_size(h, p);
	cr_assert_geq(n, 100);
	pmp_site_record_t r;
	cr_assert_eq(record_of(h, p, &r), 0);
	p[n] ^= 1; /* one byte past what the program may use */
	cr_assert_eq(record_of(h, p, &r), ENOENT);
	p[n] ^= 1;
	cr_assert_eq(record_of(h, p, &r), 0);
	cr_assert_eq(pmp_close(h), 0);
}

Test(track, untracked_heaps_say_so)
{
	void *mem = t_map(NULL, MEM);
	pmp_heap_t *h = NULL;
	cr_assert_eq(pmp_heap_create(mem, MEM, 0, &h), 0);
	void *p = pmp_malloc(h, 100);
	pmp_site_record_t r;
	cr_assert_eq(record_of(h, p, &r), EINVAL);
	unsigned n;
	cr_assert_eq(pmp_site_modules(h, NULL, 0, &n), EINVAL);
	cr_assert_eq(pmp_usable_size(h, p), 112, "an untracked slot keeps every byte");
	cr_assert_eq(pmp_close(h), 0);
}

Test(track, poison_and_tracking)
{
	void *mem;
	pmp_heap_t *h = tracked_heap(&mem);
	cr_assert_eq(pmp_set_check(h, 2, PMP_CHECK_EVERY_MIN), 0);
	void *keep[512];
	uint64_t s = 7;
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 512; i++) {
			size_t n = t_below(&s, 4) ? t_below(&s, 300) : 20000 + t_below(&s, 20000);
			keep[i] = pmp_malloc(h, n);
			cr_assert_not_null(keep[i]);
			memset(keep[i], 0x33, pmp_usable_size(h, keep[i]));
		}
		for (int i = 0; i < 512; i++)
			release(h, keep[i]);
		t_check(h, "round");
	}
	void *last = alloc_small(h);
	release(h, last);
	pmp_site_record_t r;
	cr_assert_eq(record_of(h, last, &r), 0, "a poisoned freed slot keeps its record");
	cr_assert(NEAR(r.free_site, release));
	cr_assert_eq(pmp_close(h), 0);
}

Test(track, file_heap_keeps_records_across_opens)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "t.heap");
	pmp_file_opts_t o = t_opts(PMP_OPEN_CREATE, T_ADDR(1), (size_t)1 << 30);
	o.flags = PMP_FILE_TRACK;
	pmp_heap_t *h;
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	void *p = alloc_large(h), *q = alloc_small(h);
	cr_assert_not_null(p);
	release(h, q);
	pmp_site_record_t before;
	cr_assert_eq(record_of(h, p, &before), 0);
	cr_assert_eq(pmp_close(h), 0);
	/* reopened without the flag: the heap keeps its tracking and its records; sequence numbers go on */
	o = t_opts(PMP_OPEN_EXISTING, NULL, 0);
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	pmp_site_record_t r;
	cr_assert_eq(record_of(h, p, &r), 0);
	cr_assert_eq(r.alloc_site, before.alloc_site);
	void *p2 = alloc_small(h);
	pmp_site_record_t r2;
	cr_assert_eq(record_of(h, p2, &r2), 0);
	cr_assert_gt(r2.seq, before.seq);
	void *p3 = alloc_small(h); /* freed while p2 keeps its page */
	release(h, p3);
	t_check(h, "reopened");
	cr_assert_eq(pmp_close(h), 0);
	o = t_opts(PMP_OPEN_READONLY, NULL, 0);
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	cr_assert_eq(record_of(h, p3, &r), 0, "a read-only view reads the freed slot's record");
	cr_assert_eq(r.freed, 1);
	cr_assert(NEAR(r.free_site, release));
	unsigned n;
	cr_assert_eq(pmp_site_modules(h, NULL, 0, &n), 0, "tracked: the module list (empty without the preload)");
	cr_assert_eq(pmp_close(h), 0);
	t_rmtree(dir);
	free(path);
}

/* a tracked heap made in the smallest memory a heap takes has no room for its site table */
Test(track, too_small_for_a_site_table)
{
	void *mem = t_map(NULL, PMP_HEAP_MIN);
	pmp_heap_t *h;
	cr_assert_eq(pmp_heap_create(mem, PMP_HEAP_MIN, PMP_HEAP_TRACK, &h), PMP_ETOOSMALL);
}
