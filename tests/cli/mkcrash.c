/* mkcrash.c: writes a crash record into an existing heap file with the core's own writer (the function the
 * preload's signal handler calls), so the cli suite can test `pmempreload crash` without the preload.
 *
 * The frames are real return-address-like values inside this program (crash_site) and libc (so attribution to the
 * module with the greatest load address <= frame, and symbolisation, can be checked).
 * Must never: be used outside the tests; it needs internal symbols (linked with the static library).
 */
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/heap.h"

static struct pmp_crash rec;

static int add_module(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	if (rec.nmodules >= PMP_CRASH_MODULES)
		return 1;
	struct pmp_crash_module *m = &rec.modules[rec.nmodules++];
	m->load_addr = info->dlpi_addr;
	snprintf(m->path, sizeof m->path, "%s", info->dlpi_name ? info->dlpi_name : "");
	return 0;
}

__attribute__((noinline)) void crash_site(void);
__attribute__((noinline)) void crash_site(void)
{
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: mkcrash FILE\n");
		return 2;
	}
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = PMP_OPEN_EXISTING;
	pmp_heap_t *h;
	int e = pmp_file_open(argv[1], &o, &h);
	if (e) {
		fprintf(stderr, "mkcrash: %s: %s\n", argv[1], pmp_strerror(e));
		return 2;
	}
	rec.signo = SIGSEGV;
	rec.code = SEGV_MAPERR;
	rec.fault_addr = 0xdead0;
	rec.time_ns = 1700000000123456789ull;
	rec.pid = (uint64_t)getpid();
	rec.tid = (uint64_t)getpid();
	dl_iterate_phdr(add_module, NULL);
	/* innermost first: a pc inside crash_site, then return-address-like values in main and in libc */
	rec.frames[0] = (uint64_t)(uintptr_t)&crash_site;
	rec.frames[1] = (uint64_t)(uintptr_t)&main + 1;
	rec.frames[2] = (uint64_t)(uintptr_t)&abort + 1;
	rec.nframes = 3;
	crash_site();
	_pmp_crash_write(h, &rec);
	printf("CRASH_PID=%llu\nFRAME0=0x%llx\n", (unsigned long long)rec.pid, (unsigned long long)rec.frames[0]);
	if ((e = pmp_close(h)) != 0) {
		fprintf(stderr, "mkcrash: close: %s\n", pmp_strerror(e));
		return 2;
	}
	return 0;
}
