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
 * The child never shares the heap, not even for an instant: glibc's own child-side work runs before any atfork
 * child handler and writes into malloc'd memory (it re-initialises the lock of every FILE, which fopen allocated in
 * the heap, and the NSS state's lock); done in the shared mapping, that reset the parent's locks under its running
 * threads. So prepare marks the heap range MADV_DONTFORK: the child starts without it, and the first touch of it,
 * glibc's or the child handler's, puts the copy in place (a fault handler installed for the fork's duration).
 * Must never: let a child write into the parent's heap file or mapping (except in unsafe mode), allocate from the
 * malloc family in a handler, or leave a lock held on either side.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
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
	size_t snap_used;     /* the heap's bytes in it (page-aligned): what goes to the heap's address */
	int locked;           /* prepare took the locks */
	int list_locked;      /* prepare took the stdio list lock */
	int shared_state;     /* the copy may hold other threads' half-done operations */
	int kept_out;         /* the heap range is MADV_DONTFORK: the child starts without it */
	uint64_t map_len;     /* the heap range's mapped length at the fork */
	volatile int placed;  /* child: the copy is in place at the heap's address */
};
static __thread struct fork_level levels[FORK_NEST] __attribute__((tls_model("initial-exec")));
static __thread int fork_depth __attribute__((tls_model("initial-exec")));

/* The last fork's copy memory, kept for the next fork (MADV_FREE: the kernel may take its pages back under memory
 * pressure). Filling fresh memory costs a page fault per page: 19 ms for 40 MiB here, against 3 ms to copy into
 * memory kept from the fork before, and programs that fork once tend to fork often (shells, servers, make). Used
 * only by forks that took the locks (those are serialised by the stdio list lock). */
static void *kept;
static size_t kept_len;

/* snapshot memory the fork() wrapper got for this thread's fork */
static __thread void *pre_snap __attribute__((tls_model("initial-exec")));
static __thread size_t pre_len __attribute__((tls_model("initial-exec")));

/* the level whose copy a fault in the child puts in place (the forking thread's; the child has no other) */
static __thread struct fork_level *placing __attribute__((tls_model("initial-exec")));

/* ---- the fault handler of the fork window ---- */

static const int fault_signals[] = {SIGSEGV, SIGBUS};
static struct sigaction fault_saved[2];
static int fault_users; /* forks in their window (two threads may be in one at once) */

static void put_copy(struct fork_level *l)
{
	if (!l->snap || _pmp_private_place(l->h->base, l->snap, l->snap_used) != 0) {
		_pmp_os_write_err("pmempreload: fork: the child's copy of the heap could not be put in place; the child stops here\n");
		_pmp_os_exit_group(127);
	}
	if (l->snap_len > l->snap_used) /* room kept for growth that did not happen: not the heap's */
		_pmp_os_pages_free((char *)l->snap + l->snap_used, l->snap_len - l->snap_used);
	l->snap = NULL;
	l->placed = 1;
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	struct fork_level *l = placing;
	uintptr_t a = (uintptr_t)si->si_addr;
	if (l && l->kept_out && !l->placed && l->h && a - (uintptr_t)l->h->base < l->map_len &&
	    _pmp_file.owner_pid != _pmp_os_pid()) {
		put_copy(l); /* a forked child touched the heap before our child handler ran: the access is retried */
		return;
	}
	/* not ours: the previous action, which the retried access then meets */
	for (unsigned i = 0; i < 2; i++)
		if (fault_signals[i] == sig)
			sigaction(sig, &fault_saved[i], NULL);
	(void)uc;
}

static void fault_window(int open)
{
	if (open) {
		if (__atomic_fetch_add(&fault_users, 1, __ATOMIC_ACQ_REL) != 0)
			return;
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_fault;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		for (unsigned i = 0; i < 2; i++)
			sigaction(fault_signals[i], &sa, &fault_saved[i]);
	} else if (__atomic_sub_fetch(&fault_users, 1, __ATOMIC_ACQ_REL) == 0) {
		for (unsigned i = 0; i < 2; i++)
			sigaction(fault_signals[i], &fault_saved[i], NULL);
	}
}

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
	/* room for the heap as it is plus the growth other threads may add before prepare holds the lock */
	uint64_t used = h ? __atomic_load_n(&h->end, __ATOMIC_RELAXED) : 0;
	uint64_t len = page_up(used + used / 8 + ((uint64_t)1 << 20));
	if (h && len > h->reserved)
		len = h->reserved;
	if (h && _pmp_opts.fork != FORK_UNSAFE && !_pmp_depth && !pre_snap &&
	    __atomic_load_n(&kept_len, __ATOMIC_RELAXED) < len) {
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
	if (l->locked && kept && kept_len >= need) {
		l->snap = kept;
		l->snap_len = kept_len;
		kept = NULL;
		kept_len = 0;
	} else if (pre_snap && pre_len >= need) {
		l->snap = pre_snap;
		l->snap_len = pre_len;
		pre_snap = NULL;
	} else if (_pmp_os_pages_alloc(need, &l->snap) == 0) {
		l->snap_len = need;
	} else {
		l->snap = NULL;
		return;
	}
	l->snap_used = need;
	memcpy(l->snap, l->h->base, l->h->end);
}

static void prepare(void)
{
	struct fork_level *l = &levels[fork_depth < FORK_NEST ? fork_depth : FORK_NEST - 1];
	int nested = fork_depth > 0, busy = _pmp_depth > 0 || nested;
	fork_depth++;
	_pmp_enter(); /* whatever runs from here to the child or parent handler allocates from the fallback */
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
	if (l->h && _pmp_opts.fork != FORK_UNSAFE) {
		take_snapshot(l);
		fault_window(1);
		l->map_len = l->h->map_len;
		l->kept_out = _pmp_os_dontfork(l->h->base, l->map_len, 1) == 0;
		placing = l;
	}
}

/* The level of the fork whose parent or child handler runs. The handler counts as inside the fork (and the
 * allocator) until it returns: a signal that forks from within it must find the locks taken, not take them. */
static struct fork_level *current_level(void)
{
	int d = fork_depth - 1;
	return &levels[d < FORK_NEST ? d : FORK_NEST - 1];
}

static void leave_level(void)
{
	fork_depth--;
	_pmp_leave();
}

/* the fork window closes on either side */
static void close_window(struct fork_level *l)
{
	if (!l->h || _pmp_opts.fork == FORK_UNSAFE)
		return;
	placing = NULL;
	fault_window(0);
}

static void parent_work(struct fork_level *l)
{
	if (l->kept_out)
		_pmp_os_dontfork(l->h->base, l->map_len, 0);
	close_window(l);
	if (l->snap && l->locked && l->snap_len > kept_len) { /* the bigger copy memory stays for the next fork */
		void *old = kept;
		size_t old_len = kept_len;
		_pmp_os_pages_lazyfree(l->snap, l->snap_len);
		kept = l->snap;
		kept_len = l->snap_len;
		l->snap = old;
		l->snap_len = old_len;
	}
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

/* copy mode: write the child's private copy (in place at the heap's address) into a new heap file of its own and
 * open that at the same address; 0, or an error and the private copy is in place again */
static int become_copy(struct pmp_heap *h)
{
	uint64_t pid = _pmp_os_pid();
	size_t len = page_up(h->end);
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
	if ((e = _pmp_os_fallocate(fd, 0, len)) != 0 || (e = _pmp_os_write(fd, h->base, len)) != 0) {
		_pmp_os_close(fd);
		_pmp_os_unlink(path);
		return e;
	}
	_pmp_os_close(fd);
	/* the private copy steps aside while the file is mapped at its place (and recovered: it was open when copied) */
	void *aside;
	if ((e = _pmp_os_remap_anywhere(h->base, len, &aside)) != 0) {
		_pmp_os_unlink(path);
		return e;
	}
	pmp_file_opts_t fo;
	memset(&fo, 0, sizeof fo);
	fo.mode = PMP_OPEN_EXISTING;
	fo.flags = _pmp_opts.zero ? PMP_FILE_ZERO_FREED : 0;
	struct pmp_heap *nh;
	if ((e = pmp_file_open(path, &fo, &nh)) != 0) {
		_pmp_os_unlink(path);
		if (_pmp_private_place(h->base, aside, len) != 0) {
			_pmp_os_write_err("pmempreload: fork: the child's copy of the heap was lost; the child stops here\n");
			_pmp_os_exit_group(127);
		}
		return e;
	}
	pmp_set_check(nh, h->check_level, h->check_every_log2);
	pmp_set_decay(nh, pmp_get_decay(h));
	_pmp_os_pages_free(aside, len);
	h->ops->disown(h); /* the parent's descriptor; its mapping is gone already */
	_pmp_heap_discard(h);
	_pmp_heap_handle_free(h);
	memcpy(_pmp_file.path, path, sizeof path);
	_pmp_file.owner_pid = pid;
	_pmp_file_adopt();
	if (_pmp_file.keep == KEEP_NEVER)
		_pmp_os_unlink(path);
	_pmp_heap_set_default(nh);
	return 0;
}

static void child_work(struct fork_level *l)
{
	struct pmp_heap *h = l->h;
	if (l->locked) {
		if (__atomic_load_n(&je_registered, __ATOMIC_ACQUIRE))
			je_jemalloc_postfork_child();
		if (h) /* the lock was taken by the forking thread, which is this one; start it afresh */
			_pmp_lock_init(h);
		/* the stdio list lock: glibc resets it in a child forked from several threads (the only case we took it) */
	}
	if (kept) { /* the parent's spare copy memory (a copy-on-write view of it, here): not the child's to keep */
		_pmp_os_pages_free(kept, kept_len);
		kept = NULL;
		kept_len = 0;
	}
	if (!h || _pmp_opts.fork == FORK_UNSAFE)
		return;
	if (!l->kept_out) /* the child got the parent's shared mapping: it must go before anything is written */
		_pmp_os_map_anon_over(h->base, l->map_len);
	if (!l->placed)
		put_copy(l); /* stops the child when there is no copy: it must never write the parent's heap */
	close_window(l);
	if (_pmp_opts.fork == FORK_COPY && !l->shared_state) {
		if (become_copy(h) == 0)
			return;
		_pmp_log(1, "fork: could not copy the heap to a file of the child's; using a private snapshot", "", "");
	}
	_pmp_private_adopt(h, l->snap_used);
	/* the other threads are gone: their pages wait for this one to adopt them. Only when this fork took the
	 * locks: a busy fork's lock may be held by this very thread (the allocator or an outer fork it interrupted),
	 * and then either no other thread existed or the child leaves the heap alone (shared_state below) */
	if (l->locked)
		_pmp_theaps_fork_child(h);
	if (l->shared_state) {
		/* other threads' operations may be half done in this copy: keep it for the child's data, allocate elsewhere */
		_pmp_heap_set_default(NULL);
		_pmp_log(1, "fork from a signal handler inside the allocator: the child allocates from the fallback", "", "");
	}
}

static void parent(void)
{
	parent_work(current_level());
	leave_level();
}

static void child(void)
{
	child_work(current_level());
	leave_level();
}

void _pmp_fork_install(void)
{
	pthread_atfork(prepare, parent, child);
}
