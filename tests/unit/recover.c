/* recover.c: unit tests of recovery (_pmp_recover, directly and through pmp_heap_attach of a heap on caller memory
 * that was never closed): scrambled derived state, adjacent free blocks, an interrupted growth, cached blocks.
 *
 * Holds: tests that damage only what the format calls derived (index, counters, prev_size tags, free payloads) or
 * leave the states a stop can leave, then demand pmp_check passes and every used block's contents are intact.
 * Must never: damage a used block's size word or payload (recovery may not repair those) or close the heap
 * cleanly before attaching (the point is the unclean path).
 */
#include "unit.h"

#define LEN ((size_t)4 << 20)
#define NB 40

struct fix {
	void *mem;
	struct pmp_heap *h;
	uint8_t *p[NB];
	size_t n[NB];
	int live[NB];
	uint64_t xblocks, xbytes; /* used blocks a test made outside p[] */
};

/* NB filled blocks; every third one freed (never two neighbours, so the chain has isolated free blocks) */
static void fix_init(struct fix *f)
{
	memset(f, 0, sizeof *f);
	f->mem = u_map(LEN);
	f->h = u_heap(f->mem, LEN);
	for (int i = 0; i < NB; i++) {
		/* chain blocks (above the largest slot): these tests leave chain states behind */
		f->n[i] = PMP_SMALL_MAX + (size_t)(i * 37 % 500) + (i % 7 == 0 ? 5000 : 0);
		f->p[i] = pmp_malloc(f->h, f->n[i]);
		cr_assert_not_null(f->p[i]);
		u_fill(f->p[i], (uint64_t)i, f->n[i]);
		f->live[i] = 1;
	}
	for (int i = 1; i < NB; i += 3) {
		pmp_free(f->h, f->p[i]);
		f->live[i] = 0;
	}
	u_assert_check(f->h, "fixture");
}

static uint64_t boff(const struct fix *f, int i) { return u_off(f->h, f->p[i]); }

static void scramble_derived(struct fix *f, uint64_t seed)
{
	struct pmp_heap *h = f->h;
	/* control area: bitmaps, list heads, counters */
	uint8_t *c = (uint8_t *)h->ctl;
	size_t derived = offsetof(struct pmp_ctl, used_bytes) + 4 * sizeof(uint64_t);
	for (size_t i = 0; i < derived; i++)
		c[i] = (uint8_t)u_rand(&seed);
	/* every prev_size tag (the sentinel's too) and the payload of every free block */
	struct pmp_chain it;
	_pmp_chain_start(&it);
	while (_pmp_chain_next(h, &it) == 1) {
		_pmp_set_prev(h, it.off, u_rand(&seed));
		if (it.free)
			memset(h->base + it.off + PMP_HDR, 0xa5, it.size - PMP_HDR);
	}
	_pmp_set_prev(h, _pmp_sentinel(h), u_rand(&seed) | 1);
}

/* an unclean stop: the handle is dropped without pmp_close, and the memory attached again */
static void stop_and_attach(struct fix *f)
{
	pmp_info_t info;
	cr_assert_eq(pmp_info(f->h, &info), 0);
	cr_assert_eq(info.clean, 0, "a heap open for writing must be marked dirty");
	pthread_mutex_destroy(&f->h->lock);
	_pmp_heap_handle_free(f->h);
	pmp_heap_t *h = NULL;
	int e = pmp_heap_attach(f->mem, &h);
	cr_assert_eq(e, 0, "attach after an unclean stop: %s", pmp_strerror(e));
	f->h = h;
	cr_assert_eq((void *)h->base, f->mem);
}

static void verify_live(struct fix *f)
{
	uint64_t nlive = f->xblocks, bytes = f->xbytes;
	for (int i = 0; i < NB; i++) {
		if (!f->live[i])
			continue;
		size_t bad = u_verify(f->p[i], (uint64_t)i, f->n[i]);
		cr_assert_eq(bad, f->n[i], "block %d damaged at byte %zu", i, bad);
		cr_assert_geq(pmp_usable_size(f->h, f->p[i]), f->n[i]);
		nlive++;
		bytes += _pmp_bsize(_pmp_hdr(f->h, boff(f, i))->head);
	}
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(f->h, &st), 0);
	cr_assert_eq(st.used_blocks, nlive, "recovered counters: %llu used blocks, %llu live",
		     (unsigned long long)st.used_blocks, (unsigned long long)nlive);
	cr_assert_eq(st.used_bytes, bytes);
	/* every arena byte is in a block, but for the pages' headers, chain headers and slack (less than a slot) */
	cr_assert_leq(st.used_bytes + st.free_bytes, st.arena - PMP_HDR);
	cr_assert_leq(st.arena - PMP_HDR - (st.used_bytes + st.free_bytes),
		      st.pages * (sizeof(struct pmp_page) + PMP_HDR + PMP_SMALL_MAX), "every arena byte is in a block");
}

/* the heap is usable after recovery: a round of allocations and frees keeps it consistent */
static void exercise(struct fix *f)
{
	void *q[64];
	for (int i = 0; i < 64; i++) {
		q[i] = pmp_malloc(f->h, (size_t)(i * 91 % 3000));
		cr_assert_not_null(q[i]);
		memset(q[i], 0x77, (size_t)(i * 91 % 3000));
	}
	u_assert_check(f->h, "exercise");
	for (int i = 0; i < 64; i += 2)
		pmp_free(f->h, q[i]);
	u_assert_check(f->h, "exercise frees");
	for (int i = 1; i < 64; i += 2)
		pmp_free(f->h, q[i]);
	verify_live(f);
}

Test(recover, scrambled_derived_state_via_attach)
{
	struct fix f;
	fix_init(&f);
	pmp_stats_t before;
	cr_assert_eq(pmp_stats(f.h, &before), 0);
	scramble_derived(&f, 1234);
	cr_assert_eq(pmp_check(f.h, NULL), PMP_ECORRUPT, "the scrambled heap must not pass the check");
	stop_and_attach(&f);
	u_assert_check(f.h, "after recovery");
	verify_live(&f);
	pmp_stats_t after;
	cr_assert_eq(pmp_stats(f.h, &after), 0);
	cr_assert_eq(after.free_blocks, before.free_blocks);
	cr_assert_eq(after.free_bytes, before.free_bytes);
	cr_assert_eq(after.largest_free, before.largest_free);
	exercise(&f);
	u_assert_check(f.h, "end");
	pmp_close(f.h);
	munmap(f.mem, LEN);
}

Test(recover, direct_recover_is_idempotent)
{
	struct fix f;
	fix_init(&f);
	pmp_stats_t s0, s1, s2;
	cr_assert_eq(pmp_stats(f.h, &s0), 0);
	/* recovering a sound heap changes nothing the counters can see */
	cr_assert_eq(_pmp_recover(f.h, 0), 0);
	u_assert_check(f.h, "recover of a sound heap");
	cr_assert_eq(pmp_stats(f.h, &s1), 0);
	cr_assert_eq(s1.used_bytes, s0.used_bytes);
	cr_assert_eq(s1.free_bytes, s0.free_bytes);
	cr_assert_eq(s1.free_blocks, s0.free_blocks);
	scramble_derived(&f, 99);
	cr_assert_eq(_pmp_recover(f.h, 0), 0);
	u_assert_check(f.h, "direct recover");
	cr_assert_eq(_pmp_recover(f.h, 0), 0);
	u_assert_check(f.h, "second recover");
	cr_assert_eq(pmp_stats(f.h, &s2), 0);
	cr_assert_eq(s2.free_blocks, s0.free_blocks);
	cr_assert_eq(s2.free_bytes, s0.free_bytes);
	verify_live(&f);
	exercise(&f);
	pmp_close(f.h);
	munmap(f.mem, LEN);
}

Test(recover, adjacent_free_blocks_merge)
{
	struct fix f;
	fix_init(&f);
	pmp_stats_t before;
	cr_assert_eq(pmp_stats(f.h, &before), 0);
	/* blocks 2 and 3 become free in the chain only: with free 1 and 4 they form the run 1..4; 6 joins free 7 */
	_pmp_set_head(f.h, boff(&f, 2), (_pmp_head(f.h, boff(&f, 2)) & PMP_W_VALUE) | PMP_B_FREE);
	_pmp_set_head(f.h, boff(&f, 3), (_pmp_head(f.h, boff(&f, 3)) & PMP_W_VALUE) | PMP_B_FREE);
	_pmp_set_head(f.h, boff(&f, 6), (_pmp_head(f.h, boff(&f, 6)) & PMP_W_VALUE) | PMP_B_FREE);
	f.live[2] = f.live[3] = f.live[6] = 0;
	pmp_report_t r;
	cr_assert_eq(pmp_check(f.h, &r), PMP_ECORRUPT);
	cr_assert_eq(r.problem, PMP_P_ADJFREE, "%s", r.msg);
	stop_and_attach(&f);
	u_assert_check(f.h, "after recovery");
	verify_live(&f);
	/* 1..4 merged into one block starting at block 1, 6..7 into one starting at block 6 */
	uint64_t b1 = boff(&f, 1), b6 = boff(&f, 6);
	cr_assert_eq(_pmp_hdr(f.h, b1)->head & PMP_B_FLAGS, PMP_B_FREE);
	cr_assert_eq(b1 + _pmp_bsize(_pmp_hdr(f.h, b1)->head), boff(&f, 5), "run 1..4 not merged into one block");
	cr_assert_eq(b6 + _pmp_bsize(_pmp_hdr(f.h, b6)->head), boff(&f, 8), "run 6..7 not merged into one block");
	pmp_stats_t after;
	cr_assert_eq(pmp_stats(f.h, &after), 0);
	cr_assert_eq(after.free_blocks, before.free_blocks - 1, "run 1..4 replaces two free blocks, 6..7 one");
	cr_assert_eq(after.used_blocks, before.used_blocks - 3);
	exercise(&f);
	pmp_close(f.h);
	munmap(f.mem, LEN);
}

/* an interrupted growth: the arena's last block area still carries the old end header, the real sentinel's
 * prev_size already spans from it (grow() stopped between publishing the new end and freeing the old sentinel) */
static void interrupted_growth(int free_before)
{
	struct fix f;
	fix_init(&f);
	struct pmp_heap *h = f.h;
	/* the tail free block T..sentinel is cut: [T, T+K) is the last block before the growth, O = T+K the old end */
	uint64_t sent = _pmp_sentinel(h), t = 0;
	struct pmp_chain it;
	_pmp_chain_start(&it);
	while (_pmp_chain_next(h, &it) == 1)
		t = it.off;
	cr_assert(_pmp_hdr(h, t)->head & PMP_B_FREE, "fixture: the last block is the free tail");
	uint64_t k = 4096, o = t + k, gs = sent - o;
	cr_assert(gs > 65536);
	_pmp_set_prev(h, o, k);
	_pmp_set_head(h, o, PMP_B_END);
	_pmp_set_prev(h, sent, gs);
	if (free_before) {
		_pmp_set_head(h, t, k | PMP_B_FREE);
	} else {
		_pmp_set_head(h, t, k); /* a used block, as if allocated just before the growth */
		u_fill(h->base + t + PMP_HDR, 777, k - PMP_HDR);
		f.xblocks = 1;
		f.xbytes = k;
	}
	memset(h->ctl, 0xc3, offsetof(struct pmp_ctl, used_bytes));
	pmp_report_t r;
	cr_assert_eq(pmp_check(h, &r), PMP_ECORRUPT);
	cr_assert_eq(r.problem, PMP_P_BLOCK, "%s", r.msg);
	cr_assert_eq(r.offset, o, "the unfinished growth is reported at the old end");
	stop_and_attach(&f);
	h = f.h;
	u_assert_check(h, "after recovery");
	verify_live(&f);
	/* the old end header is gone: the last free block reaches the sentinel */
	uint64_t last = 0;
	int nblocks_after_t = 0;
	_pmp_chain_start(&it);
	while (_pmp_chain_next(h, &it) == 1) {
		cr_assert_eq(it.grown, 0, "an end header before the end survived recovery");
		last = it.off;
		if (it.off >= t)
			nblocks_after_t++;
	}
	cr_assert_eq(_pmp_hdr(h, last)->head & PMP_B_FLAGS, PMP_B_FREE);
	if (free_before) {
		cr_assert_eq(last, t, "free block before the growth merged with the grown block");
		cr_assert_eq(_pmp_bsize(_pmp_hdr(h, t)->head), sent - t);
		cr_assert_eq(nblocks_after_t, 1);
	} else {
		cr_assert_eq(last, o);
		cr_assert_eq(_pmp_bsize(_pmp_hdr(h, o)->head), gs);
		cr_assert_eq(u_verify(h->base + t + PMP_HDR, 777, k - PMP_HDR), k - PMP_HDR,
			     "the used block before the growth was damaged");
		cr_assert_eq(nblocks_after_t, 2);
	}
	/* the grown space is usable */
	void *big = pmp_malloc(h, (size_t)gs - 64);
	cr_assert_not_null(big);
	memset(big, 1, (size_t)gs - 64);
	u_assert_check(h, "using the grown space");
	pmp_free(h, big);
	exercise(&f);
	pmp_close(h);
	munmap(f.mem, LEN);
}

Test(recover, interrupted_growth_after_used_block) { interrupted_growth(0); }
Test(recover, interrupted_growth_after_free_block) { interrupted_growth(1); }

Test(recover, cached_blocks_are_released)
{
	struct fix f;
	fix_init(&f);
	pmp_stats_t before;
	cr_assert_eq(pmp_stats(f.h, &before), 0);
	/* free are 1, 4, 7, 10, 13, ...: cached 2 and 3 join 1 and 4 into one run, 8 joins 7, 12 and 14 join 13 */
	int cached[] = {2, 3, 8, 12, 14};
	for (unsigned i = 0; i < sizeof cached / sizeof cached[0]; i++) {
		_pmp_set_head(f.h, boff(&f, cached[i]), (_pmp_head(f.h, boff(&f, cached[i])) & PMP_W_VALUE) | PMP_B_CACHED);
		f.live[cached[i]] = 0;
	}
	scramble_derived(&f, 5);
	stop_and_attach(&f);
	u_assert_check(f.h, "after recovery");
	verify_live(&f);
	pmp_report_t r;
	cr_assert_eq(pmp_check(f.h, &r), 0);
	cr_assert_eq(r.cached_blocks, 0, "recovery must release every cached block");
	uint64_t b1 = boff(&f, 1), b7 = boff(&f, 7), b12 = boff(&f, 12);
	cr_assert_eq(_pmp_hdr(f.h, b1)->head & PMP_B_FLAGS, PMP_B_FREE);
	cr_assert_eq(b1 + _pmp_bsize(_pmp_hdr(f.h, b1)->head), boff(&f, 5));
	cr_assert_eq(b7 + _pmp_bsize(_pmp_hdr(f.h, b7)->head), boff(&f, 9));
	cr_assert_eq(b12 + _pmp_bsize(_pmp_hdr(f.h, b12)->head), boff(&f, 15));
	pmp_stats_t after;
	cr_assert_eq(pmp_stats(f.h, &after), 0);
	cr_assert_eq(after.used_blocks, before.used_blocks - 5);
	cr_assert_eq(after.free_blocks, before.free_blocks - 1, "run 1..4 replaces two free blocks");
	exercise(&f);
	pmp_close(f.h);
	munmap(f.mem, LEN);
}

Test(recover, damaged_chain_of_a_clean_heap_is_refused_untouched)
{
	/* damage to a heap that was closed cleanly comes from outside (bit rot, tampering): nothing may be written */
	struct fix f;
	fix_init(&f);
	uint64_t b9 = boff(&f, 9);
	pmp_heap_t *h = NULL;
	cr_assert_eq(pmp_close(f.h), 0);
	((struct pmp_block_hdr *)(void *)((uint8_t *)f.mem + b9))->head = 0x12345; /* a size word no stop can leave */
	uint8_t *copy = u_map(LEN);
	memcpy(copy, f.mem, LEN);
	/* the full check at open (the seal record would vouch for the heap and leave the block to its first use) */
	pmp_heap_opts_t o = {.flags = PMP_HEAP_VERIFY};
	cr_assert_eq(pmp_heap_attach_opts(f.mem, &o, &h), PMP_ECORRUPT);
	cr_assert_eq(memcmp(copy, f.mem, LEN), 0, "a refused attach wrote to the heap");
	/* without a seal record, the default attach walks and refuses as well */
	memset(&((struct pmp_ctl *)(void *)((uint8_t *)f.mem + PMP_OFF_CTL))->seal, 0, sizeof(struct pmp_seal));
	memcpy(copy, f.mem, LEN);
	cr_assert_eq(pmp_heap_attach(f.mem, &h), PMP_ECORRUPT);
	cr_assert_eq(memcmp(copy, f.mem, LEN), 0, "a refused attach wrote to the heap");
	munmap(copy, LEN);
	munmap(f.mem, LEN);
}

Test(recover, damaged_chain_of_a_dirty_heap_is_salvaged)
{
	/* a heap that was open (a power loss after the last commit): the damaged stretch becomes one LOST block, kept
	 * as used; every other block and its contents survive, and the heap is valid */
	struct fix f;
	fix_init(&f);
	uint64_t b9 = boff(&f, 9), b10 = boff(&f, 10);
	cr_assert(f.live[9], "fixture: block 9 is used");
	size_t n9 = b10 - b9;
	uint8_t *payload = u_map(n9);
	memcpy(payload, (uint8_t *)f.mem + b9 + PMP_HDR, n9 - PMP_HDR);
	_pmp_hdr(f.h, b9)->head = 0x12345; /* torn: fails its check */
	f.live[9] = 0;
	f.xblocks = 1; /* the LOST block is used: counted like a block made outside p[] */
	f.xbytes = n9;
	stop_and_attach(&f);
	u_assert_check(f.h, "after salvage");
	verify_live(&f);
	pmp_info_t i;
	cr_assert_eq(pmp_info(f.h, &i), 0);
	cr_assert_eq(i.last_lost_regions, 1);
	cr_assert_eq(i.last_lost_bytes, n9, "the lost block spans exactly the damaged block");
	cr_assert_eq(i.salvage_count, 1);
	uint64_t head = _pmp_head(f.h, b9);
	cr_assert_eq(head & PMP_B_FLAGS, PMP_B_LOST);
	cr_assert_eq(_pmp_bsize(head), n9);
	cr_assert_eq(memcmp(payload, (uint8_t *)f.mem + b9 + PMP_HDR, n9 - PMP_HDR), 0, "a lost block's bytes were changed");
	munmap(payload, n9);
	exercise(&f);
	pmp_close(f.h);
	munmap(f.mem, LEN);
}
