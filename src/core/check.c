/* check.c: the heap-wide invariant (pmp_check) and the block walk (pmp_walk).
 *
 * The invariant: every byte of the arena belongs to exactly one block; boundary tags agree; no two free blocks are
 * adjacent; every free block is in exactly the index list its size maps to and nothing else is; bitmaps match the
 * lists; counters match the chain; every root points to the start of a live block.
 * Holds: a read-only verifier that works on a private read-only view as well as on a live heap.
 * Must never: write to the heap, call malloc (it runs inside the allocator's lock under the preload), trust an
 * offset before range-checking it, or loop on a cyclic list.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../os/os.h"
#include "chain.h"
#include "page.h"
#include "track.h"
#include "theap.h"

static int fail(const struct pmp_heap *h, pmp_report_t *r, int problem, uint64_t off, const char *fmt, ...)
{
	r->problem = problem;
	r->offset = off;
	r->addr = (void *)(uintptr_t)(h->orig_base + off);
	int n = snprintf(r->msg, sizeof r->msg, "at offset 0x%llx (address 0x%llx): ", (unsigned long long)off,
			 (unsigned long long)(h->orig_base + off));
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof r->msg)
		vsnprintf(r->msg + n, sizeof r->msg - (size_t)n, fmt, ap);
	va_end(ap);
	return PMP_ECORRUPT;
}

static void sort_u64(uint64_t *a, size_t n) /* heapsort: no allocation, no recursion */
{
	for (size_t start = n / 2; start-- > 0;) {
		for (size_t i = start;;) {
			size_t c = 2 * i + 1;
			if (c >= n)
				break;
			if (c + 1 < n && a[c + 1] > a[c])
				c++;
			if (a[i] >= a[c])
				break;
			uint64_t t = a[i]; a[i] = a[c]; a[c] = t;
			i = c;
		}
	}
	for (size_t end = n; end-- > 1;) {
		uint64_t t = a[0]; a[0] = a[end]; a[end] = t;
		for (size_t i = 0;;) {
			size_t c = 2 * i + 1;
			if (c >= end)
				break;
			if (c + 1 < end && a[c + 1] > a[c])
				c++;
			if (a[i] >= a[c])
				break;
			t = a[i]; a[i] = a[c]; a[c] = t;
			i = c;
		}
	}
}

/* live roots' user offsets, sorted; -1 and a report on a malformed entry */
static int collect_roots(const struct pmp_heap *h, pmp_report_t *r, uint64_t *out, size_t *n)
{
	*n = 0;
	for (unsigned i = 0; i < PMP_ROOT_COUNT; i++) {
		const struct pmp_root *e = &h->roots[i];
		uint64_t off = __atomic_load_n(&e->off, __ATOMIC_ACQUIRE);
		if (!off)
			continue;
		if (memchr(e->name, 0, sizeof e->name) == NULL || e->name[0] == 0)
			return fail(h, r, PMP_P_ROOT, PMP_OFF_ROOTS + i * sizeof *e, "root entry %u has no valid name", i);
		out[(*n)++] = off;
	}
	sort_u64(out, *n);
	return 0;
}

static const char *root_name_of(const struct pmp_heap *h, uint64_t off)
{
	for (unsigned i = 0; i < PMP_ROOT_COUNT; i++)
		if (h->roots[i].off == off)
			return h->roots[i].name;
	return "?";
}

/* ---- slab pages ---- */

/* owned by another thread's theap of this handle: its slots change without the lock */
static int page_foreign(const struct pmp_heap *h, uint64_t off)
{
	if (!h->prt)
		return 0;
	const struct pmp_prt *pg = _pmp_prt_of(h, off);
	struct pmp_theap *o = __atomic_load_n(&pg->owner, __ATOMIC_ACQUIRE);
	struct pmp_theap *self = _pmp_theap_cached(h);
	return __atomic_load_n(&pg->kind, __ATOMIC_ACQUIRE) == PMP_PRT_PAGE && o && o != self;
}

/* What is wrong with the page at off, as far as a walk can tell: all of it when the page stands still, else (moving:
 * another thread owns it, or the process is ending with threads in it) only what no correct operation changes, no
 * bit beyond its capacity, since its owner allocates and collects remote frees without the lock, so that its
 * bitmap and remote list change under a walk of them. Pages of this thread, and abandoned ones (adopted only under
 * the lock a check holds), stand still. *live is set when the whole page was checked. */
static const char *page_now_wrong(const struct pmp_heap *h, uint64_t off, int moving, uint32_t *live)
{
	return moving ? _pmp_page_beyond(_pmp_page_at(h, off)) : _pmp_page_wrong(h, off, live);
}

/* check level 2 since the handle's start: every free slot this process has put on a free list holds the poison
 * its free (or its harvest) left, but for its first word (the list's link). Another byte changed is a write into a
 * freed slot: the overrun of the slot before it, or a write after free. Slots on the remote list are poisoned when
 * their owner collects them; slots not harvested yet are as an earlier run left them. */
static uint64_t poison_wrong(const struct pmp_heap *h, uint64_t off, const uint64_t *remote, uint32_t *byte)
{
	if (!h->poison_all || !h->prt)
		return 0;
	const struct pmp_prt *pr = _pmp_prt_of(h, off);
	if (pr->kind != PMP_PRT_PAGE || pr->stale)
		return 0;
	const struct pmp_page *pg = _pmp_page_at(h, off);
	uint8_t want = _pmp_poison_byte(h);
	for (uint32_t i = 0; i < pg->capacity && i < pr->scan; i++) {
		uint64_t bit = (uint64_t)1 << (i & 63);
		if ((pg->live[i >> 6] & bit) || (remote[i >> 6] & bit))
			continue;
		const uint8_t *p = h->base + off + pg->first_slot + (uint64_t)i * pg->slot_size;
		for (uint32_t k = sizeof(uint64_t); k < pg->slot_size - _pmp_trail(h); k++)
			if (p[k] != want) {
				*byte = k;
				return off + pg->first_slot + (uint64_t)i * pg->slot_size;
			}
	}
	return 0;
}

/* the chain's own counts (pages counted as the used blocks they are), for the index and the counters */
struct tally {
	uint64_t used_blocks, used_bytes, free_blocks, free_bytes, cached_blocks, cached_bytes;
};

/* The slots of the page at off (its chain block b checked): its header and remote list, the roots into it (each at
 * a live slot), the report's counts. */
static int check_page(const struct pmp_heap *h, pmp_report_t *r, uint64_t b, const uint64_t *roots, size_t nroots,
		      size_t *ri, int in_use)
{
	uint64_t off = b + PMP_HDR;
	const struct pmp_page *pg = _pmp_page_at(h, off);
	uint32_t live = 0;
	uint64_t remote[PMP_PAGE_WORDS];
	in_use = in_use || page_foreign(h, off); /* see page_now_wrong */
	const char *why = page_now_wrong(h, off, in_use, &live);
	if (why)
		return fail(h, r, PMP_P_PAGE, off, "%s", why);
	if (in_use) {
		memset(remote, 0, sizeof remote);
		for (unsigned w = 0; w < PMP_PAGE_WORDS; w++) /* a snapshot: frees waiting on its remote list count live */
			live += (uint32_t)__builtin_popcountll(__atomic_load_n(&pg->live[w], __ATOMIC_RELAXED));
	} else {
		_pmp_page_remote_set(h, off, remote);
		uint32_t k;
		uint64_t slot = poison_wrong(h, off, remote, &k);
		if (slot)
			return fail(h, r, PMP_P_PAGE, slot, "free slot was written at its byte %u after its free (an overrun "
				    "of the slot before it, or a write after free)", k);
	}
	for (; *ri < nroots && roots[*ri] < off + PMP_SLAB - PMP_HDR; (*ri)++) {
		uint64_t d = roots[*ri] - off - sizeof(struct pmp_page);
		uint32_t i = _pmp_slot_index(d, _pmp_class_inv(pg->cls));
		if (roots[*ri] < off + sizeof(struct pmp_page) || i >= pg->capacity || (uint64_t)i * pg->slot_size != d)
			return fail(h, r, PMP_P_ROOT, roots[*ri], "root \"%s\" points inside a page, not at a slot",
				    root_name_of(h, roots[*ri]));
		uint64_t bit = (uint64_t)1 << (i & 63);
		if (!(pg->live[i >> 6] & bit) || (remote[i >> 6] & bit))
			return fail(h, r, PMP_P_ROOT, roots[*ri], "root \"%s\" points to a free slot",
				    root_name_of(h, roots[*ri]));
		r->roots++;
	}
	r->pages++;
	r->blocks += pg->capacity;
	r->used_blocks += live;
	r->bytes_used += (uint64_t)live * pg->slot_size;
	r->free_blocks += pg->capacity - live;
	r->bytes_free += (uint64_t)(pg->capacity - live) * pg->slot_size;
	return 0;
}

/* walk the chain: tags, adjacency, pages, roots, counts; strict: see _pmp_validate; dir (or NULL) gets the pages */
static int check_chain(const struct pmp_heap *h, pmp_report_t *r, const uint64_t *roots, size_t nroots, int strict,
		       struct tally *t, int in_use, struct pmp_dir *dir)
{
	struct pmp_chain it;
	_pmp_chain_start(&it);
	uint64_t last = 0;
	int last_free = 0;
	size_t ri = 0;
	int rc;
	memset(t, 0, sizeof *t);
	while ((rc = _pmp_chain_next(h, &it)) == 1) {
		if (it.grown && strict)
			return fail(h, r, PMP_P_BLOCK, it.off, "unfinished arena growth in a live heap");
		/* a heap from before grow_from: an end header is growth only if no block follows it */
		if (!_pmp_chain_growth_real(h, &it))
			return fail(h, r, PMP_P_BLOCK, it.off, "end header before the end of the arena, with blocks after it");
		/* boundary tags are derived: after an unclean stop only recovery makes them right again */
		if ((!_pmp_prev_valid(h, it.off) || _pmp_prev(h, it.off) != last) && !it.grown && strict)
			return fail(h, r, PMP_P_PREVSIZE, it.off, "boundary tag says previous block is %llu bytes, it is %llu%s",
				    (unsigned long long)_pmp_prev(h, it.off), (unsigned long long)last,
				    _pmp_prev_valid(h, it.off) ? "" : " (and fails its check)");
		/* growth and recovery merge in a second store: after an unclean stop recovery finishes the merge */
		if (it.free && last_free && strict)
			return fail(h, r, PMP_P_ADJFREE, it.off, "free block follows a free block");
		uint64_t user = it.off + PMP_HDR;
		if (ri < nroots && roots[ri] < user)
			return fail(h, r, PMP_P_ROOT, roots[ri] - PMP_HDR, "root \"%s\" points inside a block, not at its start",
				    root_name_of(h, roots[ri]));
		int page = !it.free && !it.cached && !it.lost && _pmp_page_block(h, it.off, it.size);
		/* the site table of a tracked heap is a used block of the chain, not one of the program's */
		int internal = !it.free && !it.cached && h->sites_block && it.off == h->sites_block;
		if (page) {
			int e = check_page(h, r, it.off, roots, nroots, &ri, in_use);
			if (e)
				return e;
			if (dir && dir->n < dir->cap)
				dir->e[dir->n] = (it.off + PMP_HDR) | _pmp_page_at(h, it.off + PMP_HDR)->cls;
			if (dir)
				dir->n++; /* past cap: counted, not stored (the caller gives up its record) */
		}
		while (!page && ri < nroots && roots[ri] == user) {
			if (it.free || it.cached)
				return fail(h, r, PMP_P_ROOT, it.off, "root \"%s\" points to a free block",
					    root_name_of(h, roots[ri]));
			ri++;
			r->roots++;
		}
		if (it.free) {
			t->free_blocks++;
			t->free_bytes += it.size;
			r->free_blocks++;
			r->bytes_free += it.size;
		} else if (it.cached) {
			t->cached_blocks++;
			t->cached_bytes += it.size;
			r->cached_blocks++;
			r->bytes_cached += it.size;
		} else {
			t->used_blocks++;
			t->used_bytes += it.size;
			if (!page && !internal) {
				r->used_blocks++;
				r->bytes_used += it.size;
			}
		}
		if (!page && !internal)
			r->blocks++;
		last_free = it.free;
		last = it.size;
	}
	if (rc < 0)
		return fail(h, r, PMP_P_BLOCK, it.off, "%s", it.why);
	if ((!_pmp_prev_valid(h, it.off) || _pmp_prev(h, it.off) != last) && strict)
		return fail(h, r, PMP_P_PREVSIZE, it.off, "end sentinel's boundary tag says %llu, last block is %llu",
			    (unsigned long long)_pmp_prev(h, it.off), (unsigned long long)last);
	if (ri < nroots)
		return fail(h, r, PMP_P_ROOT, roots[ri], "root \"%s\" points outside the arena", root_name_of(h, roots[ri]));
	return 0;
}

/* every list: bitmaps, links, membership; collects listed offsets into `listed` (capacity cap) */
static int check_lists(const struct pmp_heap *h, pmp_report_t *r, uint64_t *listed, uint64_t cap, uint64_t *count)
{
	const struct pmp_ctl *c = h->ctl;
	uint64_t n = 0, sent = _pmp_sentinel(h);
	for (unsigned fl = 0; fl < PMP_FL_COUNT; fl++) {
		if (((c->fl_bitmap >> fl) & 1) != (c->sl_bitmap[fl] != 0))
			return fail(h, r, PMP_P_INDEX, PMP_OFF_CTL, "first-level bitmap bit %u disagrees with its lists", fl);
		for (unsigned sl = 0; sl < PMP_SL_COUNT; sl++) {
			uint64_t b = c->heads[fl][sl], prev = 0;
			if (((c->sl_bitmap[fl] >> sl) & 1) != (b != 0))
				return fail(h, r, PMP_P_INDEX, PMP_OFF_CTL, "bitmap bit of list %u/%u disagrees with the list", fl, sl);
			while (b) {
				if (b < PMP_OFF_ARENA || b >= sent || (b & (PMP_ALIGN - 1)))
					return fail(h, r, PMP_P_INDEX, prev ? prev : PMP_OFF_CTL,
						    "list %u/%u links to offset 0x%llx outside the arena", fl, sl,
						    (unsigned long long)b);
				if (n >= cap)
					return fail(h, r, PMP_P_INDEX, b, "free lists hold more entries than the chain has free blocks (cycle or stray entry)");
				uint64_t head = _pmp_hdr(h, b)->head, s = _pmp_bsize(head);
				unsigned f2, s2;
				if (!_pmp_head_valid(h, b, head) || (head & PMP_B_FLAGS) != PMP_B_FREE || s < PMP_MIN_BLOCK)
					return fail(h, r, PMP_P_INDEX, b, "list %u/%u holds a block that is not free", fl, sl);
				_pmp_map_insert(s, &f2, &s2);
				if (f2 != fl || s2 != sl)
					return fail(h, r, PMP_P_INDEX, b, "free block of %llu bytes is in list %u/%u, belongs in %u/%u",
						    (unsigned long long)s, fl, sl, f2, s2);
				const struct pmp_free_links *l = _pmp_links(h, b);
				if (l->prev != prev)
					return fail(h, r, PMP_P_INDEX, b, "free list back link is 0x%llx, expected 0x%llx",
						    (unsigned long long)l->prev, (unsigned long long)prev);
				listed[n++] = b;
				prev = b;
				b = l->next;
			}
		}
	}
	*count = n;
	return 0;
}

/* the chain's free blocks against the sorted listed offsets: each exactly once */
static int match_free(const struct pmp_heap *h, pmp_report_t *r, const uint64_t *listed, uint64_t n)
{
	for (uint64_t i = 1; i < n; i++)
		if (listed[i] == listed[i - 1])
			return fail(h, r, PMP_P_INDEX, listed[i], "free block listed twice");
	struct pmp_chain it;
	_pmp_chain_start(&it);
	uint64_t i = 0;
	while (_pmp_chain_next(h, &it) == 1) {
		if (!it.free)
			continue;
		if (i < n && listed[i] < it.off)
			return fail(h, r, PMP_P_INDEX, listed[i], "free list entry is not the start of a block");
		if (i >= n || listed[i] != it.off)
			return fail(h, r, PMP_P_INDEX, it.off, "free block of %llu bytes is in no free list",
				    (unsigned long long)it.size);
		i++;
	}
	if (i < n)
		return fail(h, r, PMP_P_INDEX, listed[i], "free list entry is not the start of a block");
	return 0;
}

/* the superblock's mapped size against the heap's end and reservation: 0, or PMP_ECORRUPT with r filled */
static int mapped_wrong(const struct pmp_heap *h, pmp_report_t *r)
{
	const struct pmp_sb *sb = &h->sb;
	if (sb->mapped != h->end || h->end > h->reserved || h->end < PMP_OFF_ARENA + PMP_MIN_BLOCK + PMP_HDR)
		return fail(h, r, PMP_P_HEADER, 0, "superblock mapped size 0x%llx disagrees with the heap",
			    (unsigned long long)sb->mapped);
	return 0;
}

int _pmp_check_in_use(struct pmp_heap *h, pmp_report_t *r)
{
	memset(r, 0, sizeof *r);
	uint64_t roots[PMP_ROOT_COUNT];
	size_t nroots;
	struct tally t;
	int e = collect_roots(h, r, roots, &nroots);
	return e ? e : check_chain(h, r, roots, nroots, 1, &t, 1, NULL);
}

/* the free index, the counters and the quarantine against the chain's tally t */
static int check_index(const struct pmp_heap *h, pmp_report_t *r, const struct tally *t)
{
	int e;
	const struct pmp_ctl *c = h->ctl;
	if (c->free_blocks != t->free_blocks || c->free_bytes != t->free_bytes)
		return fail(h, r, PMP_P_STATS, PMP_OFF_CTL, "index counts %llu free blocks / %llu bytes, chain has %llu / %llu",
			    (unsigned long long)c->free_blocks, (unsigned long long)c->free_bytes,
			    (unsigned long long)t->free_blocks, (unsigned long long)t->free_bytes);
	/* cached (quarantined) blocks are still counted as used until they really are freed */
	if (c->used_blocks != t->used_blocks + t->cached_blocks || c->used_bytes != t->used_bytes + t->cached_bytes)
		return fail(h, r, PMP_P_STATS, PMP_OFF_CTL, "counters say %llu used blocks / %llu bytes, chain has %llu / %llu",
			    (unsigned long long)c->used_blocks, (unsigned long long)c->used_bytes,
			    (unsigned long long)(t->used_blocks + t->cached_blocks),
			    (unsigned long long)(t->used_bytes + t->cached_bytes));
	/* every cached block is one this handle holds in its quarantine, and every quarantined block is cached */
	if (t->cached_blocks != h->q_count)
		return fail(h, r, PMP_P_CACHE, PMP_OFF_ARENA, "%llu blocks are marked cached, the quarantine holds %u",
			    (unsigned long long)t->cached_blocks, h->q_count);
	for (unsigned i = 0; i < h->q_count; i++) {
		uint64_t b = h->quarantine[(h->q_head + i) % PMP_QUARANTINE];
		if (b < PMP_OFF_ARENA || b >= _pmp_sentinel(h) || !(_pmp_hdr(h, b)->head & PMP_B_CACHED))
			return fail(h, r, PMP_P_CACHE, b, "quarantined block is not marked cached");
	}
	uint64_t cap = t->free_blocks, count = 0;
	uint64_t *listed = NULL;
	size_t len = (size_t)(cap * sizeof *listed + PMP_PAGE);
	void *mem;
	if (_pmp_os_pages_alloc(len, &mem))
		return ENOMEM;
	listed = mem;
	e = check_lists(h, r, listed, cap, &count);
	if (!e) {
		sort_u64(listed, (size_t)count);
		e = match_free(h, r, listed, count);
	}
	_pmp_os_pages_free(mem, len);
	return e;
}

/* the chain (strict or lenient, pages in use or still; their offsets into dir when given), then the index */
static int check_heap(const struct pmp_heap *h, pmp_report_t *r, int strict, int in_use, struct pmp_dir *dir, int index)
{
	memset(r, 0, sizeof *r);
	int e = mapped_wrong(h, r);
	if (e)
		return e;
	uint64_t roots[PMP_ROOT_COUNT];
	size_t nroots;
	struct tally t;
	e = collect_roots(h, r, roots, &nroots);
	if (!e)
		e = check_chain(h, r, roots, nroots, strict, &t, in_use, dir);
	if (e)
		return e;
	r->index_checked = index;
	return index ? check_index(h, r, &t) : 0;
}

int _pmp_validate(const struct pmp_heap *h, int strict, pmp_report_t *r)
{
	return check_heap(h, r, strict, 0, NULL, 0);
}

int _pmp_check_locked(struct pmp_heap *h, pmp_report_t *r)
{
	return check_heap(h, r, !h->index_stale, 0, NULL, !h->index_stale);
}

int _pmp_check_seal(struct pmp_heap *h, pmp_report_t *r, struct pmp_dir *dir)
{
	return check_heap(h, r, 1, 1, dir, 1);
}

int _pmp_check_one(struct pmp_heap *h, pmp_report_t *r)
{
	if (!h)
		return EINVAL;
	pmp_report_t local;
	if (!r)
		r = &local;
	_pmp_lock(h);
	int e = _pmp_check_locked(h, r);
	_pmp_unlock(h);
	return e;
}

/* every slot of the page at off as a block: live (bit set, not on the remote list) or free; the header is not a
 * block. A damaged page is walked as the one used block it is in the chain. */
static int walk_page(const struct pmp_heap *h, uint64_t off, pmp_walk_cb cb, void *user)
{
	const struct pmp_page *pg = _pmp_page_at(h, off);
	uint64_t remote[PMP_PAGE_WORDS];
	uint32_t live;
	pmp_block_t b;
	if (_pmp_page_wrong(h, off, &live)) {
		b.offset = off - PMP_HDR;
		b.addr = (void *)(uintptr_t)(h->orig_base + off);
		b.data = h->base + off;
		b.size = PMP_SLAB - PMP_HDR;
		b.block_size = PMP_SLAB;
		b.state = PMP_BLOCK_USED;
		return cb(&b, user);
	}
	_pmp_page_remote_set(h, off, remote);
	for (uint32_t i = 0; i < pg->capacity; i++) {
		uint64_t so = off + pg->first_slot + (uint64_t)i * pg->slot_size, bit = (uint64_t)1 << (i & 63);
		b.offset = so;
		b.addr = (void *)(uintptr_t)(h->orig_base + so);
		b.data = h->base + so;
		b.size = pg->slot_size - _pmp_trail(h);
		b.block_size = pg->slot_size;
		b.state = (pg->live[i >> 6] & bit) && !(remote[i >> 6] & bit) ? PMP_BLOCK_USED : PMP_BLOCK_FREE;
		int r = cb(&b, user);
		if (r)
			return r;
	}
	return 0;
}

int _pmp_walk_one(struct pmp_heap *h, pmp_walk_cb cb, void *user)
{
	if (!h || !cb)
		return EINVAL;
	_pmp_lock(h);
	__atomic_store_n(&h->walker, (const void *)&_pmp_tls, __ATOMIC_RELAXED);
	struct pmp_chain it;
	_pmp_chain_start(&it);
	int rc, ret = 0, damaged = 0;
	uint64_t sent = _pmp_sentinel(h);
	while ((rc = _pmp_chain_next(h, &it)) != 0) {
		if (rc < 0) {
			/* a damaged stretch: one block up to the next header that passes its check (recovery's own
			 * resynchronisation), and the walk goes on after it. A damaged sentinel ends the walk. */
			uint64_t at = it.off, y = at < sent ? _pmp_chain_resync(h, at) : at;
			damaged = 1;
			if (y <= at)
				break;
			pmp_block_t b;
			b.offset = at;
			b.addr = (void *)(uintptr_t)(h->orig_base + at + PMP_HDR); /* laid out as a chain block */
			b.data = h->base + at + PMP_HDR;
			b.size = (size_t)(y - at - PMP_HDR);
			b.block_size = (size_t)(y - at);
			b.state = PMP_BLOCK_DAMAGED;
			if ((ret = cb(&b, user)) != 0)
				break;
			it.size = y - at;
			continue;
		}
		if (!it.free && !it.cached && !it.lost && _pmp_page_block(h, it.off, it.size)) {
			if ((ret = walk_page(h, it.off + PMP_HDR, cb, user)) != 0)
				break;
			continue;
		}
		if (h->sites_block && it.off == h->sites_block && !it.free && !it.cached)
			continue; /* the site table: no block of the program's */
		pmp_block_t b;
		b.offset = it.off;
		b.addr = (void *)(uintptr_t)(h->orig_base + it.off + PMP_HDR);
		b.data = h->base + it.off + PMP_HDR;
		b.size = (size_t)(it.size - PMP_HDR - (it.lost ? 0 : _pmp_trail(h)));
		b.block_size = (size_t)it.size;
		b.state = it.free ? PMP_BLOCK_FREE : it.cached ? PMP_BLOCK_CACHED : it.lost ? PMP_BLOCK_LOST : PMP_BLOCK_USED;
		if ((ret = cb(&b, user)) != 0)
			break;
	}
	__atomic_store_n(&h->walker, NULL, __ATOMIC_RELAXED);
	_pmp_unlock(h);
	return ret ? ret : damaged ? PMP_ECORRUPT : 0;
}

/* ---- check level 2: the incremental check ---- */

#define STEP_BLOCKS 256

/* what can be checked of block it (the chain iterator's view) from its own header, its successor's boundary tag
 * and its free-list links: NULL, or what is wrong */
static const char *block_locally_wrong(const struct pmp_heap *h, const struct pmp_chain *it)
{
	uint64_t n = it->off + it->size;
	if (it->grown)
		return "unfinished arena growth in a live heap";
	if (!_pmp_prev_valid(h, n) || _pmp_prev(h, n) != it->size)
		return "the next block's boundary tag disagrees with this block's size";
	if (it->cached) {
		for (unsigned i = 0; i < h->q_count; i++)
			if (h->quarantine[(h->q_head + i) % PMP_QUARANTINE] == it->off)
				return NULL;
		return "block marked cached that no quarantine holds";
	}
	if (!it->free) {
		uint32_t live;
		if (it->lost || !_pmp_page_block(h, it->off, it->size))
			return NULL;
		uint64_t pg = it->off + PMP_HDR;
		return page_now_wrong(h, pg, page_foreign(h, pg), &live);
	}
	if (n != _pmp_sentinel(h) && (_pmp_head(h, n) & PMP_B_FREE))
		return "free block followed by a free block";
	const struct pmp_free_links *l = _pmp_links(h, it->off);
	unsigned fl, sl;
	_pmp_map_insert(it->size, &fl, &sl);
	uint64_t sent = _pmp_sentinel(h);
	if (l->prev == 0 ? h->ctl->heads[fl][sl] != it->off
			 : l->prev < PMP_OFF_ARENA || l->prev >= sent || _pmp_links(h, l->prev)->next != it->off)
		return "free block not linked from its free list";
	if (l->next && (l->next < PMP_OFF_ARENA || l->next >= sent || _pmp_links(h, l->next)->prev != it->off))
		return "free list link after this block does not point back";
	return NULL;
}

/* the roots and the quarantine, checked once per pass over the chain */
static const char *tables_wrong(const struct pmp_heap *h, uint64_t *where)
{
	for (unsigned i = 0; i < PMP_ROOT_COUNT; i++) {
		const struct pmp_root *e = &h->roots[i];
		uint64_t off = __atomic_load_n(&e->off, __ATOMIC_ACQUIRE);
		*where = PMP_OFF_ROOTS + i * sizeof *e;
		if (!off)
			continue;
		if (!memchr(e->name, 0, sizeof e->name) || !e->name[0])
			return "root entry has no valid name";
		uint64_t b = off - PMP_HDR, head, size;
		const char *why;
		if (_pmp_user_block(h, h->base + off, &size, &why) == PMP_USER_SLOT)
			continue; /* a live slot of a page: no header before it */
		if (off < PMP_OFF_ARENA + PMP_HDR || b >= _pmp_sentinel(h) || (off & (PMP_ALIGN - 1)) ||
		    !_pmp_head_valid(h, b, head = _pmp_head(h, b)) || (head & PMP_B_FLAGS))
			return "root does not point at a live block";
	}
	for (unsigned i = 0; i < h->q_count; i++) {
		uint64_t b = h->quarantine[(h->q_head + i) % PMP_QUARANTINE];
		*where = b;
		if (b < PMP_OFF_ARENA || b >= _pmp_sentinel(h) || !(_pmp_head(h, b) & PMP_B_CACHED))
			return "quarantined block is not marked cached";
	}
	return NULL;
}

void _pmp_check_step_slow(struct pmp_heap *h)
{
	struct pmp_chain it;
	const char *why = NULL;
	uint64_t off = h->check_cursor, where = 0;
	/* the cursor is a block start the last step saw; a merge since may have absorbed it (its header was then
	 * forgotten): start the pass again */
	if (off && _pmp_chain_at(h, off, &it) != 1)
		off = 0;
	if (!off)
		off = PMP_OFF_ARENA;
	for (unsigned n = 0; n < STEP_BLOCKS; n++) {
		int r = _pmp_chain_at(h, off, &it);
		if (r < 0) {
			why = it.why;
			where = off;
			break;
		}
		if (r == 0) { /* the end: the pass is complete */
			why = tables_wrong(h, &where);
			off = 0;
			break;
		}
		if ((why = block_locally_wrong(h, &it)) != NULL) {
			where = off;
			break;
		}
		off += it.size;
	}
	h->check_cursor = off;
	h->check_ops = 0;
	if (why) {
		char msg[256];
		snprintf(msg, sizeof msg, "pmempreload: check level 2: heap inconsistent at offset 0x%llx (address 0x%llx): %s\n",
			 (unsigned long long)where, (unsigned long long)(h->orig_base + where), why);
		_pmp_os_fatal(msg);
	}
}

void _pmp_census(const struct pmp_heap *h, struct pmp_census *c)
{
	memset(c, 0, sizeof *c);
	struct pmp_chain it;
	_pmp_chain_start(&it);
	while (_pmp_chain_next(h, &it) == 1) {
		uint32_t live;
		if (it.free || it.cached || it.lost || !_pmp_page_block(h, it.off, it.size) ||
		    _pmp_page_wrong(h, it.off + PMP_HDR, &live))
			continue;
		const struct pmp_page *pg = _pmp_page_at(h, it.off + PMP_HDR);
		c->pages++;
		c->live_slots += live;
		c->live_bytes += (uint64_t)live * pg->slot_size;
		c->free_slots += pg->capacity - live;
		c->free_bytes += (uint64_t)(pg->capacity - live) * pg->slot_size;
	}
}
