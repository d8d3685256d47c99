/* heapcheck.c: the preload suite's heap file checker: open read-only (anywhere), pmp_check, print pmp_stats.
 *
 * Usage: heapcheck FILE [--roots] [--crash]
 * Prints "key=value" lines (check, index_checked, clean, n_malloc, n_free, used_blocks, ...), the roots and the
 * crash record when asked. Exit 0 when pmp_check finds the heap consistent, 1 when not, 2 when it cannot be opened.
 * Must never: write to the file (PMP_OPEN_READONLY maps it private), or depend on the pmempreload command.
 */
#include <stdio.h>
#include <string.h>

#include "pmempreload.h"

static int print_root(const char *name, void *p, void *user)
{
	pmp_heap_t *h = user;
	pmp_off_t o = pmp_ptr_to_off(h, p);
	const char *s = pmp_off_to_ptr(h, o);
	printf("root %s=%s\n", name, s ? s : "(null)");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: heapcheck FILE [--roots] [--crash]\n");
		return 2;
	}
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = PMP_OPEN_READONLY;
	o.flags = PMP_FILE_ANYADDR;
	pmp_heap_t *h;
	int e = pmp_file_open(argv[1], &o, &h);
	if (e) {
		fprintf(stderr, "heapcheck: %s: %s\n", argv[1], pmp_strerror(e));
		return 2;
	}
	pmp_report_t r;
	int bad = pmp_check(h, &r);
	pmp_stats_t s;
	pmp_info_t in;
	pmp_stats(h, &s);
	pmp_info(h, &in);
	static const char *const ends[] = {"none", "close", "exit", "exec"};
	printf("file=%s\ncheck=%s\nindex_checked=%d\nclean=%d\nend=%s\nwriter_exe=%s\n", argv[1], bad ? "FAILED" : "ok",
	       r.index_checked, in.clean, in.end_reason >= 0 && in.end_reason <= 3 ? ends[in.end_reason] : "?",
	       in.writer_exe);
	if (bad)
		printf("problem=%d msg=%s\n", r.problem, r.msg);
	printf("n_malloc=%llu\nn_free=%llu\nn_realloc=%llu\nused_blocks=%llu\nused_bytes=%llu\nfree_blocks=%llu\n"
	       "mapped=%llu\nn_grow=%llu\nchain_used_blocks=%llu\n",
	       (unsigned long long)s.n_malloc, (unsigned long long)s.n_free, (unsigned long long)s.n_realloc,
	       (unsigned long long)s.used_blocks, (unsigned long long)s.used_bytes, (unsigned long long)s.free_blocks,
	       (unsigned long long)s.mapped, (unsigned long long)s.n_grow, (unsigned long long)r.used_blocks);
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--roots") == 0) {
			pmp_root_list(h, print_root, h);
		} else if (strcmp(argv[i], "--crash") == 0) {
			pmp_crash_info_t c;
			if (pmp_crash_get(h, &c) == 0) {
				printf("crash_signo=%d\ncrash_code=%d\ncrash_addr=%p\ncrash_frames=%u\ncrash_modules=%u\n",
				       c.signo, c.code, c.fault_addr, c.nframes, c.nmodules);
				for (unsigned k = 0; k < c.nframes; k++)
					printf("crash_frame=%#llx\n", (unsigned long long)c.frames[k]);
				for (unsigned k = 0; k < c.nmodules; k++)
					printf("crash_module=%#llx %s\n", (unsigned long long)c.modules[k].load_addr,
					       c.modules[k].path);
			} else {
				printf("crash=none\n");
			}
		}
	}
	pmp_close(h);
	return bad ? 1 : 0;
}
