/* run.c: the `run` verb: start a program with the preload library and the PMEMPRELOAD_* options of DESIGN.md's
 * table, wait for it, say where its heap file is and how it ended, and exit with its status.
 *
 * Must never: load the preload into this process (LD_PRELOAD only reaches the child's exec), invent an option the
 * shim does not read, or hide how the program ended (a signal becomes 128+N, as a shell reports it).
 */
#include <dirent.h>
#include <errno.h>
#include <time.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#ifndef PMP_BUILD_ROOT
#define PMP_BUILD_ROOT ""
#endif
#ifndef PMP_INSTALL_LIBDIR
#define PMP_INSTALL_LIBDIR "/usr/local/lib"
#endif
#define PRELOAD_NAME "libpmempreload.so"

static char *join(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s", a, b, c);
	return s;
}

/* PMEMPRELOAD_LIB; else the build tree's library when this binary runs from the build tree; else the installed one */
static char *find_library(void)
{
	const char *env = getenv("PMEMPRELOAD_LIB");
	if (env && *env) {
		if (access(env, R_OK)) {
			cli_errorf("run: PMEMPRELOAD_LIB=%s: %s", env, strerror(errno));
			return NULL;
		}
		return realpath(env, NULL);
	}
	char *self = realpath("/proc/self/exe", NULL);
	size_t rl = strlen(PMP_BUILD_ROOT);
	if (self && rl && !strncmp(self, PMP_BUILD_ROOT, rl) && self[rl] == '/') {
		char *lib = join(PMP_BUILD_ROOT, "/preload/", PRELOAD_NAME);
		if (lib && !access(lib, R_OK)) {
			free(self);
			return lib;
		}
		free(lib);
	}
	free(self);
	char *lib = join(PMP_INSTALL_LIBDIR, "/", PRELOAD_NAME);
	if (lib && !access(lib, R_OK))
		return lib;
	cli_errorf("run: cannot find %s (looked in %s%s%s); set PMEMPRELOAD_LIB", PRELOAD_NAME,
		   rl ? PMP_BUILD_ROOT "/preload, " : "", PMP_INSTALL_LIBDIR, "");
	free(lib);
	return NULL;
}

static char *absolute(const char *path)
{
	if (path[0] == '/')
		return strdup(path);
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return NULL;
	return join(cwd, "/", path);
}

static int written_since(const struct stat *st, const struct timespec *t0)
{
	return st->st_mtim.tv_sec > t0->tv_sec || (st->st_mtim.tv_sec == t0->tv_sec && st->st_mtim.tv_nsec >= t0->tv_nsec);
}

/* 1 if the heap file at path holds a crash record (opened read-only, quietly: it may be anything) */
static int has_crash(const char *path)
{
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = PMP_OPEN_READONLY;
	o.flags = PMP_FILE_ANYADDR;
	pmp_heap_t *h;
	if (pmp_file_open(path, &o, &h))
		return 0;
	pmp_crash_info_t *ci = malloc(sizeof *ci);
	int yes = ci && pmp_crash_get(h, ci) == 0;
	free(ci);
	pmp_close(h);
	return yes;
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

/* The preload names a heap PATH.N when PATH is taken (an exec'd program, a forked child with the copy policy):
 * say how many of those the run wrote, and name every heap of the run that holds a crash record. */
static void report_heaps(const char *path, int main_written, const struct timespec *t0)
{
	char *dir = strdup(path);
	if (!dir)
		return;
	char *slash = strrchr(dir, '/');
	const char *base = slash + 1;
	*slash = 0;
	size_t bl = strlen(base), n = 0, cap = 0;
	unsigned *num = NULL;
	DIR *d = opendir(dir[0] ? dir : "/");
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		const char *nm = de->d_name, *digits = nm + bl + 1;
		if (strncmp(nm, base, bl) || nm[bl] != '.' || !*digits || strspn(digits, "0123456789") != strlen(digits) ||
		    strlen(digits) > 9)
			continue;
		char *full = join(dir, "/", nm);
		struct stat st;
		if (full && !stat(full, &st) && written_since(&st, t0)) {
			if (n == cap) {
				unsigned *v = realloc(num, (cap = cap ? cap * 2 : 16) * sizeof *v);
				if (!v) {
					free(full);
					break;
				}
				num = v;
			}
			num[n++] = (unsigned)strtoul(digits, NULL, 10);
		}
		free(full);
	}
	if (d)
		closedir(d);
	if (n) {
		qsort(num, n, sizeof *num, cmp_unsigned);
		if (n == 1)
			fprintf(stderr, "pmempreload: also written during the run: %s.%u\n", path, num[0]);
		else
			fprintf(stderr, "pmempreload: also written during the run: %zu heap files %s.N, N from %u to %u\n", n,
				path, num[0], num[n - 1]);
	}
	if (main_written && has_crash(path))
		fprintf(stderr, "pmempreload: crash record in %s (pmempreload crash %s)\n", path, path);
	for (size_t i = 0; i < n && i < 1024; i++) {
		char suffix[16];
		snprintf(suffix, sizeof suffix, ".%u", num[i]);
		char *full = join(path, suffix, "");
		if (full && has_crash(full))
			fprintf(stderr, "pmempreload: crash record in %s (pmempreload crash %s)\n", full, full);
		free(full);
	}
	free(num);
	free(dir);
}

static int one_of(const char *opt, const char *v, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (!strcmp(v, *allowed))
			return 1;
	cli_errorf("run: %s: '%s' is not one of the accepted values", opt, v);
	return 0;
}

int cli_run(int argc, char **argv)
{
	const char *heap = NULL, *keep = "always", *mode = NULL, *size = NULL;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i], **dst = NULL;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			cli_usage_verb("run");
			return CLI_OK;
		}
		size_t alen = strcspn(a, "=");
		if (alen == 6 && !strncmp(a, "--heap", 6))
			dst = &heap;
		else if (alen == 6 && !strncmp(a, "--keep", 6))
			dst = &keep;
		else if (alen == 6 && !strncmp(a, "--mode", 6))
			dst = &mode;
		else if (alen == 6 && !strncmp(a, "--size", 6))
			dst = &size;
		if (!dst) {
			cli_errorf("run: unknown option '%s' (put the program after --)", a);
			cli_usage_verb("run");
			return CLI_ERR;
		}
		if (a[alen] == '=')
			*dst = a + alen + 1;
		else if (i + 1 < argc)
			*dst = argv[++i];
		else {
			cli_errorf("run: option %s needs a value", a);
			return CLI_ERR;
		}
	}
	if (i >= argc) {
		cli_errorf("run: no program given");
		cli_usage_verb("run");
		return CLI_ERR;
	}
	static const char *const keeps[] = {"always", "crash", "never", NULL};
	static const char *const modes[] = {"fresh", "open", "readonly", NULL};
	uint64_t sz;
	if (!one_of("--keep", keep, keeps) || (mode && !one_of("--mode", mode, modes)) ||
	    (size && cli_parse_size(size, &sz)))
		return CLI_ERR;
	if (heap && !*heap) {
		cli_errorf("run: --heap needs a file name");
		return CLI_ERR;
	}
	char **prog = argv + i;
	char *lib = find_library();
	if (!lib)
		return CLI_ERR;
	char *path;
	if (heap) {
		path = absolute(heap);
	} else {
		const char *slash = strrchr(prog[0], '/'), *name = slash ? slash + 1 : prog[0];
		char *rel = join(name, ".heap", "");
		path = rel ? absolute(rel) : NULL;
		free(rel);
	}
	const char *old = getenv("LD_PRELOAD");
	char *preload = old && *old ? join(lib, " ", old) : strdup(lib);
	if (!path || !preload) {
		cli_errorf("run: %s", strerror(errno ? errno : ENOMEM));
		return CLI_ERR;
	}
	/* set here, before fork: this process has already been loaded, so only the child's exec sees them */
	if (setenv("LD_PRELOAD", preload, 1) || setenv("PMEMPRELOAD_PATH", path, 1) ||
	    setenv("PMEMPRELOAD_KEEP", keep, 1) || (mode && setenv("PMEMPRELOAD_MODE", mode, 1)) ||
	    (size && setenv("PMEMPRELOAD_SIZE", size, 1))) {
		cli_errorf("run: setenv: %s", strerror(errno));
		return CLI_ERR;
	}
	/* like system(): the terminal's ^C and ^\ are for the program; we report how it ended */
	struct sigaction ign, old_int, old_quit;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	struct timespec t0;
	clock_gettime(CLOCK_REALTIME, &t0);
	t0.tv_sec -= 1; /* file times are coarser than the clock on some file systems */
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		cli_errorf("run: fork: %s", strerror(errno));
		return CLI_ERR;
	}
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		execvp(prog[0], prog);
		int e = errno;
		fprintf(stderr, "pmempreload: run: %s: %s\n", prog[0], strerror(e));
		_exit(e == ENOENT ? 127 : 126);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			cli_errorf("run: waitpid: %s", strerror(errno));
			return CLI_ERR;
		}
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	struct stat sb;
	int kept = !stat(path, &sb), fresh = kept && written_since(&sb, &t0);
	char how[96], sn[32];
	int rc;
	if (WIFSIGNALED(st)) {
		int sig = WTERMSIG(st);
		snprintf(how, sizeof how, "killed by %s%s", cli_signame(sig, sn, sizeof sn),
			 WCOREDUMP(st) ? " (core dumped)" : "");
		rc = 128 + sig;
	} else {
		rc = WEXITSTATUS(st);
		snprintf(how, sizeof how, "exited with status %d", rc);
	}
	if (strchr(path, '%'))
		fprintf(stderr, "pmempreload: %s %s; heap file pattern %s\n", prog[0], how, path);
	else
		fprintf(stderr, "pmempreload: %s %s; heap file %s%s\n", prog[0], how, path,
			!kept ? " (not kept)" : fresh ? "" : " (not written by this run)");
	if (!strchr(path, '%'))
		report_heaps(path, fresh, &t0);
	free(lib);
	free(path);
	free(preload);
	return rc;
}
