/* checker.c: unit tests of pmp_check as an oracle that can fail: one corruption at a time, each must be reported
 * with its exact enum pmp_problem, the offset where it is, and a message; undoing it must make the heap pass again.
 *
 * Holds: a fixture heap with isolated free blocks and zero-filled used blocks, and one test per kind of damage;
 * and what check level 2's step may take for damage on a page another thread owns (its moments, not damage).
 * Must never: accept "some error" where a specific problem is known, or corrupt two things in one case.
 */
#include "unit.h"

#include <pthread.h>
#include <signal.h>

#include "core/theap.h"

#define LEN ((size_t)2 << 20)
#define NB 16

struct fix {
	void *mem;
	struct pmp_heap *h;
	uint8_t *p[NB];
};

/* NB zeroed chain blocks (above the largest slot: these tests damage chain headers) of 8,320 bytes and up, 512
 * bytes apart so that each free block is alone in its list, 3, 7 and 11 freed */
static void fix_init(struct fix *f)
{
	f->mem = u_map(LEN);
	f->h = u_heap(f->mem, LEN);
	for (int i = 0; i < NB; i++) {
		f->p[i] = pmp_calloc(f->h, 1, PMP_SMALL_MAX + 128 + (size_t)i * 512);
		cr_assert_not_null(f->p[i]);
	}
	pmp_free(f->h, f->p[3]);
	pmp_free(f->h, f->p[7]);
	pmp_free(f->h, f->p[11]);
	u_assert_check(f->h, "fixture");
}

static uint64_t boff(const struct fix *f, int i) { return u_off(f->h, f->p[i]); }
static struct pmp_block_hdr *hdr(const struct fix *f, int i) { return _pmp_hdr(f->h, boff(f, i)); }

/* the check must fail with exactly `problem`, at `off` unless off is ~0, with a message naming `word` */
static void expect(struct fix *f, int problem, uint64_t off, const char *word)
{
	pmp_report_t r;
	memset(&r, 0x5a, sizeof r);
	int e = pmp_check(f->h, &r);
	cr_assert_eq(e, PMP_ECORRUPT, "check returned %d (%s) for a corrupt heap", e, pmp_strerror(e));
	cr_assert_eq(r.problem, problem, "problem %d, expected %d: %s", r.problem, problem, r.msg);
	cr_assert(memchr(r.msg, 0, sizeof r.msg) != NULL, "message not terminated");
	cr_assert_gt(strlen(r.msg), 10, "empty message");
	if (word)
		cr_assert(strstr(r.msg, word) != NULL, "message \"%s\" does not mention \"%s\"", r.msg, word);
	if (off != ~(uint64_t)0) {
		cr_assert_eq(r.offset, off, "reported at 0x%llx, damage at 0x%llx: %s", (unsigned long long)r.offset,
			     (unsigned long long)off, r.msg);
		cr_assert_eq(r.addr, (void *)(f->h->base + off), "addr is base + offset for a heap at its own address");
	}
	cr_assert_eq(pmp_check(f->h, NULL), PMP_ECORRUPT, "a NULL report must give the same verdict");
}

static void done(struct fix *f)
{
	u_assert_check(f->h, "after undoing the damage");
	pmp_close(f->h);
	munmap(f->mem, LEN);
}

Test(checker, size_word_into_payload)
{
	struct fix f;
	fix_init(&f);
	uint64_t old = hdr(&f, 5)->head;
	/* a well-formed word (its check passes) that ends 32 bytes into block 6, whose payload is zero */
	_pmp_set_head(f.h, boff(&f, 5), (old & PMP_W_VALUE) + 32);
	expect(&f, PMP_P_BLOCK, boff(&f, 6) + 32, "fails its check");
	hdr(&f, 5)->head = old;
	done(&f);
}

Test(checker, size_word_past_the_end)
{
	struct fix f;
	fix_init(&f);
	uint64_t old = hdr(&f, 9)->head;
	_pmp_set_head(f.h, boff(&f, 9), (uint64_t)LEN * 4);
	expect(&f, PMP_P_BLOCK, boff(&f, 9), "past the end");
	hdr(&f, 9)->head = old;
	done(&f);
}

Test(checker, contradictory_flags)
{
	struct fix f;
	fix_init(&f);
	uint64_t old = hdr(&f, 2)->head;
	_pmp_set_head(f.h, boff(&f, 2), (old & PMP_W_VALUE) | PMP_B_FREE | PMP_B_CACHED);
	expect(&f, PMP_P_BLOCK, boff(&f, 2), "more than one");
	hdr(&f, 2)->head = old;
	done(&f);
}

Test(checker, header_word_fails_its_check)
{
	/* one flipped bit, in the value or in the check, makes a header word that no store of the allocator writes */
	struct fix f;
	fix_init(&f);
	uint64_t old = hdr(&f, 2)->head;
	hdr(&f, 2)->head = old ^ ((uint64_t)1 << 52);
	expect(&f, PMP_P_BLOCK, boff(&f, 2), "fails its check");
	hdr(&f, 2)->head = old ^ 0x10;
	expect(&f, PMP_P_BLOCK, boff(&f, 2), "fails its check");
	hdr(&f, 2)->head = old;
	done(&f);
}

Test(checker, prev_size_tag)
{
	struct fix f;
	fix_init(&f);
	hdr(&f, 9)->prev_size += 16;
	expect(&f, PMP_P_PREVSIZE, boff(&f, 9), "boundary tag");
	hdr(&f, 9)->prev_size -= 16;
	/* the sentinel's tag too */
	struct pmp_block_hdr *s = _pmp_hdr(f.h, _pmp_sentinel(f.h));
	s->prev_size ^= 0x100;
	expect(&f, PMP_P_PREVSIZE, _pmp_sentinel(f.h), "sentinel");
	s->prev_size ^= 0x100;
	done(&f);
}

Test(checker, end_sentinel_overwritten)
{
	struct fix f;
	fix_init(&f);
	struct pmp_block_hdr *s = _pmp_hdr(f.h, _pmp_sentinel(f.h));
	uint64_t old = s->head;
	s->head = 0;
	expect(&f, PMP_P_BLOCK, _pmp_sentinel(f.h), "sentinel");
	s->head = old;
	done(&f);
}

Test(checker, two_adjacent_free_blocks)
{
	struct fix f;
	fix_init(&f);
	uint64_t old = hdr(&f, 4)->head;
	_pmp_set_head(f.h, boff(&f, 4), (old & PMP_W_VALUE) | PMP_B_FREE); /* follows free block 3 */
	expect(&f, PMP_P_ADJFREE, boff(&f, 4), "free block follows a free block");
	hdr(&f, 4)->head = old;
	done(&f);
}

Test(checker, free_block_missing_from_its_list)
{
	struct fix f;
	fix_init(&f);
	uint64_t b = boff(&f, 7), s = _pmp_bsize(hdr(&f, 7)->head);
	_pmp_index_remove(f.h, b, s);
	f.h->ctl->free_bytes += s; /* counters still agree: only the list is wrong */
	f.h->ctl->free_blocks++;
	expect(&f, PMP_P_INDEX, b, "no free list");
	f.h->ctl->free_bytes -= s;
	f.h->ctl->free_blocks--;
	_pmp_index_insert(f.h, b, s);
	u_assert_check(f.h, "block 7 back in its list");
	/* the last free block (the tail), which no listed entry follows */
	struct pmp_chain it;
	uint64_t tail = 0, ts = 0;
	_pmp_chain_start(&it);
	while (_pmp_chain_next(f.h, &it) == 1)
		if (it.free)
			tail = it.off, ts = it.size;
	cr_assert_gt(tail, boff(&f, NB - 1));
	_pmp_index_remove(f.h, tail, ts);
	f.h->ctl->free_bytes += ts;
	f.h->ctl->free_blocks++;
	expect(&f, PMP_P_INDEX, tail, "no free list");
	f.h->ctl->free_bytes -= ts;
	f.h->ctl->free_blocks--;
	_pmp_index_insert(f.h, tail, ts);
	done(&f);
}

Test(checker, free_block_in_the_wrong_list)
{
	struct fix f;
	fix_init(&f);
	uint64_t b = boff(&f, 11), s = _pmp_bsize(hdr(&f, 11)->head);
	_pmp_index_remove(f.h, b, s);
	_pmp_index_insert(f.h, b, s + 4096);
	f.h->ctl->free_bytes -= 4096;
	expect(&f, PMP_P_INDEX, b, "belongs in");
	_pmp_index_remove(f.h, b, s + 4096);
	f.h->ctl->free_bytes += 4096;
	_pmp_index_insert(f.h, b, s);
	done(&f);
}

Test(checker, used_block_in_a_list)
{
	struct fix f;
	fix_init(&f);
	uint64_t b = boff(&f, 5), s = _pmp_bsize(hdr(&f, 5)->head);
	struct pmp_ctl saved = *f.h->ctl;
	_pmp_index_insert(f.h, b, s);
	f.h->ctl->free_bytes -= s;
	f.h->ctl->free_blocks--;
	expect(&f, PMP_P_INDEX, b, "not free");
	*f.h->ctl = saved;
	memset(f.p[5], 0, 16); /* the links the insert wrote into block 5's payload */
	done(&f);
}

Test(checker, cycle_in_a_list_terminates)
{
	struct fix f;
	fix_init(&f);
	uint64_t b = boff(&f, 7);
	struct pmp_free_links links = *_pmp_links(f.h, b);
	_pmp_links(f.h, b)->next = b; /* points to itself */
	expect(&f, PMP_P_INDEX, b, NULL);
	*_pmp_links(f.h, b) = links;
	done(&f);
}

Test(checker, bitmap_bit_of_an_empty_list)
{
	struct fix f;
	fix_init(&f);
	struct pmp_ctl *c = f.h->ctl;
	cr_assert_eq(c->heads[0][1], 0, "list 0/1 (16-byte blocks) is always empty");
	uint64_t fl = c->fl_bitmap;
	uint32_t sl = c->sl_bitmap[0];
	c->sl_bitmap[0] |= 2u;
	c->fl_bitmap |= 1u;
	expect(&f, PMP_P_INDEX, PMP_OFF_CTL, "bitmap");
	c->sl_bitmap[0] = sl;
	c->fl_bitmap = fl;
	done(&f);
}

Test(checker, first_level_bit_cleared)
{
	struct fix f;
	fix_init(&f);
	struct pmp_ctl *c = f.h->ctl;
	cr_assert_neq(c->fl_bitmap, 0);
	unsigned top = _pmp_fls(c->fl_bitmap);
	c->fl_bitmap &= ~((uint64_t)1 << top);
	expect(&f, PMP_P_INDEX, PMP_OFF_CTL, "first-level");
	c->fl_bitmap |= (uint64_t)1 << top;
	done(&f);
}

Test(checker, counters)
{
	struct fix f;
	fix_init(&f);
	struct pmp_ctl *c = f.h->ctl;
	c->used_blocks++;
	expect(&f, PMP_P_STATS, PMP_OFF_CTL, "used blocks");
	c->used_blocks--;
	c->free_bytes -= 16;
	expect(&f, PMP_P_STATS, PMP_OFF_CTL, "free blocks");
	c->free_bytes += 16;
	c->used_bytes += 32;
	expect(&f, PMP_P_STATS, PMP_OFF_CTL, NULL);
	c->used_bytes -= 32;
	done(&f);
}

static struct pmp_root *root_entry(struct fix *f, const char *name)
{
	for (unsigned i = 0; i < PMP_ROOT_COUNT; i++)
		if (f->h->roots[i].off && strcmp(f->h->roots[i].name, name) == 0)
			return &f->h->roots[i];
	cr_assert_fail("root %s not found", name);
	return NULL;
}

Test(checker, root_inside_a_block)
{
	struct fix f;
	fix_init(&f);
	cr_assert_eq(pmp_root_set(f.h, "inner", f.p[2]), 0);
	u_assert_check(f.h, "valid root");
	struct pmp_root *e = root_entry(&f, "inner");
	e->off += 16;
	expect(&f, PMP_P_ROOT, boff(&f, 2) + 16, "inside");
	e->off -= 16;
	done(&f);
}

Test(checker, root_to_a_free_block)
{
	struct fix f;
	fix_init(&f);
	cr_assert_eq(pmp_root_set(f.h, "dangling", f.p[9]), 0);
	u_assert_check(f.h, "valid root");
	pmp_free(f.h, f.p[9]); /* 8 and 10 are used: block 9 stays a free block of its own */
	expect(&f, PMP_P_ROOT, boff(&f, 9), "dangling");
	pmp_report_t r;
	pmp_check(f.h, &r);
	cr_assert(strstr(r.msg, "free block") != NULL, "%s", r.msg);
	cr_assert_eq(pmp_root_set(f.h, "dangling", NULL), 0);
	done(&f);
}

Test(checker, root_outside_the_arena)
{
	struct fix f;
	fix_init(&f);
	cr_assert_eq(pmp_root_set(f.h, "far", f.p[0]), 0);
	struct pmp_root *e = root_entry(&f, "far");
	uint64_t old = e->off;
	e->off = f.h->end + 4096;
	expect(&f, PMP_P_ROOT, ~(uint64_t)0, "outside");
	e->off = old;
	done(&f);
}

Test(checker, superblock_mapped_size)
{
	struct fix f;
	fix_init(&f);
	f.h->sb.mapped += PMP_PAGE;
	expect(&f, PMP_P_HEADER, 0, "mapped");
	f.h->sb.mapped -= PMP_PAGE;
	done(&f);
}

/* check level 2's incremental check takes a root on a slot (no header before it) for the live block it is */
Test(checker, level2_pass_accepts_a_root_on_a_slot)
{
	struct fix f;
	fix_init(&f);
	cr_assert_eq(pmp_set_check(f.h, 2, PMP_CHECK_EVERY_MIN), 0);
	cr_assert_eq(pmp_root_set(f.h, "slot", pmp_malloc(f.h, 40)), 0);
	for (int i = 0; i < 4000; i++) /* many passes over the chain, each ending with the roots */
		pmp_free(f.h, pmp_malloc(f.h, PMP_SMALL_MAX + 100));
	done(&f);
}

/* ---- check level 2's step over a page another thread owns ----
 * Its owner collects remote frees without the lock: it takes the page's remote list, then clears each slot's live
 * bit. A step that read the list before the exchange and the bitmap after a clear sees a slot on the remote list
 * that is not live: a moment of a correct program, which the step must not take for damage on such a page (it
 * checks only what no correct operation changes there), but must on a page that stands still. Both tests make
 * that moment by hand: slot x of a page on the page's remote list, its live bit (in the heap and in the owner's
 * shadow) clear. */

struct moving {
	struct pmp_heap *h;
	uint8_t *x;               /* freed by the thread that does not own its page */
	pthread_barrier_t ready;  /* the owner's slots are made (or the remote free done) */
	pthread_barrier_t go;     /* the owner may end */
};

/* slot p's live bit cleared (set 0) or set again, in the heap and in the shadow */
static void live_bit(struct pmp_heap *h, const uint8_t *p, int set)
{
	struct pmp_prt *pg = _pmp_prt_of(h, u_off(h, p));
	uint32_t i = (uint32_t)((uint64_t)(p - pg->slots) / pg->slot_size);
	uint64_t bit = (uint64_t)1 << (i & 63);
	struct pmp_page *page = (struct pmp_page *)(void *)pg->start;
	page->live[i >> 6] = set ? page->live[i >> 6] | bit : page->live[i >> 6] & ~bit;
	pg->shadow[i >> 6] = page->live[i >> 6];
}

/* the owner: slots of one page, the second one handed to the test; it stays until the test is done */
static void *owner_of_slots(void *arg)
{
	struct moving *m = arg;
	void *a = pmp_malloc(m->h, 48);
	m->x = pmp_malloc(m->h, 48);
	cr_assert(a && m->x);
	pthread_barrier_wait(&m->ready);
	pthread_barrier_wait(&m->go);
	pmp_free(m->h, a);
	return NULL;
}

Test(checker, level2_step_takes_another_threads_page_for_moving)
{
	struct fix f;
	fix_init(&f);
	struct moving m = {.h = f.h};
	pthread_barrier_init(&m.ready, NULL, 2);
	pthread_barrier_init(&m.go, NULL, 2);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, owner_of_slots, &m), 0);
	pthread_barrier_wait(&m.ready);
	cr_assert_not_null(pmp_malloc(f.h, 1)); /* this thread's theap: the page is another's */
	pmp_free(f.h, m.x); /* onto the owner's page's remote list */
	struct pmp_page *page = (struct pmp_page *)(void *)_pmp_prt_of(f.h, u_off(f.h, m.x))->start;
	cr_assert_eq(page->remote, (uint64_t)(m.x - f.h->base), "the free of another thread's slot is on the page's remote list");
	live_bit(f.h, m.x, 0); /* the owner's collect, seen half way */
	_pmp_lock(f.h);
	f.h->check_cursor = 0;
	_pmp_check_step_slow(f.h); /* aborts if it checks the page strictly */
	_pmp_unlock(f.h);
	live_bit(f.h, m.x, 1);
	pthread_barrier_wait(&m.go);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&m.ready);
	pthread_barrier_destroy(&m.go);
	done(&f);
}

/* the same moment on a page of this thread's (which stands still under the lock): damage */
static void *free_of_anothers_slot(void *arg)
{
	struct moving *m = arg;
	pmp_free(m->h, m->x);
	return NULL;
}

Test(checker, level2_step_finds_a_remote_slot_not_live_on_a_page_that_stands_still, .signal = SIGABRT)
{
	struct fix f;
	fix_init(&f);
	struct moving m = {.h = f.h};
	cr_assert_not_null(pmp_malloc(f.h, 48));
	cr_assert_not_null(m.x = pmp_malloc(f.h, 48));
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, free_of_anothers_slot, &m), 0);
	pthread_join(t, NULL);
	struct pmp_page *page = (struct pmp_page *)(void *)_pmp_prt_of(f.h, u_off(f.h, m.x))->start;
	cr_assert_eq(page->remote, (uint64_t)(m.x - f.h->base), "the other thread's free is on this thread's page's remote list");
	live_bit(f.h, m.x, 0);
	_pmp_lock(f.h);
	f.h->check_cursor = 0;
	_pmp_check_step_slow(f.h);
	cr_assert_fail("the step took a remote slot that is not live on a page that stands still for no damage");
}
