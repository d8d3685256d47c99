/* crash.c: the fatal-signal handler that leaves a crash record and the crash-time root set in the heap file
 * (PMEMPRELOAD_CRASH=1).
 *
 * Holds: installation for SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL (keeping the program's earlier handlers); what is
 * gathered outside signal context (the module list with extents, build-ids and writable segments, at init; each
 * thread's stack range, when it first gets a thread heap); the objects loaded since init (dlopen, and libc's own
 * loads of NSS and iconv modules), found in the handler by reading /proc/self/maps (open and pread into a static
 * buffer) and the ELF headers in memory, then added as init adds them; the record (signal, si_code, fault address or sender,
 * time, pid, tid, registers, return addresses); the root set (the crashing thread's stack from its SP, the top of
 * every other known thread's stack, the modules' writable segments) written to the annex; and the re-raise.
 * Must never: allocate, lock, call dl_iterate_phdr from the handler, read a stack word without checking the page is
 * mapped (the annex is written by pwrite from the memory itself: an unmapped page is EFAULT, not a signal), let the
 * unwinder hang the dying process (an alarm ends it; the record with frame-pointer frames is written before), or
 * swallow the signal: the process still dies of it.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <unwind.h>

#include "../src/os/os.h"
#include "shim.h"

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
#define NFATAL (sizeof fatal_signals / sizeof fatal_signals[0])
static struct sigaction previous[NFATAL];
static struct pmp_crash rec;              /* static: too big for a signal stack */
static struct pmp_annex_writer annex;     /* the same */
static int crashed;

static void on_fatal(int sig, siginfo_t *si, void *ucv);

/* ---- modules, gathered once at init (dl_iterate_phdr is not async-signal-safe) ---- */

/* the writable PT_LOAD segments of the modules (not this library's own: its state is the allocator's, not the
 * program's) */
#define MAX_SEGMENTS 512
static struct segment {
	uint64_t addr, len;
	int32_t module;
} segments[MAX_SEGMENTS];
static unsigned nsegments;

static void note_build_id(const struct dl_phdr_info *info, const ElfW(Phdr) *ph, struct pmp_crash_modx *x)
{
	const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
	if (!_pmp_os_mapped(p, 1))
		return; /* an object found at crash time whose notes are in no loaded segment */
	while (p + sizeof(ElfW(Nhdr)) <= end) {
		const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)(const void *)p;
		const uint8_t *name = p + sizeof *n, *desc = name + ((n->n_namesz + 3) & ~3u);
		const uint8_t *next = desc + ((n->n_descsz + 3) & ~3u);
		if (next > end || next <= p)
			return;
		if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && !memcmp(name, "GNU", 4)) {
			x->build_id_len = n->n_descsz < PMP_BUILD_ID_MAX ? n->n_descsz : PMP_BUILD_ID_MAX;
			memcpy(x->build_id, desc, x->build_id_len);
			return;
		}
		p = next;
	}
}

static int add_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	if (rec.nmodules >= PMP_CRASH_MODULES)
		return 1;
	unsigned idx = rec.nmodules++;
	struct pmp_crash_module *m = &rec.modules[idx];
	struct pmp_crash_modx *x = &rec.modx[idx];
	m->load_addr = info->dlpi_addr;
	const char *name = info->dlpi_name;
	char exe[sizeof m->path];
	if (!name || !name[0]) {
		/* the executable itself */
		if (idx == 0 && _pmp_os_exe_path(exe, sizeof exe) == 0)
			name = exe;
		else
			name = "";
	}
	size_t n = strlen(name);
	if (n >= sizeof m->path)
		name += n - (sizeof m->path - 1), n = sizeof m->path - 1; /* keep the tail: the file name matters */
	memcpy(m->path, name, n);
	m->path[n] = 0;
	uint64_t lo = UINT64_MAX, hi = 0;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_NOTE && !x->build_id_len)
			note_build_id(info, ph, x);
		if (ph->p_type != PT_LOAD)
			continue;
		uint64_t a = info->dlpi_addr + ph->p_vaddr;
		lo = a < lo ? a : lo;
		hi = a + ph->p_memsz > hi ? a + ph->p_memsz : hi;
	}
	x->start = lo == UINT64_MAX ? 0 : lo;
	x->end = hi;
	uint64_t self = (uint64_t)(uintptr_t)&on_fatal;
	if (self - x->start < x->end - x->start)
		return 0; /* this library */
	for (unsigned i = 0; i < info->dlpi_phnum && nsegments < MAX_SEGMENTS; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W) && ph->p_memsz)
			segments[nsegments++] = (struct segment){info->dlpi_addr + ph->p_vaddr, ph->p_memsz, (int32_t)idx};
	}
	return 0;
}

/* ---- objects loaded since init, found at crash time (async-signal-safe: syscalls and checked reads only) ---- */

/* The object whose ELF header is at base, the start of a mapping of offset 0 of the file path: added as init adds
 * a module (its extent, build-id, writable segments), unless it is known. */
static void add_mapped_object(uint64_t base, const char *path)
{
	const ElfW(Ehdr) *e = (const ElfW(Ehdr) *)(uintptr_t)base;
	if (!_pmp_os_mapped(e, sizeof *e) || memcmp(e->e_ident, ELFMAG, SELFMAG) ||
	    (e->e_type != ET_DYN && e->e_type != ET_EXEC) || e->e_phentsize != sizeof(ElfW(Phdr)) || !e->e_phnum ||
	    e->e_phnum > 128 || e->e_phoff > 4096)
		return;
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(uintptr_t)(base + e->e_phoff);
	if (!_pmp_os_mapped(ph, e->e_phnum * sizeof *ph))
		return;
	uint64_t first = UINT64_MAX;
	for (unsigned i = 0; i < e->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr < first)
			first = ph[i].p_vaddr;
	if (first == UINT64_MAX || (first & ~(uint64_t)4095) > base)
		return;
	uint64_t load = base - (first & ~(uint64_t)4095);
	for (unsigned i = 0; i < rec.nmodules; i++)
		if (rec.modules[i].load_addr == load)
			return;
	struct dl_phdr_info info;
	memset(&info, 0, sizeof info);
	info.dlpi_addr = load;
	info.dlpi_name = path;
	info.dlpi_phdr = ph;
	info.dlpi_phnum = e->e_phnum;
	add_module(&info, sizeof info, NULL);
}

static uint64_t hex_field(const char **s)
{
	uint64_t v = 0;
	for (;; (*s)++) {
		char c = **s;
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return v;
		v = v << 4 | (uint64_t)d;
	}
}

/* one line of /proc/self/maps: "lo-hi perms offset dev inode   path" (NUL-terminated) */
static void maps_line(const char *s)
{
	uint64_t lo = hex_field(&s);
	if (*s != '-')
		return;
	s++;
	hex_field(&s);
	if (*s++ != ' ' || s[0] != 'r')
		return;
	while (*s && *s != ' ')
		s++;
	if (*s)
		s++;
	if (hex_field(&s) != 0)
		return; /* an object's ELF header is in the mapping of its offset 0 */
	for (int field = 0; field < 2; field++) { /* dev, inode */
		while (*s == ' ')
			s++;
		while (*s && *s != ' ')
			s++;
	}
	while (*s == ' ')
		s++;
	if (*s == '/')
		add_mapped_object(lo, s);
}

static char maps_buf[16384]; /* static: the handler may run on a small signal stack */

static void refresh_modules(void)
{
	int fd;
	if (_pmp_os_open("/proc/self/maps", O_RDONLY, 0, &fd))
		return; /* no /proc: the modules of init stand */
	uint64_t off = 0;
	for (;;) {
		size_t got;
		if (_pmp_os_pread(fd, maps_buf, sizeof maps_buf - 1, off, &got) || !got)
			break;
		maps_buf[got] = 0;
		size_t used = 0;
		for (char *nl; (nl = memchr(maps_buf + used, '\n', got - used)) != NULL; used = (size_t)(nl - maps_buf) + 1) {
			*nl = 0;
			maps_line(maps_buf + used);
		}
		if (!used)
			break; /* a line longer than the buffer: stop rather than loop */
		off += used;
	}
	_pmp_os_close(fd);
}

/* ---- threads: each one's stack, learnt when it first gets a thread heap (outside signal context) ---- */

#define MAX_THREADS 1024
static struct thread_stack {
	uint64_t tid; /* 0 free; written last */
	uint64_t lo, hi;
} threads[MAX_THREADS];
static unsigned threads_dropped;

static void note_stack(uint64_t tid, uint64_t lo, uint64_t hi)
{
	for (unsigned i = 0; i < MAX_THREADS; i++) {
		struct thread_stack *t = &threads[i];
		uint64_t cur = __atomic_load_n(&t->tid, __ATOMIC_ACQUIRE);
		if (cur && cur != UINT64_MAX && t->lo == lo && t->hi == hi) {
			/* the stack of a thread that ended, reused by a new one (glibc caches stacks) */
			__atomic_store_n(&t->tid, tid, __ATOMIC_RELEASE);
			return;
		}
		if (!cur && __atomic_compare_exchange_n(&t->tid, &cur, UINT64_MAX, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			t->lo = lo;
			t->hi = hi;
			__atomic_store_n(&t->tid, tid, __ATOMIC_RELEASE);
			return;
		}
	}
	__atomic_add_fetch(&threads_dropped, 1, __ATOMIC_RELAXED);
}

/* The core's thread hook, called in the thread's first allocator call, once it has its thread heap and has cached
 * it: at depth > 0 from the malloc family, at depth 0 from the pmp_ API. pthread_getattr_np allocates (a CPU set,
 * an attribute extension): the look at the stack steps out of the allocator for it (nothing of the outer call is
 * under way yet, no lock is held), so that those blocks come from this thread's heap, not the fallback, which would
 * then set up its state for every new thread and tear it down at its end (mleak's 50,000 threads spent a fifth of
 * their user time there). */
static void thread_seen(void)
{
	uint64_t tid = _pmp_os_tid();
	if (tid == _pmp_os_pid())
		return; /* the main thread: its stack was learnt at install */
	pthread_attr_t a;
	void *addr;
	size_t size;
	int inside = _pmp_depth > 0;
	if (inside)
		_pmp_leave();
	int e = pthread_getattr_np(pthread_self(), &a);
	if (!e) {
		e = pthread_attr_getstack(&a, &addr, &size);
		pthread_attr_destroy(&a);
	}
	if (inside)
		_pmp_enter();
	if (!e)
		note_stack(tid, (uint64_t)(uintptr_t)addr, (uint64_t)(uintptr_t)addr + size);
}

/* ---- the record ---- */

static void walk_frames(const ucontext_t *uc)
{
	rec.nframes = 0;
	rec.unwinder = PMP_UNWIND_FP;
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

/* The unwind tables, from the handler's own frame: libgcc steps through the kernel's signal frame (the restorer's
 * CFI) into the interrupted context, which is where the backtrace starts. */
struct unwound {
	uint64_t ip[PMP_CRASH_FRAMES + 16];
	unsigned n;
};

static _Unwind_Reason_Code unwind_step(struct _Unwind_Context *ctx, void *arg)
{
	struct unwound *u = arg;
	int before = 0;
	uint64_t ip = (uint64_t)_Unwind_GetIPInfo(ctx, &before);
	if (!ip || u->n == sizeof u->ip / sizeof u->ip[0])
		return _URC_END_OF_STACK;
	u->ip[u->n++] = ip;
	return _URC_NO_REASON;
}

static void unwind_frames(uint64_t pc)
{
	static struct unwound u;
	u.n = 0;
	/* the unwinder takes no lock on glibc 2.35+ (_dl_find_object), but a damaged heap of unwind caches could still
	 * spin: SIGALRM's default action then ends the process, which already has its record */
	struct sigaction dfl, old;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGALRM, &dfl, &old);
	unsigned left = alarm(5);
	_Unwind_Backtrace(unwind_step, &u);
	alarm(left);
	sigaction(SIGALRM, &old, NULL);
	unsigned k = 0;
	while (k < u.n && u.ip[k] != pc)
		k++;
	if (k == u.n || u.n - k < 2)
		return; /* the interrupted frame was not found, or nothing above it: the frame pointers stand */
	unsigned n = 0;
	for (unsigned i = k; i < u.n && n < PMP_CRASH_FRAMES; i++)
		rec.frames[n++] = u.ip[i];
	if (n < rec.nframes)
		return; /* frame pointers found more (a program built with them, a library without tables) */
	rec.nframes = n;
	rec.unwinder = PMP_UNWIND_TABLES;
}

static void save_registers(const ucontext_t *uc)
{
	rec.nregs = 0;
#if defined(__x86_64__)
	for (unsigned i = 0; i < NGREG && i < PMP_CRASH_REGS; i++)
		rec.regs[rec.nregs++] = (uint64_t)uc->uc_mcontext.gregs[i];
#else
	(void)uc;
#endif
}

/* ---- the root set ---- */

/* the first mapped page of [lo, hi), page-aligned, or hi */
static uint64_t first_mapped(uint64_t lo, uint64_t hi)
{
	for (lo &= ~(uint64_t)4095; lo < hi; lo += 4096)
		if (_pmp_os_mapped((void *)(uintptr_t)lo, 1))
			return lo;
	return hi;
}

static void put_region(struct pmp_heap *h, uint32_t kind, uint32_t flags, uint64_t lo, uint64_t hi, uint64_t full,
		       uint64_t tid, int32_t module)
{
	if (hi <= lo)
		return;
	/* only what is mapped without a gap from lo (a stack's guard page, an unmapped part of a segment) */
	uint64_t a = lo & ~(uint64_t)4095;
	size_t m = _pmp_os_mapped_len((void *)(uintptr_t)a, (size_t)(hi - a));
	if (a + m <= lo)
		return;
	if (a + m < hi)
		hi = a + m;
	_pmp_annex_put(h, &annex, kind, flags, lo, hi - lo, full, tid, module);
}

static void save_root_set(struct pmp_heap *h, const ucontext_t *uc)
{
	if (_pmp_annex_begin(h, &annex))
		return;
	uint64_t tid = rec.tid, sp = 0;
#if defined(__x86_64__)
	sp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
#else
	(void)uc;
#endif
	/* the crashing thread first: from its SP (and the red zone below it) up to the base of its stack */
	if (sp) {
		uint64_t lo = sp > 128 ? sp - 128 : sp, hi = 0;
		for (unsigned i = 0; i < MAX_THREADS; i++) {
			const struct thread_stack *t = &threads[i];
			/* the main thread's stack grows down past where it was seen at install */
			uint64_t tlo = tid == rec.pid && t->hi - t->lo < ((uint64_t)64 << 20) ? t->hi - ((uint64_t)64 << 20)
											     : t->lo;
			if (__atomic_load_n(&t->tid, __ATOMIC_ACQUIRE) == tid && sp - tlo < t->hi - tlo)
				hi = t->hi;
		}
		if (!hi) /* a thread the shim never saw, or running on another stack: what is mapped above its SP */
			hi = lo + PMP_ANNEX_STACK_CRASHING;
		uint64_t full = hi - lo;
		if (full > PMP_ANNEX_STACK_CRASHING)
			hi = lo + PMP_ANNEX_STACK_CRASHING;
		put_region(h, PMP_ANNEX_STACK, PMP_ANNEX_CRASHING, lo, hi, full, tid, -1);
	}
	/* every other thread still alive: the top of its stack (its SP is not known: its registers are not available) */
	for (unsigned i = 0; i < MAX_THREADS; i++) {
		const struct thread_stack *t = &threads[i];
		uint64_t ttid = __atomic_load_n(&t->tid, __ATOMIC_ACQUIRE);
		if (!ttid || ttid == UINT64_MAX || ttid == tid || !_pmp_os_thread_alive(ttid))
			continue;
		uint64_t lo = t->hi - t->lo > PMP_ANNEX_STACK_OTHER ? t->hi - PMP_ANNEX_STACK_OTHER : t->lo;
		lo = first_mapped(lo, t->hi);
		if (annex.err)
			break;
		if (annex.nsect == PMP_ANNEX_SECTIONS) {
			annex.threads_dropped++;
			continue;
		}
		put_region(h, PMP_ANNEX_STACK, 0, lo, t->hi, t->hi - lo, ttid, -1);
	}
	annex.threads_dropped += threads_dropped;
	/* the writable segments of the executable and the libraries (loaded at init or since) */
	for (unsigned i = 0; i < nsegments && !annex.err; i++) {
		const struct segment *s = &segments[i];
		uint64_t len = s->len > PMP_ANNEX_SEGMENT ? PMP_ANNEX_SEGMENT : s->len;
		put_region(h, PMP_ANNEX_DATA, 0, s->addr, s->addr + len, s->len, 0, s->module);
	}
	if (_pmp_annex_end(h, &annex, rec.time_ns) == 0) {
		rec.annex_off = annex.off;
		rec.annex_len = annex.pos;
		rec.annex_sections = annex.nsect;
		rec.annex_err = 0;
	} else {
		rec.annex_off = 0;
		rec.annex_len = 0;
		rec.annex_err = annex.err;
	}
}

static void on_fatal(int sig, siginfo_t *si, void *ucv)
{
	int saved = errno;
	struct pmp_heap *h = (struct pmp_heap *)pmp_default();
	if (h && !h->readonly && !__atomic_exchange_n(&crashed, 1, __ATOMIC_ACQ_REL)) {
		const ucontext_t *uc = ucv;
		rec.signo = sig;
		rec.code = si ? si->si_code : 0;
		rec.fault_addr = si ? (uint64_t)(uintptr_t)si->si_addr : 0;
		/* a signal that was sent carries its sender, not an address (si_addr overlaps si_pid) */
		rec.sender_pid = si && si->si_code <= 0 ? si->si_pid : 0;
		rec.sender_uid = si && si->si_code <= 0 ? si->si_uid : 0;
		if (si && si->si_code <= 0)
			rec.fault_addr = 0;
		rec.time_ns = _pmp_os_now_ns();
		rec.pid = _pmp_os_pid();
		rec.tid = _pmp_os_tid();
		rec.ext_magic = PMP_CRASH_EXT_MAGIC;
		rec.annex_off = rec.annex_len = 0;
		rec.annex_err = ENODATA;
		save_registers(uc);
		walk_frames(uc);
		_pmp_crash_write(h, &rec); /* a record now, whatever happens below */
		refresh_modules();        /* the objects dlopen'd since init: their frames and their data segments */
		save_root_set(h, uc);
		_pmp_crash_write(h, &rec);
		if (rec.nframes)
			unwind_frames(rec.frames[0]);
		_pmp_crash_write(h, &rec);
		if (_pmp_file.owner_pid == rec.pid && _pmp_file.keep != KEEP_NEVER)
			_pmp_log(1, "fatal signal: crash record written to the heap kept at ", _pmp_file.path, "");
		if (rec.annex_err && rec.annex_err != ENODATA)
			_pmp_log(1, "fatal signal: the root set (stacks, data segments) could not be saved: ",
				 rec.annex_err == ENOSPC ? "the disk is full" : "write error", "");
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
	nsegments = 0;
	memset(rec.modx, 0, sizeof rec.modx);
	dl_iterate_phdr(add_module, NULL);
	uint64_t lo, hi;
	if (_pmp_os_main_stack(&lo, &hi) == 0)
		note_stack(_pmp_os_pid(), lo, hi);
	struct pmp_heap *h = (struct pmp_heap *)pmp_default();
	if (h)
		_pmp_heap_set_thread_hook(h, thread_seen);
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
