/* commit-msync.c: a heap on a file that the program maps itself, made durable by its own commit function.
 *
 *   commit-msync FILE   the first run creates FILE and makes a heap in it; every run adds one entry to the log
 *                       rooted at "log", commits it, and prints the log
 *
 * pmp_file_open does all of this for you; this is the shape for a program that owns its mapping (a file of its own
 * format, a device, shm with a write-out) and so decides itself what "persist" means: pmp_commit calls
 * commit_msync with each range to persist, and here that is an msync of the pages under it.
 * Must never: return before the range is on stable storage, or grow the file under a live heap.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MAP_FIXED_NOREPLACE */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pmempreload.h>

#define HEAP_ADDR ((void *)0x612000000000ull)
#define HEAP_SIZE ((size_t)1 << 20)

struct entry {
	struct entry *prev;
	unsigned run;
	long long when;
};
struct log {
	struct entry *last;
	unsigned runs;
};

static unsigned ranges; /* how many ranges the heap asked us to persist */

static int commit_msync(void *addr, size_t len, void *user)
{
	(void)user;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)addr & ~(page - 1); /* msync wants a page-aligned start */
	ranges++;
	return msync((void *)start, len + ((uintptr_t)addr - start), MS_SYNC) ? errno : 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	int fd = open(argv[1], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		perror(argv[1]);
		return 1;
	}
	int fresh = st.st_size == 0;
	if (fresh && ftruncate(fd, HEAP_SIZE)) {
		perror("ftruncate");
		return 1;
	}
	void *mem = mmap(HEAP_ADDR, HEAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	close(fd);
	if (mem != HEAP_ADDR) {
		fprintf(stderr, "cannot map %s at %p\n", argv[1], HEAP_ADDR);
		return 1;
	}

	pmp_heap_opts_t opts = {.commit = commit_msync};
	pmp_heap_t *h;
	int e = fresh ? pmp_heap_create_opts(mem, HEAP_SIZE, &opts, &h) : pmp_heap_attach_opts(mem, &opts, &h);
	if (e) {
		fprintf(stderr, "%s: %s\n", fresh ? "pmp_heap_create_opts" : "pmp_heap_attach_opts", pmp_strerror(e));
		return 1;
	}
	struct log *log = pmp_root_get(h, "log");
	if (!log && (!(log = pmp_calloc(h, 1, sizeof *log)) || pmp_root_set(h, "log", log))) {
		fprintf(stderr, "cannot make the log\n");
		return 1;
	}
	struct entry *en = pmp_malloc(h, sizeof *en);
	if (!en) {
		fprintf(stderr, "heap full\n");
		return 1;
	}
	/* the order that keeps a power loss harmless: the entry is durable before the log points to it */
	en->prev = log->last;
	en->run = log->runs + 1;
	en->when = (long long)time(NULL);
	if ((e = pmp_commit(h, en, sizeof *en)) == 0) {
		log->last = en;
		log->runs++;
		e = pmp_commit(h, log, sizeof *log);
	}
	if (e) {
		fprintf(stderr, "pmp_commit: %s\n", pmp_strerror(e));
		return 1;
	}
	printf("%s heap, run %u, commit_msync called for %u ranges\n", fresh ? "new" : "reopened", log->runs, ranges);
	for (struct entry *x = log->last; x; x = x->prev)
		printf("  entry of run %u\n", x->run);
	pmp_close(h);
	munmap(mem, HEAP_SIZE);
	return 0;
}
