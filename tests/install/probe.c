/* probe.c: the install suite's program, built against an installed tree (once with its pkg-config file, once with
 * its CMake package) and run from there.
 *
 *   probe api FILE       the C API on a heap file: count this run in the root "runs" and print "runs N"
 *   probe preload WORD   plain mallocs of strings holding WORD, left live; prints "preload PATH", the
 *                        libpmempreload.so mapped into this process ("preload none" without one)
 *
 * Must never: free the strings of `preload` (the test finds them in the heap file afterwards), or allocate from
 * an explicit heap in that mode (only the preload may route its mallocs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pmempreload.h>

static int api(const char *path)
{
	pmp_heap_t *h;
	int e = pmp_file_open(path, NULL, &h);
	if (e) {
		fprintf(stderr, "%s: %s\n", path, pmp_strerror(e));
		return 1;
	}
	unsigned *runs = pmp_root_get(h, "runs");
	if (!runs && (!(runs = pmp_calloc(h, 1, sizeof *runs)) || pmp_root_set(h, "runs", runs)))
		return 1;
	printf("runs %u\n", ++*runs);
	return pmp_close(h) != 0;
}

static int preload(const char *word)
{
	for (int i = 0; i < 1000; i++) {
		char *s = malloc(strlen(word) + 16);
		if (!s)
			return 1;
		sprintf(s, "%s-%d", word, i);
	}
	char line[4096], lib[4096] = "none";
	FILE *maps = fopen("/proc/self/maps", "r");
	while (maps && fgets(line, sizeof line, maps)) {
		char *path = strchr(line, '/');
		if (path && strstr(path, "/libpmempreload.so")) {
			path[strcspn(path, "\n")] = 0;
			snprintf(lib, sizeof lib, "%s", path);
			break;
		}
	}
	if (maps)
		fclose(maps);
	printf("preload %s\n", lib);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "api"))
		return api(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "preload"))
		return preload(argv[2]);
	fprintf(stderr, "usage: %s api FILE | preload WORD\n", argv[0]);
	return 2;
}
