/* faults.c: OS fault injection (open, ftruncate, fallocate, mmap, msync, fcntl lock) with ENOMEM, ENOSPC, EIO and
 * EINTR, once and persistently, at each of the first call sites of a create / grow / commit / close / reopen cycle.
 *
 * Every step must give a clean error (the injected one, or ENOMEM from allocation) or succeed; afterwards, with the
 * faults disarmed, the heap file (if one was left) must open, pass pmp_check and hold every root whose set and
 * commit succeeded; no descriptor or mapping may leak, and a heap that failed to be created leaves no file.
 * Must never: leave a fault armed past its scenario (the OS layer's switch is process-global).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "os/os.h"

#define BASE ((void *)0x630000000000ull)
#define RESERVE ((size_t)64 << 20)

static pmp_file_opts_t opts(int mode)
{
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = mode;
	o.addr = BASE;
	o.reserve = RESERVE;
	o.initial = (size_t)128 << 10;
	o.grow = (size_t)64 << 10;
	return o;
}

struct tally { long runs, fired_open, fired_later; };

static int allowed(int e, int injected) { return e == injected || e == ENOMEM; }

static void scenario(const char *dir, enum pmp_os_op op, int err, int skip, int count, struct tally *t)
{
	char *path = cr_path(dir, "f.heap");
	unlink(path);
	int fds = cr_count_fds();
	_pmp_os_fault_set(op, err, skip, count);
	pmp_file_opts_t o = opts(PMP_OPEN_CREATE);
	pmp_heap_t *h;
	int e = pmp_file_open(path, &o, &h);
	int committed = 0;
	t->runs++;
	if (e) {
		_pmp_os_fault_set(op, 0, 0, 0);
		cr_assert(allowed(e, err), "create with op %d failing (%d): %d %s", op, err, e, pmp_strerror(e));
		cr_assert(access(path, F_OK) != 0, "a failed create left its file behind");
		cr_assert_eq(cr_count_fds(), fds, "descriptor leaked");
		cr_assert(cr_range_free(BASE, RESERVE), "mapping leaked");
		t->fired_open++;
		free(path);
		return;
	}
	/* growth: 40 blocks of 20 KiB need several fallocate steps */
	void *blocks[40];
	int nblocks = 0;
	for (int i = 0; i < 40; i++) {
		errno = 0;
		void *p = pmp_malloc(h, 20000);
		if (!p) {
			cr_assert_eq(errno, ENOMEM, "allocation failure with errno %d", errno);
			t->fired_later++;
			continue;
		}
		memset(p, i, 20000);
		blocks[nblocks++] = p;
	}
	cr_assert_eq(pmp_check(h, NULL), 0, "heap invalid after failing growth");
	void *r = pmp_malloc(h, 64);
	if (r) {
		memcpy(r, "committed root", 15);
		cr_assert_eq(pmp_root_set(h, "r", r), 0);
		e = pmp_commit(h, NULL, 0);
		if (e) {
			cr_assert(allowed(e, err), "commit: %d", e);
			t->fired_later++;
		} else {
			committed = 1;
		}
	}
	for (int i = 0; i < nblocks; i += 2)
		pmp_free(h, blocks[i]);
	e = pmp_close(h);
	if (e) {
		cr_assert(allowed(e, err), "close: %d", e);
		t->fired_later++;
	}
	/* reopen with the fault still armed: a clean error or a heap */
	o = opts(PMP_OPEN_EXISTING);
	e = pmp_file_open(path, &o, &h);
	if (e) {
		cr_assert(allowed(e, err), "reopen with op %d failing: %d %s", op, e, pmp_strerror(e));
		cr_assert(cr_range_free(BASE, RESERVE), "mapping leaked by a failed reopen");
		t->fired_later++;
	} else {
		cr_assert_eq(pmp_check(h, NULL), 0);
		pmp_close(h);
	}
	_pmp_os_fault_set(op, 0, 0, 0);
	cr_assert_eq(cr_count_fds(), fds, "descriptor leaked");
	/* disarmed: the file must be a valid heap holding the committed root */
	e = pmp_file_open(path, &o, &h);
	cr_assert_eq(e, 0, "heap unusable after faults in op %d (%d): %d %s", op, err, e, pmp_strerror(e));
	pmp_report_t rep;
	cr_assert_eq(pmp_check(h, &rep), 0, "heap invalid after faults: %s", rep.msg);
	if (committed) {
		char *v = pmp_root_get(h, "r");
		cr_assert(v && memcmp(v, "committed root", 15) == 0, "committed root lost after faults in op %d", op);
	}
	cr_assert_eq(pmp_close(h), 0);
	unlink(path);
	free(path);
}

static void run_op(enum pmp_os_op op, const char *name, int expect_fired)
{
	static const int errs[] = {ENOMEM, ENOSPC, EIO, EINTR};
	char *dir = cr_tmpdir("faults");
	struct tally t = {0, 0, 0};
	for (unsigned k = 0; k < sizeof errs / sizeof errs[0]; k++)
		for (int skip = 0; skip < 6; skip++) {
			scenario(dir, op, errs[k], skip, 1, &t);  /* once */
			scenario(dir, op, errs[k], skip, -1, &t); /* persistently */
		}
	cr_rmtree(dir);
	free(dir);
	cr_log_info("%s: %ld scenarios, failed at create %ld, later failures seen %ld", name, t.runs, t.fired_open,
		    t.fired_later);
	if (expect_fired)
		cr_assert(t.fired_open + t.fired_later > 0, "%s: the injected fault never reached the library", name);
}

Test(faults, open) { run_op(PMP_OS_OPEN, "open", 1); }
/* nothing in the library calls ftruncate today: the scenarios must simply all succeed */
Test(faults, ftruncate) { run_op(PMP_OS_TRUNCATE, "ftruncate", 0); }
Test(faults, fallocate) { run_op(PMP_OS_FALLOCATE, "fallocate", 1); }
Test(faults, mmap) { run_op(PMP_OS_MMAP, "mmap", 1); }
Test(faults, msync) { run_op(PMP_OS_MSYNC, "msync", 1); }
Test(faults, fcntl_lock) { run_op(PMP_OS_LOCK, "fcntl", 1); }
