/* heap.c: heap lifecycle on any memory: format, load (with recovery), heaps on caller memory, close, info, stats,
 * commit, relocatable offsets.
 *
 * Holds: the public entry points that do not allocate blocks, and the handle memory (taken from the OS layer, never
 * from malloc, so the same code serves the preload).
 * Must never: open files or read the environment (the file layer and the shim do), or leave a heap marked clean
 * while a handle can still write to it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../os/os.h"
#include "block.h"
#include "track.h"

pmp_heap_t *_pmp_default_heap;
static struct pmp_heap no_heap; /* all zero: no base, nothing reserved, fast_id PMP_NOT_FAST */
pmp_heap_t *_pmp_fast_heap = &no_heap;

pmp_heap_t *pmp_default(void)
{
	return __atomic_load_n(&_pmp_default_heap, __ATOMIC_ACQUIRE);
}

void _pmp_heap_set_default(struct pmp_heap *h)
{
	__atomic_store_n(&_pmp_default_heap, h, __ATOMIC_RELEASE);
	__atomic_store_n(&_pmp_fast_heap, h ? h : &no_heap, __ATOMIC_RELEASE);
}

/* ---- handle memory ---- */

int _pmp_heap_handle_alloc(struct pmp_heap **out, size_t extra)
{
	size_t len = (sizeof(struct pmp_heap) + extra + PMP_PAGE - 1) & ~(size_t)(PMP_PAGE - 1);
	void *p;
	int e = _pmp_os_pages_alloc(len, &p);
	if (e)
		return e;
	struct pmp_heap *h = p;
	h->handle_size = (uint32_t)len;
	*out = h;
	return 0;
}

void _pmp_heap_handle_free(struct pmp_heap *h)
{
	if (h->handle_size)
		_pmp_os_pages_free(h, h->handle_size);
}

void _pmp_identity_self(struct pmp_identity *id, const char *exe)
{
	memset(id, 0, sizeof *id);
	id->pid = _pmp_os_pid();
	id->start = _pmp_os_start_time(id->pid);
	id->uid = _pmp_os_uid();
	_pmp_os_boot_id(id->boot_id, sizeof id->boot_id);
	if (exe) {
		size_t n = strlen(exe);
		if (n >= sizeof id->exe)
			n = sizeof id->exe - 1;
		memcpy(id->exe, exe, n);
	} else {
		_pmp_os_exe_path(id->exe, sizeof id->exe);
	}
}

static void handle_init(struct pmp_heap *h, uint8_t *base, const struct pmp_sb *sb)
{
	h->base = base;
	h->orig_base = sb->base;
	h->reserved = sb->reserved;
	h->end = sb->mapped;
	h->salt = sb->salt;
	h->ctl = (struct pmp_ctl *)(void *)(base + PMP_OFF_CTL);
	h->roots = (struct pmp_root *)(void *)(base + PMP_OFF_ROOTS);
	h->sb = *sb;
	h->check_level = 1;
	h->check_every_log2 = PMP_CHECK_EVERY_DEFAULT;
	h->decay.ns = (uint64_t)PMP_DECAY_DEFAULT_MS * 1000000;
	_pmp_sites_load(h);
	_pmp_lock_init(h);
}

/* ---- format and load ---- */

int _pmp_heap_format(struct pmp_heap *h, uint8_t *base, uint64_t mapped, uint64_t reserved, uint32_t layout,
		     const struct pmp_identity *id)
{
	mapped &= ~(uint64_t)(PMP_ALIGN - 1);
	if (mapped < PMP_OFF_ARENA + PMP_MIN_BLOCK + PMP_HDR)
		return PMP_ETOOSMALL;
	struct pmp_sb sb;
	_pmp_sb_init(&sb, (uint64_t)(uintptr_t)base, reserved, mapped, layout);
	sb.created_ns = _pmp_os_now_ns();
	sb.salt = _pmp_os_random64();
	_pmp_sb_set_writer(&sb, id, sb.created_ns);
	/* Invalidate page 0 first: a stop during formatting must not leave an older heap's superblock looking valid
	 * over a half-written new layout. */
	memset(base, 0, PMP_PAGE);
	memset(base + PMP_OFF_CTL, 0, PMP_OFF_ARENA - PMP_OFF_CTL);
	handle_init(h, base, &sb);
	uint64_t first = PMP_OFF_ARENA, s = mapped - PMP_HDR - first;
	PMP_CRASHPOINT();
	_pmp_set_prev(h, mapped - PMP_HDR, s);
	PMP_CRASHPOINT();
	_pmp_set_head(h, mapped - PMP_HDR, PMP_B_END);
	PMP_CRASHPOINT();
	_pmp_set_prev(h, first, 0);
	PMP_CRASHPOINT();
	_pmp_set_head(h, first, s | PMP_B_FREE);
	_pmp_index_insert(h, first, s);
	_pmp_fresh_set(h, first, mapped - PMP_HDR);
	if ((layout & PMP_LAYOUT_TRACK) && _pmp_sites_format_locked(h) != 0) {
		pthread_mutex_destroy(&h->lock);
		return PMP_ETOOSMALL;
	}
	/* Both copies get written so that neither slot holds stale bytes of an earlier heap. */
	_pmp_sb_publish(h);
	_pmp_sb_publish(h);
	int e = _pmp_theaps_attach(h, NULL);
	if (e)
		pthread_mutex_destroy(&h->lock);
	return e;
}

void _pmp_heap_refresh(struct pmp_heap *h)
{
	int ok = h->prt && !h->readonly && !h->sealed && h->check_level < 2 && !(h->flags & PMP_HEAP_ZERO_FREED) &&
		 !h->track;
	__atomic_store_n(&h->fast_id, ok ? PMP_TLS_KEY(h->id) : PMP_NOT_FAST, __ATOMIC_RELEASE);
}

void _pmp_heap_set_flags(struct pmp_heap *h, unsigned flags)
{
	h->flags = flags;
	_pmp_heap_refresh(h);
}

void _pmp_heap_discard(struct pmp_heap *h)
{
	_pmp_theaps_detach(h);
	pthread_mutex_destroy(&h->lock);
}

int _pmp_heap_load(struct pmp_heap *h, uint8_t *base, const struct pmp_sb *sb, int readonly,
		   const struct pmp_identity *id)
{
	handle_init(h, base, sb);
	h->readonly = readonly;
	if (readonly) {
		h->index_stale = sb->state != PMP_STATE_CLEAN || h->salvage_clean;
		return 0;
	}
	/* One validator decides, before anything is written (so a refused file keeps its bytes, holes and mtime):
	 * a heap closed cleanly must pass the strict check of pmp_check, or it is damage from outside (bit rot,
	 * tampering, a bad copy) and is refused untouched. A dirty heap may hold any state a stop can leave, and its
	 * chain may be damaged by a power loss (pages written back in any order after the last pmp_commit): what the
	 * lenient check rejects is salvaged. A clean heap whose seal record verifies (the check ran at its close, and
	 * the index, roots and page directory are as that check left them) skips the walk: its pages are checked at
	 * their first use and its chain blocks whenever an operation touches them (seal.c says what is found when). */
	pmp_report_t rep;
	int dirty = sb->state != PMP_STATE_CLEAN;
	struct pmp_dir dir = {0};
	int trusted = !dirty && !h->salvage_clean && !(h->flags & PMP_HEAP_VERIFY) && _pmp_seal_record_trusted(h, &dir);
	int damaged = !trusted && _pmp_validate(h, !dirty && !h->salvage_clean, &rep) != 0;
	if (damaged && !dirty && !h->salvage_clean) {
		pthread_mutex_destroy(&h->lock);
		return PMP_ECORRUPT;
	}
	/* accepted: every page up to the end is backed before the first write (a sparse copy must not SIGBUS on a
	 * full disk) */
	uint64_t backed = (h->end + PMP_PAGE - 1) & ~(uint64_t)(PMP_PAGE - 1);
	int e = h->ops->reserve ? h->ops->reserve(h, 0, backed) : 0;
	if (e) {
		pthread_mutex_destroy(&h->lock);
		return e;
	}
	/* Mark dirty before touching anything: from here on a stop means "rebuild the derived state". */
	h->sb.state = PMP_STATE_DIRTY;
	h->sb.end_reason = PMP_END_NONE;
	h->sb.version = PMP_FORMAT_VERSION; /* a version 1 heap is written as 2 from here on (it may get pages) */
	_pmp_sb_set_writer(&h->sb, id, _pmp_os_now_ns());
	_pmp_sb_publish(h);
	/* The chain is the ground truth; the index is rebuilt on every writable open the seal record does not vouch
	 * for, not only after an unclean stop: a clean flag alone never vouches for a stale or damaged index. */
	h->trusted_open = trusted;
	e = trusted ? 0 : _pmp_recover(h, damaged);
	if (!e && damaged && _pmp_check_locked(h, &rep) != 0)
		e = PMP_ECORRUPT; /* salvage must leave a heap that checks; anything else is refused */
	if (e) {
		pthread_mutex_destroy(&h->lock);
		return e;
	}
	if (h->lost_regions || h->dropped_roots) {
		h->sb.salvage_count++;
		h->sb.salvage_lost += h->lost_bytes;
		h->sb.salvage_roots += h->dropped_roots;
		_pmp_sb_publish(h);
	}
	if ((e = _pmp_theaps_attach(h, trusted ? &dir : NULL)) != 0)
		pthread_mutex_destroy(&h->lock);
	return e;
}

int _pmp_heap_seal(struct pmp_heap *h, unsigned how, uint32_t end_reason)
{
	int e = 0, persist = (how & PMP_SEAL_PERSIST) != 0;
	_pmp_lock(h);
	if (_pmp_heap_writable(h)) {
		/* a heap damaged by its program is not marked clean: one message and an abort, and the heap stays
		 * dirty for recovery to salvage (glibc aborts when its free lists are corrupt, at the next call) */
		pmp_report_t r;
		if (h->check_level >= 1 && _pmp_check_in_use(h, &r) != 0) {
			char msg[320];
			snprintf(msg, sizeof msg, "pmempreload: heap inconsistent at its end: %s\n", r.msg);
			_pmp_os_fatal(msg);
		}
		__atomic_store_n(&h->sealed, 1, __ATOMIC_RELEASE); /* first: the fast paths stop taking new slots */
		_pmp_heap_refresh(h);
		_pmp_theaps_flush_locked(h);
		_pmp_quarantine_flush(h);
		if (how & PMP_SEAL_KEEP)
			_pmp_decay_flush(h); /* free pages need not be written back */
		_pmp_seal_record_write(h); /* last: it vouches for the heap as it is now */
		/* data first, then the clean mark: a power loss never shows "clean" over stale metadata */
		if (persist && h->ops->persist)
			e = h->ops->persist(h, h->base, h->end);
		h->sb.state = PMP_STATE_CLEAN;
		h->sb.end_reason = end_reason;
		_pmp_sb_publish(h);
		if (persist && h->ops->persist && !e)
			e = h->ops->persist(h, h->base, PMP_PAGE);
	}
	_pmp_unlock(h);
	return e;
}

void _pmp_heap_unseal(struct pmp_heap *h)
{
	_pmp_lock(h);
	if (h->sealed) {
		h->sb.state = PMP_STATE_DIRTY;
		h->sb.end_reason = PMP_END_NONE;
		_pmp_sb_publish(h);
		__atomic_store_n(&h->sealed, 0, __ATOMIC_RELEASE);
		_pmp_heap_refresh(h);
	}
	_pmp_unlock(h);
}

/* ---- heaps on caller memory ---- */

static int mem_persist(struct pmp_heap *h, void *addr, size_t len)
{
	return h->user_commit ? h->user_commit(addr, len, h->user_commit_arg) : 0;
}

static int mem_release(struct pmp_heap *h)
{
	_pmp_heap_handle_free(h);
	return 0;
}

static const struct pmp_heap_ops mem_ops_table = {
	.name = "memory",
	.persist = mem_persist,
	.release = mem_release,
};

static void mem_ops(struct pmp_heap *h, const pmp_heap_opts_t *o)
{
	h->ops = &mem_ops_table;
	if (o) {
		h->flags = o->flags;
		h->user_commit = o->commit;
		h->user_commit_arg = o->commit_user;
	}
}

int pmp_heap_create_opts(void *mem, size_t len, const pmp_heap_opts_t *opts, pmp_heap_t **out)
{
	if (!mem || !out || ((uintptr_t)mem & (PMP_PAGE - 1)))
		return EINVAL;
	if (len < PMP_HEAP_MIN)
		return PMP_ETOOSMALL;
	if (len > PMP_MAX_BLOCK)
		return EINVAL;
	len &= ~(size_t)(PMP_PAGE - 1); /* the heap covers whole pages: pmp_owns never claims bytes past the memory */
	struct pmp_heap *h;
	int e = _pmp_heap_handle_alloc(&h, 0);
	if (e)
		return e;
	struct pmp_identity id;
	_pmp_identity_self(&id, NULL);
	mem_ops(h, opts);
	h->map_len = len;
	e = _pmp_heap_format(h, mem, len, len, opts && (opts->flags & PMP_HEAP_TRACK) ? PMP_LAYOUT_TRACK : 0, &id);
	if (e) {
		_pmp_heap_handle_free(h);
		return e;
	}
	*out = h;
	return 0;
}

int pmp_heap_create(void *mem, size_t len, unsigned flags, pmp_heap_t **out)
{
	pmp_heap_opts_t o = {.flags = flags};
	return pmp_heap_create_opts(mem, len, &o, out);
}

int pmp_heap_attach_opts(void *mem, const pmp_heap_opts_t *opts, pmp_heap_t **out)
{
	if (!mem || !out || ((uintptr_t)mem & (PMP_PAGE - 1)))
		return EINVAL;
	struct pmp_sb sb;
	int e = _pmp_sb_of_memory(mem, &sb);
	if (e)
		return e;
	if (sb.layout_flags & PMP_LAYOUT_FILE)
		return EINVAL; /* a file heap's memory: open the file instead */
	if (sb.base != (uint64_t)(uintptr_t)mem)
		return PMP_EBADADDR;
	struct pmp_heap *h;
	if ((e = _pmp_heap_handle_alloc(&h, 0)) != 0)
		return e;
	struct pmp_identity id;
	_pmp_identity_self(&id, NULL);
	mem_ops(h, opts);
	h->map_len = sb.mapped;
	if ((e = _pmp_heap_load(h, mem, &sb, 0, &id)) != 0) {
		_pmp_heap_handle_free(h);
		return e;
	}
	*out = h;
	return 0;
}

int pmp_heap_attach(void *mem, pmp_heap_t **out)
{
	return pmp_heap_attach_opts(mem, NULL, out);
}

int pmp_close(pmp_heap_t *h)
{
	if (!h)
		return EINVAL;
	if (pmp_default() == h)
		return EBUSY; /* the process heap lives until the process ends */
	int ep = _pmp_pools_close(h);
	if (_pmp_heap_writable(h) && h->prt) { /* no thread uses the heap any more: empty pages go back to the chain */
		_pmp_lock(h);
		_pmp_theaps_release_all_locked(h);
		_pmp_unlock(h);
	}
	int e = _pmp_heap_seal(h, PMP_SEAL_PERSIST | PMP_SEAL_KEEP, PMP_END_CLOSE);
	_pmp_heap_discard(h);
	int e2 = h->ops->release ? h->ops->release(h) : 0;
	return ep ? ep : e ? e : e2;
}

int pmp_set_check(pmp_heap_t *h, int level, unsigned every_log2)
{
	if (!h || level < 0 || level > 2 || (every_log2 && (every_log2 < PMP_CHECK_EVERY_MIN || every_log2 > 40)))
		return EINVAL;
	_pmp_lock(h);
	if (h->check_level >= 2 && level < 2)
		_pmp_quarantine_flush(h); /* nothing may stay marked cached once no quarantine holds it */
	/* a slot freed before level 2 holds no poison: the reuse check applies when every free slot was poisoned */
	if (level >= 2 && h->check_level < 2)
		h->poison_all = !h->theaps;
	h->check_level = level;
	h->check_every_log2 = every_log2 ? every_log2 : PMP_CHECK_EVERY_DEFAULT;
	h->check_ops = 0;
	_pmp_heap_refresh(h);
	_pmp_unlock(h);
	for (unsigned i = 0, n = __atomic_load_n(&h->npools, __ATOMIC_ACQUIRE); i < n; i++)
		pmp_set_check(h->pools[i], level, every_log2);
	return 0;
}

/* ---- durability ---- */

int pmp_commit(pmp_heap_t *h, void *p, size_t n)
{
	if (!h)
		return EINVAL;
	if (h->readonly || h->sealed)
		return PMP_ERDONLY;
	if (p && h->npools) { /* the pool that holds p; without p, every pool and then h */
		struct pmp_heap *o = _pmp_pool_route(h, p);
		if (o != h)
			return pmp_commit(o, p, n);
	} else if (!p) {
		for (unsigned i = 0, np = __atomic_load_n(&h->npools, __ATOMIC_ACQUIRE); i < np; i++) {
			int e = pmp_commit(h->pools[i], NULL, 0);
			if (e)
				return e;
		}
	}
	if (p && !_pmp_holds(h, p))
		return EINVAL;
	if (!h->ops->persist)
		return 0;
	if (h->user_commit) {
		/* caller memory: hand over the range, then the metadata pages */
		int e = 0;
		if (p && n) {
			uintptr_t a = (uintptr_t)p & ~(uintptr_t)(PMP_PAGE - 1);
			uintptr_t z = ((uintptr_t)p + n + PMP_PAGE - 1) & ~(uintptr_t)(PMP_PAGE - 1);
			e = h->ops->persist(h, (void *)a, z - a);
		}
		return e ? e : h->ops->persist(h, h->base, PMP_OFF_ARENA);
	}
	/* A file heap: the block headers that make p reachable may sit anywhere in the arena, so the whole mapped range
	 * is written back; msync only writes dirty pages, so the cost is what changed since the last commit. */
	return h->ops->persist(h, h->base, h->end);
}

/* ---- information ---- */

int pmp_info(pmp_heap_t *h, pmp_info_t *i)
{
	if (!h || !i)
		return EINVAL;
	memset(i, 0, sizeof *i);
	_pmp_lock(h);
	const struct pmp_sb *sb = &h->sb;
	i->base = (void *)(uintptr_t)sb->base;
	i->mapped_at = h->base;
	i->reserved = sb->reserved;
	i->mapped = sb->mapped;
	i->generation = sb->generation;
	i->clean = sb->state == PMP_STATE_CLEAN;
	i->readonly = h->readonly;
	i->format_version = sb->version;
	i->writer_pid = sb->writer_pid;
	i->writer_start = sb->writer_start;
	i->created_ns = sb->created_ns;
	i->opened_ns = sb->opened_ns;
	i->writer_uid = sb->writer_uid;
	memcpy(i->writer_exe, sb->writer_exe, sizeof i->writer_exe);
	i->writer_exe[sizeof i->writer_exe - 1] = 0;
	memcpy(i->writer_boot_id, sb->writer_boot_id, sizeof i->writer_boot_id);
	i->writer_boot_id[sizeof i->writer_boot_id - 1] = 0;
	i->salvage_count = sb->salvage_count;
	i->salvage_roots = sb->salvage_roots;
	i->salvage_lost = sb->salvage_lost;
	i->last_lost_bytes = h->lost_bytes;
	i->last_lost_regions = h->lost_regions;
	i->last_dropped_roots = h->dropped_roots;
	i->end_reason = (int)sb->end_reason;
	_pmp_unlock(h);
	return 0;
}

static uint64_t largest_free(const struct pmp_heap *h)
{
	const struct pmp_ctl *c = h->ctl;
	if (!c->fl_bitmap)
		return 0;
	unsigned fl = _pmp_fls(c->fl_bitmap);
	if (fl >= PMP_FL_COUNT || !c->sl_bitmap[fl])
		return 0;
	unsigned sl = _pmp_fls(c->sl_bitmap[fl]);
	uint64_t best = 0, n = 0, most = (h->end - PMP_OFF_ARENA) / PMP_MIN_BLOCK;
	/* bounded and range-checked: a read-only view may come from a damaged file */
	for (uint64_t b = c->heads[fl][sl]; b && n < most; b = _pmp_links(h, b)->next, n++) {
		if (b < PMP_OFF_ARENA || b >= _pmp_sentinel(h) || (b & (PMP_ALIGN - 1)))
			break;
		uint64_t s = _pmp_bsize(_pmp_hdr(h, b)->head);
		if (s > best)
			best = s;
	}
	return best > PMP_HDR ? best - PMP_HDR : 0;
}

int _pmp_stats_one(struct pmp_heap *h, pmp_stats_t *s)
{
	if (!h || !s)
		return EINVAL;
	memset(s, 0, sizeof *s);
	uint64_t r_pages = 0;
	if (h->index_stale) {
		/* unclean read-only view: counters are not trusted, the chain is */
		pmp_report_t r;
		int e = _pmp_check_one(h, &r);
		if (e && r.problem != PMP_P_INDEX && r.problem != PMP_P_STATS)
			return e;
		s->used_bytes = r.bytes_used;
		s->used_blocks = r.used_blocks;
		s->free_bytes = r.bytes_free;
		s->free_blocks = r.free_blocks;
		r_pages = r.pages;
	}
	_pmp_lock(h);
	const struct pmp_ctl *c = h->ctl;
	s->reserved = h->reserved;
	s->mapped = h->end;
	s->arena = h->end - PMP_OFF_ARENA;
	if (!h->index_stale) {
		/* the chain's counters count each page as the used block it is there; the program's blocks in a page are
		 * its slots */
		struct pmp_census cs;
		_pmp_census(h, &cs);
		s->used_bytes = c->used_bytes - cs.pages * PMP_SLAB + cs.live_bytes;
		s->used_blocks = c->used_blocks - cs.pages + cs.live_slots;
		s->free_bytes = c->free_bytes + cs.free_bytes;
		s->free_blocks = c->free_blocks + cs.free_slots;
		s->largest_free = largest_free(h);
		s->pages = cs.pages;
	} else {
		s->pages = r_pages;
	}
	s->peak_used_bytes = c->peak_used;
	s->n_malloc = c->n_malloc;
	s->n_free = c->n_free;
	s->n_realloc = c->n_realloc;
	s->n_grow = c->n_grow;
	_pmp_theaps_pending(h, &s->n_malloc, &s->n_free, &s->n_realloc);
	_pmp_unlock(h);
	return 0;
}

/* ---- relocatable references ---- */

pmp_off_t pmp_ptr_to_off(pmp_heap_t *h, const void *p)
{
	if (!h || !p)
		return PMP_OFF_NULL;
	uintptr_t u = (uintptr_t)p;
	if (u >= (uintptr_t)h->base && u - (uintptr_t)h->base < h->end)
		return u - (uintptr_t)h->base;
	if (u >= h->orig_base && u - h->orig_base < h->end)
		return u - h->orig_base;
	return PMP_OFF_NULL;
}

void *pmp_off_to_ptr(pmp_heap_t *h, pmp_off_t o)
{
	if (!h || o == PMP_OFF_NULL || o >= h->end)
		return NULL;
	return h->base + o;
}
