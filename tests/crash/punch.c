/* punch.c: large freed blocks keep their disk blocks for a while (reuse costs nothing, even on a full disk), then
 * give them back (hole punching: pmp_trim, or the decay time) and are backed again before reuse, so a full disk
 * turns the reuse into ENOMEM, never SIGBUS. On a 16 MiB tmpfs of its own: free an 8 MiB block and see the file keep
 * its blocks; fill the disk and reuse the block; pmp_trim and see the blocks drop; fill the disk again: a large
 * malloc fails with ENOMEM and the heap stays valid while small ones still work; free the disk; the large malloc
 * succeeds and every byte of it can be written; free it and see its blocks go after the decay time; reopen and check.
 * The whole sequence runs in a child: a SIGBUS there is a failure the parent reports, not a crash of the suite.
 * Must never: leave its tmpfs mounted, or pass without having seen the blocks go back (a build without punching).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pmempreload.h"

#define BASE ((void *)0x630000000000ull)
#define BIG ((size_t)8 << 20)

static char dir[] = "/tmp/pmp-punch-XXXXXX";
static char path[256], filler[256];

#define REQUIRE(cond, ...)                                       \
	do {                                                     \
		if (!(cond)) {                                   \
			fprintf(stderr, "punch: FAIL: " __VA_ARGS__); \
			fprintf(stderr, "\n");                   \
			_exit(1);                                \
		}                                                \
	} while (0)

static long blocks_kib(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (long)st.st_blocks / 2 : -1;
}

/* fallocate a filler file until the disk is full */
static void fill_disk(void)
{
	int fd = open(filler, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0, "filler: %s", strerror(errno));
	off_t off = 0;
	for (off_t step = 1 << 20; step >= 4096; step /= 2)
		while (fallocate(fd, 0, off, step) == 0)
			off += step;
	close(fd);
}

static void check(pmp_heap_t *h, const char *when)
{
	pmp_report_t r;
	REQUIRE(pmp_check(h, &r) == 0, "%s: pmp_check: %s", when, r.msg);
}

static void run(void)
{
	pmp_file_opts_t o = {.mode = PMP_OPEN_CREATE, .addr = BASE, .reserve = (size_t)64 << 20,
			     .initial = (size_t)1 << 20, .grow = (size_t)1 << 20};
	pmp_heap_t *h;
	int e = pmp_file_open(path, &o, &h);
	REQUIRE(e == 0, "create: %s", pmp_strerror(e));
	char *keep = pmp_malloc(h, 1000);
	REQUIRE(keep, "small malloc");
	memset(keep, 'k', 1000);
	REQUIRE(pmp_root_set(h, "keep", keep) == 0, "root");
	char *big = pmp_malloc(h, BIG);
	REQUIRE(big, "8 MiB malloc: %s", strerror(errno));
	memset(big, 'B', BIG);
	char *guard = pmp_malloc(h, 64); /* after the big block: its free space cannot melt into the arena's end */
	REQUIRE(guard, "guard");
	long before = blocks_kib(path);
	pmp_free(h, big);
	long kept = blocks_kib(path);
	printf("punch: heap file %ld KiB on disk before the free of 8 MiB, %ld KiB just after (kept for reuse)\n",
	       before, kept);
	REQUIRE(before - kept < 1024, "a fresh free of 8 MiB gave back %ld KiB at once", before - kept);
	fill_disk();
	big = pmp_malloc(h, BIG); /* the kept block: no fallocate needed */
	REQUIRE(big, "8 MiB malloc of a kept block on a full disk: %s", strerror(errno));
	memset(big, 'b', BIG);
	check(h, "after reuse on a full disk");
	pmp_free(h, big);
	unlink(filler);
	size_t given = pmp_trim(h);
	long after = blocks_kib(path);
	printf("punch: pmp_trim gave back %zu bytes; heap file %ld KiB on disk\n", given, after);
	REQUIRE(given >= (size_t)7 << 20, "pmp_trim gave back %zu bytes", given);
	REQUIRE(kept - after >= 7 * 1024, "pmp_trim of 8 MiB gave back only %ld KiB of disk", kept - after);
	REQUIRE(pmp_trim(h) == 0, "a second pmp_trim found more to give back");
	check(h, "after the punch");

	fill_disk();
	errno = 0;
	void *again = pmp_malloc(h, BIG);
	REQUIRE(again == NULL && errno == ENOMEM, "8 MiB malloc on a full disk: %p errno %d (expected NULL, ENOMEM)",
		again, errno);
	check(h, "after the refused malloc");
	void *small = pmp_malloc(h, 64); /* the free block's first page is still backed */
	REQUIRE(small, "small malloc on a full disk: %s", strerror(errno));
	void *grown = pmp_realloc(h, guard, BIG); /* cannot grow into the holes, cannot move: fails, keeps guard */
	REQUIRE(grown == NULL, "realloc into given-back pages on a full disk succeeded");
	check(h, "after the refused realloc");
	printf("punch: on the full disk: 8 MiB malloc -> ENOMEM, 64 B malloc ok, realloc refused, heap valid\n");

	unlink(filler);
	again = pmp_malloc(h, BIG);
	REQUIRE(again, "8 MiB malloc after freeing the disk: %s", strerror(errno));
	memset(again, 'C', BIG); /* every page writable: no SIGBUS */
	for (size_t i = 0; i < BIG; i += 4096)
		REQUIRE(((char *)again)[i] == 'C', "byte %zu", i);
	check(h, "after reuse");
	/* decay: a block free for longer than the decay time goes back at the next large free */
	REQUIRE(pmp_set_decay(h, 300) == 0, "decay time");
	char *other = pmp_malloc(h, (size_t)2 << 20), *guard2 = pmp_malloc(h, 64);
	REQUIRE(other && guard2, "2 MiB malloc: %s", strerror(errno));
	memset(other, 'o', (size_t)2 << 20);
	before = blocks_kib(path);
	pmp_free(h, again);
	usleep(400 * 1000);
	pmp_free(h, other);
	after = blocks_kib(path);
	printf("punch: 8 MiB free for 0.4 s (decay 0.3 s), then a 2 MiB free: heap file %ld KiB -> %ld KiB on disk\n", before, after);
	REQUIRE(before - after >= 7 * 1024 && before - after < 9 * 1024,
		"decay gave back %ld KiB (the 8 MiB block's, not the fresh 2 MiB one's)", before - after);
	check(h, "after decay");
	REQUIRE(pmp_close(h) == 0, "close");
	o.mode = PMP_OPEN_EXISTING;
	REQUIRE((e = pmp_file_open(path, &o, &h)) == 0, "reopen: %s", pmp_strerror(e));
	check(h, "after reopen");
	keep = pmp_root_get(h, "keep");
	REQUIRE(keep && keep[0] == 'k' && keep[999] == 'k', "root lost");
	pmp_close(h);
	printf("punch: reuse after the disk was freed: 8 MiB written, reopened, valid\n");
	_exit(0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0); /* the child ends with _exit */
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	if (mount("tmpfs", dir, "tmpfs", 0, "size=16m,mode=0700") != 0) {
		printf("punch: cannot mount a tmpfs (%s): skipped\n", strerror(errno));
		rmdir(dir);
		return 77;
	}
	snprintf(path, sizeof path, "%s/punch.heap", dir);
	snprintf(filler, sizeof filler, "%s/filler", dir);
	pid_t pid = fork();
	if (pid == 0)
		run();
	int st;
	waitpid(pid, &st, 0);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "punch: FAIL: the child died of signal %d%s\n", WTERMSIG(st),
			WTERMSIG(st) == SIGBUS ? " (SIGBUS: a write reached a page the disk could not back)" : "");
		return 1;
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
