/* dlplug.c: the plugin of dlroot.c: plugin_keep allocates a block whose only pointer is the plugin's global (its
 * .data), prints its address and clears every other copy it made; plugin_crash dies of SIGSEGV inside the plugin.
 * Must never: leave the pointer anywhere but in kept.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *kept = (void *)1; /* .data, not .bss: a segment with file contents, as most plugin state */

__attribute__((visibility("default"))) void plugin_keep(void);
__attribute__((visibility("default"))) void plugin_crash(void);

void plugin_keep(void)
{
	kept = malloc(333);
	memset(kept, 'k', 333);
	char line[64];
	int n = snprintf(line, sizeof line, "kept=%p\n", kept);
	if (write(1, line, (size_t)n) != n)
		abort();
}

void plugin_crash(void)
{
	*(volatile int *)(uintptr_t)8 = 1;
}
