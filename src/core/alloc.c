/* alloc.c: the region allocator on one heap: malloc, free, calloc, realloc, memalign, usable_size.
 *
 * Holds: split and merge with boundary tags, growth of the arena through the layer's grow hook, the cheap pointer
 * validation that turns an invalid or double free into one clear message.
 * Must never: write headers in an order that leaves the chain unwalkable after a stop at any instruction (the
 * size words are the ground truth: a split writes the tail first and shrinks the head in one store; a merge is
 * one store to the surviving head), or touch memory outside [base, end).
 */
#include <errno.h>
#include <string.h>

#include "../os/os.h"
#include "block.h"

/* ---- pointer validation ---- */

uint64_t _pmp_block_of(const struct pmp_heap *h, const void *p, const char **why)
{
	uintptr_t u = (uintptr_t)p, base = (uintptr_t)h->base;
	if (u < base + PMP_OFF_ARENA + PMP_HDR || u >= base + _pmp_sentinel(h)) {
		*why = "pointer outside the heap's arena";
		return 0;
	}
	if (u & (PMP_ALIGN - 1)) {
		*why = "pointer not aligned to a block";
		return 0;
	}
	uint64_t b = u - base - PMP_HDR;
	uint64_t head = _pmp_head(h, b), s = _pmp_bsize(head);
	if (!_pmp_head_valid(h, b, head)) {
		*why = "no block starts here (invalid pointer or overwritten header)";
		return 0;
	}
	if (head & PMP_B_FREE) {
		*why = "block is already free (double free?)";
		return 0;
	}
	if ((head & (PMP_B_FLAGS & ~(uint64_t)PMP_B_CACHED)) || s < PMP_MIN_BLOCK || s > _pmp_sentinel(h) - b) {
		*why = "no block starts here (invalid pointer or overwritten header)";
		return 0;
	}
	if (head & PMP_B_CACHED) {
		*why = "block is already free (held in a cache or quarantine: double free?)";
		return 0;
	}
	/* the neighbours' tags are compared by value: their check bits serve recovery, the value is what matters here */
	if (_pmp_prev(h, b + s) != s) {
		*why = "next block's boundary tag disagrees (invalid pointer or heap overflow)";
		return 0;
	}
	if (b > PMP_OFF_ARENA) {
		uint64_t ps = _pmp_prev(h, b);
		if (ps < PMP_MIN_BLOCK || ps > b - PMP_OFF_ARENA ||
		    _pmp_bsize(_pmp_hdr(h, b - ps)->head) != ps) {
			*why = "boundary tag disagrees with the previous block (invalid pointer or heap underflow)";
			return 0;
		}
	} else if (_pmp_prev(h, b) != 0) {
		*why = "first block has a previous size (overwritten header)";
		return 0;
	}
	return b;
}

static char *put_str(char *o, char *end, const char *s)
{
	while (*s && o < end)
		*o++ = *s++;
	return o;
}

static char *put_hex(char *o, char *end, uint64_t v)
{
	char t[16];
	int n = 0;
	do
		t[n++] = "0123456789abcdef"[v & 15];
	while ((v >>= 4) != 0);
	o = put_str(o, end, "0x");
	while (n > 0 && o < end)
		*o++ = t[--n];
	return o;
}

void _pmp_fatal_pointer(const struct pmp_heap *h, const char *op, const void *p, const char *why)
{
	char msg[256], *o = msg, *end = msg + sizeof msg - 2;
	o = put_str(o, end, "pmempreload: ");
	o = put_str(o, end, op);
	o = put_str(o, end, "(");
	o = put_hex(o, end, (uint64_t)(uintptr_t)p);
	o = put_str(o, end, "): ");
	o = put_str(o, end, why);
	o = put_str(o, end, " in heap ");
	o = put_hex(o, end, h->orig_base);
	*o++ = '\n';
	*o = 0;
	_pmp_os_fatal(msg);
}

/* ---- growth ---- */

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
	h->ctl->n_grow++;
	/* merge with a free last block */
	uint64_t ps = _pmp_prev(h, b);
	if (b > PMP_OFF_ARENA && (_pmp_hdr(h, b - ps)->head & PMP_B_FREE)) {
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
	c->n_malloc++;
	c->seq++;
}

/* The good-fit search skips the request's own list (its blocks may be smaller than s). Before giving up or growing,
 * scan that one list for a block that fits: near exhaustion, and after growing by exactly s, this is the only fit. */
static uint64_t find_in_own_list(const struct pmp_heap *h, uint64_t s)
{
	unsigned fl, sl;
	_pmp_map_insert(s, &fl, &sl);
	if (fl >= PMP_FL_COUNT)
		return 0;
	for (uint64_t b = h->ctl->heads[fl][sl]; b; b = _pmp_links(h, b)->next)
		if (_pmp_bsize(_pmp_hdr(h, b)->head) >= s)
			return b;
	return 0;
}

/* Find (growing if needed) and remove a free block of at least s bytes; 0 if none. */
/* A block the free index hands out must be what the index says: a free block whose header passes its check. A
 * write after free or an overflow into a freed block's header is caught here, before the block is split on the
 * strength of a size that is not true (check level >= 1: abort with one message). */
static uint64_t checked_free(const struct pmp_heap *h, uint64_t b)
{
	uint64_t head = _pmp_head(h, b);
	if (b && h->check_level >= 1 &&
	    (!_pmp_head_valid(h, b, head) || (head & PMP_B_FLAGS) != PMP_B_FREE || _pmp_bsize(head) < PMP_MIN_BLOCK))
		_pmp_fatal_pointer(h, "malloc", h->base + b + PMP_HDR,
				   "free block's header was overwritten (write after free, or an overflow of the block before)");
	return b;
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
	return b;
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
	return h->base + b + PMP_HDR;
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
	c->n_free++;
	if (zero)
		memset(h->base + b + PMP_HDR, 0, s - PMP_HDR);
	else if (h->check_level >= 2)
		memset(h->base + b + PMP_HDR, 0xdf, s - PMP_HDR);
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
	/* a large block gives its interior pages back; the merged block's first 48 bytes (header, links, marker)
	 * stay, and so does the page of the next header. The marker is written before the punch: a stop between
	 * them costs an fallocate later, never an unbacked write. */
	if (h->ops->discard && s >= PMP_PUNCH_MIN) {
		uint64_t from = (b + 3 * PMP_HDR + PMP_PAGE - 1) & ~(uint64_t)(PMP_PAGE - 1);
		uint64_t to = (b + s) & ~(uint64_t)(PMP_PAGE - 1);
		if (to > from) {
			_pmp_mark_holes(h, start, total);
			if (h->ops->discard(h, from, to - from) == 0)
				holes = 1;
		}
	}
	if (holes)
		_pmp_mark_holes(h, start, total);
	_pmp_index_insert(h, start, total);
}

/* ---- quarantine (check level 2): use after free is found when a block leaves it ---- */

static uint8_t poison_byte(const struct pmp_heap *h) { return (h->flags & PMP_HEAP_ZERO_FREED) ? 0 : 0xdf; }

static _Noreturn void fatal_written_after_free(const struct pmp_heap *h, uint64_t b, uint64_t at)
{
	char why[160], *o = why, *end = why + sizeof why - 1;
	o = put_str(o, end, "freed block was written at offset ");
	o = put_hex(o, end, at);
	o = put_str(o, end, " after it was freed (use after free)");
	*o = 0;
	_pmp_fatal_pointer(h, "free", h->base + b + PMP_HDR, why);
}

/* a quarantined block leaves: its poison must be intact, then it is really freed */
static void quarantine_leave(struct pmp_heap *h, uint64_t b)
{
	struct pmp_block_hdr *hd = _pmp_hdr(h, b);
	uint64_t s = _pmp_bsize(hd->head);
	const uint8_t *p = h->base + b + PMP_HDR, want = poison_byte(h);
	for (uint64_t i = 0; i < s - PMP_HDR; i++)
		if (p[i] != want)
			fatal_written_after_free(h, b, i);
	PMP_CRASHPOINT();
	_pmp_set_head(h, b, s);
	_pmp_free_locked(h, b);
}

void _pmp_release_locked(struct pmp_heap *h, uint64_t b)
{
	if (h->check_level < 2) {
		_pmp_free_locked(h, b);
		return;
	}
	struct pmp_block_hdr *hd = _pmp_hdr(h, b);
	uint64_t s = _pmp_bsize(hd->head);
	memset(h->base + b + PMP_HDR, poison_byte(h), s - PMP_HDR);
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
static int resize_in_place(struct pmp_heap *h, uint64_t b, uint64_t want)
{
	struct pmp_ctl *c = h->ctl;
	uint64_t s = _pmp_bsize(_pmp_hdr(h, b)->head);
	uint64_t n = b + s, nhead = _pmp_hdr(h, n)->head;
	uint64_t avail = s, ns = 0;
	int holes = 0;
	if (nhead & PMP_B_FREE) {
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

/* ---- public entry points ---- */

/* a sealed heap (closed, or the process is exiting or executing another program) gives nothing out */
static void *sealed_fail(void)
{
	errno = EROFS;
	return NULL;
}

static int writable(pmp_heap_t *h)
{
	if (!h) {
		errno = EINVAL;
		return 0;
	}
	if (h->readonly) {
		errno = EROFS;
		return 0;
	}
	return 1;
}

void *pmp_malloc(pmp_heap_t *h, size_t n)
{
	if (!writable(h))
		return NULL;
	_pmp_lock(h);
	void *p = h->sealed ? sealed_fail() : _pmp_alloc_locked(h, n, 0);
	_pmp_check_tick(h);
	_pmp_unlock(h);
	return p;
}

void *pmp_memalign(pmp_heap_t *h, size_t align, size_t n)
{
	if (!writable(h))
		return NULL;
	if (align == 0 || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	if (align > ((size_t)1 << 40)) { /* a valid alignment no heap can serve: out of memory, as glibc says */
		errno = ENOMEM;
		return NULL;
	}
	_pmp_lock(h);
	void *p = h->sealed ? sealed_fail() : _pmp_alloc_locked(h, n, align);
	_pmp_check_tick(h);
	_pmp_unlock(h);
	return p;
}

void *pmp_calloc(pmp_heap_t *h, size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = pmp_malloc(h, n);
	if (p) /* a reopened or reused heap is not zero */
		memset(p, 0, n);
	return p;
}

/* Validate p for op; aborts with one message when the check level asks for it, else returns 0. */
static uint64_t checked_block(pmp_heap_t *h, const char *op, const void *p)
{
	const char *why = "";
	uint64_t b = _pmp_block_of(h, p, &why);
	if (!b && h->check_level >= 1)
		_pmp_fatal_pointer(h, op, p, why);
	return b;
}

void pmp_free(pmp_heap_t *h, void *p)
{
	if (!p || !h)
		return;
	int saved = errno;
	if (h->readonly) {
		errno = saved;
		return;
	}
	_pmp_lock(h);
	if (!h->sealed) { /* a sealed heap stays exactly as it was sealed: the block is left in place */
		uint64_t b = checked_block(h, "free", p);
		if (b)
			_pmp_release_locked(h, b);
		_pmp_check_tick(h);
	}
	_pmp_unlock(h);
	errno = saved;
}

void *pmp_realloc(pmp_heap_t *h, void *p, size_t n)
{
	if (!p)
		return pmp_malloc(h, n);
	if (!writable(h))
		return NULL;
	if (n == 0) { /* glibc semantics: free and return NULL */
		pmp_free(h, p);
		return NULL;
	}
	uint64_t want = _pmp_adjust(n);
	if (!want) {
		errno = ENOMEM;
		return NULL;
	}
	_pmp_lock(h);
	if (h->sealed) {
		_pmp_unlock(h);
		return sealed_fail();
	}
	uint64_t b = checked_block(h, "realloc", p);
	if (!b) {
		_pmp_unlock(h);
		errno = EINVAL;
		return NULL;
	}
	h->ctl->n_realloc++;
	_pmp_check_tick(h);
	if (resize_in_place(h, b, want)) {
		_pmp_unlock(h);
		return p;
	}
	uint64_t old = _pmp_bsize(_pmp_hdr(h, b)->head) - PMP_HDR;
	void *q = _pmp_alloc_locked(h, n, 0);
	if (q) {
		memcpy(q, p, old < n ? old : n);
		_pmp_release_locked(h, b);
	}
	_pmp_unlock(h);
	return q;
}

void *pmp_reallocarray(pmp_heap_t *h, void *p, size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return pmp_realloc(h, p, n);
}

size_t pmp_usable_size(pmp_heap_t *h, const void *p)
{
	if (!p || !h)
		return 0;
	const char *why = "";
	uint64_t b = _pmp_block_of(h, p, &why);
	if (!b) {
		if (h->check_level >= 1 && !h->readonly)
			_pmp_fatal_pointer(h, "malloc_usable_size", p, why);
		return 0;
	}
	return _pmp_bsize(_pmp_hdr(h, b)->head) - PMP_HDR;
}

int pmp_owns(const pmp_heap_t *h, const void *p)
{
	return h && (uintptr_t)p >= (uintptr_t)h->base && (uintptr_t)p - (uintptr_t)h->base < h->reserved;
}
