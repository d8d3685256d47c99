/* crasher.c: dies of SIGSEGV after putting data in the heap, so the test can find it in the kept heap file.
 * Usage: crasher TEXT. Allocates TEXT and 5000 other blocks, sets root "victim", then writes through NULL.
 * Must never: exit normally (exit 0 would mean the crash did not happen).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmempreload.h"

__attribute__((noinline)) static void crash_here(volatile int *p)
{
	*p = 42;
}

__attribute__((noinline)) static void deeper(volatile int *p)
{
	crash_here(p);
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	const char *text = argc > 1 ? argv[1] : "crash data";
	for (int i = 0; i < 5000; i++)
		(void)!malloc((size_t)(i % 200) + 1);
	char *s = strdup(text);
	pmp_heap_t *h = pmp_default();
	if (h)
		pmp_root_set(h, "victim", s);
	printf("about to crash\n");
	fflush(stdout);
	deeper((volatile int *)(argc > 5 ? (void *)s : NULL));
	return 0;
}
