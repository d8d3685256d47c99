/* mkcrash.c: writes a crash record into an existing heap file with the core's own writer (the function the
 * preload's signal handler calls), so the cli suite can test `pmempreload crash` without the preload.
 *
 * The frames are real return-address-like values inside this program (crash_site) and libc (so attribution to the
 * module with the greatest load address <= frame, and symbolisation, can be checked), and a heap address, which is
 * in no module (each module's extent is recorded, as the preload records it).
 * Must never: be used outside the tests; it needs internal symbols (linked with the static library).
 */
#include <errno.h>
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
	struct pmp_crash_modx *x = &rec.modx[rec.nmodules];
	struct pmp_crash_module *m = &rec.modules[rec.nmodules++];
	m->load_addr = info->dlpi_addr;
	snprintf(m->path, sizeof m->path, "%s", info->dlpi_name ? info->dlpi_name : "");
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t a = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type != PT_LOAD)
			continue;
		if (!x->start || a < x->start)
			x->start = a;
		if (a + ph->p_memsz > x->end)
			x->end = a + ph->p_memsz;
	}
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
	pmp_info_t info;
	if ((e = pmp_info(h, &info)) != 0) {
		fprintf(stderr, "mkcrash: info: %s\n", pmp_strerror(e));
		return 2;
	}
	rec.frames[3] = (uint64_t)(uintptr_t)info.base + 0x10040; /* a heap address: above every module, in none */
	rec.nframes = 4;
	rec.ext_magic = PMP_CRASH_EXT_MAGIC;
	rec.annex_err = ENODATA; /* no root set: mkcrash is no crashed process */
	crash_site();
	_pmp_crash_write(h, &rec);
	printf("CRASH_PID=%llu\nFRAME0=0x%llx\nFRAME3=0x%llx\n", (unsigned long long)rec.pid,
	       (unsigned long long)rec.frames[0], (unsigned long long)rec.frames[3]);
	if ((e = pmp_close(h)) != 0) {
		fprintf(stderr, "mkcrash: close: %s\n", pmp_strerror(e));
		return 2;
	}
	return 0;
}
