/* exit.c: what the end of the program, or the exec of another one, does to the process heap (PMEMPRELOAD_KEEP).
 *
 * Holds: the destructor (exit, return from main), the _exit and _Exit wrappers (they run no destructor), and the
 * exec family (execve, execv, execvp, execvpe, execl, execlp, execle, fexecve, execveat). Each ends the heap the same
 * way, through the core's one close sequence (_pmp_heap_seal): the heap is marked clean with how it ended, and then
 * KEEP=crash or never removes the file, KEEP=always keeps it (msynced first with SYNC=exit). A sealed heap takes no
 * more writes: late calls allocate from the fallback, frees of heap blocks are dropped. An exec that fails gives
 * the process its heap back: the file is linked again under its name and the seal undone.
 * Must never: unmap the heap (calls arrive after our destructor), end a heap this process does not own (a forked
 * child, a vfork child sharing our memory), take the heap lock from a thread already inside the allocator (a
 * signal handler that calls _exit or execve), or unlink a file that is not the one we opened.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "../src/file/heapfile.h"
#include "../src/os/os.h"
#include "shim.h"

#define EXPORT __attribute__((visibility("default")))

extern char **environ;

/* what ending did, so that a failed exec can undo it */
struct ending {
	struct pmp_heap *h;
	int sealed, unlinked;
};

/* End the process heap for `reason` (PMP_END_EXIT or PMP_END_EXEC). */
static void end_heap(uint32_t reason, struct ending *e)
{
	memset(e, 0, sizeof *e);
	struct pmp_heap *h = _pmp_writable_heap();
	if (__atomic_load_n(&_pmp_state, __ATOMIC_ACQUIRE) != ST_ACTIVE || !h || _pmp_file.owner_pid != _pmp_os_pid())
		return;
	e->h = h;
	int keep = _pmp_file.keep == KEEP_ALWAYS; /* else the file is removed below (or was at its making) */
	if (!_pmp_depth) { /* inside the allocator (a signal handler): the lock may be ours; the heap stays dirty */
		_pmp_heap_seal(h, (keep ? PMP_SEAL_KEEP : 0) | (keep && _pmp_opts.sync == SYNC_EXIT ? PMP_SEAL_PERSIST : 0),
			       reason);
		e->sealed = 1;
	}
	if (!keep && _pmp_file_is_ours() && _pmp_os_unlink(_pmp_file.path) == 0)
		e->unlinked = 1;
}

static void exec_failed(const struct ending *e)
{
	if (e->unlinked) {
		int fd = _pmp_file_fd(e->h), r = fd >= 0 ? _pmp_os_relink(fd, _pmp_file.path) : EBADF;
		if (r)
			_pmp_log(1, "exec failed, and the heap file could not be named again (it goes on unnamed): ",
				 _pmp_file.path, "");
	}
	if (e->sealed)
		_pmp_heap_unseal(e->h);
}

/* ---- the end of the program ---- */

__attribute__((destructor)) static void shim_exit(void)
{
	if (_pmp_opts.log >= 3) {
		struct pmp_heap *h = (struct pmp_heap *)pmp_default();
		pmp_stats_t s;
		char a[128], *o = a, *end = a + sizeof a - 1;
		memset(&s, 0, sizeof s);
		if (h)
			pmp_stats(h, &s);
		o = _pmp_fmt_str(o, end, "heap mallocs ");
		o = _pmp_fmt_u64(o, end, s.n_malloc);
		o = _pmp_fmt_str(o, end, ", fallback allocations ");
		o = _pmp_fmt_u64(o, end, __atomic_load_n(&_pmp_fallback_allocs, __ATOMIC_RELAXED));
		*o = 0;
		_pmp_log(3, "exit: ", a, "");
	}
	if (_pmp_opts.stats) { /* PMEMPRELOAD_STATS=1: the heap's figures, and what went to the fallback */
		pmp_heap_t *h = pmp_default();
		char a[96], *o = a, *end = a + sizeof a - 1;
		o = _pmp_fmt_str(o, end, "pmempreload: fallback allocations ");
		o = _pmp_fmt_u64(o, end, __atomic_load_n(&_pmp_fallback_allocs, __ATOMIC_RELAXED));
		o = _pmp_fmt_str(o, end, "\n");
		*o = 0;
		if (h)
			pmp_stats_print(h, 2);
		_pmp_os_write_err(a);
	}
	struct ending e;
	end_heap(PMP_END_EXIT, &e);
}

EXPORT void _exit(int status)
{
	struct ending e;
	end_heap(PMP_END_EXIT, &e);
	_pmp_os_exit_group(status);
}

EXPORT void _Exit(int status)
{
	struct ending e;
	end_heap(PMP_END_EXIT, &e);
	_pmp_os_exit_group(status);
}

/* ---- exec ---- */

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	struct ending e;
	end_heap(PMP_END_EXEC, &e);
	int err = _pmp_os_execve(path, argv, envp);
	exec_failed(&e);
	errno = err;
	return -1;
}

EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	struct ending e;
	end_heap(PMP_END_EXEC, &e);
	int err = _pmp_os_execveat(dirfd, path, argv, envp, flags);
	exec_failed(&e);
	errno = err;
	return -1;
}

EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

/* execvpe and fexecve search PATH or fall back to /proc: glibc's own, around our ending. Looked up before the heap is
 * ended (dlsym may allocate). */
typedef int (*execvpe_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);

/* ISO C has no conversion from dlsym's object pointer to a function pointer: copy the bits */
static void *next_symbol(const char *name, void *fn, size_t fn_size)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (p)
		memcpy(fn, &p, fn_size);
	return p;
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	static execvpe_fn real;
	if (!real)
		next_symbol("execvpe", &real, sizeof real);
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	struct ending e;
	end_heap(PMP_END_EXEC, &e);
	int r = real(file, argv, envp), err = errno;
	exec_failed(&e);
	errno = err;
	return r;
}

EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	static fexecve_fn real;
	if (!real)
		next_symbol("fexecve", &real, sizeof real);
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	struct ending e;
	end_heap(PMP_END_EXEC, &e);
	int r = real(fd, argv, envp), err = errno;
	exec_failed(&e);
	errno = err;
	return r;
}

/* execl, execlp, execle: the argument list onto the stack, then the vector form */
#define ARGV_FROM_LIST(first, ap, argv, with_env, envp)             \
	size_t n_ = 1;                                               \
	va_start(ap, first);                                         \
	while (va_arg(ap, const char *))                             \
		n_++;                                                \
	va_end(ap);                                                  \
	const char *argv[n_ + 1];                                    \
	argv[0] = first;                                             \
	va_start(ap, first);                                         \
	for (size_t i_ = 1; i_ <= n_; i_++)                          \
		argv[i_] = va_arg(ap, const char *);                 \
	if (with_env)                                                \
		envp = va_arg(ap, char *const *);                    \
	va_end(ap)

EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	char *const *envp = environ;
	ARGV_FROM_LIST(arg, ap, argv, 0, envp);
	return execve(path, (char *const *)argv, envp);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	char *const *envp = NULL;
	ARGV_FROM_LIST(arg, ap, argv, 1, envp);
	return execve(path, (char *const *)argv, envp);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	char *const *envp = environ;
	ARGV_FROM_LIST(arg, ap, argv, 0, envp);
	return execvpe(file, (char *const *)argv, envp);
}
