/* fastpath_pairs.c: N malloc(64)+free pairs after a warm-up, for counting instructions per pair on an allocator's
 * fast path with valgrind --tool=callgrind --toggle-collect=measured_pairs (scripts/bench.sh, section callgrind).
 * Only measured_pairs() is counted: the warm-up fills the allocator's caches and takes its one-time initialisation
 * out of the count; what is left is the call, the fast path and about 5 instructions of loop per pair.
 * Must never: be timed (counts, not seconds, are its result), or let the compiler fold a malloc/free pair away
 * (built with -fno-builtin-malloc/-free; the pointer goes through a volatile).
 */
#include <stdio.h>
#include <stdlib.h>

void measured_pairs(long n);

__attribute__((noinline)) void measured_pairs(long n)
{
	for (long i = 0; i < n; i++) {
		void *volatile p = malloc(64);
		free(p);
	}
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	for (long i = 0; i < 10000; i++) { /* warm-up, not counted */
		void *volatile p = malloc(64);
		free(p);
	}
	measured_pairs(n);
	printf("fastpath_pairs: %ld pairs\n", n);
	return 0;
}
