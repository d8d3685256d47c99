/* mkload.c: heaps with a known load for the cli suite: `mkload many FILE ADDR N` makes N small blocks (every third one
 * freed again: a fragmented heap of millions of blocks for the map), `mkload live FILE ADDR SECONDS` keeps a heap open
 * and grows it at a steady pace (one 1000-byte block every 2 ms, and a 64-byte malloc/free pair) for `top` to watch.
 * Both print KEY=VALUE lines; live prints READY=1 once the heap exists.
 *
 * Must never: use anything but the public API, or run longer than asked.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static int many(unsigned long n)
{
	void **v = malloc(n * sizeof *v); /* the process's own malloc: the list is not part of the picture */
	if (!v)
		die("list", ENOMEM);
	for (unsigned long i = 0; i < n; i++)
		v[i] = alloc(16);
	unsigned long live = n;
	for (unsigned long i = 1; i < n; i += 3) { /* between two live neighbours: nothing merges */
		pmp_free(h, v[i]);
		live--;
	}
	free(v);
	printf("MANY_BLOCKS=%lu\nMANY_LIVE=%lu\n", n, live);
	return 0;
}

static int live(double seconds)
{
	printf("READY=1\n");
	fflush(stdout);
	void **keep = pmp_calloc(h, 1u << 16, sizeof *keep);
	if (!keep)
		die("calloc", ENOMEM);
	pmp_root_set(h, "keep", keep);
	unsigned n = 0;
	for (double end = now() + seconds; now() < end && n < (1u << 16);) {
		keep[n++] = alloc(1000);
		pmp_free(h, alloc(64));
		struct timespec d = {0, 2000000};
		nanosleep(&d, NULL);
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
	int rc = !strcmp(argv[1], "many") ? many(strtoul(argv[4], NULL, 10)) : live(strtod(argv[4], NULL));
	if ((e = pmp_close(h)) != 0)
		die("close", e);
	return rc;
}
