/* track.c: call-site tracking (PMP_LAYOUT_TRACK, see format.h): the site table, the sequence numbers and the
 * 16-byte trailer at the end of every block, and the public calls that read them (pmp_block_site, pmp_site_modules).
 *
 * Holds: the site table made at format and found at load, the lock-free interning of return addresses, the
 * module snapshot entries the preload hands in, the trailer's keyed check, and per-thread batches of sequence numbers.
 * Must never: take the heap lock (interning runs on the allocation paths, outside it), call the environment (the
 * module snapshot comes from the layer above through h->site_hook, called with no lock held), or trust a trailer
 * whose check fails (a torn, stale or overrun one reads as no record).
 */
#include <errno.h>
#include <string.h>

#include "block.h"
#include "track.h"

/* ---- the site table ---- */

static uint64_t sites_magic(const struct pmp_heap *h, uint64_t off)
{
	return PMP_SITES_MAGIC ^ ((h->salt ^ (off * 0xd6e8feb86659fd93ull)) * 0xbf58476d1ce4e5b9ull);
}

uint64_t _pmp_sites_block_size(void)
{
	return _pmp_adjust(sizeof(struct pmp_sites));
}

int _pmp_sites_format_locked(struct pmp_heap *h)
{
	uint8_t *p = _pmp_alloc_locked(h, sizeof(struct pmp_sites), 0);
	if (!p)
		return PMP_ETOOSMALL;
	uint64_t off = (uint64_t)(p - h->base);
	struct pmp_sites *s = (struct pmp_sites *)(void *)p;
	memset(s, 0, sizeof *s);
	s->slots = PMP_SITE_SLOTS;
	s->max_modules = PMP_SITE_MODULES;
	s->magic = sites_magic(h, off);
	h->sb.layout_flags |= PMP_LAYOUT_TRACK;
	h->sb.sites = off - PMP_HDR;
	_pmp_sites_load(h);
	return 0;
}

void _pmp_sites_load(struct pmp_heap *h)
{
	h->track = (h->sb.layout_flags & PMP_LAYOUT_TRACK) != 0;
	h->sites = NULL;
	h->sites_block = 0;
	uint64_t b = h->sb.sites, size = _pmp_sites_block_size();
	if (!h->track || b < PMP_OFF_ARENA || b % PMP_ALIGN || b > h->end || h->end - b < size + PMP_HDR)
		return;
	h->sites_block = b;
	uint64_t head = _pmp_head(h, b);
	struct pmp_sites *s = (struct pmp_sites *)(void *)(h->base + b + PMP_HDR);
	/* a damaged table (salvaged as a lost block, or overwritten) leaves the trailers without names */
	if (_pmp_head_valid(h, b, head) && !(head & PMP_B_FLAGS) && _pmp_bsize(head) == size &&
	    s->magic == sites_magic(h, b + PMP_HDR) && s->slots == PMP_SITE_SLOTS && s->max_modules == PMP_SITE_MODULES)
		h->sites = s;
}

static uint32_t pc_hash(uint64_t pc)
{
	return (uint32_t)((pc * 0x9e3779b97f4a7c15ull) >> 40);
}

static int in_modules(const struct pmp_sites *s, uint64_t pc)
{
	uint32_t n = __atomic_load_n(&s->nmodules, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n && i < PMP_SITE_MODULES; i++)
		if (pc >= s->modules[i].lo && pc < s->modules[i].hi)
			return 1;
	return 0;
}

#define PROBES 64

uint32_t _pmp_site_id(struct pmp_heap *h, uint64_t pc)
{
	struct pmp_sites *s = h->sites;
	if (!s || !pc)
		return 0;
	uint32_t i = pc_hash(pc) & (PMP_SITE_SLOTS - 1);
	for (unsigned k = 0; k < PROBES; k++, i = (i + 1) & (PMP_SITE_SLOTS - 1)) {
		uint64_t v = __atomic_load_n(&s->pc[i], __ATOMIC_RELAXED);
		if (__builtin_expect(v == pc, 1))
			return i + 1;
		if (v)
			continue;
		PMP_CRASHPOINT();
		if (__atomic_compare_exchange_n(&s->pc[i], &v, pc, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
			/* a new site: the preload snapshots the modules when no recorded one holds it (no lock held) */
			if (h->site_hook && !in_modules(s, pc))
				h->site_hook(h);
			return i + 1;
		}
		if (v == pc)
			return i + 1;
	}
	__atomic_add_fetch(&s->overflow, 1, __ATOMIC_RELAXED);
	return 0;
}

int _pmp_sites_add_module(struct pmp_heap *h, const pmp_module_t *m)
{
	struct pmp_sites *s = h->sites;
	if (!s || h->readonly)
		return EINVAL;
	uint32_t n = s->nmodules;
	for (uint32_t i = 0; i < n; i++)
		if (s->modules[i].load_addr == m->load_addr && s->modules[i].lo == m->lo && s->modules[i].hi == m->hi &&
		    !strncmp(s->modules[i].path, m->path, sizeof s->modules[i].path))
			return 0;
	if (n >= PMP_SITE_MODULES)
		return ENOSPC;
	struct pmp_site_module *e = &s->modules[n];
	PMP_CRASHPOINT();
	memset(e, 0, sizeof *e);
	e->load_addr = m->load_addr;
	e->lo = m->lo;
	e->hi = m->hi;
	e->build_id_len = m->build_id_len <= sizeof e->build_id ? m->build_id_len : 0;
	memcpy(e->build_id, m->build_id, e->build_id_len);
	size_t len = strnlen(m->path, sizeof m->path);
	if (len >= sizeof e->path)
		len = sizeof e->path - 1;
	memcpy(e->path, m->path, len);
	PMP_CRASHPOINT();
	__atomic_store_n(&s->nmodules, n + 1, __ATOMIC_RELEASE); /* the entry is whole before it counts */
	return 0;
}

/* ---- sequence numbers: batches per thread heap, so that no shared line is written per operation ---- */

#define SEQ_BATCH 256

uint64_t _pmp_seq_next(struct pmp_heap *h)
{
	struct pmp_theap *th = _pmp_theap_cached(h);
	if (th) {
		if (__builtin_expect(th->seq_next == th->seq_end, 0)) {
			PMP_CRASHPOINT();
			uint64_t first = __atomic_fetch_add(&h->ctl->seq, SEQ_BATCH, __ATOMIC_RELAXED) + 1;
			th->seq_next = first;
			th->seq_end = first + SEQ_BATCH;
		}
		return th->seq_next++ & PMP_W_VALUE;
	}
	PMP_CRASHPOINT();
	return __atomic_add_fetch(&h->ctl->seq, 1, __ATOMIC_RELAXED) & PMP_W_VALUE;
}

/* ---- the trailer ---- */

static uint64_t trailer_check(const struct pmp_heap *h, uint64_t off, uint64_t w0, uint64_t seq)
{
	uint64_t x = (seq ^ h->salt ^ (off * 0x9e3779b97f4a7c15ull) ^ (w0 * 0xc2b2ae3d27d4eb4full)) * 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	return (x * 0x94d049bb133111ebull) & ~PMP_W_VALUE;
}

static void trailer_store(struct pmp_heap *h, uint8_t *t, uint32_t alloc_site, uint32_t free_site, uint64_t seq)
{
	uint64_t off = (uint64_t)(t - h->base), w0 = (uint64_t)alloc_site | (uint64_t)free_site << 32;
	seq &= PMP_W_VALUE;
	PMP_CRASHPOINT();
	((uint64_t *)(void *)t)[0] = w0;
	PMP_CRASHPOINT(); /* a stop here leaves a trailer whose check fails: no record */
	((uint64_t *)(void *)t)[1] = seq | trailer_check(h, off, w0, seq);
}

/* the trailer at heap offset off: 1 and its fields when its check passes */
static int trailer_read(const struct pmp_heap *h, uint64_t off, uint32_t *alloc_site, uint32_t *free_site,
			uint64_t *seq)
{
	const uint64_t *t = (const uint64_t *)(const void *)(h->base + off);
	uint64_t w0 = __atomic_load_n(&t[0], __ATOMIC_RELAXED), w1 = __atomic_load_n(&t[1], __ATOMIC_RELAXED);
	if ((w1 & ~PMP_W_VALUE) != trailer_check(h, off, w0, w1 & PMP_W_VALUE))
		return 0;
	*alloc_site = (uint32_t)w0;
	*free_site = (uint32_t)(w0 >> 32);
	*seq = w1 & PMP_W_VALUE;
	return 1;
}

void _pmp_track_alloc(struct pmp_heap *h, void *p, uint64_t usable, uint64_t pc)
{
	uint32_t site = _pmp_site_id(h, pc);
	trailer_store(h, (uint8_t *)p + usable, site, 0, _pmp_seq_next(h));
}

void _pmp_track_free(struct pmp_heap *h, void *p, uint64_t usable, uint32_t free_site)
{
	uint8_t *t = (uint8_t *)p + usable;
	uint32_t a = 0, f;
	uint64_t seq;
	if (!trailer_read(h, (uint64_t)(t - h->base), &a, &f, &seq))
		a = 0; /* overrun or never recorded: the allocating site is unknown */
	trailer_store(h, t, a, free_site ? free_site : UINT32_MAX, _pmp_seq_next(h));
}

/* ---- reading (any handle, read-only views included) ---- */

static uint64_t site_pc(const struct pmp_heap *h, uint32_t id)
{
	if (!h->sites || id == 0 || id > PMP_SITE_SLOTS)
		return 0;
	return __atomic_load_n(&h->sites->pc[id - 1], __ATOMIC_RELAXED);
}

int pmp_block_site(pmp_heap_t *h, const pmp_block_t *b, pmp_site_record_t *r)
{
	if (!h || !b || !r)
		return EINVAL;
	memset(r, 0, sizeof *r);
	if (!h->track)
		return EINVAL;
	if (b->state == PMP_BLOCK_LOST || b->state == PMP_BLOCK_DAMAGED || b->block_size < 2 * PMP_TRAIL ||
	    b->offset >= h->end || h->end - b->offset < b->block_size)
		return ENOENT;
	uint64_t off = b->offset + b->block_size - PMP_TRAIL;
	uint32_t a, f;
	uint64_t seq;
	if (!trailer_read(h, off, &a, &f, &seq))
		return ENOENT;
	r->alloc_site = site_pc(h, a);
	r->free_site = f == UINT32_MAX ? 0 : site_pc(h, f);
	r->freed = f != 0;
	r->seq = seq;
	return 0;
}

int pmp_site_modules(pmp_heap_t *h, pmp_module_t *out, unsigned max, unsigned *n)
{
	if (!h || !n || (max && !out))
		return EINVAL;
	*n = 0;
	if (!h->track)
		return EINVAL;
	if (!h->sites)
		return 0;
	uint32_t have = __atomic_load_n(&h->sites->nmodules, __ATOMIC_ACQUIRE);
	if (have > PMP_SITE_MODULES)
		have = PMP_SITE_MODULES;
	for (uint32_t i = 0; i < have && i < max; i++) {
		const struct pmp_site_module *e = &h->sites->modules[i];
		pmp_module_t *m = &out[i];
		memset(m, 0, sizeof *m);
		m->load_addr = e->load_addr;
		m->lo = e->lo;
		m->hi = e->hi;
		m->build_id_len = e->build_id_len <= sizeof m->build_id ? e->build_id_len : 0;
		memcpy(m->build_id, e->build_id, m->build_id_len);
		memcpy(m->path, e->path, sizeof e->path);
		m->path[sizeof m->path - 1] = 0;
	}
	*n = have < max ? have : max;
	return 0;
}
