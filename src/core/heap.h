/* heap.h: the process-local heap handle and the functions shared (hidden) between core files.
 *
 * Holds: struct pmp_heap (where this process sees the heap, its lock, its hooks) and the internal entry points of
 * superblock, recovery, check and allocation code.
 * Must never: be stored in the heap itself (it holds a mutex and function pointers), or name files or environment
 * variables: file and shim layers reach the core through the hooks below.
 */
#ifndef PMP_HEAP_H
#define PMP_HEAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "format.h"
#include "pmempreload.h"

#define PMP_HIDDEN __attribute__((visibility("hidden")))

struct pmp_heap;
struct pmp_prt;
struct pmp_theap;

/* Crash-point enumeration (test builds only, -DPMP_CRASHPOINTS): a point before every store to the heap, so that a
 * test can stop the process at the Nth store of an operation and check what the stop leaves. */
#ifdef PMP_CRASHPOINTS
#include "../os/os.h"
#define PMP_CRASHPOINT() _pmp_crashpoint()
#else
#define PMP_CRASHPOINT() ((void)0)
#endif

/* The hooks of the layer that provides a heap's memory (file heaps, caller memory, a fork child's private copy).
 * One constant table per layer, installed whole by that layer (h->ops) together with its own state (h->layer):
 * no other code patches single hooks, so a heap can never hold one layer's hook next to another layer's state
 * (a fork child that kept the file layer's discard hook punched holes through a descriptor it no longer owned). */
struct pmp_heap_ops {
	const char *name;     /* "file", "memory", "private": for messages and tests */
	/* make the heap at least `want` bytes long from base; set *got to the new length. 0 or an errno value. */
	int (*grow)(struct pmp_heap *h, uint64_t want, uint64_t *got);
	/* give the disk blocks of [off, off+len) back (page-aligned; the bytes read as zero afterwards). Optional. */
	int (*discard)(struct pmp_heap *h, uint64_t off, uint64_t len);
	/* make [off, off+len) backed by disk blocks again before it is written (page-aligned); ENOMEM on a full disk.
	 * Required when discard is set. */
	int (*reserve)(struct pmp_heap *h, uint64_t off, uint64_t len);
	/* where data is: *data the first offset >= off that may hold data, *hole the first hole after it (file
	 * holes read as zeros and hold nothing). Optional (NULL: all data). 0 or an errno value. */
	int (*data_extent)(struct pmp_heap *h, uint64_t off, uint64_t *data, uint64_t *hole);
	/* write zeros over [off, off+len), bytes of the arena that hold nothing (the interior of a free block the file
	 * has never written), before the program touches them: the file system then builds their page cache in large
	 * pieces at once, where a first touch of each page through the mapping would fault a page at a time (on ext4,
	 * about three times the cost). A hint: optional, its errors ignored (the bytes read as zero either way). */
	int (*prewrite)(struct pmp_heap *h, uint64_t off, uint64_t len);
	/* persist [addr, addr+len) of the heap (page-aligned). 0 or an errno value. */
	int (*persist)(struct pmp_heap *h, void *addr, size_t len);
	/* release what the layer owns (mapping, descriptor, handle memory) after the core closed the heap */
	int (*release)(struct pmp_heap *h);
	/* forked child: let go of what the parent owns (descriptors) without touching the heap's memory, before another
	 * layer takes the heap over. Optional. */
	void (*disown)(struct pmp_heap *h);
	/* the crash annex (format.h), stored beside the heap, never through its mapping. Optional (NULL: a heap with
	 * nowhere to put one). write: async-signal-safe, all of len at off or an errno value (ENOSPC: the disk is
	 * full). read: *got bytes (fewer at the file's end), 0 or an errno value. */
	int (*annex_write)(struct pmp_heap *h, const void *buf, size_t len, uint64_t off);
	int (*annex_read)(struct pmp_heap *h, void *buf, size_t len, uint64_t off, size_t *got);
};

/* Writer identity recorded in the superblock on create and on every open for writing. */
struct pmp_identity {
	uint64_t pid, start;
	uint32_t uid;
	char boot_id[40];
	char exe[256];
};

/* large free blocks still backed, oldest first (decay.c); process-local, under the lock */
#define PMP_DECAY_SLOTS 64
struct pmp_decay {
	struct { uint64_t off, size, t; } e[PMP_DECAY_SLOTS];
	unsigned count;
	uint64_t bytes;
	uint64_t ns;            /* how long a block stays backed (pmp_set_decay) */
};

struct pmp_heap {
	uint8_t *base;          /* where this process sees offset 0 */
	uint64_t orig_base;     /* the address the heap belongs at (superblock base) */
	uint64_t reserved;      /* bytes of address space at base that belong to the heap (it may grow to it) */
	uint64_t map_len;       /* bytes of it mapped now (>= end); owned by the layer that provides the memory */
	uint64_t end;           /* bytes in use (superblock mapped); the end sentinel sits at end - 16 */
	uint64_t salt;          /* superblock salt: keys the header check bits */
	/* The two the fast paths read besides the fields above, all on the handle's first cache line, which only an
	 * open, a growth and a close write: no lock holder's store (the decay's record, the abandoned lists) takes
	 * that line from the cores running the fast paths. */
	struct pmp_prt *prt;    /* process-local state of the slab pages (theap.c), one entry per PMP_SLAB region of
				 * the reservation; NULL on a read-only view */
	/* the id as a thread's key (theap.h) while the small-block fast path applies (writable, not sealed, check
	 * level < 2, no zeroing, not tracked), else PMP_NOT_FAST: what a thread's key is compared with */
	uint64_t fast_id;
	uint64_t lost_bytes;    /* what this handle's recovery salvaged (see pmp_info) */
	uint32_t lost_regions, dropped_roots;
	struct pmp_ctl *ctl;
	struct pmp_root *roots;
	struct pmp_sb sb;       /* latest published superblock image */
	pthread_mutex_t lock;
	const void *walker;     /* &_pmp_tls of the thread whose pmp_walk callback runs (it holds the lock), else NULL */
	unsigned flags;         /* PMP_HEAP_* */
	int readonly;
	int sealed;             /* marked clean by _pmp_heap_seal: nothing may write until _pmp_heap_unseal */
	int index_stale;        /* read-only view of an unclean heap: the free index is not trusted */
	int salvage_clean;      /* set by the opening layer before _pmp_heap_load: a clean heap that fails its check is
				 * salvaged like a dirty one instead of refused; on a read-only view (of a truncated file)
				 * the free index is not trusted (PMP_FILE_SALVAGE) */
	int trusted_open;       /* this writable open trusted the seal record: no walk, pages checked at first use */
	int check_level;        /* 0 none, 1 cheap checks on free (abort), 2 poison freed memory too (pmp_set_check) */
	unsigned check_every_log2; /* level 2: an incremental check step every 2^N operations */
	uint64_t check_ops;     /* operations since the last step */
	uint64_t check_cursor;  /* where the next step starts (a block offset; 0 = the arena's start) */
	uint32_t handle_size;   /* bytes of handle memory (os pages) when the core layer allocated it */
	/* check level 2: freed blocks wait here poisoned and marked CACHED; a write to one is found when it leaves */
#define PMP_QUARANTINE 32
	uint64_t quarantine[PMP_QUARANTINE];
	unsigned q_head, q_count;
	struct pmp_decay decay;
	/* [fresh_lo, fresh_hi): arena space this handle has not written since the format or the last growth made it
	 * (the free block there reads as zeros); handing out a block that reaches into it prewrites ahead, past the
	 * default first chunk (region.c). This process's bookkeeping, never trusted for safety: what is written is
	 * always a free block's interior. */
	uint64_t fresh_lo, fresh_hi;
	/* process-local state of the slab pages (prt, above) and thread heaps (theap.c) */
	uint64_t prt_bytes;     /* bytes of prt's mapping */
	struct pmp_theap *theaps;  /* every thread heap of this handle (in use or pooled), under the lock */
	struct pmp_prt *abandoned[PMP_CLASSES]; /* pages no thread owns, by class, under the lock */
	uint64_t id;            /* unique in the process: thread-local caches name the handle by it */
	pthread_key_t theap_key; /* its value: the calling thread's theap (the key's destructor releases it) */
	int has_key;
	int track;              /* call sites tracked (PMP_LAYOUT_TRACK): every block ends in a trailer (track.h) */
	struct pmp_sites *sites; /* the site table in this view, NULL when untracked or damaged */
	uint64_t sites_block;   /* its chain block's offset (not a block of the program's), 0 when none */
	/* tracked: a new site lies in no recorded module; set by the layer above (the preload snapshots its modules),
	 * called with no lock held */
	void (*site_hook)(struct pmp_heap *h);
	int poison_all;         /* check level 2 since the handle's start: every free slot holds poison */
	const struct pmp_heap_ops *ops; /* never NULL: the providing layer's table */
	void (*thread_hook)(void); /* called once by each thread that gets a thread heap, cached by then (the shim
				    * learns its stack; it may allocate from the heap) */
	pmp_commit_fn user_commit;
	void *user_commit_arg;
	pmp_oom_fn oom;         /* pmp_set_oom_handler: called by the API's allocations on ENOMEM, without the lock */
	void *oom_user;
	/* pools.c: the heaps joined to this one (pmp_heap_add_pool), in the order allocation tries them; a slot is
	 * filled before npools is published, so that readers need no lock */
	struct pmp_heap *pools[PMP_POOL_MAX];
	unsigned npools;
	void *layer;            /* owned by the layer that provides ops (file state) */
};
_Static_assert(offsetof(struct pmp_heap, fast_id) + sizeof(uint64_t) <= 64,
	       "the fields the fast paths read share the first cache line of a handle (page-aligned: heap.c)");

/* ---- superblock (sb.c) ---- */
PMP_HIDDEN uint64_t _pmp_hash64(const void *p, size_t n, uint64_t seed);
/* the checksum a superblock copy must carry */
PMP_HIDDEN uint64_t _pmp_sb_checksum(const struct pmp_sb *sb);
/* pick the newer valid copy out of page 0 (len bytes readable); 0 or PMP_EMAGIC/EVERSION/ECHECKSUM/ELAYOUT */
PMP_HIDDEN int _pmp_sb_read(const void *page0, size_t len, struct pmp_sb *out);
/* validate the layout fields of a superblock against the bytes available; 0 or PMP_ELAYOUT/PMP_ESHORT */
PMP_HIDDEN int _pmp_sb_validate(const struct pmp_sb *sb, uint64_t avail);
/* the superblock of a heap on caller memory at mem (its page 0 readable), validated against its own reservation;
 * 0 or what _pmp_sb_read / _pmp_sb_validate say */
PMP_HIDDEN int _pmp_sb_of_memory(const void *mem, struct pmp_sb *out);
/* write h->sb as the next generation into the other slot */
PMP_HIDDEN void _pmp_sb_publish(struct pmp_heap *h);
PMP_HIDDEN void _pmp_sb_init(struct pmp_sb *sb, uint64_t base, uint64_t reserved, uint64_t mapped, uint32_t layout);
PMP_HIDDEN void _pmp_sb_set_writer(struct pmp_sb *sb, const struct pmp_identity *id, uint64_t now);

/* ---- lifecycle (heap.c) ---- */
/* format a new heap at base (mapped bytes usable); the handle h is filled and ready */
PMP_HIDDEN int _pmp_heap_format(struct pmp_heap *h, uint8_t *base, uint64_t mapped, uint64_t reserved,
				 uint32_t layout, const struct pmp_identity *id);
/* open an existing heap whose superblock was validated; recovers when it was not closed cleanly (unless readonly) */
PMP_HIDDEN int _pmp_heap_load(struct pmp_heap *h, uint8_t *base, const struct pmp_sb *sb, int readonly,
			       const struct pmp_identity *id);
/* fast_id from what it depends on (call after any of them, or the id, changed) */
PMP_HIDDEN void _pmp_heap_refresh(struct pmp_heap *h);
PMP_HIDDEN void _pmp_heap_set_flags(struct pmp_heap *h, unsigned flags);
/* a formatted or loaded handle that its layer will not hand out after all: its process state goes (the layer
 * unmaps and frees the rest) */
PMP_HIDDEN void _pmp_heap_discard(struct pmp_heap *h);
/* The one close sequence (pmp_close, and the shim at exit and exec): under the lock, whatever caches hold goes back
 * to the heap, the large free blocks waiting for their decay give their pages back (PMP_SEAL_KEEP: the file outlives
 * the handle; a file about to be removed keeps them, nobody reads them again), the data is persisted
 * (PMP_SEAL_PERSIST), the heap is marked clean with end_reason (PMP_END_*) and published, and page 0 persisted; from
 * then on the handle refuses to write (allocations fail with EROFS, frees are dropped). 0 or the first persist
 * error. */
#define PMP_SEAL_PERSIST 1u
#define PMP_SEAL_KEEP 2u
PMP_HIDDEN int _pmp_heap_seal(struct pmp_heap *h, unsigned how, uint32_t end_reason);
/* undo a seal whose reason did not happen (an exec that failed): dirty again, writable again */
PMP_HIDDEN void _pmp_heap_unseal(struct pmp_heap *h);
/* may this handle write (not read-only, not sealed)? Callers hold the lock. */
static inline int _pmp_heap_writable(const struct pmp_heap *h) { return !h->readonly && !h->sealed; }
PMP_HIDDEN int _pmp_heap_handle_alloc(struct pmp_heap **out, size_t extra);
PMP_HIDDEN void _pmp_heap_handle_free(struct pmp_heap *h);
PMP_HIDDEN void _pmp_identity_self(struct pmp_identity *id, const char *exe);

/* ---- seal record (seal.c; format.h says what it vouches for) ---- */
/* pages as a walk or the seal record lists them: entries page offset | class, ascending */
struct pmp_dir {
	uint64_t *e;
	uint64_t cap, n;   /* a walk counts past cap (and stores nothing there) */
};
/* The close sequence, under the lock, once nothing more changes: a heap that passes the seal's check (chain, index,
 * counters) gets a record that the next clean open may trust; any other gets none. Never aborts. */
PMP_HIDDEN void _pmp_seal_record_write(struct pmp_heap *h);
/* A clean heap's record against what it vouches for, reading a few pages whatever the heap's size, writing nothing:
 * 1 and the page directory (in the heap) in *dir when it is to be trusted, else 0 (the open walks). */
PMP_HIDDEN int _pmp_seal_record_trusted(const struct pmp_heap *h, struct pmp_dir *dir);

/* ---- recovery and walk (recover.c) ---- */
/* salvage: may a damaged chain be repaired (dirty heap) or must it be refused (PMP_ECORRUPT, nothing written) */
PMP_HIDDEN int _pmp_recover(struct pmp_heap *h, int salvage);

/* ---- allocation (region.c: the chain allocator, under the lock; guard.c: checks) ---- */
PMP_HIDDEN void *_pmp_alloc_locked(struct pmp_heap *h, size_t n, size_t align);
PMP_HIDDEN void _pmp_free_locked(struct pmp_heap *h, uint64_t b);
/* free b now, or (check level 2) through the quarantine */
PMP_HIDDEN void _pmp_release_locked(struct pmp_heap *h, uint64_t b);
/* empty the quarantine, verifying every block (close, and before a full check) */
PMP_HIDDEN void _pmp_quarantine_flush(struct pmp_heap *h);
/* shrink or grow block b to `want` bytes (a block size) without moving it; 1 on success */
PMP_HIDDEN int _pmp_resize_locked(struct pmp_heap *h, uint64_t b, uint64_t want);
/* allocation-free formatting for fatal messages (guard.c) */
PMP_HIDDEN char *_pmp_put_str(char *o, char *end, const char *s);
PMP_HIDDEN char *_pmp_put_hex(char *o, char *end, uint64_t v);
/* cheap validation of a user pointer; returns the block offset or 0 and a reason */
PMP_HIDDEN uint64_t _pmp_block_of(const struct pmp_heap *h, const void *p, const char **why);
/* the page (its offset) whose region holds heap offset off, read from the heap alone (no process state), or 0 */
PMP_HIDDEN uint64_t _pmp_page_containing(const struct pmp_heap *h, uint64_t off);
/* the live block p is the start of: PMP_USER_SLOT or PMP_USER_CHAIN with *size its usable bytes, or 0 and why */
enum { PMP_USER_SLOT = 1, PMP_USER_CHAIN = 2 };
PMP_HIDDEN int _pmp_user_block(const struct pmp_heap *h, const void *p, uint64_t *size, const char **why);
PMP_HIDDEN _Noreturn void _pmp_fatal_pointer(const struct pmp_heap *h, const char *op, const void *p, const char *why);

/* ---- slab pages in the chain (region.c, under the lock) ---- */
/* a new page of class c (a PMP_SLAB block at an aligned payload, its header made): its offset, or 0 (ENOMEM) */
PMP_HIDDEN uint64_t _pmp_page_new_locked(struct pmp_heap *h, unsigned c, uint32_t owner_tag);

/* ---- thread heaps (theap.c) ---- */
/* a writable handle's process-local page state: made empty (format), from the chain (load, dir NULL) or from a
 * trusted seal record's directory (its pages are checked against the heap when first used); 0 or ENOMEM */
PMP_HIDDEN int _pmp_theaps_attach(struct pmp_heap *h, const struct pmp_dir *dir);
/* the handle goes: every theap and the page state are freed */
PMP_HIDDEN void _pmp_theaps_detach(struct pmp_heap *h);
/* every theap lets its pages go, and the empty pages go back to the chain (under the lock; no thread may use the
 * heap meanwhile: pmp_close) */
PMP_HIDDEN void _pmp_theaps_release_all_locked(struct pmp_heap *h);
/* add every theap's operation counts to the heap's counters (under the lock) */
PMP_HIDDEN void _pmp_theaps_flush_locked(struct pmp_heap *h);
/* a forked child: the other threads are gone, their pages are abandoned (rebuilt from the bitmap when adopted) */
PMP_HIDDEN void _pmp_theaps_fork_child(struct pmp_heap *h);
/* the counts not yet flushed: added to n_malloc, n_free and n_realloc */
PMP_HIDDEN void _pmp_theaps_pending(struct pmp_heap *h, uint64_t *n_malloc, uint64_t *n_free, uint64_t *n_realloc);

/* ---- pools (pools.c): the public calls over a heap and its pools take these on one heap ---- */
PMP_HIDDEN int _pmp_check_one(struct pmp_heap *h, pmp_report_t *r);
PMP_HIDDEN int _pmp_walk_one(struct pmp_heap *h, pmp_walk_cb cb, void *user);
PMP_HIDDEN int _pmp_stats_one(struct pmp_heap *h, pmp_stats_t *s);
PMP_HIDDEN size_t _pmp_trim_one(struct pmp_heap *h);
/* the heap among h and its pools whose memory holds p; h when none does */
PMP_HIDDEN struct pmp_heap *_pmp_pool_route_slow(struct pmp_heap *h, const void *p);
static inline int _pmp_holds(const struct pmp_heap *h, const void *p)
{
	return (uintptr_t)p >= (uintptr_t)h->base && (uintptr_t)p - (uintptr_t)h->base < h->reserved;
}
static inline struct pmp_heap *_pmp_pool_route(struct pmp_heap *h, const void *p)
{
	if (__builtin_expect(__atomic_load_n(&h->npools, __ATOMIC_ACQUIRE) == 0, 1) || _pmp_holds(h, p))
		return h;
	return _pmp_pool_route_slow(h, p);
}
/* pmp_close: every pool closed (marked clean) and gone; 0 or the first error */
PMP_HIDDEN int _pmp_pools_close(struct pmp_heap *h);

/* ---- check (check.c) ---- */
/* The one validator of what a heap file holds: the root table and the block chain. strict: the state of a heap
 * that is open or was closed cleanly (boundary tags exact, no two free blocks adjacent, no unfinished growth);
 * lenient: every state a stop at any instruction can leave (recovery rebuilds the rest). Serves pmp_check and the
 * writable open alike, so an open never accepts what the check rejects. Writes nothing; 0 or PMP_ECORRUPT, r
 * filled. */
PMP_HIDDEN int _pmp_validate(const struct pmp_heap *h, int strict, pmp_report_t *r);
/* the slab pages as they are in the heap (bitmaps and remote lists): pages, live and free slots and bytes */
struct pmp_census {
	uint64_t pages, live_slots, live_bytes, free_slots, free_bytes;
};
PMP_HIDDEN void _pmp_census(const struct pmp_heap *h, struct pmp_census *c);
/* _pmp_validate's strict form on a heap other threads may be using (under the lock: the chain is still, pages are
 * not): what it finds is damage, never a race. The close sequence runs it before it marks a heap clean. */
PMP_HIDDEN int _pmp_check_in_use(struct pmp_heap *h, pmp_report_t *r);
/* _pmp_validate, then the free index, counters and caches against the chain */
PMP_HIDDEN int _pmp_check_locked(struct pmp_heap *h, pmp_report_t *r);
/* _pmp_check_locked as the seal needs it: pages may be in use (as _pmp_check_in_use), and their offsets and classes
 * go into dir */
PMP_HIDDEN int _pmp_check_seal(struct pmp_heap *h, pmp_report_t *r, struct pmp_dir *dir);
/* check level 2: count one operation; every 2^check_every_log2 of them, check the next stretch of the chain
 * (a bounded number of blocks, so the cost per operation does not grow with the heap) and abort with one message
 * on what is wrong. Callers hold the lock. */
PMP_HIDDEN void _pmp_check_step_slow(struct pmp_heap *h);
/* what a freed block's bytes hold at check level 2 (and always with PMP_HEAP_ZERO_FREED): zero or the poison */
static inline uint8_t _pmp_poison_byte(const struct pmp_heap *h)
{
	return (h->flags & PMP_HEAP_ZERO_FREED) ? 0 : 0xdf;
}
static inline void _pmp_check_tick(struct pmp_heap *h)
{
	if (__builtin_expect(h->check_level >= 2, 0) &&
	    (++h->check_ops & (((uint64_t)1 << h->check_every_log2) - 1)) == 0)
		_pmp_check_step_slow(h);
}

/* ---- disk blocks of large free blocks given back late (decay.c); callers hold the lock ---- */
/* free block b of s >= PMP_PUNCH_MIN bytes entered the free index / left it */
PMP_HIDDEN void _pmp_decay_note(struct pmp_heap *h, uint64_t b, uint64_t s);
PMP_HIDDEN void _pmp_decay_forget(struct pmp_heap *h, uint64_t b);
PMP_HIDDEN void _pmp_decay_flush(struct pmp_heap *h); /* punch every waiting block now (seal) */
PMP_HIDDEN void _pmp_decay_reset(struct pmp_heap *h); /* the free index is rebuilt: forget every entry */

/* ---- crash record (crash.c) ---- */
/* async-signal-safe: copies rec into the heap's crash area, magic last */
PMP_HIDDEN void _pmp_crash_write(struct pmp_heap *h, const struct pmp_crash *rec);
/* The crash annex, async-signal-safe, written by the shim's handler section by section: begin says where it goes
 * (0 and *off, or ENODATA when the heap's layer keeps none); put writes the bytes of one section at *pos (from the
 * annex start, advanced by len) and fills *s; end writes the table and the header (magic last). 0 or an errno. */
struct pmp_annex_writer {
	uint64_t off, pos, limit, cut;
	uint32_t nsect, threads_dropped;
	int err;                   /* first error: the annex is lost, nothing more is written */
	struct pmp_annex_sect sect[PMP_ANNEX_SECTIONS];
};
PMP_HIDDEN int _pmp_annex_begin(struct pmp_heap *h, struct pmp_annex_writer *w);
/* one region [addr, addr+len) of the crashed process (full_len: what it had before a limit cut it); the bytes are
 * read by the write itself, so an unreadable page is EFAULT, never a signal. 0, or an errno (the section is
 * dropped; ENOSPC also stops the annex). */
PMP_HIDDEN int _pmp_annex_put(struct pmp_heap *h, struct pmp_annex_writer *w, uint32_t kind, uint32_t flags,
			      uint64_t addr, uint64_t len, uint64_t full_len, uint64_t tid, int32_t module);
PMP_HIDDEN int _pmp_annex_end(struct pmp_heap *h, struct pmp_annex_writer *w, uint64_t time_ns);
/* the shim's per-thread hook (see struct pmp_heap.thread_hook); set before other threads use the heap */
PMP_HIDDEN void _pmp_heap_set_thread_hook(struct pmp_heap *h, void (*fn)(void));

/* ---- the process heap: the one global that names it; set only by the shim, through _pmp_heap_set_default ---- */
PMP_HIDDEN extern pmp_heap_t *_pmp_default_heap;
/* The same for the preload's fast paths, never NULL: the process heap, or else a handle that no pointer falls in
 * (reserved 0) and no thread's key matches (fast_id PMP_NOT_FAST), so that malloc and free test no pointer for
 * NULL. Set with _pmp_default_heap, by _pmp_heap_set_default only. */
PMP_HIDDEN extern pmp_heap_t *_pmp_fast_heap;
PMP_HIDDEN void _pmp_heap_set_default(struct pmp_heap *h);

/* The heap's one lock, made at the open (and again in a forked child) adaptive: what it guards is short (a chain
 * operation, a page made, retired or reshaped), so a thread that finds it taken spins a little before it sleeps.
 * PMP_HEAP_SINGLE_THREAD (set before the handle is handed out, never changed after) leaves it untaken: the caller
 * promised that one thread at a time uses the heap. */
static inline void _pmp_lock_init(struct pmp_heap *h)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&h->lock, &a);
	pthread_mutexattr_destroy(&a);
}
static inline void _pmp_lock(struct pmp_heap *h)
{
	if (!(h->flags & PMP_HEAP_SINGLE_THREAD))
		pthread_mutex_lock(&h->lock);
}
static inline void _pmp_unlock(struct pmp_heap *h)
{
	if (!(h->flags & PMP_HEAP_SINGLE_THREAD))
		pthread_mutex_unlock(&h->lock);
}

#endif
