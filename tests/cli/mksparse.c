/* mksparse.c: builds, for the cli suite, a sparse heap file that declares 1 TiB but holds a few pages of data,
 * and prints what it planted as KEY=VALUE lines.
 *
 * The heap is made with the public API on caller memory: a MAP_SHARED mapping of a 1 TiB sparse file, so nothing
 * is fallocated and only the pages written take disk. Content: a rooted block with a needle; a rooted block of
 * almost the whole TiB whose bytes are holes except one page deep inside (a needle and a pointer to an otherwise
 * unreachable block); one leaked block; one freed block with a secret; the free tail. The small blocks are slots of
 * slab pages, one page per size class; the counts a check must find come from layout.c.
 * Must never: touch the huge block's payload beyond its planted page (the file would stop being sparse), or use
 * anything but the public API (layout.c reads format.h's constants only).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layout.h"
#include "pmempreload.h"

#define DECLARED ((size_t)1 << 40)
#define HUGE (DECLARED - ((size_t)64 << 20))
#define DEEP_OFF ((size_t)700 << 30)   /* where the huge block's one page of data is */
#define NEEDLE "sparse-needle-near"
#define DEEP_NEEDLE "sparse-needle-deep"
#define SECRET "sparse-freed-secret"
/* the pointer to the deep block: 8-aligned (the payload is 16-aligned) and clear of "EDGE", which sits in the last 4
 * bytes of the data's last page: when the huge block's payload is page-aligned (as it is once small blocks live in
 * 64 KiB slab pages) that page ends at DEEP_OFF + 4096, so the pointer must end at DEEP_OFF + 4092 or before */
#define DEEP_PTR_OFF (DEEP_OFF + 4096 - 16)

static pmp_heap_t *h;
static struct layout lay;

static void die(const char *what, int e)
{
	fprintf(stderr, "mksparse: %s: %s\n", what, e > 0 ? strerror(e) : pmp_strerror(e));
	exit(2);
}

static void *alloc(size_t n)
{
	void *p = pmp_malloc(h, n); /* not calloc: zeroing the huge block would fill the file */
	if (!p)
		die("malloc", ENOMEM);
	layout_alloc(&lay, p, pmp_usable_size(h, p));
	return p;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: mksparse FILE ADDR\n");
		return 2;
	}
	void *want = (void *)(uintptr_t)strtoull(argv[2], NULL, 0);
	int fd = open(argv[1], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)DECLARED))
		die(argv[1], errno);
	void *mem = mmap(want, DECLARED, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	if (mem == MAP_FAILED || mem != want)
		die("mmap", mem == MAP_FAILED ? errno : EEXIST);
	int e = pmp_heap_create(mem, DECLARED, 0, &h);
	if (e)
		die("create", e);
	layout_init(&lay, mem);

	char *near = alloc(200);
	memset(near, 0, 200);
	memcpy(near + 40, NEEDLE, sizeof NEEDLE);
	if ((e = pmp_root_set(h, "near", near)) != 0)
		die("root", e);
	char *deep = alloc(64);
	memset(deep, 0, 64);
	memcpy(deep, "DEEPTARGET", 10);
	char *leak = alloc(96);
	memset(leak, 'S', 96);
	char *secret = alloc(128);
	memset(secret, 0, 128);
	memcpy(secret + 32, SECRET, sizeof SECRET);
	char *huge = alloc(HUGE);
	memcpy(huge + DEEP_OFF, DEEP_NEEDLE, sizeof DEEP_NEEDLE);
	uint64_t ptr = (uint64_t)(uintptr_t)deep;
	memcpy(huge + DEEP_PTR_OFF, &ptr, 8);
	/* "EDGE" in the last bytes of the pointer's page: a pattern that runs on into the hole after it must be found */
	size_t huge_off = (size_t)(huge - (char *)mem), ptr_end = huge_off + DEEP_OFF + 4096;
	size_t edge = ((ptr_end + 4095) & ~(size_t)4095) - huge_off - 4;
	if (edge < DEEP_PTR_OFF + 8)
		die("layout: EDGE would overwrite the deep pointer", EINVAL);
	memcpy(huge + edge, "EDGE", 4);
	if ((e = pmp_root_set(h, "huge", huge)) != 0)
		die("root", e);
	layout_free(&lay, secret, pmp_usable_size(h, secret));
	pmp_free(h, secret); /* the only slot of its page: the close gives the page back */
	pmp_stats_t st;
	struct layout_counts lc;
	if ((e = pmp_stats(h, &st)) != 0)
		die("stats", e);
	layout_counts(&lay, st.mapped, &lc);
	layout_fini(&lay);

	printf("SPARSE_DECLARED=%zu\n", DECLARED);
	printf("SPARSE_NEAR=0x%" PRIxPTR "\nSPARSE_NEEDLE=%s\n", (uintptr_t)near, NEEDLE);
	printf("SPARSE_HUGE=0x%" PRIxPTR "\nSPARSE_HUGE_SIZE=%zu\n", (uintptr_t)huge, pmp_usable_size(h, huge));
	printf("SPARSE_DEEP_NEEDLE=%s\nSPARSE_DEEP_OFF=%zu\n", DEEP_NEEDLE, DEEP_OFF);
	printf("SPARSE_DEEP=0x%" PRIxPTR "\nSPARSE_DEEP_PTR_OFF=%zu\n", (uintptr_t)deep, DEEP_PTR_OFF);
	printf("SPARSE_EDGE_OFF=%zu\n", edge);
	printf("SPARSE_USED_BLOCKS=%" PRIu64 "\nSPARSE_FREE_BLOCKS=%" PRIu64 "\nSPARSE_PAGES=%" PRIu64 "\n", lc.used, lc.free,
	       lc.pages);
	printf("SPARSE_LEAK=0x%" PRIxPTR "\nSPARSE_SECRET=%s\nSPARSE_SECRET_ADDR=0x%" PRIxPTR "\n", (uintptr_t)leak, SECRET,
	       (uintptr_t)(secret + 32));
	if ((e = pmp_close(h)) != 0)
		die("close", e);
	if (munmap(mem, DECLARED) || close(fd))
		die("unmap", errno);
	return 0;
}
