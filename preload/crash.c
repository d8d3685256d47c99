/* crash.c: the fatal-signal handler that leaves a crash record in the heap (PMEMPRELOAD_CRASH=1).
 *
 * Holds: installation for SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL (keeping the program's earlier handlers), the
 * module list gathered at init, the record (signal, si_code, fault address, time, pid, tid, return addresses from
 * the faulting pc and a frame-pointer walk bounded by the stack), and the re-raise with the previous action.
 * Must never: allocate, lock, call dl_iterate_phdr or an unwinder from the handler (none is async-signal-safe), read a
 * stack word without checking the page is mapped, or swallow the signal: the process still dies of it.
 */
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "../src/os/os.h"
#include "shim.h"

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
#define NFATAL (sizeof fatal_signals / sizeof fatal_signals[0])
static struct sigaction previous[NFATAL];
static struct pmp_crash rec; /* static: too big for a signal stack */
static int crashed;

/* ---- modules, gathered once at init (dl_iterate_phdr is not async-signal-safe) ---- */

static int add_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	if (rec.nmodules >= PMP_CRASH_MODULES)
		return 1;
	struct pmp_crash_module *m = &rec.modules[rec.nmodules++];
	m->load_addr = info->dlpi_addr;
	const char *name = info->dlpi_name;
	char exe[sizeof m->path];
	if (!name || !name[0]) {
		/* the executable itself */
		if (rec.nmodules == 1 && _pmp_os_exe_path(exe, sizeof exe) == 0)
			name = exe;
		else
			name = "";
	}
	size_t n = strlen(name);
	if (n >= sizeof m->path)
		name += n - (sizeof m->path - 1), n = sizeof m->path - 1; /* keep the tail: the file name matters */
	memcpy(m->path, name, n);
	m->path[n] = 0;
	return 0;
}

/* ---- the record ---- */

static void walk_frames(const ucontext_t *uc)
{
	rec.nframes = 0;
#if defined(__x86_64__)
	uint64_t pc = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	uint64_t sp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
	uint64_t fp = (uint64_t)uc->uc_mcontext.gregs[REG_RBP];
	rec.frames[rec.nframes++] = pc;
	/* a frame is [fp] = caller's fp, [fp+8] = return address; frames only move up the stack */
	while (rec.nframes < PMP_CRASH_FRAMES) {
		if ((fp & 7) || fp < sp || fp - sp > ((uint64_t)64 << 20) || !_pmp_os_mapped((void *)fp, 16))
			break;
		const uint64_t *f = (const uint64_t *)fp;
		uint64_t next = f[0], ret = f[1];
		if (ret < 4096)
			break;
		rec.frames[rec.nframes++] = ret;
		if (next <= fp)
			break;
		sp = fp;
		fp = next;
	}
#else
	(void)uc;
#endif
}

static void on_fatal(int sig, siginfo_t *si, void *ucv)
{
	int saved = errno;
	struct pmp_heap *h = (struct pmp_heap *)pmp_default();
	if (h && !h->readonly && !__atomic_exchange_n(&crashed, 1, __ATOMIC_ACQ_REL)) {
		rec.signo = sig;
		rec.code = si ? si->si_code : 0;
		rec.fault_addr = si ? (uint64_t)(uintptr_t)si->si_addr : 0;
		rec.time_ns = _pmp_os_now_ns();
		rec.pid = _pmp_os_pid();
		rec.tid = _pmp_os_tid();
		walk_frames(ucv);
		_pmp_crash_write(h, &rec);
		if (_pmp_file.owner_pid == rec.pid && _pmp_file.keep != KEEP_NEVER)
			_pmp_log(1, "fatal signal: crash record written to the heap kept at ", _pmp_file.path, "");
	}
	/* hand the signal to whoever had it before us (the default action: death) */
	for (unsigned i = 0; i < NFATAL; i++)
		if (fatal_signals[i] == sig)
			sigaction(sig, &previous[i], NULL);
	if (!si || si->si_code <= 0) /* sent (kill, raise, abort): deliver again once we return */
		raise(sig);
	errno = saved;
	/* a fault re-executes the faulting instruction and now meets the previous action */
}

void _pmp_crash_install(void)
{
	rec.nmodules = 0;
	dl_iterate_phdr(add_module, NULL);
	/* a signal stack for the initialising thread, so a stack overflow there still gets recorded */
	stack_t cur;
	void *alt;
	if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE) && _pmp_os_pages_alloc(64 << 10, &alt) == 0) {
		stack_t ss = {.ss_sp = alt, .ss_size = 64 << 10, .ss_flags = 0};
		if (sigaltstack(&ss, NULL) != 0)
			_pmp_os_pages_free(alt, 64 << 10);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fatal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	for (unsigned i = 0; i < NFATAL; i++)
		sigaction(fatal_signals[i], &sa, &previous[i]);
}
