/* runheaps.c: for `run`, after the program ended: which heap file it used and which others the run wrote (an exec'd
 * program or a forked child names its heap by the same pattern, or PATH.N when PATH is taken), and which of them
 * hold a crash record. The heap file of the program is the one whose superblock names its pid as the writer.
 *
 * Must never: expand a pattern differently from the preload where it matters (%p and %u are known here; %e and %t
 * match anything and the writer pid decides), trust a candidate without opening it read-only, or write to any file.
 */
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* the glob(3) expression for the files a pattern names for pid: literal parts escaped */
static char *to_glob(const char *pat, long pid)
{
	size_t cap = 2 * strlen(pat) + 64, n = 0;
	char *g = malloc(cap);
	if (!g)
		return NULL;
	for (const char *p = pat; *p && n + 32 < cap; p++) {
		if (*p != '%') {
			if (strchr("*?[]\\", *p))
				g[n++] = '\\';
			g[n++] = *p;
			continue;
		}
		switch (p[1]) {
		case 'p': n += (size_t)snprintf(g + n, cap - n, "%ld", pid); p++; break;
		case 'u': n += (size_t)snprintf(g + n, cap - n, "%u", (unsigned)geteuid()); p++; break;
		case '%': g[n++] = '%'; p++; break;
		case 0: g[n++] = '%'; break;
		default: g[n++] = '*'; p++; break; /* %e, %t: the writer pid tells them apart */
		}
	}
	g[n] = 0;
	return g;
}

/* PATH.N as the preload numbers a taken name: the last dot followed by digits only */
static int numbered(const char *name)
{
	const char *d = strrchr(name, '.');
	return d && d[1] && strspn(d + 1, "0123456789") == strlen(d + 1);
}

struct probe {
	int ok;           /* a heap file that opens */
	uint64_t writer;  /* its writer pid */
	int crash;        /* holds a crash record */
};

static struct probe probe(const char *path)
{
	struct probe r = {0, 0, 0};
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = PMP_OPEN_READONLY;
	o.flags = PMP_FILE_ANYADDR;
	pmp_heap_t *h;
	pmp_info_t *i = malloc(sizeof *i);
	pmp_crash_info_t *ci = malloc(sizeof *ci);
	if (i && ci && !pmp_file_open(path, &o, &h)) {
		r.ok = !pmp_info(h, i);
		r.writer = r.ok ? i->writer_pid : 0;
		r.crash = pmp_crash_get(h, ci) == 0;
		pmp_close(h);
	}
	free(i);
	free(ci);
	return r;
}

static int written_since(const char *path, const struct timespec *t0)
{
	struct stat st;
	return !stat(path, &st) && S_ISREG(st.st_mode) &&
	       (st.st_mtim.tv_sec > t0->tv_sec || (st.st_mtim.tv_sec == t0->tv_sec && st.st_mtim.tv_nsec >= t0->tv_nsec));
}

void cli_run_heaps(const struct cli_run_end *end)
{
	char *g = to_glob(end->path, (long)end->pid), *gn = g ? malloc(strlen(g) + 16) : NULL;
	glob_t gl;
	memset(&gl, 0, sizeof gl);
	size_t plain = 0;
	if (gn) {
		snprintf(gn, strlen(g) + 16, "%s.[0-9]*", g);
		glob(g, 0, NULL, &gl);
		plain = gl.gl_pathc;
		glob(gn, GLOB_APPEND, NULL, &gl);
	}
	const char *main_file = NULL, *other = NULL;
	size_t others = 0;
	struct probe *pr = calloc(gl.gl_pathc ? gl.gl_pathc : 1, sizeof *pr);
	for (size_t k = 0; pr && k < gl.gl_pathc && k < 1024; k++) {
		const char *f = gl.gl_pathv[k];
		if ((k >= plain && !numbered(f)) || !written_since(f, &end->t0))
			continue;
		pr[k] = probe(f);
		if (!pr[k].ok)
			continue;
		if (!main_file && pr[k].writer == (uint64_t)end->pid) {
			main_file = f;
			continue;
		}
		others++;
		if (!other)
			other = f;
	}
	if (main_file)
		fprintf(stderr, "pmempreload: %s %s; heap file %s\n", end->prog, end->how, main_file);
	else if (!strchr(end->path, '%') && !access(end->path, F_OK))
		fprintf(stderr, "pmempreload: %s %s; heap file %s (not written by this run)\n", end->prog, end->how,
			end->path);
	else if (!strcmp(end->keep, "never") || (strcmp(end->keep, "always") && !end->signaled))
		fprintf(stderr, "pmempreload: %s %s; no heap file kept (keep=%s)\n", end->prog, end->how, end->keep);
	else
		fprintf(stderr, "pmempreload: %s %s; no heap file written (%s)\n", end->prog, end->how, end->path);
	if (others == 1)
		fprintf(stderr, "pmempreload: also written during the run: %s\n", other);
	else if (others)
		fprintf(stderr, "pmempreload: also written during the run: %zu heap files, %s and others\n", others, other);
	for (size_t k = 0; pr && k < gl.gl_pathc && k < 1024; k++)
		if (pr[k].crash)
			fprintf(stderr, "pmempreload: crash record in %s (pmempreload crash %s)\n", gl.gl_pathv[k],
				gl.gl_pathv[k]);
	free(pr);
	globfree(&gl);
	free(gn);
	free(g);
}
