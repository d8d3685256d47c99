/* secureinfo.c: the preload suite's secure-execution probe, linked directly against libpmempreload.so (not
 * LD_PRELOAD, which the loader ignores for a setuid program) so that a setuid copy still runs the shim.
 *
 * Prints "key=value" lines: secure (AT_SECURE), uid, euid, then either "heap=inert" or "heap=active", base,
 * mapped_at, path (the file mapped at the heap, from /proc/self/maps) and check (pmp_check of the live heap).
 * Exit 0 when it could report, 1 when pmp_check fails, 2 on a usage/system error.
 * Must never: take options of its own, write to the heap file other than through malloc, or leave files behind
 * (the heap file follows the shim's KEEP policy).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "pmempreload.h"

/* the file backing the mapping that contains addr, from /proc/self/maps; "" when none */
static void mapped_file(const void *addr, char *out, size_t len)
{
	out[0] = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return;
	char line[4096];
	uintptr_t a = (uintptr_t)addr;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		int pos = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &pos) < 2 || pos == 0)
			continue;
		if (a < lo || a >= hi)
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(out, len, "%s", line + pos);
		break;
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "usage: %s\n", argv[0]);
		return 2;
	}
	/* something for the heap to hold, from this program */
	char *note = malloc(64);
	if (!note)
		return 2;
	snprintf(note, 64, "secureinfo %d", (int)getpid());
	printf("secure=%lu\nuid=%u\neuid=%u\n", getauxval(AT_SECURE), (unsigned)getuid(), (unsigned)geteuid());
	pmp_heap_t *h = pmp_default();
	if (!h) {
		printf("heap=inert\n");
		free(note);
		return 0;
	}
	pmp_info_t in;
	if (pmp_info(h, &in) != 0)
		return 2;
	char path[4096];
	mapped_file(in.mapped_at, path, sizeof path);
	pmp_report_t r;
	int bad = pmp_check(h, &r);
	printf("heap=active\nbase=%p\nmapped_at=%p\npath=%s\ncheck=%s\n", in.base, in.mapped_at, path,
	       bad ? "FAILED" : "ok");
	free(note);
	return bad ? 1 : 0;
}
