/* files.c: api tests of heaps on files: create/open modes, the owner lock across processes, a taken address,
 * damaged files (magic, truncation, checksums, one copy), read-only views at the original address and elsewhere.
 *
 * Holds: one scratch directory and one fixed address slot per test; every file is created by the test.
 * Must never: use the default heap address except in the test of NULL options, or leave files behind on success.
 */
#include "api.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#define RESERVE ((size_t)64 << 20)

static pmp_heap_t *t_open(const char *path, int mode, void *addr, int expect)
{
	pmp_file_opts_t o = t_opts(mode, addr, RESERVE);
	pmp_heap_t *h = NULL;
	int e = pmp_file_open(path, &o, &h);
	cr_assert_eq(e, expect, "pmp_file_open(%s, mode %d): %d %s, expected %d %s", path, mode, e, pmp_strerror(e),
		     expect, pmp_strerror(expect));
	return h;
}

/* a closed heap file holding root "data" -> 1000 pattern bytes (id 9) */
static void make_heap(const char *path, void *addr)
{
	pmp_heap_t *h = t_open(path, PMP_OPEN_CREATE, addr, 0);
	char *p = pmp_malloc(h, 1000);
	cr_assert_not_null(p);
	t_fill(p, 9, 0, 1000);
	cr_assert_eq(pmp_root_set(h, "data", p), 0);
	cr_assert_eq(pmp_close(h), 0);
}

static void expect_data(pmp_heap_t *h)
{
	char *p = pmp_root_get(h, "data");
	cr_assert_not_null(p);
	t_assert_pattern(p, 9, 1000);
	t_check(h, "data");
}

static void patch(const char *path, off_t off, const void *bytes, size_t n)
{
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, bytes, n, off), (ssize_t)n);
	close(fd);
}

static uint8_t peek(const char *path, off_t off)
{
	int fd = open(path, O_RDONLY);
	uint8_t b = 0;
	cr_assert_eq(pread(fd, &b, 1, off), 1);
	close(fd);
	return b;
}

static int range_free(void *addr, size_t len)
{
	void *p = mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	munmap(p, len);
	return p == addr;
}

Test(files, null_opts_create_then_reopen)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "default.heap");
	int free_range = range_free(PMP_DEFAULT_ADDR, PMP_DEFAULT_RESERVE);
	pmp_heap_t *h = NULL;
	int e = pmp_file_open(path, NULL, &h);
	if (!free_range) {
		/* a sanitizer's allocator owns the default range in this process: the refusal must say so */
		cr_assert_eq(e, PMP_EADDRINUSE, "default address taken: %s", pmp_strerror(e));
		cr_assert_eq(access(path, F_OK), -1, "a failed create must not leave the file");
		goto out;
	}
	cr_assert_eq(e, 0, "pmp_file_open(NULL opts): %s", pmp_strerror(e));
	pmp_info_t i;
	cr_assert_eq(pmp_info(h, &i), 0);
	cr_assert_eq(i.base, PMP_DEFAULT_ADDR);
	cr_assert_eq(i.reserved, PMP_DEFAULT_RESERVE);
	cr_assert_eq(i.mapped, PMP_DEFAULT_INITIAL);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "heap files are created 0600");
	cr_assert_geq((size_t)st.st_size, PMP_DEFAULT_INITIAL);
	char *p = pmp_malloc(h, 1000);
	t_fill(p, 9, 0, 1000);
	cr_assert_eq(pmp_root_set(h, "data", p), 0);
	cr_assert_eq(pmp_close(h), 0);
	/* NULL options open the existing file */
	cr_assert_eq(pmp_file_open(path, NULL, &h), 0);
	expect_data(h);
	cr_assert_eq(pmp_info(h, &i), 0);
	cr_assert_eq(i.base, PMP_DEFAULT_ADDR);
	cr_assert_eq(pmp_close(h), 0);
out:
	unlink(path);
	free(path);
	t_rmtree(dir);
}

Test(files, argument_errors)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "h");
	pmp_heap_t *h = NULL;
	pmp_file_opts_t o = t_opts(PMP_OPEN_CREATE, T_ADDR(1), RESERVE);
	cr_assert_eq(pmp_file_open(NULL, &o, &h), EINVAL);
	cr_assert_eq(pmp_file_open("", &o, &h), EINVAL);
	cr_assert_eq(pmp_file_open(path, &o, NULL), EINVAL);
	o.mode = 17;
	cr_assert_eq(pmp_file_open(path, &o, &h), EINVAL);
	o = t_opts(PMP_OPEN_CREATE, (char *)T_ADDR(1) + 8, RESERVE);
	cr_assert_eq(pmp_file_open(path, &o, &h), EINVAL, "unaligned address");
	o = t_opts(PMP_OPEN_CREATE, T_ADDR(1), 4096);
	cr_assert_eq(pmp_file_open(path, &o, &h), PMP_ETOOSMALL);
	o = t_opts(PMP_OPEN_CREATE, T_ADDR(1), RESERVE);
	o.flags = PMP_FILE_ANYADDR;
	cr_assert_eq(pmp_file_open(path, &o, &h), EINVAL, "ANYADDR is for read-only views");
	o.flags = 0x100;
	cr_assert_eq(pmp_file_open(path, &o, &h), EINVAL, "unknown flag");
	cr_assert_eq(access(path, F_OK), -1, "refused opens must not create the file");
	/* a directory */
	o = t_opts(PMP_OPEN_EXISTING, T_ADDR(1), RESERVE);
	int e = pmp_file_open(dir, &o, &h);
	cr_assert(e == PMP_EFILETYPE || e == EISDIR, "a directory: %s", pmp_strerror(e));
	free(path);
	t_rmtree(dir);
}

Test(files, create_existing_and_missing)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "h"), *missing = t_path(dir, "missing");
	make_heap(path, T_ADDR(2));
	t_open(path, PMP_OPEN_CREATE, T_ADDR(2), EEXIST);
	t_open(missing, PMP_OPEN_EXISTING, T_ADDR(2), ENOENT);
	cr_assert_eq(access(missing, F_OK), -1, "EXISTING must not create");
	pmp_heap_t *h = t_open(path, PMP_OPEN_EXISTING, T_ADDR(2), 0);
	expect_data(h);
	cr_assert_eq(pmp_close(h), 0);
	h = t_open(path, PMP_OPEN_ANY, T_ADDR(2), 0);
	expect_data(h);
	cr_assert_eq(pmp_close(h), 0);
	/* an existing heap keeps its own address, whatever the options say */
	h = t_open(path, PMP_OPEN_ANY, T_ADDR(3), 0);
	pmp_info_t i;
	cr_assert_eq(pmp_info(h, &i), 0);
	cr_assert_eq(i.base, T_ADDR(2));
	cr_assert_eq(pmp_close(h), 0);
	free(missing);
	free(path);
	t_rmtree(dir);
}

Test(files, locked_by_another_process)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "h");
	make_heap(path, T_ADDR(4));
	pmp_heap_t *h = t_open(path, PMP_OPEN_EXISTING, T_ADDR(4), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* the child has the parent's mapping too; the lock must be what refuses it */
		pmp_file_opts_t o = t_opts(PMP_OPEN_EXISTING, NULL, 0);
		pmp_heap_t *c = NULL;
		int e = pmp_file_open(path, &o, &c);
		_exit(e == PMP_ELOCKED ? 0 : 10 + (e < 0 ? -e : 50));
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child's second open was not refused with ELOCKED (status %d)",
		  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	/* a second open in this process is refused too */
	t_open(path, PMP_OPEN_EXISTING, T_ADDR(4), PMP_ELOCKED);
	cr_assert_eq(pmp_close(h), 0);
	/* released by close: a child can now open it (at the same address: the child's copy of the map is gone) */
	pid = fork();
	if (pid == 0) {
		pmp_file_opts_t o = t_opts(PMP_OPEN_EXISTING, NULL, 0);
		pmp_heap_t *c = NULL;
		int e = pmp_file_open(path, &o, &c);
		if (e)
			_exit(20);
		char *p = pmp_root_get(c, "data");
		if (!p || t_find_bad(p, 9, 0, 1000) != 1000 || pmp_check(c, NULL))
			_exit(21);
		_exit(pmp_close(c) ? 22 : 0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child could not open the released heap (status %d)",
		  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	free(path);
	t_rmtree(dir);
}

Test(files, address_in_use)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "h"), *fresh = t_path(dir, "fresh");
	make_heap(path, T_ADDR(5));
	/* something else lives inside the heap's reserved range */
	void *squat = t_map((char *)T_ADDR(5) + (8 << 20), 4096);
	t_open(path, PMP_OPEN_EXISTING, T_ADDR(5), PMP_EADDRINUSE);
	t_open(fresh, PMP_OPEN_CREATE, T_ADDR(5), PMP_EADDRINUSE);
	cr_assert_eq(access(fresh, F_OK), -1, "a failed create must remove the file it created");
	cr_assert_eq(*(volatile char *)squat, 0, "the squatter's mapping must be left alone");
	/* read-only needs only the mapped part, which is free here; once it is taken, ANYADDR maps elsewhere */
	pmp_heap_t *h = t_open(path, PMP_OPEN_READONLY, NULL, 0);
	expect_data(h);
	cr_assert_eq(pmp_close(h), 0);
	munmap(squat, 4096);
	free(fresh);
	free(path);
	t_rmtree(dir);
}

Test(files, wrong_magic)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "h");
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	cr_assert_geq(fd, 0);
	char junk[8192];
	memset(junk, 'j', sizeof junk);
	cr_assert_eq(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
	close(fd);
	t_open(path, PMP_OPEN_EXISTING, T_ADDR(6), PMP_EMAGIC);
	t_open(path, PMP_OPEN_ANY, T_ADDR(6), PMP_EMAGIC);
	t_open(path, PMP_OPEN_READONLY, T_ADDR(6), PMP_EMAGIC);
	cr_assert_eq(peek(path, 0), 'j', "a refused open must not write the file");
	/* an empty file is "too short", and readable views refuse it too */
	cr_assert_eq(truncate(path, 0), 0);
	t_open(path, PMP_OPEN_EXISTING, T_ADDR(6), PMP_ESHORT);
	t_open(path, PMP_OPEN_READONLY, T_ADDR(6), PMP_ESHORT);
	free(path);
	t_rmtree(dir);
}

Test(files, truncated)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "h");
	make_heap(path, T_ADDR(7));
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(truncate(path, st.st_size / 2), 0);
	t_open(path, PMP_OPEN_EXISTING, T_ADDR(7), PMP_ESHORT);
	t_open(path, PMP_OPEN_READONLY, T_ADDR(7), PMP_ESHORT);
	cr_assert_eq(truncate(path, 1000), 0);
	t_open(path, PMP_OPEN_EXISTING, T_ADDR(7), PMP_ESHORT);
	free(path);
	t_rmtree(dir);
}

Test(files, superblock_checksums)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "h");
	make_heap(path, T_ADDR(8));
	/* the newest copy damaged (a byte of the writer's exe path): the older copy opens the heap */
	pmp_heap_t *h = t_open(path, PMP_OPEN_READONLY, T_ADDR(8), 0);
	pmp_info_t i;
	cr_assert_eq(pmp_info(h, &i), 0);
	uint64_t gen = i.generation;
	cr_assert_eq(pmp_close(h), 0);
	off_t newest = (off_t)(gen & 1) * 2048;
	uint8_t b = peek(path, newest + 300) ^ 0x20;
	patch(path, newest + 300, &b, 1);
	h = t_open(path, PMP_OPEN_READONLY, T_ADDR(8), 0);
	cr_assert_eq(pmp_info(h, &i), 0);
	cr_assert_eq(i.generation, gen - 1, "the damaged newest copy must lose to the older one");
	expect_data(h);
	cr_assert_eq(pmp_close(h), 0);
	h = t_open(path, PMP_OPEN_EXISTING, T_ADDR(8), 0);
	expect_data(h);
	cr_assert_eq(pmp_close(h), 0); /* publishes twice: both copies good again */
	h = t_open(path, PMP_OPEN_READONLY, T_ADDR(8), 0);
	cr_assert_eq(pmp_info(h, &i), 0);
	cr_assert_eq(i.generation, gen + 1);
	cr_assert_eq(pmp_close(h), 0);
	/* now the same byte in both copies */
	b = peek(path, 300) ^ 0x20;
	patch(path, 300, &b, 1);
	b = peek(path, 2048 + 300) ^ 0x20;
	patch(path, 2048 + 300, &b, 1);
	t_open(path, PMP_OPEN_EXISTING, T_ADDR(8), PMP_ECHECKSUM);
	t_open(path, PMP_OPEN_READONLY, T_ADDR(8), PMP_ECHECKSUM);
	/* both magics gone: not a heap at all */
	patch(path, 0, "XXXXXXXX", 8);
	patch(path, 2048, "XXXXXXXX", 8);
	t_open(path, PMP_OPEN_EXISTING, T_ADDR(8), PMP_EMAGIC);
	free(path);
	t_rmtree(dir);
}

Test(files, damaged_chain_is_refused)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "h");
	make_heap(path, T_ADDR(9));
	/* the first block's size word (arena at 64 KiB, head at +8) */
	uint64_t junk = 0x7777777777777777ull;
	patch(path, 0x10000 + 8, &junk, 8);
	t_open(path, PMP_OPEN_EXISTING, T_ADDR(9), PMP_ECORRUPT);
	/* a read-only view opens it and the check names the damage */
	pmp_heap_t *h = t_open(path, PMP_OPEN_READONLY, T_ADDR(9), 0);
	pmp_report_t r;
	cr_assert_eq(pmp_check(h, &r), PMP_ECORRUPT);
	cr_assert_eq(r.problem, PMP_P_BLOCK, "%s", r.msg);
	cr_assert_eq(r.offset, 0x10000);
	cr_assert_eq(pmp_close(h), 0);
	free(path);
	t_rmtree(dir);
}

static int count_cb(const pmp_block_t *b, void *user)
{
	uint64_t *n = user;
	if (b->state == PMP_BLOCK_USED) {
		n[0]++;
		/* a used block of 1000 bytes is the root's: readable at .data, named by .addr */
		if (b->size >= 1000 && t_find_bad(b->data, 9, 0, 1000) == 1000) {
			n[1]++;
			n[2] = (uint64_t)(uintptr_t)b->addr;
			n[3] = (uint64_t)(uintptr_t)b->data;
		}
	}
	return 0;
}

Test(files, readonly_views)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "h");
	make_heap(path, T_ADDR(10));
	struct stat before;
	cr_assert_eq(stat(path, &before), 0);
	pmp_heap_t *h = t_open(path, PMP_OPEN_READONLY, T_ADDR(10), 0);
	char *p = pmp_root_get(h, "data");
	expect_data(h);
	pmp_info_t i;
	cr_assert_eq(pmp_info(h, &i), 0);
	cr_assert_eq(i.readonly, 1);
	cr_assert_eq(i.clean, 1, "the last writer closed cleanly");
	cr_assert_eq(i.mapped_at, T_ADDR(10));
	/* every write is refused */
	errno = 0;
	cr_assert_null(pmp_malloc(h, 10));
	cr_assert_eq(errno, EROFS);
	errno = 0;
	cr_assert_null(pmp_calloc(h, 1, 10));
	cr_assert_eq(errno, EROFS);
	errno = 0;
	cr_assert_null(pmp_memalign(h, 64, 10));
	cr_assert_eq(errno, EROFS);
	errno = 0;
	cr_assert_null(pmp_realloc(h, p, 10));
	cr_assert_eq(errno, EROFS);
	cr_assert_eq(pmp_root_set(h, "x", p), PMP_ERDONLY);
	cr_assert_eq(pmp_root_set(h, "data", NULL), PMP_ERDONLY);
	cr_assert_eq(pmp_commit(h, p, 10), PMP_ERDONLY);
	pmp_free(h, p); /* ignored */
	cr_assert_eq(pmp_root_get(h, "data"), p);
	t_assert_pattern(p, 9, 1000);
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_eq(st.used_blocks, 1);
	t_check(h, "read-only");
	cr_assert_eq(pmp_close(h), 0);
	struct stat after;
	cr_assert_eq(stat(path, &after), 0);
	cr_assert_eq(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	cr_assert_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec, "a read-only view wrote the file");

	/* the original address taken: refused without ANYADDR, mapped elsewhere with it */
	void *squat = t_map(T_ADDR(10), 4096);
	t_open(path, PMP_OPEN_READONLY, T_ADDR(10), PMP_EADDRINUSE);
	pmp_file_opts_t o = t_opts(PMP_OPEN_READONLY, NULL, 0);
	o.flags = PMP_FILE_ANYADDR;
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	cr_assert_eq(pmp_info(h, &i), 0);
	cr_assert_eq(i.base, T_ADDR(10));
	cr_assert_neq(i.mapped_at, T_ADDR(10));
	p = pmp_root_get(h, "data");
	cr_assert_not_null(p);
	cr_assert(p >= (char *)i.mapped_at && p < (char *)i.mapped_at + i.mapped, "root_get gives a readable pointer");
	t_assert_pattern(p, 9, 1000);
	uint64_t n[4] = {0};
	cr_assert_eq(pmp_walk(h, count_cb, n), 0);
	cr_assert_eq(n[0], 1);
	cr_assert_eq(n[1], 1);
	cr_assert_eq(n[3], (uint64_t)(uintptr_t)p, ".data is where this process reads the block");
	cr_assert_eq(n[2] - (uint64_t)(uintptr_t)T_ADDR(10), (uint64_t)(uintptr_t)p - (uint64_t)(uintptr_t)i.mapped_at,
		     ".addr is the original address");
	cr_assert_eq(pmp_ptr_to_off(h, p), pmp_ptr_to_off(h, (void *)(uintptr_t)n[2]),
		     "offsets agree for the original and the moved address");
	cr_assert_eq(pmp_off_to_ptr(h, pmp_ptr_to_off(h, p)), p);
	pmp_report_t r;
	cr_assert_eq(pmp_check(h, &r), 0, "%s", r.msg);
	cr_assert_eq(r.used_blocks, 1);
	cr_assert_eq(r.roots, 1);
	cr_assert_eq(pmp_close(h), 0);
	munmap(squat, 4096);
	free(path);
	t_rmtree(dir);
}

Test(files, growth_and_commit)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "h");
	pmp_heap_t *h = t_open(path, PMP_OPEN_CREATE, T_ADDR(11), 0);
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	uint64_t mapped0 = st.mapped;
	cr_assert_eq(mapped0, 256 << 10);
	char *big = pmp_malloc(h, 8 << 20);
	cr_assert_not_null(big, "the heap grows past its initial size");
	t_fill(big, 3, 0, 8 << 20);
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_gt(st.mapped, mapped0 + (8 << 20));
	cr_assert_geq(st.n_grow, 1);
	struct stat fst;
	cr_assert_eq(stat(path, &fst), 0);
	cr_assert_geq((uint64_t)fst.st_size, st.mapped, "the file covers the grown heap");
	cr_assert_eq(pmp_commit(h, big, 8 << 20), 0);
	cr_assert_eq(pmp_commit(h, NULL, 0), 0);
	cr_assert_eq(pmp_root_set(h, "big", big), 0);
	t_check(h, "grown");
	cr_assert_eq(pmp_close(h), 0);
	h = t_open(path, PMP_OPEN_EXISTING, T_ADDR(11), 0);
	big = pmp_root_get(h, "big");
	cr_assert_not_null(big);
	t_assert_pattern(big, 3, 8 << 20);
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_gt(st.mapped, 8 << 20);
	t_check(h, "reopened");
	cr_assert_eq(pmp_close(h), 0);
	free(path);
	t_rmtree(dir);
}

/* One case of the keep limit: used_mib MiB stay used, four large blocks are made and freed, and pmp_trim must give
 * back the newest `kept` of them (the older ones were punched at their free). All at once: four of 40 MiB are live
 * together, then freed. One at a time: blocks of 40, 41, 42 and 43 MiB, each freed before the next is made (each too
 * large for the ones freed before it), so that the heap's peak stays near used_mib + 43 MiB. */
static void keep_limit_case(void *addr, size_t used_mib, int one_at_a_time, int kept)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "h");
	pmp_file_opts_t o = t_opts(PMP_OPEN_CREATE, addr, (size_t)1 << 30);
	pmp_heap_t *h;
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	enum { BIG = 40 << 20, N = 4 };
	void *used = pmp_malloc(h, used_mib << 20), *big[N], *sep[N];
	size_t n[N], most = 0;
	cr_assert_not_null(used);
	for (int i = 0; i < N; i++) {
		n[i] = (size_t)BIG + (one_at_a_time ? (size_t)i << 20 : 0);
		big[i] = pmp_malloc(h, n[i]);
		sep[i] = pmp_malloc(h, 20000); /* a used chain block after it: the freed blocks never merge */
		cr_assert(big[i] && sep[i]);
		memset(big[i], 0x5a, n[i]);
		if (one_at_a_time)
			pmp_free(h, big[i]);
	}
	for (int i = 0; i < N && !one_at_a_time; i++)
		pmp_free(h, big[i]);
	for (int i = N - kept; i < N; i++)
		most += n[i];
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_lt(st.peak_used_bytes, (used_mib + (one_at_a_time ? 50 : 170)) << 20, "peak %zu bytes",
		     (size_t)st.peak_used_bytes);
	t_check(h, "four large blocks freed");
	size_t given = pmp_trim(h);
	cr_assert_geq(given, (size_t)kept * (BIG - (1 << 20)), "pmp_trim gave back %zu bytes: fewer than %d blocks kept",
		      given, kept);
	cr_assert_leq(given, most, "pmp_trim gave back %zu bytes: more than %d blocks kept", given, kept);
	for (int i = 0; i < N; i++)
		pmp_free(h, sep[i]);
	pmp_free(h, used);
	t_check(h, "all freed");
	cr_assert_eq(pmp_close(h), 0);
	free(path);
	t_rmtree(dir);
}

/* The keep limit, twice the used bytes: 64 MiB used; the four blocks, made one at a time, hold 166 MiB, more than
 * twice the used bytes and than the peak (about 107 MiB): the oldest is punched at once, three stay (a limit of
 * once the used bytes would keep one). */
Test(files, large_free_blocks_kept_up_to_twice_the_used_bytes)
{
	keep_limit_case(T_ADDR(41), 64, 1, 3);
}

/* The keep limit, the heap's peak: 16 MiB used; the four blocks, live at once (a peak of 176 MiB) and then freed,
 * hold 160 MiB, ten times the used bytes and less than the peak: all four stay (twice the used bytes, or 64 MiB,
 * would keep one). */
Test(files, large_free_blocks_kept_up_to_the_peak)
{
	keep_limit_case(T_ADDR(42), 16, 0, 4);
}

/* pages of [p, p+len) (page-aligned) in the page cache (mincore) */
static size_t resident_pages(const void *p, size_t len)
{
	size_t n = len / 4096, k = 0;
	unsigned char *v = malloc(n);
	cr_assert_not_null(v);
	cr_assert_eq(mincore((void *)(uintptr_t)p, len, v), 0);
	for (size_t i = 0; i < n; i++)
		k += v[i] & 1u;
	free(v);
	return k;
}

/* A new heap file is fallocated space that reads as zeros: the pages its format touches (and those a small program
 * touches next) are faulted in alone, with no readahead that would fill and zero the page cache for the rest of the
 * first chunk (a 4 MiB heap had all of its 1,024 pages in the cache after the format touched 18; a process that
 * makes one paid about 1 ms for it). Nor is anything prewritten in it (region.c does that past the default first
 * chunk only): seven slab pages and a chain block, and the pages they touch. */
Test(files, new_heap_is_not_read_ahead)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "h");
	struct statfs fs;
	cr_assert_eq(statfs(dir, &fs), 0);
	if (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC) {
		t_rmtree(dir);
		cr_skip_test("%s is on tmpfs: fallocate backs every page there, and there is no readahead", dir);
	}
	pmp_file_opts_t o = t_opts(PMP_OPEN_CREATE, T_ADDR(44), (size_t)1 << 30);
	o.initial = (size_t)4 << 20;
	pmp_heap_t *h;
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	size_t made = resident_pages(T_ADDR(44), o.initial);
	cr_assert_lt(made, 64, "the format left %zu of the new heap's 1,024 pages in the page cache", made);
	void *p[8];
	for (int i = 0; i < 8; i++) /* slab pages and a chain block: the pages they touch, not the chunk */
		cr_assert_not_null(p[i] = pmp_malloc(h, i < 7 ? (size_t)16 << i : 100000));
	size_t used = resident_pages(T_ADDR(44), o.initial);
	cr_assert_lt(used, 128, "eight allocations left %zu of 1,024 pages in the page cache", used);
	memset(p[7], 7, 100000);
	for (int i = 0; i < 8; i++)
		pmp_free(h, p[i]);
	t_check(h, "after the allocations");
	cr_assert_eq(pmp_close(h), 0);
	free(path);
	t_rmtree(dir);
}

/* Fresh space (the format's and each growth's, past the default first chunk) is prewritten ahead of what
 * allocations hand out (zeros through the file): it never costs a byte of a block. Blocks of every kind are made
 * across many growths, slab sizes, chain blocks below and above the prewrite limit of 1 MiB, and reallocs that grow
 * in place into the fresh space after them; every pattern holds before and after a reopen. And past a small block
 * just carved from fresh space, the pages to the next 256 KiB boundary are in the page cache, where the middle of a
 * 64 MiB block is not (tests/unit/prewrite.c checks the prewrites themselves). */
Test(files, prewritten_fresh_space_keeps_every_block)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "h");
	struct statfs fs;
	cr_assert_eq(statfs(dir, &fs), 0);
	int tmpfs = fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC; /* fallocate backs every page there */
	pmp_file_opts_t o = t_opts(PMP_OPEN_CREATE, T_ADDR(45), (size_t)1 << 30);
	pmp_heap_t *h;
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	enum { N = 600 };
	static char *p[N];
	static size_t n[N];
	uint64_t seed = 12345;
	for (int i = 0; i < N; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		unsigned k = (unsigned)(seed >> 60); /* 0..15 */
		n[i] = k < 10 ? 16 + (seed >> 20) % 16000 : k < 14 ? 65536 + (seed >> 20) % 900000 : (size_t)2 << 20;
		p[i] = pmp_malloc(h, n[i]);
		cr_assert_not_null(p[i], "block %d of %zu bytes", i, n[i]);
		t_fill(p[i], (uint64_t)i, 0, n[i]);
		if (i % 7 == 6) { /* the last block grows, in place when the fresh space after it allows */
			size_t m = n[i] + 4096 + (seed >> 40) % 100000;
			char *q = pmp_realloc(h, p[i], m);
			cr_assert_not_null(q);
			t_assert_pattern(q, (uint64_t)i, n[i]);
			t_fill(q, (uint64_t)i, n[i], m);
			p[i] = q;
			n[i] = m;
		}
	}
	pmp_stats_t st;
	cr_assert_eq(pmp_stats(h, &st), 0);
	cr_assert_geq(st.n_grow, 10, "the blocks span many growths (%llu)", (unsigned long long)st.n_grow);
	for (int i = 0; i < N; i++)
		t_assert_pattern(p[i], (uint64_t)i, n[i]);
	t_check(h, "blocks made in prewritten space");
	if (!tmpfs) {
		/* a new growth far past everything: the small block carved from its start has its step prewritten */
		char *big = pmp_malloc(h, (size_t)64 << 20);
		char *small = pmp_malloc(h, 100);
		cr_assert(big && small);
		uintptr_t page = ((uintptr_t)small + 4096) & ~(uintptr_t)4095;
		uintptr_t stop = ((uintptr_t)small + (256 << 10)) & ~(uintptr_t)((256 << 10) - 1);
		if (stop > page) {
			size_t got = resident_pages((void *)page, stop - page);
			cr_assert_eq(got, (stop - page) / 4096, "%zu of the %zu pages after a fresh small block prewritten",
				     got, (size_t)(stop - page) / 4096);
		}
		size_t far = resident_pages((void *)(((uintptr_t)big + (32 << 20)) & ~(uintptr_t)4095), 1 << 20);
		cr_assert_eq(far, 0, "a 64 MiB block is not prewritten (%zu of 256 pages in its middle in the cache)", far);
		pmp_free(h, big);
		pmp_free(h, small);
	}
	for (int i = 0; i < N; i++)
		cr_assert_eq(pmp_root_set(h, "last", p[i]), 0);
	cr_assert_eq(pmp_close(h), 0);
	o = t_opts(PMP_OPEN_EXISTING, T_ADDR(45), (size_t)1 << 30);
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	for (int i = 0; i < N; i++)
		t_assert_pattern(p[i], (uint64_t)i, n[i]);
	t_check(h, "reopened");
	cr_assert_eq(pmp_close(h), 0);
	free(path);
	t_rmtree(dir);
}

static long disk_kib(const char *path)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	return (long)st.st_blocks / 2;
}

/* The decay time: a large free block stays backed for it (10 s unless set), a shorter time set later gives back at
 * once what has waited longer, 0 gives back at the free itself; a bad value is refused and changes nothing. */
Test(files, decay_time_keeps_and_gives_back)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "h");
	pmp_file_opts_t o = t_opts(PMP_OPEN_CREATE, T_ADDR(43), (size_t)1 << 30);
	pmp_heap_t *h;
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	cr_assert_eq(pmp_get_decay(h), PMP_DECAY_DEFAULT_MS);
	cr_assert_eq(pmp_set_decay(h, PMP_DECAY_MAX_MS + 1), EINVAL);
	cr_assert_eq(pmp_set_decay(NULL, 5), EINVAL);
	cr_assert_eq(pmp_get_decay(h), PMP_DECAY_DEFAULT_MS, "a refused value changed the decay time");
	cr_assert_eq(pmp_get_decay(NULL), 0);
	enum { A = 8 << 20, B = 2 << 20, C = 3 << 20 };
	char *a = pmp_malloc(h, A), *ga = pmp_malloc(h, 64), *b = pmp_malloc(h, B), *gb = pmp_malloc(h, 64);
	cr_assert(a && ga && b && gb);
	memset(a, 'a', A);
	memset(b, 'b', B);
	long start = disk_kib(path);
	pmp_free(h, a);
	usleep(300 * 1000);
	pmp_free(h, b); /* the default time has not run out for a: both stay backed */
	long kept = disk_kib(path);
	cr_assert_eq(kept, start, "a large block free for 0.3 s was given back under the 10 s default (%ld -> %ld KiB)",
		     start, kept);
	cr_assert_eq(pmp_set_decay(h, 200), 0);
	cr_assert_eq(pmp_get_decay(h), 200);
	long after_a = disk_kib(path);
	cr_assert(kept - after_a >= 7 * 1024 && kept - after_a < 9 * 1024,
		  "a decay time of 0.2 s gave back %ld KiB (a's 8 MiB, waiting 0.3 s, and not b's 2 MiB, just freed)",
		  kept - after_a);
	t_check(h, "after the shorter decay time");
	cr_assert_eq(pmp_set_decay(h, 0), 0);
	long after_b = disk_kib(path);
	cr_assert(after_a - after_b >= 1024 && after_a - after_b < 3 * 1024, "decay 0 gave back %ld KiB of b's 2 MiB",
		  after_a - after_b);
	char *c = pmp_malloc(h, C), *gc = pmp_malloc(h, 64);
	cr_assert(c && gc);
	memset(c, 'c', C);
	long with_c = disk_kib(path);
	pmp_free(h, c);
	long after_c = disk_kib(path);
	cr_assert(with_c - after_c >= 2 * 1024, "decay 0: the free of a 3 MiB block gave back %ld KiB", with_c - after_c);
	t_check(h, "after decay 0");
	cr_assert_eq(pmp_close(h), 0);
	free(path);
	t_rmtree(dir);
}

/* Large blocks freed keep their pages for a while and give them back later (pmp_trim, a short decay, the keep
 * limit): a shadow of live blocks proves no punch ever reaches a block in use, and pmp_check holds throughout. */
Test(files, large_blocks_survive_decay_and_trim)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "h");
	pmp_file_opts_t o = t_opts(PMP_OPEN_CREATE, T_ADDR(12), (size_t)1 << 30);
	o.grow = (size_t)4 << 20;
	pmp_heap_t *h;
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	cr_assert_eq(pmp_set_decay(h, 300), 0);
	enum { SLOTS = 40, OPS = 600 };
	void *p[SLOTS] = {0};
	size_t n[SLOTS] = {0};
	uint64_t id[SLOTS] = {0}, seed = 12, next_id = 1, given = 0;
	for (int op = 0; op < OPS; op++) {
		unsigned i = (unsigned)t_below(&seed, SLOTS);
		if (p[i]) {
			t_assert_pattern(p[i], id[i], n[i]);
			if (t_below(&seed, 3) == 0) { /* realloc: the kept prefix moves or stays with its bytes */
				size_t m = ((size_t)1 << 20) + (size_t)t_below(&seed, (size_t)3 << 20);
				void *q = pmp_realloc(h, p[i], m);
				cr_assert_not_null(q, "realloc to %zu: %s", m, strerror(errno));
				t_assert_pattern(q, id[i], m < n[i] ? m : n[i]);
				p[i] = q;
				n[i] = m;
				t_fill(q, id[i], 0, m);
			} else {
				pmp_free(h, p[i]);
				p[i] = NULL;
			}
		} else {
			n[i] = t_below(&seed, 4) ? ((size_t)1 << 20) + (size_t)t_below(&seed, (size_t)3 << 20)
						 : 16 + (size_t)t_below(&seed, 20000);
			p[i] = pmp_malloc(h, n[i]);
			cr_assert_not_null(p[i], "malloc %zu: %s", n[i], strerror(errno));
			id[i] = next_id++;
			t_fill(p[i], id[i], 0, n[i]);
		}
		if (op % 97 == 96)
			given += pmp_trim(h);
		if (op == OPS / 2)
			usleep(400 * 1000); /* the next large free gives back every block older than the decay time */
		if (op % 100 == 99)
			t_check(h, "large blocks");
	}
	cr_assert_gt(given, 0, "pmp_trim gave nothing back in %d operations", OPS);
	for (unsigned i = 0; i < SLOTS; i++)
		if (p[i])
			t_assert_pattern(p[i], id[i], n[i]);
	cr_assert_eq(pmp_close(h), 0);
	o.mode = PMP_OPEN_EXISTING;
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	t_check(h, "reopened");
	pmp_heap_t *ro;
	pmp_close(h);
	pmp_file_opts_t r = t_opts(PMP_OPEN_READONLY, NULL, 0);
	r.flags = PMP_FILE_ANYADDR;
	cr_assert_eq(pmp_file_open(path, &r, &ro), 0);
	cr_assert_eq(pmp_trim(ro), 0, "a read-only view gives nothing back");
	pmp_close(ro);
	t_rmtree(dir);
}
