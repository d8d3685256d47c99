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
#include <pthread.h>
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
__attribute__((unused)) static void expect_abort_in(cr_child_fn fn, struct ctx *c, const char *op, const char *why)
{
	char *err = NULL;
	int st = cr_run_child(fn, c, 20, &err);
	cr_assert(st != -1, "misuse child hung");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "expected SIGABRT, got status 0x%x; stderr: %s", st, err);
	char want[512];
	snprintf(want, sizeof want, "pmempreload: %s(%p): %s in heap %p\n", op, c->ptr, why, BASE);
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

__attribute__((unused)) static void expect_abort(cr_child_fn fn, struct ctx *c, const char *why)
{
	expect_abort_in(fn, c, "free", why);
}

/* a size served by a chain block (with a header) and one served by a slot of a slab page (none) */
#define CHAIN 20000
#define SLOT 64

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
	void *p = setup(h, SLOT);
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

static void do_double_free_chain(void *arg)
{
	struct ctx *c = arg;
	pmp_heap_t *h = open_heap(c, PMP_OPEN_CREATE);
	void *p = setup(h, CHAIN);
	pmp_free(h, p);
	c->ptr = p;
	pmp_free(h, p);
	_exit(0);
}

Test(misuse, double_free_of_a_chain_block)
{
	struct ctx *c = shared_ctx("dfreechain");
	expect_abort(do_double_free_chain, c, "block is already free (double free?)");
}

static void do_interior(void *arg)
{
	struct ctx *c = arg;
	pmp_heap_t *h = open_heap(c, PMP_OPEN_CREATE);
	char *p = setup(h, 4 * SLOT);
	c->ptr = p + 64;
	pmp_free(h, p + 64);
	_exit(0);
}

Test(misuse, free_inside_a_block)
{
	struct ctx *c = shared_ctx("interior");
	expect_abort(do_interior, c, "no block starts here (invalid pointer)");
}

/* the page of the slot p (its 64 KiB region: the heap's base is region-aligned) and its slot 0 */
static struct pmp_page *page_of(void *p)
{
	uint64_t off = (uint64_t)((uint8_t *)p - (uint8_t *)BASE);
	return (struct pmp_page *)(void *)((uint8_t *)BASE + (off & ~(uint64_t)(PMP_SLAB - 1)));
}

/* The owner's free takes a slot's offset modulo 64 KiB, so a pointer into the page's header or past its last slot
 * reaches the live-bitmap test with an index past the slots: each must still be told apart from a double free. */
static void do_free_header(void *arg)
{
	struct ctx *c = arg;
	pmp_heap_t *h = open_heap(c, PMP_OPEN_CREATE);
	struct pmp_page *pg = page_of(setup(h, SLOT));
	/* one slot's size before slot 0: offset 2^16 - 64 modulo 2^16, an exact multiple of the slot size */
	c->ptr = (uint8_t *)pg + pg->first_slot - SLOT;
	pmp_free(h, c->ptr);
	_exit(0);
}

Test(misuse, free_of_a_page_header)
{
	struct ctx *c = shared_ctx("pagehdr");
	expect_abort(do_free_header, c, "no block starts here (invalid pointer)");
}

static void do_free_past_last_slot(void *arg)
{
	struct ctx *c = arg;
	pmp_heap_t *h = open_heap(c, PMP_OPEN_CREATE);
	struct pmp_page *pg = page_of(setup(h, SLOT));
	c->ptr = (uint8_t *)pg + pg->first_slot + (size_t)pg->capacity * pg->slot_size; /* where slot `capacity` would be */
	if ((uint8_t *)c->ptr >= (uint8_t *)pg + PMP_SLAB)
		_exit(103);
	pmp_free(h, c->ptr);
	_exit(0);
}

Test(misuse, free_past_a_pages_last_slot)
{
	struct ctx *c = shared_ctx("pasttail");
	expect_abort(do_free_past_last_slot, c, "no block starts here (invalid pointer)");
}

static void do_interior_chain(void *arg)
{
	struct ctx *c = arg;
	pmp_heap_t *h = open_heap(c, PMP_OPEN_CREATE);
	char *p = setup(h, CHAIN);
	c->ptr = p + 64;
	pmp_free(h, p + 64);
	_exit(0);
}

Test(misuse, free_inside_a_chain_block)
{
	struct ctx *c = shared_ctx("interiorchain");
	expect_abort(do_interior_chain, c, "no block starts here (invalid pointer or overwritten header)");
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
	char *p = setup(h, CHAIN);
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

/* glibc's tst-malloc-backtrace: a freed block's head word overwritten, then a malloc of the same size, which
 * takes that block first: the header is found overwritten before its size is trusted */
static void do_write_after_free_then_malloc(void *arg)
{
	struct ctx *c = arg;
	pmp_heap_t *h = open_heap(c, PMP_OPEN_CREATE);
	char *p = setup(h, CHAIN);
	pmp_free(h, p);
	*(size_t *)(void *)(p - sizeof(size_t)) = 1;
	c->ptr = p;
	pmp_malloc(h, CHAIN);
	_exit(0);
}

Test(misuse, write_after_free_into_the_header_then_malloc)
{
	struct ctx *c = shared_ctx("wafmalloc");
	expect_abort_in(do_write_after_free_then_malloc, c, "malloc",
			"free block's header was overwritten (write after free, or an overflow of the block before)");
}

/* the same damage met by the free of the block before it, which would merge with it */
static void do_write_after_free_then_free_neighbour(void *arg)
{
	struct ctx *c = arg;
	pmp_heap_t *h = open_heap(c, PMP_OPEN_CREATE);
	char *before = pmp_malloc(h, CHAIN);
	char *p = setup(h, CHAIN); /* setup's first block ("kept") comes after `before` */
	(void)p;
	/* above a page's size: no gap left before a page's alignment holds them, so they are neighbours */
	char *next = pmp_malloc(h, 70000);
	char *victim = pmp_malloc(h, 70100);
	pmp_malloc(h, CHAIN);
	if (victim != next + pmp_usable_size(h, next) + 16)
		_exit(103); /* precondition: victim follows next */
	pmp_free(h, victim);
	*(size_t *)(void *)(victim - sizeof(size_t)) = 1;
	c->ptr = next;
	pmp_free(h, next);
	(void)before;
	_exit(0);
}

Test(misuse, write_after_free_into_the_header_then_free_of_a_neighbour)
{
	struct ctx *c = shared_ctx("wafnext");
	expect_abort(do_write_after_free_then_free_neighbour, c,
		     "a neighbouring block's header was overwritten (write after free, or overflow)");
}

/* A freed slot heads its page's free list; a write after free overwrites its link with an address outside the page's
 * slots. The malloc that takes the slot follows the link, and the next one meets it: one test finds that link and
 * an empty list (NULL) alike, and only the slow path tells them apart. */
static void do_damaged_slot_link(void *arg)
{
	struct ctx *c = arg;
	pmp_heap_t *h = open_heap(c, PMP_OPEN_CREATE);
	char *p = setup(h, SLOT);
	pmp_free(h, p);
	((uint64_t *)(void *)p)[0] = 0x10010;
	c->ptr = page_of(p);
	if (pmp_malloc(h, SLOT) != p)
		_exit(103);
	pmp_malloc(h, SLOT);
	_exit(0);
}

Test(misuse, damaged_slot_link_met_by_malloc)
{
	struct ctx *c = shared_ctx("slotlink");
	expect_abort_in(do_damaged_slot_link, c, "heap", "a page's free list was overwritten (write after free)");
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

/* Check level 2's incremental check: a free block's list link overwritten while no operation meets the block
 * (the allocations are served from their own list, so the good-fit search never reaches it) is found by the
 * checks that run every 2^4 operations, one bounded stretch of the chain at a time */
static void do_damaged_link(void *arg)
{
	struct ctx *c = arg;
	pmp_heap_t *h = open_heap(c, PMP_OPEN_CREATE);
	pmp_set_check(h, 2, 4);
	void *keep[2000];
	for (int i = 0; i < 2000; i++) /* a heap of 2,000 blocks: more than one check step covers */
		keep[i] = pmp_malloc(h, 48);
	char *big = pmp_malloc(h, CHAIN); /* a chain block among slots */
	void *pushers[PMP_QUARANTINE];
	for (int i = 0; i < PMP_QUARANTINE; i++)
		pushers[i] = pmp_malloc(h, CHAIN);
	pmp_free(h, big);
	for (int i = 0; i < PMP_QUARANTINE; i++) /* through the quarantine: big is really free after these */
		pmp_free(h, pushers[i]);
	for (int i = 0; i < 80; i++) /* 80 single 64-byte free blocks (not adjacent: none merges) */
		pmp_free(h, keep[100 + 2 * i]);
	((uint64_t *)(void *)big)[1] = 0x10010; /* the free block's back link, in its first payload bytes */
	c->ptr = big;
	for (int i = 0; i < 100000; i++) {
		void *q = pmp_malloc(h, 48);
		pmp_free(h, q);
	}
	_exit(0);
}

Test(misuse, incremental_check_finds_a_damaged_link)
{
	struct ctx *c = shared_ctx("link");
	char *err = NULL;
	int st = cr_run_child(do_damaged_link, c, 20, &err);
	char *dir = strdup(c->path);
	*strrchr(dir, '/') = 0;
	cr_rmtree(dir);
	free(dir);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "damaged link undetected (status 0x%x, stderr: %s)", st,
		  err);
	cr_assert(strstr(err, "pmempreload: check level 2: heap inconsistent at offset ") == err &&
		  strstr(err, "free list") && strchr(err, '\n') == err + strlen(err) - 1,
		  "not the one line of the incremental check: %s", err);
	free(err);
}

/* the same damage at level 1, met when the block is taken: the unlink checks the links before it follows them */
static void do_damaged_link_reused(void *arg)
{
	struct ctx *c = arg;
	pmp_heap_t *h = open_heap(c, PMP_OPEN_CREATE);
	char *p = setup(h, CHAIN);
	pmp_free(h, p);
	((uint64_t *)(void *)p)[1] = 0x10010;
	c->ptr = p;
	pmp_malloc(h, CHAIN);
	_exit(0);
}

Test(misuse, damaged_link_met_by_malloc)
{
	struct ctx *c = shared_ctx("linkreuse");
	expect_abort_in(do_damaged_link_reused, c, "heap", "free block's list links were overwritten (write after free)");
}

/* Small blocks have no header between them: an overrun of a slot lands in the next slot. At check level 2 a free
 * slot holds poison, so pmp_check finds the overrun there and names the slot it landed in. */
Test(misuse, overrun_into_a_free_slot_found_by_pmp_check)
{
	static _Alignas(4096) unsigned char mem[1 << 20];
	pmp_heap_t *h;
	cr_assert_eq(pmp_heap_create(mem, sizeof mem, 0, &h), 0);
	cr_assert_eq(pmp_set_check(h, 2, 0), 0);
	char *a = pmp_malloc(h, 100), *b = pmp_malloc(h, 100);
	size_t n = pmp_usable_size(h, a);
	cr_assert(b == a + n, "two slots of one class are not neighbours (%p, %p, %zu)", (void *)a, (void *)b, n);
	pmp_free(h, b);
	pmp_report_t r;
	cr_assert_eq(pmp_check(h, &r), 0, "clean heap: %s", r.msg);
	memset(a, 'x', n + 9); /* one byte past the free slot's link word */
	cr_assert_eq(pmp_check(h, &r), PMP_ECORRUPT, "the overrun into the free slot went unseen");
	cr_assert_eq(r.problem, PMP_P_PAGE);
	cr_assert_eq(r.offset, (uint64_t)(b - (char *)mem), "report names offset %llu, the slot is at %llu",
		     (unsigned long long)r.offset, (unsigned long long)(b - (char *)mem));
	cr_assert(strstr(r.msg, "free slot was written at its byte 8"), "message: %s", r.msg);
}

/* Zeroed freeing and check level 2 together: a freed slot holds zeros, and reuse finds exactly that (no false
 * use-after-free), in the thread's own frees and in frees collected from another thread */
struct free_job {
	pmp_heap_t *h;
	void **v;
};

static void *free_all(void *arg)
{
	struct free_job *j = arg;
	for (int i = 0; j->v[i]; i++)
		pmp_free(j->h, j->v[i]);
	return NULL;
}

Test(misuse, zeroed_frees_at_check_level_2_reuse_cleanly)
{
	static _Alignas(4096) unsigned char mem[4 << 20];
	pmp_heap_t *h;
	cr_assert_eq(pmp_heap_create(mem, sizeof mem, PMP_HEAP_ZERO_FREED, &h), 0);
	cr_assert_eq(pmp_set_check(h, 2, 0), 0);
	static void *v[2001];
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 2000; i++) {
			v[i] = pmp_malloc(h, 16 + (size_t)(i % 50) * 16);
			cr_assert(v[i]);
			memset(v[i], 's', 16);
		}
		v[2000] = NULL;
		if (round == 1) {
			for (int i = 0; i < 2000; i++)
				pmp_free(h, v[i]);
		} else { /* frees from another thread: onto the remote lists, collected here */
			pthread_t t;
			struct free_job j = {h, v};
			cr_assert_eq(pthread_create(&t, NULL, free_all, &j), 0);
			pthread_join(t, NULL);
		}
		for (int i = 0; i < 2000; i += 97) {
			const unsigned char *p = v[i];
			for (int k = sizeof(void *); k < 16; k++)
				cr_assert_eq(p[k], 0, "freed slot byte %d is 0x%02x, not zero", k, p[k]);
		}
	}
	pmp_report_t r;
	cr_assert_eq(pmp_check(h, &r), 0, "%s", r.msg);
}

#endif
