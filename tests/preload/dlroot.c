/* dlroot.c: a program that dlopens a plugin after the preload started, so the plugin is in no module list taken at
 * init: the plugin keeps the only pointer to a block in its global, and then crashes (t-rootset.sh).
 *
 * Usage: dlroot PLUGIN.so (under the preload). Prints "kept=ADDR" (by the plugin), then dies of SIGSEGV in the
 * plugin's plugin_crash.
 * Must never: hold the kept pointer itself (only the plugin's global may anchor the block).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	free(malloc(16)); /* the heap and its crash handler are up before the plugin exists */
	void *h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlroot: %s\n", dlerror());
		return 2;
	}
	void (*keep)(void), (*crash)(void);
	*(void **)&keep = dlsym(h, "plugin_keep"); /* POSIX's way from a symbol to a function pointer */
	*(void **)&crash = dlsym(h, "plugin_crash");
	if (!keep || !crash)
		return 2;
	keep();
	crash();
	return 1;
}
