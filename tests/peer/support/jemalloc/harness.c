/* harness.c (peer shim): the runner behind the jemalloc_test.h shim: runs each test function once, reports
 * "NAME: pass|fail" and a summary, and exits as jemalloc's harness does (0 all passed, 2 any failed).
 *
 * jemalloc's own harness runs each test again with reentrancy hooks inside jemalloc; those hooks do not exist
 * in another allocator, so each test runs once, non-reentrant.
 * Must never: report a pass for a test with a failed check, or extend mallctl beyond the names documented in
 * test/jemalloc_test.h.
 */
#include <stdarg.h>

#include "test/jemalloc_test.h"

static const char *current;
static bool current_failed;
static unsigned n_pass, n_fail;

void peer_test_init(const char *name)
{
	current = name;
	current_failed = false;
}

void peer_test_fini(void)
{
	printf("%s (non-reentrant): %s\n", current, current_failed ? "fail" : "pass");
	fflush(stdout);
	if (current_failed)
		n_fail++;
	else
		n_pass++;
}

int peer_test_run(peer_test_t *first, ...)
{
	va_list ap;
	va_start(ap, first);
	for (peer_test_t *t = first; t; t = va_arg(ap, peer_test_t *))
		t();
	va_end(ap);
	printf("--- pass: %u/%u, fail: %u/%u ---\n", n_pass, n_pass + n_fail, n_fail, n_pass + n_fail);
	return n_fail ? 2 : 0;
}

void peer_test_fail_cmp(const char *func, const char *file, int line, const char *expr, char pri,
			const char *message, long long a, long long b)
{
	current_failed = true;
	if (pri == 'p')
		printf("%s:%s:%d: Failed assertion: (%s) --> %p vs %p: %s\n", func, file, line, expr,
		       (void *)(intptr_t)a, (void *)(intptr_t)b, message);
	else
		printf("%s:%s:%d: Failed assertion: (%s) --> %lld vs %lld: %s\n", func, file, line, expr, a, b,
		       message);
	fflush(stdout);
}

void test_fail(const char *format, ...)
{
	current_failed = true;
	va_list ap;
	va_start(ap, format);
	vprintf(format, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void set_errno(int e)
{
	errno = e;
}

int get_errno(void)
{
	return errno;
}

void buferror(int err, char *buf, size_t buflen)
{
	snprintf(buf, buflen, "%s", strerror(err));
}

/* ---- the three mallctl names of the standard-API integration tests ---- */

enum { MIB_ARENAS = 1, MIB_LEXTENT = 2, MIB_SIZE = 3 };

static int write_old(void *oldp, size_t *oldlenp, const void *v, size_t len)
{
	if (!oldp || !oldlenp || *oldlenp != len)
		return EINVAL;
	memcpy(oldp, v, len);
	return 0;
}

int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
	if (strcmp(name, "arena.0.purge") == 0) {
		if (oldp || newp || newlen)
			return EINVAL;
		malloc_trim(0);
		return 0;
	}
	if (strcmp(name, "arenas.nlextents") == 0) {
		unsigned one = 1;
		return newp ? EPERM : write_old(oldp, oldlenp, &one, sizeof one);
	}
	return ENOENT;
}

int mallctlnametomib(const char *name, size_t *mibp, size_t *miblenp)
{
	if (strcmp(name, "arenas.lextent.0.size") != 0)
		return ENOENT;
	if (*miblenp < 4)
		return EINVAL;
	mibp[0] = MIB_ARENAS;
	mibp[1] = MIB_LEXTENT;
	mibp[2] = 0;
	mibp[3] = MIB_SIZE;
	*miblenp = 4;
	return 0;
}

int mallctlbymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
	(void)newlen;
	if (miblen != 4 || mib[0] != MIB_ARENAS || mib[1] != MIB_LEXTENT || mib[2] != 0 || mib[3] != MIB_SIZE)
		return ENOENT;
	size_t largest = PTRDIFF_MAX;
	return newp ? EPERM : write_old(oldp, oldlenp, &largest, sizeof largest);
}
