/* region.c: the chain allocator on one heap: blocks with boundary tags, carved from the arena and given back to it.
 *
 * Holds: growth of the arena through the layer's grow hook, split and merge, the good-fit take from the TLSF index,
 * resize in place, and check level 2's quarantine (large free blocks give their disk blocks back in decay.c). Everything here runs under
 * the heap lock.
 * Must never: write headers in an order that leaves the chain unwalkable after a stop at any instruction (the
 * size words are the ground truth: a split writes the tail first and shrinks the head in one store; a merge is
 * one store to the surviving head), or touch memory outside [base, end).
 */
#include <errno.h>
#include <string.h>

#include "../os/os.h"
#include "page.h"
#include "track.h"

/* ---- growth ---- */

/* Fresh space is prewritten (ops->prewrite) in steps of this many bytes, under the lock, for blocks up to
 * PMP_PREWRITE_MAX: a larger block may be touched sparsely (a big buffer), where zeros written at once would fill
 * the page cache, and later the disk, with pages the program never touches. And only past the default first
 * chunk (PMP_PREWRITE_FROM): a small heap is touched as the program touches it, since there the step written ahead,
 * the slots of a page not handed out yet and the blocks a program never writes (a benchmark's) are a large part of
 * its footprint (with them, peak RSS over mimalloc-bench's programs went from 1.31 to 1.55 times glibc's, and
 * glibc-thread's from 3.9 to 7.5 MiB); in a heap that grows past it they are a small part, and there a first touch
 * of each page through the mapping costs about twice an anonymous one, where prewritten ones come in large pieces. */
#define PMP_PREWRITE_STEP ((uint64_t)256 << 10)
#define PMP_PREWRITE_MAX ((uint64_t)1 << 20)
#define PMP_PREWRITE_FROM ((uint64_t)PMP_DEFAULT_INITIAL)

/* The free block b (bs bytes, out of the index) is about to hold a block of s bytes (and, past it, the tail's header,
 * links and holes word): where that reaches into fresh space, zeros are written from where fresh space starts to the
 * next step boundary past it. Only ever inside the block's own interior (past its header, links and holes word,
 * before the next block's header), which holds nothing: so a stale fresh range cannot cost a byte. Fresh space
 * moves past the block either way. Never at check level 2 (free space holds poison there) or over punched pages. */
/* zeros over [lo, hi), bytes that hold nothing, through the layer (a hint; never at check level 2, where free
 * space holds poison) */
static void prewrite(struct pmp_heap *h, uint64_t lo, uint64_t hi)
{
	if (hi <= lo || !h->ops->prewrite || h->check_level >= 2)
		return;
	(void)h->ops->prewrite(h, lo, hi - lo);
	PMP_CRASHPOINT();
}

static void prewrite_fresh(struct pmp_heap *h, uint64_t b, uint64_t bs, uint64_t s)
{
	uint64_t end = b + s + 3 * PMP_HDR, lo = h->fresh_lo, hi;
	if (end <= lo || b >= h->fresh_hi)
		return;
	hi = s > PMP_PREWRITE_MAX ? end : (end + PMP_PREWRITE_STEP - 1) & ~(PMP_PREWRITE_STEP - 1);
	if (hi > h->fresh_hi)
		hi = h->fresh_hi;
	h->fresh_lo = hi;
	if (lo < b + 3 * PMP_HDR)
		lo = b + 3 * PMP_HDR;
	if (hi > b + bs)
		hi = b + bs;
	if (lo < PMP_PREWRITE_FROM)
		lo = PMP_PREWRITE_FROM;
	if (s <= PMP_PREWRITE_MAX && !_pmp_may_have_holes(h, b, bs))
		prewrite(h, lo, hi);
}

/* Extend the arena so that a free block of at least `need` bytes ends it. Order (see format.h): fallocate, write the
 * new sentinel, publish the superblock with the new end, then turn the old sentinel into a free block. A stop
 * between the last two leaves an end header before the end, which recovery and the walk read as that free block. */
static int grow(struct pmp_heap *h, uint64_t need)
{
	if (!h->ops->grow)
		return ENOMEM;
	uint64_t old = h->end, want = old + need + PMP_HDR, got = 0;
	if (want < old || want > h->reserved)
		return ENOMEM;
	int e = h->ops->grow(h, want, &got);
	if (e)
		return e;
	got &= ~(uint64_t)(PMP_ALIGN - 1);
	if (got < want)
		return ENOMEM;
	uint64_t s = got - old; /* the new block spans the old sentinel to the new one */
	uint64_t ns = got - PMP_HDR;
	/* The new space's first page (where the free block's links go) and the new sentinel's page are prewritten
	 * before either is written (past the old end they hold nothing): a first touch through the mapping would read
	 * the file around it into the page cache (as far as the device's readahead, often megabytes) in single pages. */
	uint64_t first = (old + 3 * PMP_HDR + PMP_PAGE - 1) & ~(uint64_t)(PMP_PAGE - 1);
	uint64_t last = ns & ~(uint64_t)(PMP_PAGE - 1);
	if (first > last)
		first = last;
	prewrite(h, old, first);
	prewrite(h, last > old ? last : old, got);
	PMP_CRASHPOINT();
	_pmp_set_prev(h, ns, s);
	PMP_CRASHPOINT();
	_pmp_set_head(h, ns, PMP_B_END);
	h->end = got;
	h->sb.mapped = got;
	h->sb.grow_from = old; /* the one place an end header may stand before the end (recovery trusts no other) */
	_pmp_sb_publish(h);
	uint64_t b = old - PMP_HDR;
	PMP_CRASHPOINT();
	_pmp_set_head(h, b, s | PMP_B_FREE);
	_pmp_fresh_set(h, b, ns);
	if (h->fresh_lo < first)
		h->fresh_lo = first;
	h->ctl->n_grow++;
	/* merge with a free last block */
	uint64_t ps = _pmp_prev(h, b);
	if (b > PMP_OFF_ARENA && _pmp_prev_valid(h, b) && ps >= PMP_MIN_BLOCK && ps <= b - PMP_OFF_ARENA &&
	    _pmp_head_valid(h, b - ps, _pmp_head(h, b - ps)) && (_pmp_head(h, b - ps) & PMP_B_FLAGS) == PMP_B_FREE) {
		uint64_t pb = b - ps;
		_pmp_index_remove(h, pb, ps);
		s += ps;
		PMP_CRASHPOINT();
		_pmp_set_head(h, pb, s | PMP_B_FREE);
		_pmp_forget_head(h, b);
		PMP_CRASHPOINT();
		_pmp_set_prev(h, ns, s);
		b = pb;
	}
	_pmp_index_insert(h, b, s);
	return 0;
}

/* ---- split and use ---- */

/* Split block b of `total` bytes into [b, b+first) with head flags ff and the rest with flags sf; returns the offset
 * of the second part. The order keeps the chain walkable after a stop at any store: the second part's tags first,
 * then the first part shrinks in one store (until then the chain sees the whole block). */
static uint64_t split(const struct pmp_heap *h, uint64_t b, uint64_t total, uint64_t first, uint64_t ff, uint64_t sf)
{
	uint64_t t = b + first, ts = total - first;
	PMP_CRASHPOINT();
	_pmp_set_prev(h, t, first);
	PMP_CRASHPOINT();
	_pmp_set_head(h, t, ts | sf);
	PMP_CRASHPOINT();
	_pmp_set_prev(h, t + ts, ts);
	PMP_CRASHPOINT();
	_pmp_set_head(h, b, first | ff);
	return t;
}

/* Take free block b (size s, already out of the index) for a block of size want <= s: split the tail off when it is
 * big enough, then mark the head used in one store. */
static void use_block(struct pmp_heap *h, uint64_t b, uint64_t s, uint64_t want, int holes)
{
	struct pmp_ctl *c = h->ctl;
	if (s - want >= PMP_MIN_BLOCK) {
		uint64_t ts = s - want, t = split(h, b, s, want, 0, PMP_B_FREE);
		if (holes) /* the tail keeps whatever pages of the block were given back */
			_pmp_mark_holes(h, t, ts);
		_pmp_index_insert(h, t, ts);
		s = want;
	} else {
		PMP_CRASHPOINT();
		_pmp_set_head(h, b, s);
	}
	c->used_bytes += s;
	c->used_blocks++;
	if (c->used_bytes > c->peak_used)
		c->peak_used = c->used_bytes;
}

/* A block the free index hands out must be what the index says: a free block whose header passes its check. A
 * write after free or an overflow into a freed block's header is caught here, before the block is split on the
 * strength of a size that is not true: one message and an abort, at every check level (after an open that trusted
 * the seal record, a free block's header is as the file holds it). */
static uint64_t checked_free(const struct pmp_heap *h, uint64_t b)
{
	uint64_t head = _pmp_head(h, b);
	if (b && (!_pmp_head_valid(h, b, head) || (head & PMP_B_FLAGS) != PMP_B_FREE || _pmp_bsize(head) < PMP_MIN_BLOCK))
		_pmp_fatal_pointer(h, "malloc", h->base + b + PMP_HDR,
				   "free block's header was overwritten (write after free, or an overflow of the block before)");
	return b;
}

/* The good-fit search skips the request's own list (its blocks may be smaller than s). Before giving up or growing,
 * scan that one list for a block that fits: near exhaustion, and after growing by exactly s, this is the only fit. */
static uint64_t find_in_own_list(const struct pmp_heap *h, uint64_t s)
{
	unsigned fl, sl;
	_pmp_map_insert(s, &fl, &sl);
	if (fl >= PMP_FL_COUNT)
		return 0;
	uint64_t n = 0, most = (h->end - PMP_OFF_ARENA) / PMP_MIN_BLOCK;
	for (uint64_t b = h->ctl->heads[fl][sl]; b; b = _pmp_links(h, b)->next) {
		if (!_pmp_link_ok(h, b) || n++ > most) /* links as the file holds them: bounded and range-checked */
			_pmp_fatal_pointer(h, "malloc", h->base + b, "a free list links outside the arena or in a cycle");
		if (_pmp_bsize(_pmp_head(h, checked_free(h, b))) >= s)
			return b;
	}
	return 0;
}

/* Find (growing if needed) and remove a free block of at least s bytes; 0 if none. The request's own list comes
 * first when its head fits: a freed block of the same size is reused at once (what the program just gave back is
 * warm, and reusing it keeps the heap small), before the good-fit search of the lists above. */
static uint64_t take(struct pmp_heap *h, uint64_t s, uint64_t *bs)
{
	unsigned fl, sl;
	_pmp_map_insert(s, &fl, &sl);
	uint64_t b = fl < PMP_FL_COUNT ? checked_free(h, h->ctl->heads[fl][sl]) : 0;
	if (b && _pmp_bsize(_pmp_head(h, b)) < s)
		b = 0;
	if (!b)
		b = checked_free(h, _pmp_index_find(h, s));
	if (!b)
		b = find_in_own_list(h, s);
	if (!b) {
		if (grow(h, s))
			return 0;
		b = checked_free(h, _pmp_index_find(h, s));
		if (!b)
			b = find_in_own_list(h, s);
		if (!b)
			return 0;
	}
	*bs = _pmp_bsize(_pmp_hdr(h, b)->head);
	_pmp_index_remove(h, b, *bs);
	prewrite_fresh(h, b, *bs, s);
	return b;
}

/* a block handed to the program (not a page): the operation counters */
static void counted_malloc(struct pmp_heap *h)
{
	__atomic_add_fetch(&h->ctl->n_malloc, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->ctl->seq, 1, __ATOMIC_RELAXED);
}

void *_pmp_alloc_locked(struct pmp_heap *h, size_t n, size_t align)
{
	uint64_t want = _pmp_adjust(n), s;
	if (!want) {
		errno = ENOMEM;
		return NULL;
	}
	if (align <= PMP_ALIGN) {
		uint64_t b = take(h, want, &s);
		if (!b) {
			errno = ENOMEM;
			return NULL;
		}
		int holes = _pmp_may_have_holes(h, b, s);
		/* pages given back are backed again before a byte of them is used (a full disk: ENOMEM, not SIGBUS);
		 * the 48 bytes after the block are the tail's header, links and marker */
		if (holes && _pmp_back(h, b, b + want + 3 * PMP_HDR)) {
			_pmp_index_insert(h, b, s);
			errno = ENOMEM;
			return NULL;
		}
		use_block(h, b, s, want, holes);
		counted_malloc(h);
		return h->base + b + PMP_HDR;
	}
	/* Over-allocate so that a front gap of at least a minimum block can be split off before the aligned block. */
	uint64_t req = want + align + PMP_MIN_BLOCK;
	if (req < want || req > PMP_MAX_BLOCK) {
		errno = ENOMEM;
		return NULL;
	}
	uint64_t b = take(h, req, &s);
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	uintptr_t user = ((uintptr_t)(h->base + b + PMP_HDR) + align - 1) & ~(uintptr_t)(align - 1);
	uint64_t nb = (uint64_t)(user - (uintptr_t)h->base) - PMP_HDR;
	if (nb != b && nb - b < PMP_MIN_BLOCK)
		nb += align;
	int holes = _pmp_may_have_holes(h, b, s);
	if (holes && _pmp_back(h, nb, nb + want + 3 * PMP_HDR)) {
		_pmp_index_insert(h, b, s);
		errno = ENOMEM;
		return NULL;
	}
	if (nb != b) {
		uint64_t gap = nb - b, ns = s - gap;
		split(h, b, s, gap, PMP_B_FREE, PMP_B_FREE); /* the front gap stays free; the rest is used below */
		if (holes) /* the front gap keeps the marker where it was (keyed by b): still valid */
			_pmp_mark_holes(h, b, gap);
		_pmp_index_insert(h, b, gap);
		b = nb;
		s = ns;
	}
	use_block(h, b, s, want, holes);
	counted_malloc(h);
	return h->base + b + PMP_HDR;
}

/* ---- slab pages ---- */

/* where in free block b of s bytes a page's block would start (its payload aligned to PMP_SLAB, the gap before it
 * none or a free block of its own), or 0 when no page fits so that what follows it is none or a block of its own */
static uint64_t page_start_in(uint64_t b, uint64_t s)
{
	uint64_t nb = ((b + PMP_HDR + PMP_SLAB - 1) & ~(uint64_t)(PMP_SLAB - 1)) - PMP_HDR;
	if (nb != b && nb - b < PMP_MIN_BLOCK)
		nb += PMP_SLAB;
	if (nb + PMP_SLAB > b + s)
		return 0;
	uint64_t tail = b + s - (nb + PMP_SLAB);
	return tail == 0 || tail >= PMP_MIN_BLOCK ? nb : 0;
}

/* A free block of less than two pages that holds a page, taken from the index, or 0: the pages retired lately are
 * found again (their memory is backed and warm) before fresh space is carved. A few blocks per list are looked at. */
static uint64_t take_page_fit(struct pmp_heap *h, uint64_t below, uint64_t *bs)
{
	const struct pmp_ctl *c = h->ctl;
	unsigned fl, sl, fl_end, sl_end;
	_pmp_map_insert(PMP_SLAB, &fl, &sl);
	_pmp_map_insert(below, &fl_end, &sl_end);
	for (; fl <= fl_end && fl < PMP_FL_COUNT; fl++, sl = 0) {
		uint32_t slmap = c->sl_bitmap[fl] & (~0u << sl);
		if (fl == fl_end)
			slmap &= sl_end + 1 < 32 ? ~(~0u << (sl_end + 1)) : ~0u;
		for (; slmap; slmap &= slmap - 1) {
			uint64_t b = c->heads[fl][__builtin_ctz(slmap)];
			for (unsigned n = 0; b && n < 4; n++, b = _pmp_links(h, b)->next) {
				if (!_pmp_link_ok(h, b))
					_pmp_fatal_pointer(h, "malloc", h->base + b, "a free list links outside the arena");
				uint64_t s = _pmp_bsize(_pmp_head(h, checked_free(h, b)));
				if (s < below && page_start_in(b, s)) {
					_pmp_index_remove(h, b, s);
					*bs = s;
					return b;
				}
			}
		}
	}
	return 0;
}

uint64_t _pmp_page_new_locked(struct pmp_heap *h, unsigned c, uint32_t owner_tag)
{
	/* a block of PMP_SLAB bytes whose payload is aligned to PMP_SLAB: consecutive pages tile with no gap, the
	 * first one after a gap of less than a page (which other blocks use). A block of req bytes holds one wherever
	 * it lies, with room for a free block on either side. */
	uint64_t want = PMP_SLAB, req = want + PMP_SLAB + PMP_MIN_BLOCK + PMP_HDR, s;
	uint64_t b = take_page_fit(h, req, &s);
	if (!b && !(b = take(h, req, &s)))
		return 0;
	uint64_t nb = page_start_in(b, s);
	int holes = _pmp_may_have_holes(h, b, s);
	if (!nb || (holes && _pmp_back(h, nb, nb + want + 3 * PMP_HDR))) {
		_pmp_index_insert(h, b, s);
		return 0;
	}
	if (nb != b) {
		uint64_t gap = nb - b;
		split(h, b, s, gap, PMP_B_FREE, PMP_B_FREE); /* the front gap stays free */
		if (holes)
			_pmp_mark_holes(h, b, gap);
		_pmp_index_insert(h, b, gap);
		s -= gap;
		b = nb;
	}
	/* the header is made while the block is still free in the chain: the used head's store commits both */
	_pmp_page_format(h, b + PMP_HDR, c, owner_tag);
	use_block(h, b, s, want, holes);
	return b + PMP_HDR;
}

/* ---- free and merge ---- */

/* The size of the neighbour at n of block b when it is a free block to merge with, else 0. A neighbour whose header
 * fails its check was overwritten (a write after free into it, or an overflow of b): merging would unlink garbage
 * from the free index, so check level >= 1 stops here with one message. */
static uint64_t free_neighbour(const struct pmp_heap *h, uint64_t b, uint64_t n)
{
	uint64_t head = _pmp_head(h, n);
	if (!_pmp_head_valid(h, n, head)) {
		if (h->check_level >= 1)
			_pmp_fatal_pointer(h, "free", h->base + b + PMP_HDR,
					   "a neighbouring block's header was overwritten (write after free, or overflow)");
		return 0;
	}
	return (head & PMP_B_FLAGS) == PMP_B_FREE ? _pmp_bsize(head) : 0;
}

void _pmp_free_locked(struct pmp_heap *h, uint64_t b)
{
	struct pmp_ctl *c = h->ctl;
	struct pmp_block_hdr *hd = _pmp_hdr(h, b);
	uint64_t s = _pmp_bsize(hd->head), start = b, total = s;
	int zero = (h->flags & PMP_HEAP_ZERO_FREED) != 0;
	c->used_bytes -= s;
	c->used_blocks--;
	if (zero || h->check_level >= 2) /* a tracked block's trailer stays: it says who freed it */
		memset(h->base + b + PMP_HDR, _pmp_poison_byte(h), s - PMP_HDR - _pmp_trail(h));
	int holes = 0;
	uint64_t n = b + s, ns = free_neighbour(h, b, n);
	if (ns) {
		holes |= _pmp_may_have_holes(h, n, ns);
		_pmp_index_remove(h, n, ns);
		total += ns;
	}
	if (b > PMP_OFF_ARENA) {
		uint64_t ps = _pmp_prev(h, b);
		if (free_neighbour(h, b, b - ps)) {
			holes |= _pmp_may_have_holes(h, b - ps, ps);
			_pmp_index_remove(h, b - ps, ps);
			start -= ps;
			total += ps;
		}
	}
	/* one store makes the merged block; the boundary tag after it is derived */
	PMP_CRASHPOINT();
	_pmp_set_head(h, start, total | PMP_B_FREE);
	PMP_CRASHPOINT();
	_pmp_set_prev(h, start + total, total);
	if (n < start + total)
		_pmp_forget_head(h, n);
	if (start != b)
		_pmp_forget_head(h, b);
	if (zero) { /* absorbed headers are payload now: clear them only after the merge store */
		if (n < start + total)
			memset(h->base + n, 0, 2 * PMP_HDR);
		if (start != b)
			memset(h->base + b, 0, PMP_HDR);
	}
	if (holes)
		_pmp_mark_holes(h, start, total);
	_pmp_index_insert(h, start, total); /* a large one gives its disk blocks back later (decay.c) */
}

/* ---- quarantine (check level 2): use after free is found when a block leaves it ---- */

static _Noreturn void fatal_written_after_free(const struct pmp_heap *h, uint64_t b, uint64_t at)
{
	char why[160], *o = why, *end = why + sizeof why - 1;
	o = _pmp_put_str(o, end, "freed block was written at offset ");
	o = _pmp_put_hex(o, end, at);
	o = _pmp_put_str(o, end, " after it was freed (use after free)");
	*o = 0;
	_pmp_fatal_pointer(h, "free", h->base + b + PMP_HDR, why);
}

/* a quarantined block leaves: its poison must be intact, then it is really freed */
static void quarantine_leave(struct pmp_heap *h, uint64_t b)
{
	struct pmp_block_hdr *hd = _pmp_hdr(h, b);
	uint64_t s = _pmp_bsize(hd->head);
	const uint8_t *p = h->base + b + PMP_HDR, want = _pmp_poison_byte(h);
	for (uint64_t i = 0; i < s - PMP_HDR - _pmp_trail(h); i++)
		if (p[i] != want)
			fatal_written_after_free(h, b, i);
	PMP_CRASHPOINT();
	_pmp_set_head(h, b, s);
	_pmp_free_locked(h, b);
}

void _pmp_release_locked(struct pmp_heap *h, uint64_t b)
{
	__atomic_add_fetch(&h->ctl->n_free, 1, __ATOMIC_RELAXED);
	if (h->check_level < 2) {
		_pmp_free_locked(h, b);
		return;
	}
	struct pmp_block_hdr *hd = _pmp_hdr(h, b);
	uint64_t s = _pmp_bsize(hd->head);
	memset(h->base + b + PMP_HDR, _pmp_poison_byte(h), s - PMP_HDR - _pmp_trail(h));
	PMP_CRASHPOINT();
	_pmp_set_head(h, b, s | PMP_B_CACHED); /* recovery frees it like a cached block */
	if (h->q_count == PMP_QUARANTINE) {
		uint64_t old = h->quarantine[h->q_head];
		h->quarantine[h->q_head] = b;
		h->q_head = (h->q_head + 1) % PMP_QUARANTINE;
		quarantine_leave(h, old);
	} else {
		h->quarantine[(h->q_head + h->q_count) % PMP_QUARANTINE] = b;
		h->q_count++;
	}
}

void _pmp_quarantine_flush(struct pmp_heap *h)
{
	while (h->q_count) {
		uint64_t b = h->quarantine[h->q_head];
		h->q_head = (h->q_head + 1) % PMP_QUARANTINE;
		h->q_count--;
		quarantine_leave(h, b);
	}
}

/* ---- resize in place ---- */

/* Shrink or grow block b to `want` bytes without moving it; 1 on success. */
int _pmp_resize_locked(struct pmp_heap *h, uint64_t b, uint64_t want)
{
	struct pmp_ctl *c = h->ctl;
	uint64_t s = _pmp_bsize(_pmp_hdr(h, b)->head);
	uint64_t n = b + s, nhead = _pmp_hdr(h, n)->head;
	uint64_t avail = s, ns = 0;
	int holes = 0;
	if (_pmp_head_valid(h, n, nhead) && (nhead & PMP_B_FLAGS) == PMP_B_FREE) {
		ns = _pmp_bsize(nhead);
		avail += ns;
		holes = _pmp_may_have_holes(h, n, ns);
	}
	if (want > avail)
		return 0;
	if (want <= s && s - want < PMP_MIN_BLOCK)
		return 1; /* nothing worth giving back */
	if (holes && want > s && _pmp_back(h, n, b + want + 3 * PMP_HDR))
		return 0; /* the neighbour's pages cannot be backed again (full disk): move instead, or fail */
	if (ns)
		_pmp_index_remove(h, n, ns);
	if (want < s && (h->flags & PMP_HEAP_ZERO_FREED))
		memset(h->base + b + want, 0, s - want); /* still our own payload: safe before the split */
	if (avail - want >= PMP_MIN_BLOCK) {
		uint64_t ts = avail - want, t = split(h, b, avail, want, 0, PMP_B_FREE);
		if (ns && t != n) /* the neighbour's header is inside the grown block or the new tail now */
			_pmp_forget_head(h, n);
		if (holes)
			_pmp_mark_holes(h, t, ts);
		_pmp_index_insert(h, t, ts);
	} else {
		PMP_CRASHPOINT();
		_pmp_set_head(h, b, avail);
		if (ns)
			_pmp_forget_head(h, n);
		PMP_CRASHPOINT();
		_pmp_set_prev(h, b + avail, avail);
		want = avail;
	}
	c->used_bytes = c->used_bytes - s + want;
	if (c->used_bytes > c->peak_used)
		c->peak_used = c->used_bytes;
	return 1;
}

