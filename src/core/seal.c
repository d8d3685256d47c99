/* seal.c: the seal record (format.h): written by the close sequence of a heap it checked, trusted by the next clean
 * open instead of a walk of the whole chain.
 *
 * Holds: the record's making (the seal's check of chain, index and counters, which lists the pages; the directory in
 * the payload of a free block; the hashes; the checksum last) and its verification at open (checksum, generation,
 * hashes of the control area, root table and directory, the directory's entries, the first and last chain header,
 * every root's target), which reads a few pages of the heap whatever its size.
 * What the trusted open does not look at is checked later: a page when this process first uses it (theap.c), a
 * chain block when an operation takes, frees or merges it (region.c, guard.c), and all of it by pmp_check and by
 * the next seal's check.
 * Must never: write at open, trust a field of a record before its checksum passed, or write a record for a heap
 * its check did not pass.
 */
#include <string.h>

#include "../os/os.h"
#include "page.h"

/* where a free block's directory starts: after its header, its free-list links and its holes marker */
#define DIR_AT (3 * PMP_HDR)

static uint64_t record_checksum(const struct pmp_heap *h, const struct pmp_seal *s)
{
	return _pmp_hash64(s, offsetof(struct pmp_seal, checksum), h->salt ^ PMP_SEAL_MAGIC);
}
static uint64_t ctl_hash(const struct pmp_heap *h)
{
	return _pmp_hash64(h->ctl, offsetof(struct pmp_ctl, seal), h->salt);
}
static uint64_t roots_hash(const struct pmp_heap *h)
{
	return _pmp_hash64(h->roots, PMP_ROOTS_SIZE, h->salt);
}
static uint64_t dir_hash(const struct pmp_heap *h, const uint64_t *e, uint64_t n)
{
	return _pmp_hash64(e, (size_t)(n * sizeof *e), h->salt ^ n);
}

/* ---- at seal ---- */

void _pmp_seal_record_write(struct pmp_heap *h)
{
	struct pmp_seal *s = &h->ctl->seal;
	if (s->magic) { /* a record of an earlier seal never matches a later generation; gone, it is not even read */
		PMP_CRASHPOINT();
		__atomic_store_n(&s->magic, 0, __ATOMIC_RELAXED);
	}
	if (h->check_level < 1)
		return; /* no check at this seal: nothing to vouch with */
	uint64_t cap = (h->end - PMP_OFF_ARENA) / PMP_SLAB + 1;
	if (cap > h->ctl->used_blocks)
		cap = h->ctl->used_blocks; /* every page is a used block */
	size_t len = (size_t)((cap * sizeof(uint64_t) + PMP_PAGE) & ~(uint64_t)(PMP_PAGE - 1));
	void *mem;
	if (_pmp_os_pages_alloc(len, &mem))
		return;
	struct pmp_dir dir = {mem, cap, 0};
	pmp_report_t r;
	/* the seal's own check before (_pmp_check_in_use) decided whether the heap is damaged; this one only decides
	 * whether a record can vouch for it */
	if (_pmp_check_seal(h, &r, &dir) != 0 || dir.n > dir.cap)
		goto out;
	uint64_t off = 0;
	if (dir.n) {
		uint64_t need = (DIR_AT + dir.n * sizeof(uint64_t) + PMP_ALIGN - 1) & ~(uint64_t)(PMP_ALIGN - 1);
		uint64_t b = _pmp_index_find(h, need);
		if (!b || _pmp_bsize(_pmp_head(h, b)) < need)
			goto out; /* no free block holds it: the next open walks */
		off = b + DIR_AT;
		if (_pmp_may_have_holes(h, b, _pmp_bsize(_pmp_head(h, b))) &&
		    _pmp_back(h, off, off + dir.n * sizeof(uint64_t)))
			goto out;
		PMP_CRASHPOINT(); /* a free block's payload: nothing reads it but a trusted open */
		memcpy(h->base + off, dir.e, (size_t)(dir.n * sizeof(uint64_t)));
	}
	struct pmp_seal n;
	memset(&n, 0, sizeof n);
	n.magic = PMP_SEAL_MAGIC;
	n.generation = h->sb.generation + 1; /* what the clean publication that follows writes */
	n.mapped = h->end;
	n.dir_off = off;
	n.dir_count = dir.n;
	n.ctl_hash = ctl_hash(h);
	n.roots_hash = roots_hash(h);
	n.dir_hash = dir_hash(h, dir.e, dir.n);
	memcpy(n.first_hdr, _pmp_hdr(h, PMP_OFF_ARENA), sizeof n.first_hdr);
	memcpy(n.end_hdr, _pmp_hdr(h, _pmp_sentinel(h)), sizeof n.end_hdr);
	n.checksum = record_checksum(h, &n);
	/* the checksum last: a stop before it leaves a record that fails it (and a dirty superblock anyway) */
	PMP_CRASHPOINT();
	memcpy(s, &n, offsetof(struct pmp_seal, checksum));
	PMP_CRASHPOINT();
	__atomic_store_n(&s->checksum, n.checksum, __ATOMIC_RELEASE);
out:
	_pmp_os_pages_free(mem, len);
}

/* ---- at open ---- */

/* the directory entry of the page at pg, or 0 */
static uint64_t dir_find(const uint64_t *e, uint64_t n, uint64_t pg)
{
	uint64_t lo = 0, hi = n;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2, at = e[mid] & ~(uint64_t)(PMP_SLAB - 1);
		if (at == pg)
			return e[mid];
		if (at < pg)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Does the root at user offset off point where the strict check wants it: a live slot (not on its page's remote
 * list) of a sound page the directory lists with that class, or the start of a used chain block in no page? */
static int root_target_ok(const struct pmp_heap *h, const uint64_t *e, uint64_t n, uint64_t off)
{
	if (off < PMP_OFF_ARENA + PMP_HDR || off >= _pmp_sentinel(h) || (off & (PMP_ALIGN - 1)))
		return 0;
	uint64_t pg = off & ~(uint64_t)(PMP_SLAB - 1), entry = dir_find(e, n, pg), size;
	const char *why;
	if (_pmp_page_containing(h, off) != (entry ? pg : 0))
		return 0; /* the heap and the directory disagree on whether this is a page */
	if (!entry)
		return _pmp_block_of(h, h->base + off, &why) != 0;
	uint32_t live;
	uint64_t remote[PMP_PAGE_WORDS];
	const struct pmp_page *page = _pmp_page_at(h, pg);
	if (page->cls != (entry & (PMP_SLAB - 1)) || _pmp_page_wrong(h, pg, &live) ||
	    _pmp_user_block(h, h->base + off, &size, &why) != PMP_USER_SLOT || _pmp_page_remote_set(h, pg, remote))
		return 0;
	uint32_t i = _pmp_slot_index(off - pg - page->first_slot, _pmp_class_inv(page->cls));
	return !(remote[i >> 6] & ((uint64_t)1 << (i & 63)));
}

int _pmp_seal_record_trusted(const struct pmp_heap *h, struct pmp_dir *dir)
{
	struct pmp_seal s;
	memcpy(&s, &h->ctl->seal, sizeof s);
	uint64_t sent = _pmp_sentinel(h);
	if (h->sb.state != PMP_STATE_CLEAN || s.magic != PMP_SEAL_MAGIC || s.checksum != record_checksum(h, &s) ||
	    s.generation != h->sb.generation || s.mapped != h->end || h->end > h->reserved ||
	    s.dir_count > (h->end - PMP_OFF_ARENA) / PMP_SLAB + 1)
		return 0;
	if (s.dir_count && (s.dir_off < PMP_OFF_ARENA + DIR_AT || (s.dir_off & 7) || s.dir_off >= sent ||
			    s.dir_count > (sent - s.dir_off) / sizeof(uint64_t)))
		return 0;
	const uint64_t *e = (const uint64_t *)(const void *)(h->base + s.dir_off);
	uint64_t n = s.dir_count;
	if (s.ctl_hash != ctl_hash(h) || s.roots_hash != roots_hash(h) || s.dir_hash != dir_hash(h, n ? e : NULL, n) ||
	    memcmp(s.first_hdr, _pmp_hdr(h, PMP_OFF_ARENA), sizeof s.first_hdr) != 0 ||
	    memcmp(s.end_hdr, _pmp_hdr(h, sent), sizeof s.end_hdr) != 0)
		return 0;
	for (uint64_t i = 0, prev = 0; i < n; i++) {
		uint64_t pg = e[i] & ~(uint64_t)(PMP_SLAB - 1);
		if ((e[i] & (PMP_SLAB - 1)) >= PMP_CLASSES || pg <= prev || pg < PMP_OFF_ARENA + PMP_HDR ||
		    pg - PMP_HDR + PMP_SLAB > sent)
			return 0;
		prev = pg;
	}
	for (unsigned i = 0; i < PMP_ROOT_COUNT; i++) {
		const struct pmp_root *r = &h->roots[i];
		if (r->off && (!memchr(r->name, 0, sizeof r->name) || !r->name[0] || !root_target_ok(h, e, n, r->off)))
			return 0;
	}
	dir->e = (uint64_t *)(uintptr_t)e;
	dir->n = dir->cap = n;
	return 1;
}
