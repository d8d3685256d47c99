/* squat.c: an LD_PRELOAD module for the cli suite that occupies an address range before main runs
 * (PMP_TEST_SQUAT=0xADDR), so `pmempreload` must open a heap created there at another address and translate.
 *
 * Must never: do anything when the variable is unset, or be installed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

__attribute__((constructor)) static void squat(void)
{
	const char *s = getenv("PMP_TEST_SQUAT");
	if (!s)
		return;
	void *want = (void *)(uintptr_t)strtoull(s, NULL, 0);
	void *got = mmap(want, (size_t)1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (got != want)
		abort(); /* the test would prove nothing: fail loudly */
}
