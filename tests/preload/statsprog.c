/* statsprog.c: a plain program that asks glibc's malloc for its statistics: 100 live blocks of 1,000 bytes, then
 * malloc_stats() (to stderr) and malloc_info() (to stdout). Under the preload both must describe the heap.
 * Must never: link libpmpheap (it is an unmodified program).
 */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	static void *keep[100];
	for (int i = 0; i < 100; i++) {
		keep[i] = malloc(1000);
		memset(keep[i], i, 1000);
	}
	malloc_stats();
	fflush(stderr);
	return malloc_info(0, stdout) == 0 ? 0 : 1;
}
