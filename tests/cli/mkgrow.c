/* mkgrow.c: a program whose call sites grow by known counts, for diff, top and report by site: run it under
 * LD_PRELOAD=libpmempreload.so PMEMPRELOAD_TRACK=callsite; the cli suite copies its heap file between phases.
 *
 * Usage: mkgrow DIR PHASES. Phase 1 allocates GROW_A1 blocks from grow_a, SHRINK_C from shrink_c and STEADY from
 * steady; every later phase adds GROW_A blocks from grow_a and GROW_B from grow_b and frees SHRINK of shrink_c's
 * (from release). After each phase it prints PHASE=N and waits until DIR/goN exists; at the start it prints each
 * count and usable size as KEY=VALUE lines. Nothing else allocates between phases (the output buffer exists from
 * the first line on), so the live bytes of every other site stay as they were.
 * Must never: let the compiler inline the allocating functions or turn their calls into tail calls (each site is
 * the return address into one of them: built with -O0 and noinline), or wait longer than a minute for a go file.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GROW_A1 40
#define GROW_A 100
#define GROW_B 10
#define SHRINK_C 200
#define SHRINK 30
#define STEADY 25
#define MAX_PHASES 6

__attribute__((noinline)) static void *grow_a(void)
{
	return malloc(200);
}

__attribute__((noinline)) static void *grow_b(void)
{
	return calloc(1, 5000);
}

__attribute__((noinline)) static void *shrink_c(void)
{
	return malloc(3000);
}

__attribute__((noinline)) static void *steady(void)
{
	return malloc(50);
}

__attribute__((noinline)) static void release(void *p)
{
	free(p);
}

static void need(void *p)
{
	if (!p) {
		fprintf(stderr, "mkgrow: out of memory\n");
		exit(2);
	}
}

static void wait_go(const char *dir, int phase)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/go%d", dir, phase);
	for (int i = 0; i < 6000 && access(path, F_OK); i++)
		nanosleep(&(struct timespec){0, 10000000}, NULL);
}

int main(int argc, char **argv)
{
	int phases = argc == 3 ? atoi(argv[2]) : 0;
	if (phases < 1 || phases > MAX_PHASES) {
		fprintf(stderr, "usage: mkgrow DIR PHASES (1 to %d)\n", MAX_PHASES);
		return 2;
	}
	static void *a[GROW_A1 + GROW_A * MAX_PHASES], *b[GROW_B * MAX_PHASES], *c[SHRINK_C], *s[STEADY];
	setvbuf(stdout, NULL, _IOLBF, 0);
	int na = 0, nb = 0, nc = 0;
	for (; na < GROW_A1; na++)
		need(a[na] = grow_a());
	for (; nc < SHRINK_C; nc++)
		need(c[nc] = shrink_c());
	for (int i = 0; i < STEADY; i++)
		need(s[i] = steady());
	printf("GROW_A1=%d\nGROW_A=%d\nGROW_B=%d\nSHRINK_C=%d\nSHRINK=%d\nSTEADY=%d\n", GROW_A1, GROW_A, GROW_B, SHRINK_C,
	       SHRINK, STEADY);
	printf("USABLE_A=%zu\nUSABLE_C=%zu\nUSABLE_S=%zu\n", malloc_usable_size(a[0]), malloc_usable_size(c[0]),
	       malloc_usable_size(s[0]));
	void *probe = grow_b();
	need(probe);
	printf("USABLE_B=%zu\n", malloc_usable_size(probe));
	release(probe);
	for (int phase = 1; phase <= phases; phase++) {
		if (phase > 1) {
			for (int i = 0; i < GROW_A; i++)
				need(a[na++] = grow_a());
			for (int i = 0; i < GROW_B; i++)
				need(b[nb++] = grow_b());
			for (int i = 0; i < SHRINK && nc > 0; i++)
				release(c[--nc]);
		}
		printf("PHASE=%d\n", phase);
		wait_go(argv[1], phase);
	}
	return 0;
}
