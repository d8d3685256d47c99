/* statsprog.c: a plain program that asks glibc's malloc for its statistics: 100 live blocks of 1,000 bytes, then
 * malloc_stats() (to stderr) and malloc_info() (to stdout). Under the preload both must describe the heap.
 * With an argument N, first N threads one after the other each malloc and free one block (each is a new thread to
 * the heap: t-stats.sh compares the fallback's count with and without them).
 * Must never: link libpmpheap (it is an unmodified program).
 */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *one_block(void *arg)
{
	char *p = malloc(100);
	if (p)
		memset(p, 1, 100);
	free(p);
	return arg;
}

int main(int argc, char **argv)
{
	for (int i = 0, n = argc > 1 ? atoi(argv[1]) : 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, one_block, NULL) || pthread_join(t, NULL))
			return 2;
	}
	static void *keep[100];
	for (int i = 0; i < 100; i++) {
		keep[i] = malloc(1000);
		memset(keep[i], i, 1000);
	}
	malloc_stats();
	fflush(stderr);
	return malloc_info(0, stdout) == 0 ? 0 : 1;
}
