/* sigmalloc.c: malloc and free from a signal handler that interrupts the program's malloc and free.
 *
 * Usage: sigmalloc SECONDS
 * A second thread sends SIGUSR1 to the main thread without pause; the handler frees the oldest of its last 16
 * blocks (checked first) and allocates a new one, small or (every 16th) large, filled with a pattern. The main thread runs random malloc, realloc and
 * free over 4,096 blocks, each filled with a pattern of its own that is checked before it is resized or freed.
 * A handler that interrupts a call inside the allocator must not enter the heap again (the preload's depth guard
 * sends it to the fallback), so no block is damaged and the heap stays valid (the test checks the kept file).
 * Prints "handler runs N, in the heap N, in the fallback N" (where the handler's blocks came from); exit 1 when a
 * block's bytes changed.
 * Must never: call anything in the handler but malloc, free and byte loops, or stop before SECONDS have passed.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pmempreload.h"

#define BLOCKS 4096

static volatile sig_atomic_t done, bad;
static volatile long runs, in_heap, outside;
static pthread_t main_thread;
static pmp_heap_t *heap;

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7);
}

static int intact(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed + i * 7))
			return 0;
	return 1;
}

/* the handler's blocks: each run frees the oldest and allocates a new one, so that a handler's malloc and free
 * are of different slots (a pair of the same slot would leave an interrupted free list as it was) */
#define RING 16
static unsigned char *ring[RING];
static size_t ring_len[RING];

static void on_usr1(int sig)
{
	(void)sig;
	long k = runs + 1;
	unsigned r = (unsigned)(k % RING);
	if (ring[r] && !intact(ring[r], ring_len[r], (unsigned)(k - RING)))
		bad = 1;
	free(ring[r]);
	size_t n = (k & 15) == 0 ? 200000 : 16 + (size_t)(k % 200);
	unsigned char *p = malloc(n);
	if (p) {
		if (pmp_ptr_to_off(heap, p) == PMP_OFF_NULL) /* it interrupted an allocator call: the fallback's */
			outside = outside + 1;
		else
			in_heap = in_heap + 1;
		fill(p, n, (unsigned)k);
	}
	ring[r] = p;
	ring_len[r] = p ? n : 0;
	runs = k;
}

static void *kicker(void *arg)
{
	(void)arg;
	while (!done)
		pthread_kill(main_thread, SIGUSR1);
	return NULL;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	static unsigned char *blk[BLOCKS];
	static size_t len[BLOCKS];
	static unsigned seed[BLOCKS];
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	main_thread = pthread_self();
	heap = pmp_default();
	if (!heap) {
		fprintf(stderr, "sigmalloc: no process heap (run it under the preload)\n");
		return 2;
	}
	pthread_t t;
	if (pthread_create(&t, NULL, kicker, NULL) != 0)
		return 2;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t x = 88172645463325252ull;
	unsigned next_seed = 1;
	long ops = 0;
	for (;;) {
		if ((ops & 1023) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 >= seconds)
				break;
		}
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		unsigned i = (unsigned)(x % BLOCKS);
		size_t n = (x >> 20) % 64 == 0 ? 20000 + (size_t)(x >> 40) % 100000 : 1 + (size_t)(x >> 40) % 600;
		if (blk[i] && !intact(blk[i], len[i], seed[i])) {
			fprintf(stderr, "sigmalloc: block %u (%zu bytes) damaged\n", i, len[i]);
			return 1;
		}
		if (blk[i] && (x >> 12) % 4 == 0) { /* resize: the old bytes must move along */
			unsigned char *q = realloc(blk[i], n);
			if (!q)
				return 2;
			size_t keep = n < len[i] ? n : len[i];
			if (!intact(q, keep, seed[i])) {
				fprintf(stderr, "sigmalloc: block %u lost its bytes in realloc\n", i);
				return 1;
			}
			blk[i] = q;
		} else {
			free(blk[i]);
			if (!(blk[i] = malloc(n)))
				return 2;
		}
		len[i] = n;
		seed[i] = next_seed++;
		fill(blk[i], n, seed[i]);
		ops++;
	}
	done = 1;
	pthread_join(t, NULL);
	for (unsigned i = 0; i < BLOCKS; i++) {
		if (blk[i] && !intact(blk[i], len[i], seed[i])) {
			fprintf(stderr, "sigmalloc: block %u damaged at the end\n", i);
			return 1;
		}
		free(blk[i]);
	}
	for (long k = runs - RING + 1; k <= runs; k++) {
		unsigned r = (unsigned)(k % RING);
		if (k > 0 && ring[r] && !intact(ring[r], ring_len[r], (unsigned)k))
			bad = 1;
		free(ring[r]);
	}
	if (bad) {
		fprintf(stderr, "sigmalloc: a handler's block was damaged\n");
		return 1;
	}
	printf("handler runs %ld, in the heap %ld, in the fallback %ld, operations %ld\n", (long)runs, (long)in_heap,
	       (long)outside, ops);
	return 0;
}
