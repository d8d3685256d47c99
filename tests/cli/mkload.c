/* mkload.c: heaps with a known load for the cli suite: `mkload many FILE ADDR N` makes N small blocks (every third one
 * freed again: a fragmented heap of millions of blocks for the map), `mkload live FILE ADDR SECONDS` keeps a heap open
 * and grows it at a steady pace (one 1000-byte block every 2 ms, and a 64-byte malloc/free pair) for `top` to watch.
 * Both print KEY=VALUE lines; live prints READY=1 once the heap exists. The blocks are slots of slab pages: many's
 * counts of the closed heap (its free slots and free chain blocks included) come from layout.c, live says the usable
 * size its 1000-byte requests get.
 *
 * Must never: use anything but the public API (layout.c reads format.h's constants only), or run longer than asked.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "layout.h"
#include "pmempreload.h"

static pmp_heap_t *h;

static void die(const char *what, int e)
{
	fprintf(stderr, "mkload: %s: %s\n", what, pmp_strerror(e));
	exit(2);
}

static void *alloc(size_t n)
{
	void *p = pmp_malloc(h, n);
	if (!p)
		die("malloc", ENOMEM);
	memset(p, 0x5a, n);
	return p;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int many(const void *base, unsigned long n)
{
	void **v = malloc(n * sizeof *v); /* the process's own malloc: the list is not part of the picture */
	struct layout lay;
	if (!v)
		die("list", ENOMEM);
	layout_init(&lay, base);
	for (unsigned long i = 0; i < n; i++) {
		v[i] = alloc(16);
		layout_alloc(&lay, v[i], pmp_usable_size(h, v[i]));
	}
	/* a page in the middle and its first slot (allocations fill a page in address order), for the map's pixels */
	unsigned long m = n / 2;
	const struct layout_page *mid = layout_page(&lay, v[m]);
	while (m && layout_page(&lay, v[m - 1]) == mid)
		m--;
	printf("MANY_PAGE=0x%" PRIx64 "\nMANY_PAGE_SLOTS=0x%" PRIxPTR "\n", mid->start, (uintptr_t)v[m]);
	unsigned long live = n;
	for (unsigned long i = 1; i < n; i += 3) { /* between two live neighbours: nothing merges */
		layout_free(&lay, v[i], pmp_usable_size(h, v[i]));
		pmp_free(h, v[i]);
		live--;
	}
	free(v);
	/* the heap's blocks: the N the program made (slots), the slots of its last page it never took, and the free
	 * chain blocks around the pages */
	pmp_stats_t s;
	struct layout_counts lc;
	int e = pmp_stats(h, &s);
	if (e)
		die("stats", e);
	layout_counts(&lay, s.mapped, &lc);
	layout_fini(&lay);
	printf("MANY_BLOCKS=%lu\nMANY_LIVE=%lu\nMANY_HEAP_BLOCKS=%" PRIu64 "\nMANY_HEAP_FREE=%" PRIu64
	       "\nMANY_PAGES=%" PRIu64 "\n", n, live, lc.used + lc.free, lc.free, lc.pages);
	return 0;
}

static int live(double seconds)
{
	void **keep = pmp_calloc(h, 1u << 16, sizeof *keep);
	if (!keep)
		die("calloc", ENOMEM);
	pmp_root_set(h, "keep", keep);
	/* the first 1000-byte block before the test looks: its usable size names the size class the blocks go to */
	unsigned n = 0;
	keep[n++] = alloc(1000);
	printf("LIVE_SIZE=%zu\nREADY=1\n", pmp_usable_size(h, keep[0]));
	fflush(stdout);
	for (double end = now() + seconds; now() < end && n < (1u << 16);) {
		pmp_free(h, alloc(64));
		struct timespec d = {0, 2000000};
		nanosleep(&d, NULL);
		keep[n++] = alloc(1000);
	}
	printf("LIVE_BLOCKS=%u\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5 || (strcmp(argv[1], "many") && strcmp(argv[1], "live"))) {
		fprintf(stderr, "usage: mkload many|live FILE ADDR N|SECONDS\n");
		return 2;
	}
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = PMP_OPEN_CREATE;
	o.addr = (void *)(uintptr_t)strtoull(argv[3], NULL, 0);
	o.reserve = (size_t)1 << 30;
	int e = pmp_file_open(argv[2], &o, &h);
	if (e)
		die(argv[2], e);
	int rc = !strcmp(argv[1], "many") ? many(o.addr, strtoul(argv[4], NULL, 10)) : live(strtod(argv[4], NULL));
	if ((e = pmp_close(h)) != 0)
		die("close", e);
	return rc;
}
