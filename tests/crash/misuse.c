/* misuse.c: a program's heap bugs (double free, interior pointer, foreign pointer, overflow into the next header,
 * use after free under poisoning) must end in abort() with one exact line written without malloc, and leave a
 * heap file that reopens and passes pmp_check.
 *
 * Each test runs the misuse in a child with stderr on a pipe and asserts SIGABRT plus the exact line
 * ("pmempreload: free(0x...): <why> in heap 0x...\n", see _pmp_fatal_pointer), then reopens the file.
 * Built twice: crash-misuse (the four free checks) and crash-misuse-uaf (-DMISUSE_UAF: poisoning at check level 2).
 * Must never: let the misuse happen in the test process itself, or accept any other signal or message.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "common.h"
#include "core/heap.h"

#define BASE ((void *)0x610000000000ull)

struct ctx {
	char path[512];
	void *ptr;   /* the pointer the misuse passes, published by the child before it dies */
};

static struct ctx *shared_ctx(const char *tag)
{
	struct ctx *c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(c != MAP_FAILED);
	char *dir = cr_tmpdir(tag);
	snprintf(c->path, sizeof c->path, "%s/misuse.heap", dir);
	free(dir);
	return c;
}

static pmp_heap_t *open_heap(const struct ctx *c, int mode)
{
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = mode;
	o.addr = BASE;
	o.reserve = (size_t)16 << 20;
	o.initial = (size_t)256 << 10;
	pmp_heap_t *h = NULL;
	int e = pmp_file_open(c->path, &o, &h);
	if (e) {
		fprintf(stderr, "open %s: %d %s\n", c->path, e, pmp_strerror(e));
		_exit(100);
	}
	return h;
}

/* run the misuse, assert the abort and the line, then reopen and check the file */
__attribute__((unused)) static void expect_abort(cr_child_fn fn, struct ctx *c, const char *why)
{
	char *err = NULL;
	int st = cr_run_child(fn, c, 20, &err);
	cr_assert(st != -1, "misuse child hung");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "expected SIGABRT, got status 0x%x; stderr: %s", st, err);
	char want[512];
	snprintf(want, sizeof want, "pmempreload: free(%p): %s in heap %p\n", c->ptr, why, BASE);
	cr_assert_str_eq(err, want, "message differs:\n got: %s want: %s", err, want);
	free(err);
	/* the heap the dead process left: recovery on open, then the invariant */
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = PMP_OPEN_EXISTING;
	pmp_heap_t *h;
	int e = pmp_file_open(c->path, &o, &h);
	cr_assert_eq(e, 0, "reopen after abort: %d %s", e, pmp_strerror(e));
	pmp_report_t r;
	e = pmp_check(h, &r);
	cr_assert_eq(e, 0, "heap invalid after the abort: %s", r.msg);
	cr_assert_not_null(pmp_root_get(h, "kept"), "root lost by the abort");
	cr_assert_eq(pmp_close(h), 0);
	char *dir = strdup(c->path);
	*strrchr(dir, '/') = 0;
	cr_rmtree(dir);
	free(dir);
	munmap(c, sizeof *c);
}

/* a used block on each side of the victim, and a root that must survive */
static void *setup(pmp_heap_t *h, size_t n)
{
	void *kept = pmp_malloc(h, 100);
	memset(kept, 0x11, 100);
	if (!kept || pmp_root_set(h, "kept", kept) != 0)
		_exit(101);
	void *p = pmp_malloc(h, n);
	void *guard = pmp_malloc(h, 64);
	if (!p || !guard)
		_exit(102);
	memset(p, 0, n);
	return p;
}

#ifndef MISUSE_UAF

static void do_double_free(void *arg)
{
	struct ctx *c = arg;
	pmp_heap_t *h = open_heap(c, PMP_OPEN_CREATE);
	void *p = setup(h, 64);
	pmp_free(h, p);
	c->ptr = p;
	pmp_free(h, p);
	_exit(0);
}

Test(misuse, double_free)
{
	struct ctx *c = shared_ctx("dfree");
	expect_abort(do_double_free, c, "block is already free (double free?)");
}

static void do_interior(void *arg)
{
	struct ctx *c = arg;
	pmp_heap_t *h = open_heap(c, PMP_OPEN_CREATE);
	char *p = setup(h, 256);
	c->ptr = p + 64;
	pmp_free(h, p + 64);
	_exit(0);
}

Test(misuse, free_inside_a_block)
{
	struct ctx *c = shared_ctx("interior");
	expect_abort(do_interior, c, "no block starts here (invalid pointer or overwritten header)");
}

static void do_foreign(void *arg)
{
	struct ctx *c = arg;
	pmp_heap_t *h = open_heap(c, PMP_OPEN_CREATE);
	setup(h, 64);
	static char not_ours[64] __attribute__((aligned(16)));
	c->ptr = not_ours;
	pmp_free(h, not_ours);
	_exit(0);
}

Test(misuse, free_of_a_foreign_pointer)
{
	struct ctx *c = shared_ctx("foreign");
	expect_abort(do_foreign, c, "pointer outside the heap's arena");
}

static void do_overflow(void *arg)
{
	struct ctx *c = arg;
	pmp_heap_t *h = open_heap(c, PMP_OPEN_CREATE);
	char *p = setup(h, 40);
	size_t n = pmp_usable_size(h, p);
	memset(p, 'A', n + 8); /* 8 bytes too many: the next block's boundary tag */
	c->ptr = p;
	pmp_free(h, p);
	_exit(0);
}

Test(misuse, overflow_into_the_next_header)
{
	struct ctx *c = shared_ctx("overflow");
	expect_abort(do_overflow, c, "next block's boundary tag disagrees (invalid pointer or heap overflow)");
}

#else

/* Check level 2: a freed block waits poisoned in a quarantine of PMP_QUARANTINE blocks; when it leaves, its poison
 * is verified. A write after free therefore aborts within the next 32 frees, with one line naming the block. */
static void do_uaf(void *arg)
{
	struct ctx *c = arg;
	pmp_heap_t *h = open_heap(c, PMP_OPEN_CREATE);
	pmp_set_check(h, 2, 0);
	char *p = setup(h, 200);
	pmp_free(h, p);
	c->ptr = p;
	p[100] = 'X'; /* use after free, past the free-list links */
	for (int i = 0; i < 64; i++) { /* operations that meet the poisoned block: reuse and validation */
		void *q = pmp_malloc(h, 200);
		pmp_free(h, q);
	}
	pmp_check(h, NULL);
	_exit(0);
}

Test(misuse, use_after_free_with_poisoning)
{
	struct ctx *c = shared_ctx("uaf");
	char *err = NULL;
	int st = cr_run_child(do_uaf, c, 20, &err);
	char *dir = strdup(c->path);
	*strrchr(dir, '/') = 0;
	cr_rmtree(dir);
	free(dir);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
		  "use after free at check level 2 went undetected (status 0x%x, stderr: %s)", st, err);
	char prefix[128], suffix[128];
	snprintf(prefix, sizeof prefix, "pmempreload: ");
	snprintf(suffix, sizeof suffix, " in heap %p\n", BASE);
	char addr[32];
	snprintf(addr, sizeof addr, "%p", c->ptr);
	cr_assert(strncmp(err, prefix, strlen(prefix)) == 0 && strstr(err, addr) &&
		  strlen(err) > strlen(suffix) && strcmp(err + strlen(err) - strlen(suffix), suffix) == 0 &&
		  strchr(err, '\n') == err + strlen(err) - 1,
		  "message is not one line naming %s in heap %p: %s", addr, BASE, err);
	free(err);
}

#endif
