/* fork.c: what a fork does to the process heap (PMEMPRELOAD_FORK): snapshot, copy or unsafe.
 *
 * Holds: the fork() wrapper (it gets the child's snapshot memory before forking, so that a fork whose snapshot
 * cannot be had fails with ENOMEM instead of giving the child the parent's shared mapping) and the atfork handlers.
 * prepare takes, in glibc's own order, the stdio list lock, the heap lock and the fallback's locks (so no thread is
 * inside an allocator at the fork), and copies the heap's used range; the child then lets the file go: snapshot
 * moves the copy over the heap range (private from then on, the parent keeps the file), copy writes it into a heap
 * file of its own.
 * Lock order: glibc takes its stdio list lock, then its malloc locks, after the user's prepare handlers, because a
 * thread in getdelim holds a FILE lock while it calls realloc, and fflush(NULL) holds the list lock while it takes
 * FILE locks. A handler that took the heap lock first would deadlock against those two (glibc bug 19431), so
 * prepare takes the list lock (recursive: glibc takes it again) before the heap lock.
 * Fork from a signal handler (async-signal-safe in glibc when single-threaded): a thread interrupted inside the
 * allocator, or inside fork itself, already holds the locks: prepare then takes none. Single-threaded, the copy is
 * exactly this thread's state, and the child continues with it; with other threads it may hold their half-done
 * operations, so the child gets the copy for its data but allocates from the fallback.
 * Must never: let a child write into the parent's heap file or mapping (except in unsafe mode), allocate from the
 * malloc family in a handler, or leave a lock held on either side.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/single_threaded.h>
#include <unistd.h>

#include "../src/file/heapfile.h"
#include "../src/file/private.h"
#include "../src/os/os.h"
#include "shim.h"

#define EXPORT __attribute__((visibility("default")))

/* glibc's stdio list lock (exported by libc.so.6 since 2.2.5, recursive) and the real fork */
extern void _IO_list_lock(void);
extern void _IO_list_unlock(void);
extern pid_t __fork(void);

/* jemalloc's fork handlers, registered through jefb_pthread_atfork (jemalloc.syms renames its pthread_atfork) and
 * called here, in our order and only when their locks are not already held by this thread */
void je_jemalloc_prefork(void);
void je_jemalloc_postfork_parent(void);
void je_jemalloc_postfork_child(void);
static int je_registered;

int jefb_pthread_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
	__atomic_store_n(&je_registered, 1, __ATOMIC_RELEASE);
	return 0;
}

/* One fork in progress, per thread: glibc (2.36) drops its atfork lock while the handlers run, so two threads may
 * be in prepare at once (the stdio list lock that prepare takes first then orders them); a nested fork (from a
 * signal handler that interrupted fork) is the same thread one level down. */
#define FORK_NEST 4
struct fork_level {
	struct pmp_heap *h;   /* the heap guarded (writable, this process's), or NULL */
	void *snap;           /* the child's copy of [0, snap_used) */
	size_t snap_len;      /* its mapping length */
	int locked;           /* prepare took the locks */
	int list_locked;      /* prepare took the stdio list lock */
	int shared_state;     /* the copy may hold other threads' half-done operations */
};
static __thread struct fork_level levels[FORK_NEST] __attribute__((tls_model("initial-exec")));
static __thread int fork_depth __attribute__((tls_model("initial-exec")));

/* snapshot memory the fork() wrapper got for this thread's fork */
static __thread void *pre_snap __attribute__((tls_model("initial-exec")));
static __thread size_t pre_len __attribute__((tls_model("initial-exec")));

static size_t page_up(uint64_t v)
{
	return (size_t)((v + PMP_PAGE - 1) & ~(uint64_t)(PMP_PAGE - 1));
}

/* the heap a fork must take care of, or NULL */
static struct pmp_heap *guarded_heap(void)
{
	struct pmp_heap *h = _pmp_writable_heap();
	return h && _pmp_file.owner_pid == _pmp_os_pid() ? h : NULL;
}

EXPORT pid_t fork(void)
{
	struct pmp_heap *h = guarded_heap();
	if (h && _pmp_opts.fork != FORK_UNSAFE && !_pmp_depth && !pre_snap) {
		/* room for the heap as it is plus the growth other threads may add before prepare holds the lock */
		uint64_t used = __atomic_load_n(&h->end, __ATOMIC_RELAXED);
		uint64_t len = page_up(used + used / 8 + ((uint64_t)1 << 20));
		if (len > h->reserved)
			len = h->reserved;
		void *p;
		if (_pmp_os_pages_alloc((size_t)len, &p) != 0) {
			_pmp_log(1, "fork: no memory for the child's copy of the heap: fork fails with ENOMEM", "", "");
			errno = ENOMEM;
			return -1;
		}
		pre_snap = p;
		pre_len = (size_t)len;
	}
	pid_t r = __fork();
	int saved = errno;
	if (pre_snap) { /* not taken by prepare (a nested fork, or no heap by then) */
		_pmp_os_pages_free(pre_snap, pre_len);
		pre_snap = NULL;
	}
	errno = saved;
	return r;
}

static void take_snapshot(struct fork_level *l)
{
	size_t need = page_up(l->h->end);
	if (pre_snap && pre_len >= need) {
		l->snap = pre_snap;
		l->snap_len = pre_len;
		pre_snap = NULL;
	} else if (_pmp_os_pages_alloc(need, &l->snap) == 0) {
		l->snap_len = need;
	} else {
		l->snap = NULL;
		return;
	}
	memcpy(l->snap, l->h->base, l->h->end);
}

static void prepare(void)
{
	struct fork_level *l = &levels[fork_depth < FORK_NEST ? fork_depth : FORK_NEST - 1];
	int nested = fork_depth > 0, busy = _pmp_depth > 0 || nested;
	fork_depth++;
	_pmp_depth++; /* whatever runs from here to the child or parent handler allocates from the fallback */
	memset(l, 0, sizeof *l);
	l->h = guarded_heap();
	int multi = __libc_single_threaded == 0;
	if (!busy) {
		if (multi) {
			_IO_list_lock();
			l->list_locked = 1;
		}
		if (l->h)
			_pmp_lock(l->h);
		if (__atomic_load_n(&je_registered, __ATOMIC_ACQUIRE))
			je_jemalloc_prefork();
		l->locked = 1;
	}
	l->shared_state = busy && multi;
	if (l->h && _pmp_opts.fork != FORK_UNSAFE)
		take_snapshot(l);
}

static struct fork_level *leave_level(void)
{
	fork_depth--;
	_pmp_depth--;
	return &levels[fork_depth < FORK_NEST ? fork_depth : FORK_NEST - 1];
}

static void parent(void)
{
	struct fork_level *l = leave_level();
	if (l->snap)
		_pmp_os_pages_free(l->snap, l->snap_len);
	if (l->locked) {
		if (__atomic_load_n(&je_registered, __ATOMIC_ACQUIRE))
			je_jemalloc_postfork_parent();
		if (l->h)
			_pmp_unlock(l->h);
		if (l->list_locked)
			_IO_list_unlock();
	}
}

/* ---- child side ---- */

/* copy mode: write the snapshot into a new file of our own and open it at the same address; 0 or an error, and
 * then nothing changed: the caller makes the snapshot private instead */
static int become_copy(struct fork_level *l)
{
	struct pmp_heap *h = l->h;
	uint64_t pid = _pmp_os_pid();
	char base[SHIM_PATH_MAX], path[SHIM_PATH_MAX];
	int e = _pmp_path_expand(_pmp_opts.path, pid, base, sizeof base);
	if (e)
		return e;
	int fd = -1;
	for (unsigned i = 0; i < 64; i++) {
		char *o = _pmp_fmt_str(path, path + sizeof path - 1, base);
		if (i) {
			o = _pmp_fmt_str(o, path + sizeof path - 1, ".");
			o = _pmp_fmt_u64(o, path + sizeof path - 1, i);
		}
		*o = 0;
		e = _pmp_os_open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600, &fd);
		if (e != EEXIST)
			break;
	}
	if (e)
		return e;
	if ((e = _pmp_os_fallocate(fd, 0, l->snap_len)) != 0 || (e = _pmp_os_write(fd, l->snap, l->snap_len)) != 0) {
		_pmp_os_close(fd);
		_pmp_os_unlink(path);
		return e;
	}
	_pmp_os_close(fd);
	/* the parent's mapping goes; the copy is mapped at the same place (and recovered: it was open when copied) */
	_pmp_os_unmap(h->base, h->reserved);
	pmp_file_opts_t fo;
	memset(&fo, 0, sizeof fo);
	fo.mode = PMP_OPEN_EXISTING;
	fo.flags = _pmp_opts.zero ? PMP_FILE_ZERO_FREED : 0;
	struct pmp_heap *nh;
	if ((e = pmp_file_open(path, &fo, &nh)) != 0) {
		_pmp_os_unlink(path);
		return e; /* the range is free now: the snapshot still moves into it */
	}
	pmp_set_check(nh, h->check_level, h->check_every_log2);
	_pmp_os_pages_free(l->snap, l->snap_len);
	l->snap = NULL;
	h->ops->disown(h); /* the parent's descriptor; its mapping is gone already */
	_pmp_heap_handle_free(h);
	memcpy(_pmp_file.path, path, sizeof path);
	_pmp_file.owner_pid = pid;
	_pmp_file_adopt();
	if (_pmp_file.keep == KEEP_NEVER)
		_pmp_os_unlink(path);
	_pmp_heap_set_default(nh);
	return 0;
}

static void child(void)
{
	struct fork_level *l = leave_level();
	struct pmp_heap *h = l->h;
	if (l->locked) {
		if (__atomic_load_n(&je_registered, __ATOMIC_ACQUIRE))
			je_jemalloc_postfork_child();
		if (h) /* the lock was taken by the forking thread, which is this one; start it afresh */
			pthread_mutex_init(&h->lock, NULL);
		/* the stdio list lock: glibc resets it in a child forked from several threads (the only case we took it) */
	}
	if (!h || _pmp_opts.fork == FORK_UNSAFE)
		return;
	if (!l->snap) {
		/* the parent's heap must never be written by the child: without a copy the child cannot go on */
		_pmp_os_map_anon_over(h->base, h->reserved);
		_pmp_os_fatal("pmempreload: fork: no memory for the child's copy of the heap; the child stops here\n");
	}
	if (_pmp_opts.fork == FORK_COPY && !l->shared_state) {
		if (become_copy(l) == 0)
			return;
		_pmp_log(1, "fork: could not copy the heap to a file of the child's; using a private snapshot", "", "");
	}
	int e = _pmp_private_adopt(h, l->snap, l->snap_len);
	l->snap = NULL;
	if (e) {
		_pmp_os_map_anon_over(h->base, h->reserved);
		_pmp_os_fatal("pmempreload: fork: the child's copy of the heap could not be put in place; the child stops here\n");
	}
	if (l->shared_state) {
		/* other threads' operations may be half done in this copy: keep it for the child's data, allocate elsewhere */
		_pmp_heap_set_default(NULL);
		_pmp_log(1, "fork from a signal handler inside the allocator: the child allocates from the fallback", "", "");
	}
}

void _pmp_fork_install(void)
{
	pthread_atfork(prepare, parent, child);
}
