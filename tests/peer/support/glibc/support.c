/* support.c (peer shim): the helpers behind glibc's support headers: failure recording, check reports, the x*
 * wrappers, shared memory, temporary files, stderr redirection.
 *
 * Failures are counted in one shared page so that a check failing in a forked child of the test still fails
 * the test (the driver reads the count after the test process ends), as in glibc's support library.
 * Must never: let a failed check go uncounted, or remove a temporary file from a process that did not create it.
 * Our own implementation of the documented interface of glibc's support/ (no glibc code is copied).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <support/check.h>
#include <support/support.h>
#include <support/temp_file.h>
#include <support/xsignal.h>
#include <support/xthread.h>
#include <support/xunistd.h>

#include "peer-glibc.h"

/* ---- failures ---- */

static unsigned *failures;

void _peer_failures_attach(int fd)
{
	void *p = mmap(NULL, sizeof *failures, PROT_READ | PROT_WRITE,
		       fd >= 0 ? MAP_SHARED : MAP_SHARED | MAP_ANONYMOUS, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "peer support: cannot map the failure counter: %s\n", strerror(errno));
		exit(1);
	}
	failures = p;
}

unsigned _peer_failures(void)
{
	return failures ? __atomic_load_n(failures, __ATOMIC_SEQ_CST) : 0;
}

void support_record_failure(void)
{
	if (!failures)
		_peer_failures_attach(-1);
	__atomic_add_fetch(failures, 1, __ATOMIC_SEQ_CST);
}

bool support_record_failure_is_failed(void)
{
	return _peer_failures() != 0;
}

/* ---- reports: on standard output, like glibc's, so that they interleave with the test's own messages ---- */

void support_test_verify_impl(const char *file, int line, const char *expr)
{
	int saved = errno;
	support_record_failure();
	printf("error: %s:%d: not true: %s\n", file, line, expr);
	fflush(stdout);
	errno = saved;
}

void support_test_verify_exit_impl(int status, const char *file, int line, const char *expr)
{
	support_test_verify_impl(file, line, expr);
	exit(status);
}

static void vreport(const char *kind, const char *file, int line, const char *format, va_list ap)
{
	int saved = errno;
	fflush(stdout);
	printf("%s: %s:%d: ", kind, file, line);
	errno = saved; /* the test's format may use %m */
	vprintf(format, ap);
	putchar('\n');
	fflush(stdout);
}

void support_print_failure_impl(const char *file, int line, const char *format, ...)
{
	support_record_failure();
	va_list ap;
	va_start(ap, format);
	vreport("error", file, line, format, ap);
	va_end(ap);
}

void support_exit_failure_impl(int status, const char *file, int line, const char *format, ...)
{
	if (status != EXIT_UNSUPPORTED)
		support_record_failure();
	va_list ap;
	va_start(ap, format);
	vreport(status == EXIT_UNSUPPORTED ? "unsupported" : "error", file, line, format, ap);
	va_end(ap);
	exit(status);
}

void support_test_compare_impl(const char *file, int line, const char *left_expr, unsigned long long left,
			       int left_negative, const char *right_expr, unsigned long long right,
			       int right_negative)
{
	if (left_negative == right_negative && left == right)
		return;
	support_record_failure();
	printf("error: %s:%d: numeric comparison failure\n", file, line);
	if (left_negative)
		printf("   left: %lld (0x%llx); from: %s\n", (long long)left, left, left_expr);
	else
		printf("   left: %llu (0x%llx); from: %s\n", left, left, left_expr);
	if (right_negative)
		printf("  right: %lld (0x%llx); from: %s\n", (long long)right, right, right_expr);
	else
		printf("  right: %llu (0x%llx); from: %s\n", right, right, right_expr);
	fflush(stdout);
}

__attribute__((noreturn)) static void fail_errno(const char *what, int err)
{
	fflush(stdout);
	printf("error: %s: %s\n", what, strerror(err));
	support_record_failure();
	exit(1);
}

/* ---- allocation ---- */

static void *checked(void *p, const char *what, size_t n)
{
	if (p)
		return p;
	fflush(stdout);
	printf("error: %s (%zu): out of memory\n", what, n);
	support_record_failure();
	exit(1);
}

void *xmalloc(size_t n)
{
	return checked(malloc(n), "malloc", n);
}

void *xcalloc(size_t nmemb, size_t size)
{
	return checked(calloc(nmemb, size), "calloc", nmemb * size);
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	return n ? checked(q, "realloc", n) : q; /* realloc (p, 0) may free and give NULL */
}

char *xstrdup(const char *s)
{
	return checked(strdup(s), "strdup", strlen(s) + 1);
}

/* the mapping's size sits in front of the block, so that support_shared_free needs only the pointer */
#define SHARED_HEADER 64
void *support_shared_allocate(size_t size)
{
	size_t total = size + SHARED_HEADER;
	char *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fail_errno("mmap (MAP_SHARED)", errno);
	memcpy(p, &total, sizeof total);
	return p + SHARED_HEADER;
}

void support_shared_free(void *p)
{
	char *base = (char *)p - SHARED_HEADER;
	size_t total;
	memcpy(&total, base, sizeof total);
	if (munmap(base, total) != 0)
		fail_errno("munmap", errno);
}

/* ---- output ---- */

void ignore_stderr(void)
{
	int fd = open("/dev/null", O_WRONLY);
	if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
		fail_errno("redirecting stderr to /dev/null", errno);
	close(fd);
}

void write_message(const char *message)
{
	int saved = errno;
	size_t left = strlen(message);
	while (left > 0) {
		ssize_t n = write(STDOUT_FILENO, message, left);
		if (n <= 0 && errno != EINTR)
			break;
		if (n > 0) {
			message += n;
			left -= (size_t)n;
		}
	}
	errno = saved;
}

/* ---- temporary files ---- */

#define MAX_TEMP_FILES 64
static char *temp_files[MAX_TEMP_FILES];
static int n_temp_files;
static pid_t temp_files_owner;

static void remove_temp_files(void)
{
	if (getpid() != temp_files_owner) /* a forked child exiting must not take the parent's files */
		return;
	for (int i = 0; i < n_temp_files; i++)
		unlink(temp_files[i]);
}

void add_temp_file(const char *name)
{
	if (n_temp_files == 0) {
		temp_files_owner = getpid();
		atexit(remove_temp_files);
	}
	if (n_temp_files == MAX_TEMP_FILES)
		FAIL_EXIT1("peer support: more than %d temporary files", MAX_TEMP_FILES);
	temp_files[n_temp_files++] = xstrdup(name);
}

int create_temp_file(const char *base, char **filename)
{
	const char *dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	size_t len = strlen(dir) + 1 + strlen(base) + sizeof "XXXXXX";
	char *name = xmalloc(len);
	snprintf(name, len, "%s/%sXXXXXX", dir, base);
	int fd = mkstemp(name);
	if (fd < 0) {
		printf("error: mkstemp (\"%s\"): %s\n", name, strerror(errno));
		free(name);
		return -1;
	}
	add_temp_file(name);
	if (filename)
		*filename = name;
	else
		free(name);
	return fd;
}

/* ---- system call and pthread wrappers ---- */

pid_t xfork(void)
{
	pid_t pid = fork();
	if (pid < 0)
		fail_errno("fork", errno);
	return pid;
}

long xsysconf(int name)
{
	errno = 0;
	long r = sysconf(name);
	if (r == -1)
		fail_errno("sysconf", errno ? errno : EINVAL);
	return r;
}

int xopen(const char *path, int flags, mode_t mode)
{
	int fd = open(path, flags, mode);
	if (fd < 0) {
		int err = errno;
		fflush(stdout);
		printf("error: open (\"%s\", 0x%x, 0%o): %s\n", path, (unsigned)flags, (unsigned)mode, strerror(err));
		support_record_failure();
		exit(1);
	}
	return fd;
}

void *xmmap(void *addr, size_t length, int prot, int flags, int fd)
{
	void *p = mmap(addr, length, prot, flags, fd, 0);
	if (p == MAP_FAILED)
		fail_errno("mmap", errno);
	return p;
}

sighandler_t xsignal(int sig, sighandler_t handler)
{
	sighandler_t old = signal(sig, handler);
	if (old == SIG_ERR)
		fail_errno("signal", errno);
	return old;
}

static void check_pthread(const char *what, int ret)
{
	if (ret != 0)
		fail_errno(what, ret);
}

pthread_t xpthread_create(pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	pthread_t thr;
	check_pthread("pthread_create", pthread_create(&thr, attr, fn, arg));
	return thr;
}

void *xpthread_join(pthread_t thr)
{
	void *result;
	check_pthread("pthread_join", pthread_join(thr, &result));
	return result;
}

void xpthread_barrier_init(pthread_barrier_t *barrier, pthread_barrierattr_t *attr, unsigned count)
{
	check_pthread("pthread_barrier_init", pthread_barrier_init(barrier, attr, count));
}

int xpthread_barrier_wait(pthread_barrier_t *barrier)
{
	int ret = pthread_barrier_wait(barrier);
	if (ret != 0 && ret != PTHREAD_BARRIER_SERIAL_THREAD)
		fail_errno("pthread_barrier_wait", ret);
	return ret;
}

void xpthread_barrier_destroy(pthread_barrier_t *barrier)
{
	check_pthread("pthread_barrier_destroy", pthread_barrier_destroy(barrier));
}

void xpthread_barrierattr_init(pthread_barrierattr_t *attr)
{
	check_pthread("pthread_barrierattr_init", pthread_barrierattr_init(attr));
}

void xpthread_barrierattr_setpshared(pthread_barrierattr_t *attr, int pshared)
{
	check_pthread("pthread_barrierattr_setpshared", pthread_barrierattr_setpshared(attr, pshared));
}

void xpthread_barrierattr_destroy(pthread_barrierattr_t *attr)
{
	check_pthread("pthread_barrierattr_destroy", pthread_barrierattr_destroy(attr));
}

void xpthread_kill(pthread_t thr, int sig)
{
	check_pthread("pthread_kill", pthread_kill(thr, sig));
}

void xpthread_mutex_lock(pthread_mutex_t *m)
{
	check_pthread("pthread_mutex_lock", pthread_mutex_lock(m));
}

void xpthread_mutex_unlock(pthread_mutex_t *m)
{
	check_pthread("pthread_mutex_unlock", pthread_mutex_unlock(m));
}
