/* seal.c: unit tests of the seal record (src/core/seal.c): a clean heap's attach trusts it and sees exactly the heap
 * the full walk sees (blocks, stats, free space); damage to what the record vouches for (control area, directory,
 * root table), a heap sealed without a check, an unsealed heap and a heap without a record (older format) take the
 * full walk; a heap used after a trusted attach stays valid through more seals.
 *
 * Holds: tests on heaps on anonymous memory, reattached from copies of one image so that both paths see the same
 * bytes. Must never: judge a heap by anything but pmp_check, pmp_walk and pmp_stats, or time anything.
 */
#include "unit.h"

#define LEN ((size_t)16 << 20)
#define NB 600
#define MAXW 100000

/* a heap with slots of many classes and chain blocks, a third of them freed, roots on some; closed cleanly */
static void *make_sealed(void)
{
	void *mem = u_map(LEN);
	struct pmp_heap *h = u_heap(mem, LEN);
	void *p[NB];
	for (int i = 0; i < NB; i++) {
		size_t n = i % 10 == 9 ? PMP_SMALL_MAX + 100 + (size_t)i * 13 : 16 + (size_t)(i * 97 % 3000);
		p[i] = pmp_malloc(h, n);
		cr_assert_not_null(p[i]);
		u_fill(p[i], (uint64_t)i, n < 64 ? n : 64);
	}
	for (int i = 0; i < NB; i += 3)
		pmp_free(h, p[i]);
	cr_assert_eq(pmp_root_set(h, "slot", p[1]), 0);
	cr_assert_eq(pmp_root_set(h, "chain", p[19]), 0);
	u_assert_check(h, "before the close");
	cr_assert_eq(pmp_close(h), 0);
	return mem;
}

struct seen {
	uint64_t off[MAXW], size[MAXW];
	int state[MAXW];
	size_t n;
	pmp_stats_t st;
};
static int collect(const pmp_block_t *b, void *u)
{
	struct seen *s = u;
	cr_assert_lt(s->n, MAXW);
	s->off[s->n] = b->offset;
	s->size[s->n] = b->block_size;
	s->state[s->n++] = b->state;
	return 0;
}

/* attach the image (with flags), require the path `trusted`, record what the heap shows, drop the handle as a
 * crash would (so the image stays comparable); returns the handle's memory to the caller */
static void attach_and_see(void *mem, const void *image, unsigned flags, int trusted, struct seen *s)
{
	memcpy(mem, image, LEN);
	pmp_heap_opts_t o = {.flags = flags};
	pmp_heap_t *h;
	int e = pmp_heap_attach_opts(mem, &o, &h);
	cr_assert_eq(e, 0, "attach: %s", pmp_strerror(e));
	cr_assert_eq(h->trusted_open, trusted, "the attach %s the seal record", trusted ? "did not trust" : "trusted");
	u_assert_check(h, "after the attach");
	memset(s, 0, sizeof *s);
	cr_assert_eq(pmp_walk(h, collect, s), 0);
	cr_assert_eq(pmp_stats(h, &s->st), 0);
	_pmp_heap_discard(h);
	_pmp_heap_handle_free(h);
}

static void same_heap(const struct seen *a, const struct seen *b)
{
	cr_assert_eq(a->n, b->n, "%zu blocks against %zu", a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		cr_assert(a->off[i] == b->off[i] && a->size[i] == b->size[i] && a->state[i] == b->state[i],
			  "block %zu differs: 0x%llx/%llu/%d against 0x%llx/%llu/%d", i, (unsigned long long)a->off[i],
			  (unsigned long long)a->size[i], a->state[i], (unsigned long long)b->off[i],
			  (unsigned long long)b->size[i], b->state[i]);
	cr_assert_eq(memcmp(&a->st, &b->st, sizeof a->st), 0, "stats differ (used %llu/%llu, free %llu/%llu, largest %llu/%llu)",
		     (unsigned long long)a->st.used_bytes, (unsigned long long)b->st.used_bytes,
		     (unsigned long long)a->st.free_bytes, (unsigned long long)b->st.free_bytes,
		     (unsigned long long)a->st.largest_free, (unsigned long long)b->st.largest_free);
}

static struct pmp_seal *seal_of(void *mem)
{
	return &((struct pmp_ctl *)(void *)((uint8_t *)mem + PMP_OFF_CTL))->seal;
}

static struct seen full, fast, other;

Test(seal, trusted_attach_sees_the_heap_the_walk_sees)
{
	void *mem = make_sealed(), *image = u_map(LEN);
	memcpy(image, mem, LEN);
	cr_assert_gt(seal_of(image)->dir_count, 3, "the heap has pages: the directory lists them");
	attach_and_see(mem, image, PMP_HEAP_VERIFY, 0, &full);
	attach_and_see(mem, image, 0, 1, &fast);
	same_heap(&full, &fast);
	cr_assert_gt(fast.st.pages, 3);
	munmap(image, LEN);
	munmap(mem, LEN);
}

Test(seal, a_trusted_heap_stays_valid_through_use_and_more_seals)
{
	void *mem = make_sealed();
	for (int round = 0; round < 4; round++) {
		pmp_heap_t *h;
		cr_assert_eq(pmp_heap_attach(mem, &h), 0);
		cr_assert_eq(h->trusted_open, 1, "round %d: the record of the last close is trusted", round);
		/* every live block the walk shows, every other one freed (slots of pages not checked yet, chain blocks),
		 * and new ones of every size */
		memset(&other, 0, sizeof other);
		cr_assert_eq(pmp_walk(h, collect, &other), 0);
		unsigned k = 0;
		for (size_t i = 0; i < other.n; i++) {
			int chain = other.size[i] > PMP_SMALL_MAX;
			if (other.state[i] == PMP_BLOCK_USED && k++ % 2 == (unsigned)round % 2 &&
			    other.off[i] + (chain ? PMP_HDR : 0) != (uint64_t)((uint8_t *)pmp_root_get(h, "slot") - h->base) &&
			    other.off[i] + (chain ? PMP_HDR : 0) != (uint64_t)((uint8_t *)pmp_root_get(h, "chain") - h->base))
				pmp_free(h, h->base + other.off[i] + (chain ? PMP_HDR : 0));
		}
		for (int i = 0; i < 300; i++)
			cr_assert_not_null(pmp_malloc(h, 16 + (size_t)((i + round) * 131 % 20000)));
		u_assert_check(h, "after use");
		cr_assert_eq(pmp_close(h), 0);
	}
	munmap(mem, LEN);
}

/* one byte changed at `at` in an image: the attach takes the full walk and still opens */
static void flip_falls_back(void *mem, const void *image, uint64_t at)
{
	uint8_t *copy = u_map(LEN);
	memcpy(copy, image, LEN);
	copy[at] ^= 0x10;
	attach_and_see(mem, copy, 0, 0, &other);
	munmap(copy, LEN);
}

Test(seal, damage_to_what_the_record_vouches_for_takes_the_walk)
{
	void *mem = make_sealed(), *image = u_map(LEN);
	memcpy(image, mem, LEN);
	const struct pmp_seal *s = seal_of(image);
	flip_falls_back(mem, image, PMP_OFF_CTL + offsetof(struct pmp_ctl, heads) + 8 * 33); /* a free-list head */
	flip_falls_back(mem, image, PMP_OFF_CTL + offsetof(struct pmp_ctl, free_bytes));
	flip_falls_back(mem, image, PMP_OFF_CTL + offsetof(struct pmp_ctl, n_malloc));
	flip_falls_back(mem, image, s->dir_off + 8 * (s->dir_count / 2)); /* a page of the directory */
	flip_falls_back(mem, image, s->dir_off + 8 * s->dir_count - 1);
	flip_falls_back(mem, image, PMP_OFF_ROOTS + 1); /* a root's name ("slot" -> "sl|t"): still valid */
	flip_falls_back(mem, image, PMP_OFF_CTL + offsetof(struct pmp_ctl, seal) + offsetof(struct pmp_seal, dir_count));
	/* the full walk refuses what it refused before: the end sentinel's tag (the record holds a copy) */
	flip_falls_back(mem, image, PMP_OFF_CTL + offsetof(struct pmp_ctl, seal) + offsetof(struct pmp_seal, end_hdr));
	attach_and_see(mem, image, 0, 1, &fast); /* and the image itself is trusted */
	munmap(image, LEN);
	munmap(mem, LEN);
}

Test(seal, a_heap_without_a_record_opens_by_the_walk)
{
	/* as a heap closed by a version before the record (the area was zeros then) */
	void *mem = make_sealed(), *image = u_map(LEN);
	memcpy(image, mem, LEN);
	attach_and_see(mem, image, 0, 1, &fast);
	memset(seal_of(image), 0, sizeof(struct pmp_seal));
	attach_and_see(mem, image, 0, 0, &full);
	same_heap(&full, &fast);
	munmap(image, LEN);
	munmap(mem, LEN);
}

Test(seal, no_record_without_a_check_at_the_seal)
{
	void *mem = make_sealed();
	pmp_heap_t *h;
	cr_assert_eq(pmp_heap_attach(mem, &h), 0);
	cr_assert_eq(pmp_set_check(h, 0, 0), 0);
	cr_assert_eq(pmp_close(h), 0);
	cr_assert_eq(seal_of(mem)->magic, 0, "a seal that checked nothing wrote a record");
	cr_assert_eq(pmp_heap_attach(mem, &h), 0);
	cr_assert_eq(h->trusted_open, 0);
	u_assert_check(h, "after the walk");
	cr_assert_eq(pmp_close(h), 0);
	munmap(mem, LEN);
}

Test(seal, an_unsealed_heap_is_not_trusted)
{
	/* an exec that failed: sealed, then writable again; what it does next is in no record */
	void *mem = make_sealed();
	pmp_heap_t *h;
	cr_assert_eq(pmp_heap_attach(mem, &h), 0);
	void *p = pmp_malloc(h, 40000);
	cr_assert_not_null(p);
	cr_assert_eq(_pmp_heap_seal(h, PMP_SEAL_KEEP, PMP_END_EXEC), 0);
	_pmp_heap_unseal(h);
	pmp_free(h, p);
	uint64_t b = u_off(h, p);
	_pmp_heap_discard(h); /* then the process dies */
	_pmp_heap_handle_free(h);
	cr_assert_eq(pmp_heap_attach(mem, &h), 0);
	cr_assert_eq(h->trusted_open, 0, "a dirty heap trusted a record");
	cr_assert(_pmp_head(h, b) & PMP_B_FREE, "the free after the unseal is lost");
	u_assert_check(h, "after the recovery");
	cr_assert_eq(_pmp_heap_seal(h, PMP_SEAL_KEEP, PMP_END_EXEC), 0); /* sealed again: a record for this generation */
	_pmp_heap_discard(h);
	_pmp_heap_handle_free(h);
	cr_assert_eq(pmp_heap_attach(mem, &h), 0);
	cr_assert_eq(h->trusted_open, 1);
	cr_assert_eq(pmp_close(h), 0);
	munmap(mem, LEN);
}
