/* os_linux.c: the Linux implementation of the OS layer (see os.h for the contract).
 *
 * Holds: thin wrappers over the system calls the heap needs, each returning 0 or an errno value, and the fault
 * injection switch used by tests.
 * Must never: allocate (no stdio, strerror, dlsym, opendir), retry silently on errors other than EINTR, know
 * anything about the heap format, or be a thread cancellation point: the allocator calls these with its locks
 * held, and a thread cancelled inside one would leave them held (so the calls that libc makes cancellation points,
 * open, close, pread, write, fallocate, fcntl, msync, go through syscall(), which is not one).
 */
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* ---- fault injection ---- */
struct fault { _Atomic int err, skip, count; };
static struct fault faults[PMP_OS_NOPS];

void _pmp_os_fault_set(enum pmp_os_op op, int err, int skip, int count)
{
	atomic_store(&faults[op].skip, skip);
	atomic_store(&faults[op].count, count);
	atomic_store(&faults[op].err, err);
}

static int fault(enum pmp_os_op op)
{
	struct fault *f = &faults[op];
	int err = atomic_load_explicit(&f->err, memory_order_relaxed);
	if (__builtin_expect(err == 0, 1))
		return 0;
	if (atomic_fetch_sub(&f->skip, 1) > 0)
		return 0;
	atomic_store(&f->skip, 0);
	int c = atomic_load(&f->count);
	if (c == 0)
		return 0;
	if (c > 0)
		atomic_fetch_sub(&f->count, 1);
	return err;
}

#define FAULT(op)                   \
	do {                        \
		int e_ = fault(op); \
		if (e_)             \
			return e_;  \
	} while (0)

/* ---- files ---- */
int _pmp_os_open(const char *path, int flags, unsigned mode, int *fd)
{
	FAULT(PMP_OS_OPEN);
	int r;
	do
		r = (int)syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, (mode_t)mode);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno;
	*fd = r;
	return 0;
}

int _pmp_os_close(int fd)
{
	return syscall(SYS_close, fd) < 0 && errno != EINTR ? errno : 0;
}

static void fill_stat(const struct stat *s, struct pmp_os_stat *st)
{
	st->size = (uint64_t)s->st_size;
	st->mode = s->st_mode;
	st->uid = s->st_uid;
	st->gid = s->st_gid;
	st->nlink = (uint32_t)s->st_nlink;
	st->dev = s->st_dev;
	st->ino = s->st_ino;
	st->regular = S_ISREG(s->st_mode);
}

int _pmp_os_fstat(int fd, struct pmp_os_stat *st)
{
	struct stat s;
	if (fstat(fd, &s) < 0)
		return errno;
	fill_stat(&s, st);
	return 0;
}

int _pmp_os_lstat(const char *path, struct pmp_os_stat *st)
{
	struct stat s;
	if (lstat(path, &s) < 0)
		return errno;
	fill_stat(&s, st);
	return 0;
}

int _pmp_os_pread(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = syscall(SYS_pread64, fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	*got = done;
	return 0;
}

int _pmp_os_ftruncate(int fd, uint64_t size)
{
	FAULT(PMP_OS_TRUNCATE);
	int r;
	do
		r = (int)syscall(SYS_ftruncate, fd, (off_t)size);
	while (r < 0 && errno == EINTR);
	return r < 0 ? errno : 0;
}

int _pmp_os_fallocate(int fd, uint64_t off, uint64_t len)
{
	FAULT(PMP_OS_FALLOCATE);
	int r;
	do
		r = (int)syscall(SYS_fallocate, fd, 0, (off_t)off, (off_t)len);
	while (r < 0 && errno == EINTR);
	/* Without fallocate support a sparse file would turn a full disk into SIGBUS: refuse instead. */
	return r < 0 ? errno : 0;
}

int _pmp_os_punch_hole(int fd, uint64_t off, uint64_t len)
{
	int r;
	do
		r = (int)syscall(SYS_fallocate, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
	while (r < 0 && errno == EINTR);
	return r < 0 ? errno : 0;
}

int _pmp_os_mkdir(const char *path, unsigned mode)
{
	if (mkdir(path, (mode_t)mode) == 0)
		return 0;
	if (errno != EEXIST)
		return errno;
	struct stat s;
	if (lstat(path, &s) < 0)
		return errno;
	return S_ISDIR(s.st_mode) ? 0 : ENOTDIR;
}

int _pmp_os_unlink(const char *path)
{
	return unlink(path) < 0 ? errno : 0;
}

int _pmp_os_lock(int fd, int exclusive)
{
	FAULT(PMP_OS_LOCK);
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
	fl.l_whence = SEEK_SET;
	int r;
	do
		r = (int)syscall(SYS_fcntl, fd, F_OFD_SETLK, &fl);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EACCES ? EAGAIN : errno;
	return 0;
}

/* ---- address space ---- */
int _pmp_os_map(void *addr, size_t len, int fd, uint64_t off, int shared, int writable, void **out)
{
	FAULT(PMP_OS_MMAP);
	int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
	int flags = shared ? MAP_SHARED : MAP_PRIVATE;
	if (fd < 0)
		flags |= MAP_ANONYMOUS | MAP_NORESERVE;
	if (addr)
		flags |= MAP_FIXED_NOREPLACE;
	void *p = mmap(addr, len, prot, flags, fd, (off_t)off);
	if (p == MAP_FAILED)
		return errno;
	if (addr && p != addr) {
		/* A kernel without MAP_FIXED_NOREPLACE treats it as a hint: never accept another address. */
		munmap(p, len);
		return EEXIST;
	}
	*out = p;
	return 0;
}

int _pmp_os_unmap(void *addr, size_t len)
{
	return munmap(addr, len) < 0 ? errno : 0;
}

int _pmp_os_msync(void *addr, size_t len)
{
	FAULT(PMP_OS_MSYNC);
	int r;
	do
		r = (int)syscall(SYS_msync, addr, len, MS_SYNC);
	while (r < 0 && errno == EINTR);
	return r < 0 ? errno : 0;
}

int _pmp_os_pages_alloc(size_t len, void **out)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return errno;
	*out = p;
	return 0;
}

int _pmp_os_pages_free(void *p, size_t len)
{
	return munmap(p, len) < 0 ? errno : 0;
}

/* ---- identity and time ---- */
uint64_t _pmp_os_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t _pmp_os_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t _pmp_os_pid(void) { return (uint64_t)getpid(); }
uint32_t _pmp_os_uid(void) { return (uint32_t)getuid(); }
uint32_t _pmp_os_euid(void) { return (uint32_t)geteuid(); }
uint64_t _pmp_os_tid(void) { return (uint64_t)syscall(SYS_gettid); }

int _pmp_os_exe_path(char *buf, size_t len)
{
	if (len == 0)
		return EINVAL;
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	if (n < 0) {
		buf[0] = 0;
		return errno;
	}
	buf[n] = 0;
	return 0;
}

static int read_small(const char *path, char *buf, size_t len, size_t *got)
{
	int fd = -1;
	int r = _pmp_os_open(path, O_RDONLY, 0, &fd);
	if (r)
		return r;
	r = _pmp_os_pread(fd, buf, len, 0, got);
	_pmp_os_close(fd);
	return r;
}

int _pmp_os_boot_id(char *buf, size_t len)
{
	size_t got = 0;
	buf[0] = 0;
	int r = read_small("/proc/sys/kernel/random/boot_id", buf, len - 1, &got);
	if (r)
		return r;
	while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		got--;
	buf[got] = 0;
	return 0;
}

static size_t put_u64(char *p, uint64_t v)
{
	char t[24];
	size_t n = 0;
	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (size_t i = 0; i < n; i++)
		p[i] = t[n - 1 - i];
	return n;
}

uint64_t _pmp_os_start_time(uint64_t pid)
{
	char path[48] = "/proc/";
	size_t n = 6 + put_u64(path + 6, pid);
	memcpy(path + n, "/stat", 6);
	char buf[1024];
	size_t got = 0;
	if (read_small(path, buf, sizeof buf - 1, &got) || got == 0)
		return 0;
	buf[got] = 0;
	/* the command name may contain spaces and parentheses: fields count from the last ')' */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	int field = 2;
	for (p++; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	uint64_t v = 0;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v;
}

uint64_t _pmp_os_random64(void)
{
	uint64_t v = 0;
	if (syscall(SYS_getrandom, &v, sizeof v, 1 /* GRND_NONBLOCK */) == (long)sizeof v)
		return v;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)&v;
	v ^= v >> 31;
	v *= 0x9e3779b97f4a7c15ull;
	return v ^ (v >> 29);
}

void _pmp_os_write_err(const char *msg)
{
	size_t len = strlen(msg);
	while (len > 0) {
		ssize_t w = syscall(SYS_write, 2, msg, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		msg += w;
		len -= (size_t)w;
	}
}

_Noreturn void _pmp_os_fatal(const char *msg)
{
	_pmp_os_write_err(msg);
	abort();
}

#ifdef PMP_CRASHPOINTS
/* ---- crash-point enumeration (test builds only): SIGKILL self at the armed point, as kill -9 would ---- */
static long cp_countdown, cp_passed;

void _pmp_crashpoint_arm(long nth)
{
	cp_countdown = nth;
	cp_passed = 0;
}

long _pmp_crashpoint_passed(void)
{
	return cp_passed;
}

void _pmp_crashpoint(void)
{
	cp_passed++;
	if (cp_countdown > 0 && --cp_countdown == 0)
		kill(getpid(), SIGKILL);
}
#endif

/* ---- added for the preload shim ---- */
int _pmp_os_remap_fixed(void *old, size_t len, void *addr)
{
	void *p = mremap(old, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, addr);
	if (p == MAP_FAILED)
		return errno;
	return p == addr ? 0 : EFAULT;
}

int _pmp_os_map_anon_over(void *addr, size_t len)
{
	void *p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED)
		return errno;
	return p == addr ? 0 : EFAULT;
}

int _pmp_os_rename_noreplace(const char *from, const char *to)
{
#ifdef SYS_renameat2
	if (syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 1u /* RENAME_NOREPLACE */) == 0)
		return 0;
	if (errno != ENOSYS && errno != EINVAL)
		return errno;
#endif
	/* no renameat2 on this file system: link + unlink never replaces either */
	if (link(from, to) < 0)
		return errno;
	return unlink(from) < 0 ? errno : 0;
}

/* all of the n buffers of v to fd, in turn: at off (pwritev), or at the file position when off is UINT64_MAX
 * (writev); v is used up */
static int write_all(int fd, struct iovec *v, int n, uint64_t off)
{
	for (; n > 0 && v->iov_len == 0; v++, n--)
		;
	while (n > 0) {
		ssize_t w = off == UINT64_MAX ? syscall(SYS_writev, fd, v, n)
					      : syscall(SYS_pwritev, fd, v, n, (unsigned long)off, 0ul);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		if (w == 0)
			return EIO;
		if (off != UINT64_MAX)
			off += (uint64_t)w;
		for (; n > 0 && (size_t)w >= v->iov_len; v++, n--)
			w -= (ssize_t)v->iov_len;
		if (n > 0) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int _pmp_os_write(int fd, const void *buf, size_t len)
{
	struct iovec v = {(void *)(uintptr_t)buf, len};
	return write_all(fd, &v, 1, UINT64_MAX);
}

int _pmp_os_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	struct iovec v = {(void *)(uintptr_t)buf, len};
	return write_all(fd, &v, 1, off);
}

int _pmp_os_write_zeros(int fd, uint64_t off, uint64_t len)
{
	static char zeros[64 << 10]; /* never written: it reads as the zero page */
	struct iovec v[16];
	while (len > 0) { /* up to a megabyte per call, so that the file system sees one large write */
		int n = 0;
		uint64_t part = 0;
		for (; n < 16 && part < len; n++) {
			v[n].iov_base = zeros;
			v[n].iov_len = len - part < sizeof zeros ? (size_t)(len - part) : sizeof zeros;
			part += v[n].iov_len;
		}
		int e = write_all(fd, v, n, off);
		if (e)
			return e;
		off += part;
		len -= part;
	}
	return 0;
}

size_t _pmp_os_mapped_len(const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, z = a + len;
	unsigned char vec[64];
	size_t n = 0;
	while (a < z) {
		uintptr_t chunk = z - a < sizeof vec * 4096 ? z - a : sizeof vec * 4096;
		if (mincore((void *)a, chunk, vec) == 0) {
			a += chunk;
			n += chunk;
			continue;
		}
		/* part of the chunk is unmapped: count its mapped pages one by one up to the first gap */
		for (uintptr_t p = a; p < a + chunk; p += 4096, n += 4096)
			if (mincore((void *)p, 4096, vec) != 0)
				return n;
		a += chunk;
	}
	return n > len ? len : n;
}

int _pmp_os_thread_alive(uint64_t tid)
{
	return syscall(SYS_tgkill, (pid_t)getpid(), (pid_t)tid, 0) == 0 || errno == EPERM;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int _pmp_os_main_stack(uint64_t *lo, uint64_t *hi)
{
	int fd = -1;
	int r = _pmp_os_open("/proc/self/maps", O_RDONLY, 0, &fd);
	if (r)
		return r;
	/* lines are read through a small window; a line is "lo-hi perms offset dev inode [path]" */
	char buf[4096], line[512];
	size_t ln = 0, got;
	r = ENOENT;
	for (;;) {
		ssize_t k = syscall(SYS_read, fd, buf, sizeof buf);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got = (size_t)k;
		for (size_t i = 0; i < got; i++) {
			if (buf[i] != '\n') {
				if (ln < sizeof line - 1)
					line[ln++] = buf[i];
				continue;
			}
			line[ln] = 0;
			size_t len = ln;
			ln = 0;
			if (len < 7 || strcmp(line + len - 7, "[stack]"))
				continue;
			uint64_t v[2] = {0, 0};
			const char *p = line;
			for (int w = 0; w < 2; w++, p++)
				for (int d; (d = hexval(*p)) >= 0; p++)
					v[w] = v[w] << 4 | (uint64_t)d;
			*lo = v[0];
			*hi = v[1];
			r = v[1] > v[0] ? 0 : ENOENT;
			goto out;
		}
	}
out:
	_pmp_os_close(fd);
	return r;
}

int _pmp_os_mapped(const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr & ~(uintptr_t)4095, z = ((uintptr_t)addr + len + 4095) & ~(uintptr_t)4095;
	unsigned char vec[4];
	if (z - a > sizeof vec * 4096)
		return 0;
	return mincore((void *)a, z - a, vec) == 0;
}

int _pmp_os_relink(int fd, const char *path)
{
	/* linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc link of the descriptor works for its owner */
	char proc[32] = "/proc/self/fd/";
	size_t n = 14 + put_u64(proc + 14, (uint64_t)fd);
	proc[n] = 0;
	return syscall(SYS_linkat, AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) < 0 ? errno : 0;
}

uint64_t _pmp_os_as_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 0;
	return (uint64_t)rl.rlim_cur;
}

uint64_t _pmp_os_vm_size(void)
{
	char buf[128];
	size_t got = 0;
	if (read_small("/proc/self/statm", buf, sizeof buf - 1, &got) || got == 0)
		return 0;
	uint64_t pages = 0;
	for (size_t i = 0; i < got && buf[i] >= '0' && buf[i] <= '9'; i++)
		pages = pages * 10 + (uint64_t)(buf[i] - '0');
	return pages * 4096;
}

_Noreturn void _pmp_os_exit_group(int status)
{
	for (;;)
		syscall(SYS_exit_group, status);
}

int _pmp_os_execve(const char *path, char *const argv[], char *const envp[])
{
	syscall(SYS_execve, path, argv, envp);
	return errno;
}

int _pmp_os_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	syscall(SYS_execveat, dirfd, path, argv, envp, flags);
	return errno;
}

int _pmp_os_data_extent(int fd, uint64_t off, uint64_t *data, uint64_t *hole)
{
	off_t d = lseek(fd, (off_t)off, SEEK_DATA);
	if (d < 0) {
		if (errno != ENXIO)
			return errno;
		*data = *hole = UINT64_MAX; /* no data at or after off */
		return 0;
	}
	off_t z = lseek(fd, d, SEEK_HOLE);
	if (z < 0)
		return errno;
	*data = (uint64_t)d;
	*hole = (uint64_t)z;
	return 0;
}

int _pmp_os_map_fresh(void *addr, size_t len)
{
	return madvise(addr, len, MADV_RANDOM) < 0 ? errno : 0;
}

int _pmp_os_dontfork(void *addr, size_t len, int dontfork)
{
	return madvise(addr, len, dontfork ? MADV_DONTFORK : MADV_DOFORK) < 0 ? errno : 0;
}

int _pmp_os_remap_anywhere(void *old, size_t len, void **out)
{
	/* a free place of the right size first: mremap without FIXED may grow in place, never move elsewhere */
	void *to = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (to == MAP_FAILED)
		return errno;
	void *p = mremap(old, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (p == MAP_FAILED) {
		int e = errno;
		munmap(to, len);
		return e;
	}
	*out = p;
	return 0;
}

int _pmp_os_pages_lazyfree(void *p, size_t len)
{
	return madvise(p, len, MADV_FREE) < 0 ? errno : 0;
}
