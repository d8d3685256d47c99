/* sites.c: the preload suite's call-site helper: blocks allocated from two known functions, some freed from a
 * third, so that `blocks --by-site`, `stats --by-site`, `leaks --by-site` and `whatis` can be checked against what
 * the program knows it did.
 *
 * Usage: sites   (under LD_PRELOAD=libpmempreload.so PMEMPRELOAD_TRACK=callsite; plain malloc family only)
 * Prints "alpha N USABLE", "beta N USABLE" (live blocks per allocating function and each one's usable size),
 * "gamma N" (blocks alpha_alloc made that gamma_free freed) and "freed ADDR" (one of those), then returns.
 * Must never: let the compiler inline the three functions or turn their calls into tail calls (the call site is
 * the return address into the caller: built with -O0 and noinline).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALPHA 300
#define BETA 5
#define GAMMA 50

__attribute__((noinline)) static void *alpha_alloc(void)
{
	void *p = malloc(100);
	if (p)
		memset(p, 'a', 100);
	return p;
}

__attribute__((noinline)) static void *beta_alloc(void)
{
	return calloc(1, 40000);
}

__attribute__((noinline)) static void gamma_free(void *p)
{
	free(p);
}

int main(void)
{
	static void *alpha[ALPHA + GAMMA], *beta[BETA];
	for (int i = 0; i < ALPHA + GAMMA; i++)
		if (!(alpha[i] = alpha_alloc()))
			return 1;
	for (int i = 0; i < BETA; i++)
		if (!(beta[i] = beta_alloc()))
			return 1;
	size_t ua = malloc_usable_size(alpha[0]), ub = malloc_usable_size(beta[0]);
	/* every other block of the first 2 * GAMMA: the freed slots sit between live ones, on pages that stay */
	for (int i = 0; i < GAMMA; i++)
		gamma_free(alpha[2 * i + 1]);
	printf("alpha %d %zu\nbeta %d %zu\ngamma %d\nfreed %p\nlive %p\n", ALPHA, ua, BETA, ub, GAMMA, alpha[1], alpha[0]);
	return 0;
}
