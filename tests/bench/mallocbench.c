/* mallocbench.c: allocator micro-benchmark, run unchanged under any LD_PRELOAD allocator (glibc, jemalloc, mimalloc,
 * tcmalloc, pmempreload) or, with --api, against a pmp_ heap on a file in the same process.
 *
 * Workloads (seeded, identical for every allocator): `touch` blocks of 8..16,000 bytes (rptest's sizes) filled
 * whole, about 48 MB of memory the process never had, then freed: what first touch costs; `retouch` the same again,
 * on the memory touch gave back; `pairs` malloc+free of one small size; `churn` a working set of 20,000 live blocks
 * of 16..1024 bytes replaced at random; `mixed` sizes 16 B..256 KiB with a skewed distribution and realloc;
 * `threads` churn in 4 threads. touch runs first, so that no workload before it has touched memory. Prints one line
 * per workload: name, operations, seconds, Mops/s.
 * --check-cost N times pmp_check and reopening (clean, and after an unclean stop) of a heap with N live blocks.
 * Must never: assert on absolute times (machines are shared and noisy; scripts/bench.sh takes medians and ratios), or
 * leave its heap file behind.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pmempreload.h"

static pmp_heap_t *heap; /* --api: allocate from this heap instead of malloc */

static void *xmalloc(size_t n) { return heap ? pmp_malloc(heap, n) : malloc(n); }
static void xfree(void *p)
{
	if (heap)
		pmp_free(heap, p);
	else
		free(p);
}
static void *xrealloc(void *p, size_t n) { return heap ? pmp_realloc(heap, p, n) : realloc(p, n); }

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t pairs(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		char *p = xmalloc(64);
		p[0] = (char)i;
		__asm__ volatile("" : : "r"(p) : "memory");
		xfree(p);
	}
	return 2 * n;
}

/* n blocks of 8..16,000 bytes, each filled whole (every page of it written), then all freed */
static uint64_t fill_seeded(uint64_t n, uint64_t seed)
{
	void **live = calloc(n, sizeof *live);
	uint64_t s = seed | 1;
	for (uint64_t i = 0; i < n; i++) {
		size_t sz = 8 + (size_t)(rng(&s) % 15993);
		live[i] = xmalloc(sz);
		memset(live[i], (int)i, sz);
	}
	for (uint64_t i = 0; i < n; i++)
		xfree(live[i]);
	free(live);
	return 2 * n;
}
static uint64_t touch(uint64_t n) { return fill_seeded(n, 11); }
static uint64_t retouch(uint64_t n) { return fill_seeded(n, 11); }

#define SET 20000
static uint64_t churn_seeded(uint64_t n, uint64_t seed)
{
	void **live = calloc(SET, sizeof *live); /* bookkeeping from the process allocator in both modes */
	uint64_t s = seed | 1, ops = 0;
	for (uint64_t i = 0; i < n; i++) {
		size_t k = (size_t)(rng(&s) % SET);
		if (live[k]) {
			xfree(live[k]);
			ops++;
		}
		size_t sz = 16 + (size_t)(rng(&s) % 1009);
		live[k] = xmalloc(sz);
		memset(live[k], (int)k, 16);
		ops++;
	}
	for (size_t k = 0; k < SET; k++)
		if (live[k]) {
			xfree(live[k]);
			ops++;
		}
	free(live);
	return ops;
}
static uint64_t churn(uint64_t n) { return churn_seeded(n, 42); }

static uint64_t mixed(uint64_t n)
{
	void **live = calloc(4096, sizeof *live);
	uint64_t s = 7, ops = 0;
	for (uint64_t i = 0; i < n; i++) {
		size_t k = (size_t)(rng(&s) % 4096);
		uint64_t r = rng(&s) % 100;
		size_t sz = r < 80 ? 16 + rng(&s) % 512 : r < 98 ? 512 + rng(&s) % 16384 : 16384 + rng(&s) % 262144;
		if (live[k] && r % 3 == 0) {
			void *q = xrealloc(live[k], sz);
			if (q)
				live[k] = q;
		} else {
			if (live[k]) {
				xfree(live[k]);
				ops++;
			}
			live[k] = xmalloc(sz);
		}
		if (live[k])
			((char *)live[k])[0] = 1;
		ops++;
	}
	for (size_t k = 0; k < 4096; k++)
		if (live[k]) {
			xfree(live[k]);
			ops++;
		}
	free(live);
	return ops;
}

struct targ { uint64_t n, ops, seed; };
static void *thread_main(void *a)
{
	struct targ *t = a;
	t->ops = churn_seeded(t->n, t->seed);
	return NULL;
}
static uint64_t threads(uint64_t n)
{
	pthread_t th[4];
	struct targ a[4];
	for (int i = 0; i < 4; i++) {
		a[i].n = n / 4;
		a[i].seed = 1000 + (uint64_t)i;
		pthread_create(&th[i], NULL, thread_main, &a[i]);
	}
	uint64_t ops = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ops += a[i].ops;
	}
	return ops;
}

static const struct { const char *name; uint64_t (*fn)(uint64_t); uint64_t n; } workloads[] = {
	{"touch", touch, 6000}, /* first: the memory of the others is touched already */
	{"retouch", retouch, 6000},
	{"pairs", pairs, 4000000},
	{"churn", churn, 3000000},
	{"mixed", mixed, 1000000},
	{"threads", threads, 3000000},
};

/* --check-cost N: a file heap with N live blocks (and N/4 free ones): time pmp_check, a clean reopen and an unclean
 * reopen (recovery), each the median of 5 */
static int check_cost(long n)
{
	char path[64];
	snprintf(path, sizeof path, "/tmp/mallocbench-check.%d.heap", (int)getpid());
	pmp_file_opts_t o = {.mode = PMP_OPEN_CREATE, .addr = (void *)0x6f0000000000ull, .reserve = (size_t)64 << 30};
	pmp_heap_t *h;
	int e = pmp_file_open(path, &o, &h);
	if (e) {
		fprintf(stderr, "mallocbench: %s: %s\n", path, pmp_strerror(e));
		return 2;
	}
	uint64_t s = 99;
	for (long i = 0; i < n + n / 4; i++) {
		void *p = pmp_malloc(h, 16 + (size_t)(rng(&s) % 200));
		if (i % 5 == 4)
			pmp_free(h, p);
	}
	double t[5], r[5], u[5];
	for (int k = 0; k < 5; k++) {
		double a = now();
		e = pmp_check(h, NULL);
		t[k] = now() - a;
		if (e) {
			fprintf(stderr, "mallocbench: check failed\n");
			return 1;
		}
	}
	pmp_close(h);
	o.mode = PMP_OPEN_EXISTING;
	for (int k = 0; k < 5; k++) { /* clean reopen: the chain is checked, the index rebuilt */
		double a = now();
		e = pmp_file_open(path, &o, &h);
		r[k] = now() - a;
		if (e)
			return 2;
		pmp_close(h);
	}
	for (int k = 0; k < 5; k++) { /* unclean: a child opens and _exits, the parent reopens */
		pid_t pid = fork();
		if (pid == 0) {
			_exit(pmp_file_open(path, &o, &h) ? 1 : 0);
		}
		int st;
		waitpid(pid, &st, 0);
		double a = now();
		e = pmp_file_open(path, &o, &h);
		u[k] = now() - a;
		if (e)
			return 2;
		pmp_close(h);
	}
	for (int k = 0; k < 5; k++) /* sort each column for the median */
		for (int j = k + 1; j < 5; j++) {
			double x;
			if (t[j] < t[k]) { x = t[j]; t[j] = t[k]; t[k] = x; }
			if (r[j] < r[k]) { x = r[j]; r[j] = r[k]; r[k] = x; }
			if (u[j] < u[k]) { x = u[j]; u[j] = u[k]; u[k] = x; }
		}
	printf("check-cost: %ld live blocks: pmp_check %.1f ms, clean reopen %.1f ms, unclean reopen %.1f ms (medians of 5)\n",
	       n, t[2] * 1e3, r[2] * 1e3, u[2] * 1e3);
	unlink(path);
	return 0;
}

int main(int argc, char **argv)
{
	char path[64] = "";
	double scale = 1.0;
	const char *only = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--api") == 0) {
			snprintf(path, sizeof path, "/tmp/mallocbench.%d.heap", (int)getpid());
			pmp_file_opts_t o = {.mode = PMP_OPEN_CREATE, .addr = (void *)0x6f0000000000ull};
			int e = pmp_file_open(path, &o, &heap);
			if (e) {
				fprintf(stderr, "mallocbench: %s: %s\n", path, pmp_strerror(e));
				return 2;
			}
		} else if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc) {
			scale = atof(argv[++i]);
		} else if (strcmp(argv[i], "--check-cost") == 0 && i + 1 < argc) {
			return check_cost(atol(argv[i + 1]));
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else {
			fprintf(stderr, "usage: mallocbench [--api] [--scale F] [--only WORKLOAD] | --check-cost N\n");
			return 2;
		}
	}
	for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
		if (only && strcmp(only, workloads[i].name) != 0)
			continue;
		uint64_t n = (uint64_t)((double)workloads[i].n * scale);
		double t = now();
		uint64_t ops = workloads[i].fn(n);
		t = now() - t;
		printf("%-8s %10llu ops %8.3f s %8.2f Mops/s\n", workloads[i].name, (unsigned long long)ops, t,
		       (double)ops / t / 1e6);
	}
	if (heap) {
		int e = pmp_check(heap, NULL);
		pmp_close(heap);
		unlink(path);
		if (e) {
			fprintf(stderr, "mallocbench: heap check failed\n");
			return 1;
		}
	}
	return 0;
}
