/* shim.h: what the files of the preload shim share: options, state, the fallback allocator, the routing range.
 *
 * Holds: the parsed options (filled once by options.c), the init state machine's states, the thread-local re-entry
 * depth, the process heap and its address range, and the renamed jemalloc entry points (jefb_*).
 * Must never: hold anything that allocates to initialise, or be included by core/os code (calls go down only).
 */
#ifndef PMP_SHIM_H
#define PMP_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include "../src/core/alloc.h"

/* ---- the fallback: jemalloc from libjemalloc_pic.a, every public symbol renamed malloc -> jefb_malloc ---- */
PMP_HIDDEN void *jefb_malloc(size_t n);
PMP_HIDDEN void *jefb_calloc(size_t nmemb, size_t size);
PMP_HIDDEN void *jefb_realloc(void *p, size_t n);
PMP_HIDDEN void jefb_free(void *p);
PMP_HIDDEN void *jefb_aligned_alloc(size_t align, size_t n);
PMP_HIDDEN void *jefb_memalign(size_t align, size_t n);
PMP_HIDDEN int jefb_posix_memalign(void **out, size_t align, size_t n);
PMP_HIDDEN size_t jefb_malloc_usable_size(void *p);

/* ---- options (options.c): one descriptor table, read once by init ---- */
enum { MODE_FRESH, MODE_OPEN, MODE_READONLY };
enum { KEEP_CRASH, KEEP_ALWAYS, KEEP_NEVER, KEEP_DEFAULT };
enum { FORK_SNAPSHOT, FORK_COPY, FORK_UNSAFE };
enum { FULL_FALLBACK, FULL_ENOMEM, FULL_ABORT };
enum { SYNC_NONE, SYNC_COMMIT, SYNC_EXIT };
enum { TRACK_OFF, TRACK_CALLSITE };

#define SHIM_PATH_MAX 4096

struct shim_opts {
	char path[SHIM_PATH_MAX]; /* pattern (not expanded) */
	uint64_t size;            /* reserved bytes */
	uint64_t addr;            /* base address */
	int mode, keep, fork, on_full, sync, track;
	int check;                /* 0, 1, 2 */
	unsigned check_every_log2;/* level 2: full pmp_check every 2^N heap operations */
	int zero, crash, log, stats;
	int decay_ms;             /* PMEMPRELOAD_DECAY: pmp_set_decay's milliseconds */
	char exe[1024];           /* PMEMPRELOAD_EXE globs, comma separated; empty = all */
};
PMP_HIDDEN extern struct shim_opts _pmp_opts;
/* parse every PMEMPRELOAD_* variable (secure_getenv) into _pmp_opts; bad values warn and keep the default */
PMP_HIDDEN void _pmp_opts_load(void);
/* write a line to stderr when the log level is at least level: "pmempreload: a b c\n" (no allocation) */
PMP_HIDDEN void _pmp_log(int level, const char *a, const char *b, const char *c);
/* glob match of name against a comma-separated list of patterns (*, ?, [..]) */
PMP_HIDDEN int _pmp_glob_list(const char *patterns, const char *name);

/* ---- path patterns (path.c) ---- */
/* Expand pattern (%p %e %t %u %%) into out; 0 or ENAMETOOLONG/EINVAL. pid given so a forked child names its own. */
PMP_HIDDEN int _pmp_path_expand(const char *pattern, uint64_t pid, char *out, size_t len);
/* the default pattern ${TMPDIR:-/tmp}/pmempreload-%u/%e.%p.heap */
PMP_HIDDEN void _pmp_path_default(char *out, size_t len);
/* make the directory of path (one level, 0700); for `vet` also refuse one not ours or open to others */
PMP_HIDDEN int _pmp_path_mkdir(const char *path, int vet);
/* the basename of this process's executable, into out */
PMP_HIDDEN void _pmp_exe_name(char *out, size_t len);
/* small allocation-free formatting helpers */
PMP_HIDDEN char *_pmp_fmt_u64(char *o, char *end, uint64_t v);
PMP_HIDDEN char *_pmp_fmt_str(char *o, char *end, const char *s);

/* ---- state (init.c) ---- */
enum { ST_UNINIT = 0, ST_INIT = 1, ST_ACTIVE = 2, ST_INERT = 3 };
PMP_HIDDEN extern int _pmp_state;
/* the thread's re-entry depth, the low bits of the core's thread-local key (theap.h): a fast path that finds
 * the key equal to the heap's fast_id knows it is 0 */
#define _pmp_depth ((unsigned)(_pmp_tls.key & PMP_TLS_DEPTH_MASK))
/* The compiler keeps every access of the heap between the two (a signal handler must see the raised depth). The
 * key changes in place, never by a store of a value read before (a handler that binds another heap changes its id
 * part meanwhile): on x86 one add or subtract on memory, which GCC does not always emit for the C form. */
#if defined(__x86_64__)
#define _pmp_enter() __asm__ volatile("addq $1, %0" : "+m"(_pmp_tls.key) : : "memory", "cc")
#define _pmp_leave() __asm__ volatile("subq $1, %0" : "+m"(_pmp_tls.key) : : "memory", "cc")
#else
#define _pmp_enter() (_pmp_tls.key++, __atomic_signal_fence(__ATOMIC_SEQ_CST))
#define _pmp_leave() (__atomic_signal_fence(__ATOMIC_SEQ_CST), _pmp_tls.key--)
#endif
PMP_HIDDEN extern uintptr_t _pmp_lo, _pmp_len; /* routing range: [lo, lo+len) belongs to the heap */
PMP_HIDDEN void _pmp_shim_init(void);
PMP_HIDDEN extern uint64_t _pmp_fallback_allocs; /* allocations served by jemalloc (statistics for the log) */
/* heap file bookkeeping shared with fork.c and crash.c */
struct shim_file {
	char path[SHIM_PATH_MAX]; /* expanded path of the heap file this process owns */
	uint64_t owner_pid;       /* the process that owns the file (a forked child does not) */
	uint64_t dev, ino;        /* identity of the file, to never unlink someone else's */
	int keep;                 /* resolved KEEP policy */
};
PMP_HIDDEN extern struct shim_file _pmp_file;
/* open the process heap at an expanded path under the current options; 0 or an error (PMP_E* / errno) */
PMP_HIDDEN int _pmp_open_heap(uint64_t pid, struct pmp_heap **out);
/* after a successful open: record dev/ino of _pmp_file.path */
PMP_HIDDEN void _pmp_file_adopt(void);
/* is the file at _pmp_file.path still the one this process opened (never unlink someone else's)? */
PMP_HIDDEN int _pmp_file_is_ours(void);

/* The process heap when this thread may allocate from it: NULL when inert, read-only, or sealed (after exit or
 * during an exec: late calls then allocate from the fallback and frees of heap blocks are dropped, so the file stays
 * as it was sealed). The core refuses a sealed heap again under its lock, so a race with sealing is harmless. */
static inline struct pmp_heap *_pmp_writable_heap(void)
{
	struct pmp_heap *h = __atomic_load_n(&_pmp_default_heap, __ATOMIC_ACQUIRE);
	return h && !h->readonly && !__atomic_load_n(&h->sealed, __ATOMIC_RELAXED) ? h : NULL;
}

/* ---- malloc's fast path, and the malloc family with the call site given (entry.c), for operator new (cxx.c) ---- */
/* The fast path of malloc, calloc and operator new: a small block of this thread's page of the process heap, or
 * NULL (the caller's slow half decides: it takes the call site, which the fast path does not load, and as the
 * fast path calls nothing it saves no register). One compare of the thread's key with the heap's fast_id says
 * that the thread's theap is the heap's, that the heap takes the fast path, and that the thread is not inside an
 * allocator already (theap.h); the depth raised marks the fast path itself. */
static inline __attribute__((always_inline)) void *_pmp_shim_small_fast(size_t n)
{
	struct pmp_heap *h = __atomic_load_n(&_pmp_fast_heap, __ATOMIC_ACQUIRE);
	if (__builtin_expect(_pmp_tls.key == h->fast_id, 1)) { /* the size is tested inside */
		_pmp_enter();
		void *p = _pmp_malloc_fast_bound(h, n);
		_pmp_leave();
		return p;
	}
	return NULL;
}
/* malloc but for what _pmp_shim_small_fast serves (out of line) */
PMP_HIDDEN void *_pmp_shim_malloc_other(size_t n, const void *pc);
PMP_HIDDEN void *_pmp_shim_aligned(size_t align, size_t n, const void *pc); /* align: a power of two */

/* ---- fork (fork.c), ending and exec (exit.c), crash (crash.c) ---- */
PMP_HIDDEN void _pmp_fork_install(void);
PMP_HIDDEN void _pmp_crash_install(void);
/* a tracked heap: the core asks for a module snapshot when a new call site lies in no recorded object (sites.c) */
PMP_HIDDEN void _pmp_sites_install(struct pmp_heap *h);
/* the fallback's own fork handlers (jemalloc registers them through this renamed pthread_atfork) */
PMP_HIDDEN int jefb_pthread_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

static inline int _pmp_routes(const void *p)
{
	return (uintptr_t)p - __atomic_load_n(&_pmp_lo, __ATOMIC_RELAXED) <
	       __atomic_load_n(&_pmp_len, __ATOMIC_RELAXED);
}

#endif
