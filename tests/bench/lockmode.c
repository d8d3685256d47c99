/* lockmode.c: what PMP_HEAP_SINGLE_THREAD saves. The same work on two heaps in caller memory, one with the mutex
 * and one without: chain-block pairs (sizes above the largest slot, where every malloc and free takes the lock)
 * and slot pairs (the thread-heap fast path, which takes no lock in either mode). Rounds alternate between the
 * two heaps; the result is the median ratio of the mutex heap's time over the single-thread heap's, per kind.
 * Must never: assert a time (the meson test is a smoke run; ratios are read by people), or share a heap between
 * the modes.
 * Usage: lockmode [pairs per round (default 200000)] [rounds (default 7)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "pmempreload.h"

#define MEM ((size_t)64 << 20)
#define LIVE 64

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* pairs of malloc and free over a window of LIVE blocks, sizes from base up */
static double run(pmp_heap_t *h, long pairs, size_t base, size_t spread)
{
	void *live[LIVE] = {0};
	unsigned x = 12345;
	double t0 = now();
	for (long i = 0; i < pairs; i++) {
		x = x * 1103515245u + 12345u;
		unsigned k = (x >> 8) % LIVE;
		pmp_free(h, live[k]);
		live[k] = pmp_malloc(h, base + (x >> 16) % spread);
		if (!live[k]) {
			fprintf(stderr, "lockmode: out of memory\n");
			exit(1);
		}
	}
	double t = now() - t0;
	for (unsigned k = 0; k < LIVE; k++)
		pmp_free(h, live[k]);
	return t;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long pairs = argc > 1 ? atol(argv[1]) : 200000;
	int rounds = argc > 2 ? atoi(argv[2]) : 7;
	if (pairs < 1 || rounds < 1 || rounds > 99)
		return 2;
	pmp_heap_t *h[2];
	for (int m = 0; m < 2; m++) {
		void *mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED || pmp_heap_create(mem, MEM, m ? PMP_HEAP_SINGLE_THREAD : 0, &h[m]) != 0)
			return 1;
	}
	static const struct { const char *name; size_t base, spread; } kinds[] = {
		{"chain blocks (17-33 KiB)", 17000, 16000},
		{"slots (16-1024 B)", 16, 1008},
	};
	for (size_t k = 0; k < 2; k++) {
		double ratio[99], ns[2] = {0, 0};
		run(h[0], pairs / 10 + 1, kinds[k].base, kinds[k].spread); /* warm-up: pages and the index made */
		run(h[1], pairs / 10 + 1, kinds[k].base, kinds[k].spread);
		for (int r = 0; r < rounds; r++) {
			double t[2];
			for (int m = 0; m < 2; m++)
				t[(m + r) % 2] = run(h[(m + r) % 2], pairs, kinds[k].base, kinds[k].spread);
			ratio[r] = t[0] / t[1];
			ns[0] += t[0] * 1e9 / (double)pairs / rounds;
			ns[1] += t[1] * 1e9 / (double)pairs / rounds;
		}
		qsort(ratio, (size_t)rounds, sizeof ratio[0], cmp);
		printf("lockmode: %-26s mutex/single-thread time ratio %.2f [min %.2f max %.2f] over %d rounds of %ld pairs"
		       " (mean %.0f vs %.0f ns per pair)\n",
		       kinds[k].name, ratio[rounds / 2], ratio[0], ratio[rounds - 1], rounds, pairs, ns[0], ns[1]);
	}
	for (int m = 0; m < 2; m++) {
		pmp_report_t rep;
		if (pmp_check(h[m], &rep) != 0) {
			fprintf(stderr, "lockmode: heap %d inconsistent: %s\n", m, rep.msg);
			return 1;
		}
		pmp_close(h[m]);
	}
	return 0;
}
