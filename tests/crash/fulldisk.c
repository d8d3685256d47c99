/* fulldisk.c: a heap whose reserve is larger than its disk, on tmpfs mounts of 1, 4 and 16 MiB: allocation runs
 * until NULL with errno ENOMEM, never SIGBUS; every byte handed out is written; pmp_check passes; the heap reopens.
 * Then: disk space given back by a hole punched in a free block (what the core's "give disk back" will do) and the
 * disk filled by another file: reopening and reusing the heap must fail cleanly or succeed, never SIGBUS.
 *
 * Needs root (mount). Exit 77 (skip) when mounting a tmpfs is not permitted. Must never leave a mount behind:
 * every exit path unmounts.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "common.h"

#define BASE ((void *)0x650000000000ull)

static char mnt[4096];
static int mounted;

static void on_sigbus(int sig)
{
	static const char m[] = "fulldisk: SIGBUS: a page without disk blocks behind it was touched\n";
	(void)sig;
	if (write(2, m, sizeof m - 1) < 0) {
	}
	if (mounted)
		umount2(mnt, MNT_DETACH);
	_exit(1);
}

static int fail(const char *what)
{
	fprintf(stderr, "fulldisk: FAIL: %s\n", what);
	if (mounted)
		umount2(mnt, MNT_DETACH);
	exit(1);
}

static pmp_file_opts_t opts(int mode)
{
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = mode;
	o.addr = BASE;
	o.reserve = (size_t)256 << 20; /* far beyond any of the disks */
	o.initial = (size_t)128 << 10;
	o.grow = (size_t)64 << 10;
	return o;
}

static void check_or_die(pmp_heap_t *h, const char *when)
{
	pmp_report_t r;
	if (pmp_check(h, &r) != 0) {
		fprintf(stderr, "fulldisk: pmp_check %s: %s\n", when, r.msg);
		fail("heap invalid");
	}
}

/* allocate random sizes until NULL, writing every byte; returns bytes obtained */
static size_t fill(pmp_heap_t *h, uint64_t *rng, void **keep, size_t *nkeep, size_t cap)
{
	size_t got = 0;
	for (;;) {
		size_t n = 1 + cr_below(rng, 65536);
		errno = 0;
		void *p = pmp_malloc(h, n);
		if (!p) {
			if (errno != ENOMEM) {
				fprintf(stderr, "fulldisk: errno %d\n", errno);
				fail("allocation failed with something else than ENOMEM");
			}
			/* smaller requests may still fit: only stop when even 1 KiB fails */
			if (n <= 1024)
				return got;
			continue;
		}
		memset(p, 0xab, n);
		got += n;
		if (*nkeep < cap)
			keep[(*nkeep)++] = p;
	}
}

struct hole { off_t off, len; };

/* the whole pages inside the payload of the largest free block, past its free-list links */
static int largest_free(const pmp_block_t *b, void *user)
{
	struct hole *h = user;
	if (b->state != PMP_BLOCK_FREE)
		return 0;
	off_t start = ((off_t)b->offset + 64 + 4095) & ~(off_t)4095;
	off_t end = ((off_t)(b->offset + b->block_size) - 64) & ~(off_t)4095;
	if (end - start > h->len) {
		h->off = start;
		h->len = end - start;
	}
	return 0;
}

static void one_disk(unsigned mib, uint64_t seed)
{
	char opt[64];
	snprintf(opt, sizeof opt, "size=%um,mode=0700", mib);
	if (mount("tmpfs", mnt, "tmpfs", 0, opt) != 0) {
		fprintf(stderr, "fulldisk: SKIP: cannot mount a tmpfs (%s): needs root or CAP_SYS_ADMIN\n", strerror(errno));
		exit(77);
	}
	mounted = 1;
	char *path = cr_path(mnt, "full.heap");
	pmp_file_opts_t o = opts(PMP_OPEN_CREATE);
	pmp_heap_t *h;
	int e = pmp_file_open(path, &o, &h);
	if (e) {
		fprintf(stderr, "fulldisk: create on %u MiB: %d %s\n", mib, e, pmp_strerror(e));
		fail("create");
	}
	uint64_t rng = seed;
	static void *keep[100000];
	size_t nkeep = 0;
	size_t got = fill(h, &rng, keep, &nkeep, 100000);
	errno = 0;
	if (pmp_malloc(h, (size_t)mib << 21) != NULL || errno != ENOMEM)
		fail("an allocation bigger than the disk did not fail with ENOMEM");
	check_or_die(h, "at full disk");
	void *r = pmp_malloc(h, 16);
	if (!r) {
		/* the disk is full to the last block: free one to make room for the root */
		pmp_free(h, keep[--nkeep]);
		r = pmp_malloc(h, 16);
	}
	if (!r)
		fail("no room for a root after freeing a block");
	memcpy(r, "full-disk-root", 15);
	if (pmp_root_set(h, "r", r) != 0)
		fail("root set");
	/* free half, allocate again to full: reuse on a full disk */
	for (size_t i = 0; i < nkeep; i += 2)
		pmp_free(h, keep[i]);
	size_t nk2 = 0;
	static void *keep2[100000];
	size_t got2 = fill(h, &rng, keep2, &nk2, 100000);
	check_or_die(h, "after reuse at full disk");
	if ((e = pmp_close(h)) != 0)
		fail("close");
	o = opts(PMP_OPEN_EXISTING);
	if ((e = pmp_file_open(path, &o, &h)) != 0)
		fail("reopen of a heap on a full disk");
	check_or_die(h, "after reopen");
	char *rv = pmp_root_get(h, "r");
	if (!rv || memcmp(rv, "full-disk-root", 15) != 0)
		fail("root lost");
	/* give disk back the way the core will: punch a hole inside the largest free block, then let another file
	 * take the space; the heap must then be refused cleanly or reused without SIGBUS */
	for (size_t i = 0; i < nk2; i += 2)
		pmp_free(h, keep2[i]);
	struct hole hole = {0, 0};
	pmp_walk(h, largest_free, &hole);
	pmp_close(h);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (hole.len < 4096)
		fail("no free block spans a whole page");
	if (fd < 0 || fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, hole.off, hole.len) != 0)
		fail("punch hole");
	close(fd);
	char *hog = cr_path(mnt, "hog");
	int hfd = open(hog, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	char blk[65536];
	memset(blk, 1, sizeof blk);
	while (write(hfd, blk, sizeof blk) > 0)
		;
	while (write(hfd, blk, 512) > 0)
		;
	close(hfd);
	e = pmp_file_open(path, &o, &h);
	const char *verdict;
	if (e == 0) {
		check_or_die(h, "after punch + full disk");
		size_t n3 = 0;
		static void *keep3[100000];
		fill(h, &rng, keep3, &n3, 100000); /* writes every byte it gets: SIGBUS if a hole is handed out */
		check_or_die(h, "after reuse of punched space");
		pmp_close(h);
		verdict = "reopened and reused";
	} else if (e == ENOSPC || e == ENOMEM) {
		verdict = "refused with ENOSPC";
	} else {
		fprintf(stderr, "fulldisk: reopen after punch: %d %s\n", e, pmp_strerror(e));
		fail("unexpected error after punching");
		verdict = "";
	}
	/* with the hog gone the heap is whole again */
	unlink(hog);
	if ((e = pmp_file_open(path, &o, &h)) != 0) {
		fprintf(stderr, "fulldisk: %d %s\n", e, pmp_strerror(e));
		fail("reopen after the disk was freed");
	}
	check_or_die(h, "after the disk was freed");
	rv = pmp_root_get(h, "r");
	if (!rv || memcmp(rv, "full-disk-root", 15) != 0)
		fail("root lost after the punch");
	pmp_close(h);
	printf("fulldisk: %2u MiB tmpfs: %zu bytes allocated until ENOMEM, %zu more after freeing half; "
	       "punched hole + full disk: %s; no SIGBUS, pmp_check passed\n", mib, got, got2, verdict);
	free(hog);
	free(path);
	if (umount2(mnt, 0) != 0)
		fail("umount");
	mounted = 0;
}

int main(void)
{
	signal(SIGBUS, on_sigbus);
	char *d = cr_tmpdir("fulldisk");
	snprintf(mnt, sizeof mnt, "%s", d);
	uint64_t seed = (uint64_t)cr_env_long("PMP_FULLDISK_SEED", 7);
	static const unsigned sizes[] = {1, 4, 16};
	for (unsigned i = 0; i < 3; i++)
		one_disk(sizes[i], seed + i);
	rmdir(mnt);
	free(d);
	return 0;
}
