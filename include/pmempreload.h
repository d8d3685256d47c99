/* pmempreload.h: the one installed header of pmempreload, the public API (prefix pmp_, macros PMP_).
 *
 * Holds: the heap handle, heaps on caller memory and on files, the malloc family on an explicit heap, named roots,
 * durability, the invariant check, the block walk, statistics and error strings.
 * Must never: expose internal layout, include anything beyond the C standard headers, or change a published value.
 *
 * Error convention (one for the whole API): functions returning int give 0 on success, otherwise either a positive
 * errno value (ENOMEM, EINVAL, ENOENT, EEXIST, EACCES, ENOSPC, EIO, ...) or a negative PMP_E* code for conditions
 * errno cannot name. pmp_strerror() describes both. Allocation functions return NULL with errno set (ENOMEM, EINVAL
 * for a bad alignment, EROFS on a read-only heap); sizes are checked for overflow before anything else.
 */
#ifndef PMEMPRELOAD_H
#define PMEMPRELOAD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PMP_API __attribute__((visibility("default")))
#else
#define PMP_API
#endif

#define PMP_VERSION_MAJOR 0
#define PMP_VERSION_MINOR 1

/* ---- errors (negative; errno values are positive) ---- */
#define PMP_EMAGIC     (-1)  /* not a pmempreload heap (bad magic) */
#define PMP_EVERSION   (-2)  /* heap format version not supported */
#define PMP_ECHECKSUM  (-3)  /* both superblock copies fail their checksum */
#define PMP_EADDRINUSE (-4)  /* the heap's fixed address range is taken in this process */
#define PMP_ESHORT     (-5)  /* file shorter than its superblock says (truncated) */
#define PMP_EOWNER     (-6)  /* file owned by another user, group/world-writable, with several links, or replaced while opening */
#define PMP_ELOCKED    (-7)  /* heap file in use by another process */
#define PMP_ECORRUPT   (-8)  /* block chain or metadata inconsistent */
#define PMP_ERDONLY    (-9)  /* heap opened read-only */
#define PMP_EBADADDR   (-10) /* heap was created at another address */
#define PMP_ETOOSMALL  (-11) /* memory too small to hold a heap */
#define PMP_EROOTFULL  (-12) /* named root table full */
#define PMP_ELAYOUT    (-13) /* superblock fields implausible (hostile or damaged file) */
#define PMP_EFILETYPE  (-14) /* path is not a regular file (FIFO, directory, device, symlink) */
#define PMP_EFOREIGN   (-15) /* heap written by another program (identity mismatch) */
#define PMP_ERR_MIN    (-15)

/* ---- heap handle ---- */
typedef struct pmp_heap pmp_heap_t;

/* Called by pmp_commit on a heap on caller memory: persist [addr, addr+len). Return 0 or an errno value. */
typedef int (*pmp_commit_fn)(void *addr, size_t len, void *user);

/* flags for pmp_heap_create / pmp_heap_opts_t.flags */
#define PMP_HEAP_ZERO_FREED 0x1u /* overwrite freed memory with zeros (no secret lingers in the heap) */
/* the caller promises that one thread at a time uses the heap (its own lock, or one thread): the heap takes no
 * lock of its own (large blocks, page changes, roots, walk, stats and check run without a mutex) */
#define PMP_HEAP_SINGLE_THREAD 0x2u
#define PMP_HEAP_TRACK 0x4u      /* a new heap records call sites (see pmp_block_site); fixed when the heap is made */
/* attach: check every block of a clean heap (as pmp_check does) before accepting it. Without it, a heap whose close
 * left a seal record that still verifies opens without a walk, and its pages and blocks are checked when first used */
#define PMP_HEAP_VERIFY 0x8u

typedef struct pmp_heap_opts {
	unsigned flags;          /* PMP_HEAP_* */
	pmp_commit_fn commit;    /* optional: called by pmp_commit with the ranges to persist */
	void *commit_user;
} pmp_heap_opts_t;

#define PMP_HEAP_MIN ((size_t)128 * 1024) /* smallest memory that holds a heap (64 KiB of metadata + arena) */
#define PMP_MAX_LEN ((size_t)1 << 47)      /* largest memory a heap on caller memory may have */

/* Heap on caller-owned memory (a static buffer, a shm segment). mem must be 4096-aligned, len >= PMP_HEAP_MIN.
 * The memory is formatted; previous contents are lost. */
PMP_API int pmp_heap_create(void *mem, size_t len, unsigned flags, pmp_heap_t **out);
PMP_API int pmp_heap_create_opts(void *mem, size_t len, const pmp_heap_opts_t *opts, pmp_heap_t **out);
/* Existing heap in caller memory, at the address where it was created (PMP_EBADADDR otherwise).
 * A heap that was not detached cleanly is recovered (free index rebuilt from the block chain). */
PMP_API int pmp_heap_attach(void *mem, pmp_heap_t **out);
PMP_API int pmp_heap_attach_opts(void *mem, const pmp_heap_opts_t *opts, pmp_heap_t **out);

/* ---- heap on a file, mapped at a fixed address ---- */
enum pmp_open_mode {
	PMP_OPEN_ANY = 0,   /* open an existing heap file, create it if missing */
	PMP_OPEN_CREATE,    /* create a new file; EEXIST if the path exists */
	PMP_OPEN_EXISTING,  /* open an existing heap file; ENOENT if missing */
	PMP_OPEN_READONLY   /* open read-only and private (forensics); the file is never written */
};

/* flags for pmp_file_opts_t.flags */
#define PMP_FILE_ANYADDR 0x1u /* read-only only: map elsewhere when the original address is taken */
#define PMP_FILE_NOLOCK  0x2u /* do not take the owner lock (tests; never for concurrent writers) */
#define PMP_FILE_ZERO_FREED 0x4u /* as PMP_HEAP_ZERO_FREED */
#define PMP_FILE_SAME_EXE 0x8u /* refuse (PMP_EFOREIGN) an existing heap last written by another executable */
/* salvage what is there. Read-only: a file shorter than its superblock says opens too, its missing tail reading as
 * zeros (a damaged stretch to the end). Writable: a heap closed cleanly that fails its check is salvaged as a dirty
 * one would be (it is refused untouched otherwise), and a truncated file is first extended to its size, the missing
 * tail kept as a LOST block. (pmempreload repair) */
#define PMP_FILE_SALVAGE 0x10u
#define PMP_FILE_SINGLE_THREAD 0x20u /* as PMP_HEAP_SINGLE_THREAD */
#define PMP_FILE_TRACK 0x40u   /* as PMP_HEAP_TRACK, for a heap file this open creates (an existing one keeps its own) */
#define PMP_FILE_VERIFY 0x80u  /* as PMP_HEAP_VERIFY: a clean heap is walked and checked whole before it is accepted */

typedef struct pmp_file_opts {
	int mode;            /* enum pmp_open_mode */
	unsigned flags;      /* PMP_FILE_* */
	void *addr;          /* base address of a new heap; 0 = PMP_DEFAULT_ADDR. Existing heaps use their own. */
	size_t reserve;      /* address space reserved for a new heap; 0 = PMP_DEFAULT_RESERVE */
	size_t initial;      /* initial file size of a new heap; 0 = PMP_DEFAULT_INITIAL */
	size_t grow;         /* file growth step (rounded to pages); 0 = PMP_DEFAULT_GROW */
	const char *exe;     /* writer identity recorded in the superblock; NULL = this process's executable */
} pmp_file_opts_t;

#define PMP_DEFAULT_ADDR    ((void *)0x600000000000ull)
#define PMP_DEFAULT_RESERVE ((size_t)16 << 30)
#define PMP_DEFAULT_INITIAL ((size_t)4 << 20)
#define PMP_DEFAULT_GROW    ((size_t)4 << 20)

/* opts == NULL: PMP_OPEN_ANY with every default. Files are created 0600 with O_EXCL|O_NOFOLLOW|O_CLOEXEC. */
PMP_API int pmp_file_open(const char *path, const pmp_file_opts_t *opts, pmp_heap_t **out);

/* Clean close: flush, mark clean, release the lock and the mapping (file heaps) or detach (caller memory).
 * The handle is invalid afterwards. */
PMP_API int pmp_close(pmp_heap_t *h);

/* Empty the heap under its live handle: every block and every root goes, the thread heaps let their pages go,
 * and the memory is one free block again (the heap's counters of operations and its peak stay). The caller
 * promises that no other thread uses h meanwhile and that no pointer into h is used afterwards. A stop during the
 * reset leaves the old heap with some of its roots removed, or the empty heap (an open recovers either).
 * 0; EINVAL (NULL), PMP_ERDONLY (read-only or closed), EBUSY (the preload's process heap, pmp_default()). */
PMP_API int pmp_heap_reset(pmp_heap_t *h);

/* ---- pools: more memory for one heap (memoman's mm_add_pool) ----
 * A pool is a region of caller memory formatted as a heap of its own (its superblock, free index, block chain and
 * thread heaps: it stays valid after a crash, and pmp_check or pmp_heap_attach can take it alone), joined to heap h
 * in this process. pmp_malloc and the rest try h first, then each pool in the order they were added; pmp_free,
 * pmp_realloc, pmp_usable_size, pmp_owns and pmp_commit find the pool of a pointer by its address; pmp_check,
 * pmp_walk (h first, then each pool), pmp_stats (sums; largest_free the largest), pmp_stats_print, pmp_trim,
 * pmp_set_check and pmp_heap_reset cover every pool; pmp_close closes every pool (each marked clean). Roots,
 * pmp_info and the relocatable offsets are the first heap's alone (a root names a block of h). The join is not
 * recorded anywhere: after a restart the caller maps each pool's memory at its address again and adds it with
 * PMP_POOL_ATTACH (recovered like pmp_heap_attach when it was not closed cleanly). */
#define PMP_POOL_MAX 64
#define PMP_POOL_ATTACH 0x1u /* mem holds a pool made earlier (len is then ignored); else it is formatted */
/* mem: 4096-aligned, len >= PMP_HEAP_MIN, overlapping neither h nor another pool. The pool takes h's
 * PMP_HEAP_ZERO_FREED and PMP_HEAP_SINGLE_THREAD flags, commit function and check level. May run while other
 * threads allocate from h. 0; EINVAL (arguments, overlap), PMP_ETOOSMALL, ENOSPC (PMP_POOL_MAX pools),
 * PMP_ERDONLY (h read-only), EBUSY (the preload's process heap), or what pmp_heap_attach returns. */
PMP_API int pmp_heap_add_pool(pmp_heap_t *h, void *mem, size_t len, unsigned flags);
/* The pool at mem leaves h, closed cleanly (its memory is the caller's again, and can be added back with
 * PMP_POOL_ATTACH). Only an empty pool: EBUSY while a block of it is allocated; ENOENT when mem is no pool of h.
 * No other thread may use h during the call. */
PMP_API int pmp_heap_remove_pool(pmp_heap_t *h, void *mem);
/* where p lies: h's own memory (its base in this process) or the mem of the pool that holds it; NULL if neither */
PMP_API void *pmp_heap_pool_of(pmp_heap_t *h, const void *p);

/* ---- sizes and overheads (the same for every heap) ---- */
/* usable bytes of the smallest block (what pmp_malloc(h, 1) gives) */
PMP_API size_t pmp_block_size_min(void);
/* the largest request a heap can serve (a heap of PMP_MAX_LEN bytes, empty); larger ones fail with ENOMEM */
PMP_API size_t pmp_block_size_max(void);
/* bytes of a heap's metadata (superblocks, free index, roots, crash record, end sentinel): a new heap of len
 * bytes has len - pmp_heap_overhead() bytes of blocks (pmp_stats free_bytes) */
PMP_API size_t pmp_heap_overhead(void);
/* the bytes beyond n that a request of n bytes takes in the heap (pmp_stats used_bytes grows by n plus this):
 * the rounding up to its size class for n <= 16,208 (a slot of a slab page, no header), the 16-byte header and
 * the rounding to 16 bytes for larger n (a chain block). 0 for n > pmp_block_size_max(). */
PMP_API size_t pmp_alloc_overhead(size_t n);

/* ---- out of memory ---- */
/* Called when an allocation on h (pmp_malloc, pmp_calloc, pmp_realloc, pmp_reallocarray, pmp_memalign) fails
 * for want of memory (ENOMEM), with the size asked for. It runs without the heap's lock held, in the thread that
 * asked: it may free blocks of h (and use h in any way but pmp_close and pmp_heap_reset). Returning non-zero asks
 * for one more attempt; an allocation that fails inside the handler does not call it again (no recursion). */
typedef int (*pmp_oom_fn)(pmp_heap_t *h, size_t size, void *user);
/* fn == NULL removes the handler. 0, or EINVAL for h == NULL. */
PMP_API int pmp_set_oom_handler(pmp_heap_t *h, pmp_oom_fn fn, void *user);

/* ---- allocation (thread-safe) ---- */
PMP_API void *pmp_malloc(pmp_heap_t *h, size_t n);
PMP_API void pmp_free(pmp_heap_t *h, void *p);
PMP_API void *pmp_calloc(pmp_heap_t *h, size_t nmemb, size_t size);
PMP_API void *pmp_realloc(pmp_heap_t *h, void *p, size_t n);
PMP_API void *pmp_reallocarray(pmp_heap_t *h, void *p, size_t nmemb, size_t size);
/* any power-of-two alignment (EINVAL otherwise), including above the page size; above 2^40, NULL with ENOMEM */
PMP_API void *pmp_memalign(pmp_heap_t *h, size_t align, size_t n);
PMP_API size_t pmp_usable_size(pmp_heap_t *h, const void *p);
/* 1 if p lies in the heap's reserved range or in one of its pools (it may still not be a block start) */
PMP_API int pmp_owns(const pmp_heap_t *h, const void *p);

/* ---- named roots: a crash leaves each root either old or new ---- */
#define PMP_ROOT_NAME_MAX 63
#define PMP_ROOT_COUNT 128
/* p == NULL removes the root. p must be the start of a live block of h (EINVAL otherwise). */
PMP_API int pmp_root_set(pmp_heap_t *h, const char *name, void *p);
PMP_API void *pmp_root_get(pmp_heap_t *h, const char *name); /* NULL (errno ENOENT) if absent */
typedef int (*pmp_root_cb)(const char *name, void *p, void *user); /* non-zero stops the listing */
PMP_API int pmp_root_list(pmp_heap_t *h, pmp_root_cb cb, void *user);

/* ---- durability ---- */
/* Durable against power loss: msync of the heap (the range and all metadata) on file heaps; the commit callback
 * on caller memory (0 when none is set: such memory has nothing to persist to). */
PMP_API int pmp_commit(pmp_heap_t *h, void *p, size_t n);

/* ---- invariant check ---- */
enum pmp_problem {
	PMP_OK = 0,
	PMP_P_HEADER,      /* superblock / layout */
	PMP_P_BLOCK,       /* a block header is out of range or malformed */
	PMP_P_PREVSIZE,    /* boundary tag disagrees with the previous block */
	PMP_P_ADJFREE,     /* two adjacent free blocks */
	PMP_P_INDEX,       /* free index: block missing, in the wrong list, listed twice, bitmap wrong */
	PMP_P_ROOT,        /* a root does not point to the start of a live block */
	PMP_P_STATS,       /* derived counters disagree with the chain */
	PMP_P_CACHE,       /* a cached block not marked cached or vice versa */
	PMP_P_PAGE         /* a slab page's header, bitmap or list of remote frees is inconsistent */
};
typedef struct pmp_report {
	int problem;            /* enum pmp_problem of the first problem found, PMP_OK if none */
	uint64_t offset;        /* heap offset where it was found */
	void *addr;             /* the same as an original (writer's) address */
	char msg[256];          /* one line: what is wrong and where */
	/* blocks as the program sees them: each slot of a slab page is a block (used or free), the pages themselves
	 * are not counted as blocks; bytes are block sizes (slot sizes, or chain blocks with their 16-byte header) */
	uint64_t blocks, used_blocks, free_blocks, cached_blocks, roots;
	uint64_t bytes_used, bytes_free, bytes_cached;
	int index_checked;      /* 0 when the free index was stale (read-only view of an unclean heap) */
	uint64_t pages;         /* slab pages (64 KiB each, holding the blocks of up to 16,208 bytes) */
} pmp_report_t;
/* 0 = consistent; PMP_ECORRUPT with r filled otherwise. r may be NULL. */
PMP_API int pmp_check(pmp_heap_t *h, pmp_report_t *r);

/* Checks the heap makes as it runs (every heap starts at level 1):
 *  0  none;
 *  1  cheap checks on free and realloc: an invalid pointer or a double free aborts with one message;
 *  2  also: freed memory is poisoned and held in a quarantine (a write after free aborts when the block leaves
 *     it), and every 2^every_log2 operations the next stretch of the heap is checked (a bounded number of blocks,
 *     so the cost does not grow with the heap); a problem aborts with one message.
 * every_log2: PMP_CHECK_EVERY_MIN..40, 0 = PMP_CHECK_EVERY_DEFAULT. 0, or EINVAL. */
#define PMP_CHECK_EVERY_MIN 4
#define PMP_CHECK_EVERY_DEFAULT 10
PMP_API int pmp_set_check(pmp_heap_t *h, int level, unsigned every_log2);

/* A free block of 1 MiB or more keeps its disk blocks (and memory) for the heap's decay time (pmp_set_decay), as
 * long as such blocks hold no more than the largest of 64 MiB, twice the used bytes and the heap's peak of used
 * bytes, so that its reuse costs no fallocate and no page faults; then its interior pages go back to the file
 * system (at the next free of such a block).
 * pmp_trim returns every empty slab page to the chain (also those the calling thread keeps for reuse; a page no
 * thread owns stays until one adopts it) and gives every such block's pages back now (malloc_trim under the
 * preload; close does it too). Returns the bytes given back; 0 for NULL or a heap that cannot give pages back. */
PMP_API size_t pmp_trim(pmp_heap_t *h);

/* The decay time of h and of its pools, in milliseconds: how long a free block of 1 MiB or more stays backed
 * before its pages go back (jemalloc's dirty_decay_ms). 0 gives them back at once; every heap starts at
 * PMP_DECAY_DEFAULT_MS (PMEMPRELOAD_DECAY under the preload). Blocks that have waited longer than the new time go
 * now. 0, or EINVAL for NULL or more than PMP_DECAY_MAX_MS. The setting is this handle's, not the file's. */
#define PMP_DECAY_DEFAULT_MS 10000ul
#define PMP_DECAY_MAX_MS 86400000ul /* a day */
PMP_API int pmp_set_decay(pmp_heap_t *h, unsigned long ms);
PMP_API unsigned long pmp_get_decay(pmp_heap_t *h); /* 0 for NULL */

/* ---- walk ---- */
/* LOST: a used block that recovery made over a stretch of the chain damaged by a power loss (kept, never reused).
 * DAMAGED: only in a walk of a heap whose chain is damaged now: the stretch from a header that fails its check to
 * the next header that passes it (what a writable open would keep as one LOST block), laid out as a chain block (offset its first byte, addr 16
 * bytes into it). */
enum pmp_block_state { PMP_BLOCK_USED = 1, PMP_BLOCK_FREE = 2, PMP_BLOCK_CACHED = 3, PMP_BLOCK_LOST = 4,
		       PMP_BLOCK_DAMAGED = 5 };
/* A block as the program sees it: a chain block (with a 16-byte header before addr), or a slot of a slab page
 * (blocks of up to 16,208 bytes: no header, offset is the slot's own, block_size == size). On a tracked heap
 * (PMP_HEAP_TRACK) the last 16 bytes of each block are its call-site record: size is 16 bytes less. */
typedef struct pmp_block {
	void *addr;        /* user pointer (original address) */
	void *data;        /* where the payload can be read in this process (differs from addr on a moved view) */
	size_t size;       /* usable bytes */
	size_t block_size; /* bytes of the block including its header */
	int state;         /* enum pmp_block_state */
	uint64_t offset;   /* heap offset of the block header (of the slot itself for a slot) */
} pmp_block_t;
/* non-zero stops the walk and is returned. A damaged stretch of the chain is reported as one PMP_BLOCK_DAMAGED
 * block and the walk goes on after it: it then returns PMP_ECORRUPT once every block was reported. The walk holds the heap's lock: the callback may call pmp_usable_size,
 * pmp_owns, pmp_ptr_to_off and pmp_off_to_ptr on h, but must not allocate, free or walk on h (it would wait for
 * itself). */
typedef int (*pmp_walk_cb)(const pmp_block_t *b, void *user);
PMP_API int pmp_walk(pmp_heap_t *h, pmp_walk_cb cb, void *user);

/* ---- statistics ---- */
typedef struct pmp_stats {
	uint64_t reserved;      /* address space reserved */
	uint64_t mapped;        /* bytes of the heap in memory / in the file */
	uint64_t arena;         /* bytes of the block arena */
	uint64_t used_bytes, used_blocks;
	uint64_t free_bytes, free_blocks, largest_free;
	uint64_t peak_used_bytes;
	uint64_t n_malloc, n_free, n_realloc, n_grow; /* operations since the heap was created */
	uint64_t pages;         /* slab pages holding the blocks of up to 16,208 bytes (64 KiB each, counted in mapped) */
} pmp_stats_t;
PMP_API int pmp_stats(pmp_heap_t *h, pmp_stats_t *s);
/* a short summary of pmp_stats (and pmp_check's verdict) written to fd, a few lines starting "pmempreload:";
 * writes with write(2) only (no stdio, no allocation). 0, EINVAL, or the errno of the write. */
PMP_API int pmp_stats_print(pmp_heap_t *h, int fd);

/* ---- heap information (superblock) ---- */
typedef struct pmp_info {
	void *base;             /* original base address */
	void *mapped_at;        /* where this process sees it */
	uint64_t reserved, mapped, generation;
	int clean;              /* 1 if the last writer closed it cleanly */
	int readonly;
	uint32_t format_version;
	uint64_t writer_pid, writer_start, created_ns, opened_ns;
	uint32_t writer_uid;
	char writer_exe[256];
	char writer_boot_id[40];
	/* salvage: recovery of a chain damaged by a power loss (or damage to a heap that was open) */
	uint32_t salvage_count;        /* times over the heap's life */
	uint32_t salvage_roots;        /* roots dropped over the heap's life (no longer pointing at a block) */
	uint64_t salvage_lost;         /* bytes kept as LOST blocks over the heap's life */
	uint64_t last_lost_bytes;      /* this handle's own recovery, when it opened the heap */
	uint32_t last_lost_regions, last_dropped_roots;
	int end_reason;                /* PMP_END_*: how the last writer let go of the heap */
} pmp_info_t;
/* end_reason: a heap that is not clean and has PMP_END_NONE was open when its writer died (crash, kill -9), or its
 * writer still runs */
#define PMP_END_NONE  0 /* still open, or the writer died */
#define PMP_END_CLOSE 1 /* pmp_close */
#define PMP_END_EXIT  2 /* process exit (exit, return from main, _exit, _Exit) under the preload */
#define PMP_END_EXEC  3 /* the process executed another program (execve) under the preload */
PMP_API int pmp_info(pmp_heap_t *h, pmp_info_t *i);

/* ---- crash record (written by the preload's fatal-signal handler) ---- */
#define PMP_CRASH_MAX_FRAMES 64
#define PMP_CRASH_MAX_MODULES 160
#define PMP_CRASH_MAX_REGS 32
typedef struct pmp_crash_module_info {
	uint64_t load_addr;     /* where the object was loaded (dl_iterate_phdr dlpi_addr) */
	char path[120];
} pmp_crash_module_t;
/* what a record knows of a module besides its load address (all 0 in a record written before these fields) */
typedef struct pmp_crash_module_ext {
	uint64_t start, end;    /* its extent in memory, [start, end): a pc outside it is not in this module */
	unsigned build_id_len;  /* bytes of build_id (0: none recorded) */
	uint8_t build_id[20];   /* the NT_GNU_BUILD_ID note of the file that was loaded */
} pmp_crash_module_ext_t;
#define PMP_UNWIND_FP 1       /* frames followed through frame pointers */
#define PMP_UNWIND_TABLES 2   /* frames unwound with the unwind tables from the interrupted context */
typedef struct pmp_crash_info {
	int signo, code;        /* signal and si_code */
	void *fault_addr;       /* si_addr (meaningless for a signal that was sent: see pmp_crash_ext_t.sender_pid) */
	uint64_t time_ns;       /* CLOCK_REALTIME */
	uint64_t pid, tid;
	unsigned nframes, nmodules;
	uint64_t frames[PMP_CRASH_MAX_FRAMES];               /* return addresses, innermost first */
	pmp_crash_module_t modules[PMP_CRASH_MAX_MODULES];   /* executable and libraries, for symbolisation */
} pmp_crash_info_t;
/* 0 and *ci filled, or ENOENT when the heap holds no crash record */
PMP_API int pmp_crash_get(pmp_heap_t *h, pmp_crash_info_t *ci);

/* What a record holds besides pmp_crash_info_t (a struct of its own, so that pmp_crash_info_t keeps its size) */
typedef struct pmp_crash_ext {
	int sender_pid;         /* a signal sent by kill, tkill, raise or abort (code <= 0): the sender, else 0 */
	unsigned sender_uid;
	int unwinder;           /* PMP_UNWIND_*, 0 unknown */
	unsigned nregs;         /* the crashing thread's registers (x86-64: in the order of ucontext gregs) */
	uint64_t regs[PMP_CRASH_MAX_REGS];
	pmp_crash_module_ext_t modules[PMP_CRASH_MAX_MODULES]; /* entry i describes pmp_crash_info_t.modules[i] */
	int roots_err;          /* 0: a root set was saved (pmp_crash_roots); else why not (ENOSPC: the disk was full;
				 * ENODATA: none was written, e.g. a heap on memory or a record of an older writer) */
} pmp_crash_ext_t;
/* 0 and *x filled (all zero, roots_err ENODATA, for a record written before these fields), or ENOENT */
PMP_API int pmp_crash_ext(pmp_heap_t *h, pmp_crash_ext_t *x);

/* ---- call sites (heaps made with PMP_HEAP_TRACK / PMP_FILE_TRACK; the preload's PMEMPRELOAD_TRACK=callsite) ----
 * Every block of a tracked heap records who allocated it and, once freed, who freed it: the return address of the
 * call into the malloc family (pmp_* or, under the preload, malloc, free, realloc, ...), and a sequence number that
 * orders every allocation and free of the heap. Each block's last 16 bytes hold the record, so the usable size is
 * 16 bytes less than on an untracked heap. A freed block keeps its record while its bytes are not reused (a slot;
 * a chain block until a neighbour merges past its end). */
typedef struct pmp_site_record {
	uint64_t alloc_site;    /* return address of the allocating call; 0 unknown */
	uint64_t free_site;     /* of the freeing call (or of the realloc that moved the block); 0 while live, unknown */
	uint64_t seq;           /* sequence number of the allocation (live) or of the free (freed) */
	int freed;              /* the record is a free's */
} pmp_site_record_t;
/* b from pmp_walk on h: 0 and *r filled; ENOENT when the block holds no valid record (never written, overwritten by
 * an overrun, or its bytes reused); EINVAL when h is not tracked */
PMP_API int pmp_block_site(pmp_heap_t *h, const pmp_block_t *b, pmp_site_record_t *r);
/* the loaded objects the writer recorded (so sites can be symbolised after it is gone) */
typedef struct pmp_module {
	uint64_t load_addr;       /* dlpi_addr: an address minus it is the offset in the file */
	uint64_t lo, hi;          /* where its segments were loaded: [lo, hi) */
	unsigned build_id_len;    /* bytes of build_id (0: none recorded) */
	uint8_t build_id[20];     /* NT_GNU_BUILD_ID */
	char path[208];
} pmp_module_t;
/* up to max modules into out, *n of them; EINVAL when h is not tracked */
PMP_API int pmp_site_modules(pmp_heap_t *h, pmp_module_t *out, unsigned max, unsigned *n);
/* The root set saved at the crash: the memory of the crashed process that may hold pointers into the heap. */
enum pmp_crash_root_kind {
	PMP_CRASH_ROOT_REGISTERS = 1, /* the crashing thread's registers (other threads' are not available) */
	PMP_CRASH_ROOT_STACK = 2,     /* a thread's stack, from addr up (bounded: see pmempreload(7)) */
	PMP_CRASH_ROOT_DATA = 3       /* a writable segment (.data, .bss, ...) of the executable or a library */
};
typedef struct pmp_crash_root {
	int kind;               /* enum pmp_crash_root_kind */
	int crashing;           /* the crashing thread's stack or registers */
	uint64_t addr;          /* where the bytes were in the crashed process (registers: 0) */
	size_t len;             /* bytes in data */
	uint64_t full_len;      /* bytes the region had (more than len when a limit cut it) */
	const void *data;       /* the saved bytes; valid during the callback only */
	uint64_t tid;           /* stacks and registers: the thread */
	int module;             /* data: index into pmp_crash_info_t.modules, else -1 */
} pmp_crash_root_t;
typedef int (*pmp_crash_root_cb)(const pmp_crash_root_t *r, void *user); /* non-zero stops and is returned */
/* Every region of the root set, registers first. 0 when the whole set was read; ENOENT when there is no crash
 * record; otherwise (after the registers, when the record has them) why the stacks and segments are missing: the
 * record's roots_err (ENOSPC, ENODATA), or PMP_ECORRUPT when the saved set is damaged. */
PMP_API int pmp_crash_roots(pmp_heap_t *h, pmp_crash_root_cb cb, void *user);

/* Under the preload: the process heap; NULL when the preload is inert or absent. */
PMP_API pmp_heap_t *pmp_default(void);

PMP_API const char *pmp_strerror(int err);

/* ---- relocatable references ---- */
typedef uint64_t pmp_off_t;
#define PMP_OFF_NULL ((pmp_off_t)0)
PMP_API pmp_off_t pmp_ptr_to_off(pmp_heap_t *h, const void *p); /* PMP_OFF_NULL for NULL or a pointer outside h */
PMP_API void *pmp_off_to_ptr(pmp_heap_t *h, pmp_off_t o);       /* NULL for PMP_OFF_NULL or out of range */

#ifdef __cplusplus
}
#endif
#endif
