/* run.c: the `run` verb: start a program with the preload library and the PMEMPRELOAD_* options of DESIGN.md's
 * table (the environment's, and the flags' where given), wait for it, say how it ended and which heap file it
 * used (runheaps.c), and exit with its status.
 *
 * Must never: load the preload into this process (LD_PRELOAD only reaches the child's exec), invent an option the
 * shim does not read, or hide how the program ended (a signal becomes 128+N, as a shell reports it).
 */
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
#ifndef PMP_BINDIR_TO_LIBDIR
#define PMP_BINDIR_TO_LIBDIR "" /* libdir relative to bindir; empty when either is absolute */
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

static int readable(char *lib)
{
	if (lib && !access(lib, R_OK))
		return 1;
	free(lib);
	return 0;
}

/* PMEMPRELOAD_LIB; else the build tree's library when this binary runs from the build tree; else the one installed
 * beside this binary (bindir/../libdir: any prefix, a staged DESTDIR, a moved tree); else the configured libdir */
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
	char *self = realpath("/proc/self/exe", NULL), *lib;
	size_t rl = strlen(PMP_BUILD_ROOT);
	if (self && rl && !strncmp(self, PMP_BUILD_ROOT, rl) && self[rl] == '/' &&
	    readable(lib = join(PMP_BUILD_ROOT, "/preload/", PRELOAD_NAME))) {
		free(self);
		return lib;
	}
	char *slash = self ? strrchr(self, '/') : NULL;
	if (slash && PMP_BINDIR_TO_LIBDIR[0]) {
		slash[1] = 0;
		if (readable(lib = join(self, PMP_BINDIR_TO_LIBDIR "/", PRELOAD_NAME))) {
			free(self);
			return lib;
		}
	}
	free(self);
	if (readable(lib = join(PMP_INSTALL_LIBDIR, "/", PRELOAD_NAME)))
		return lib;
	cli_errorf("run: cannot find %s (looked in %s%s and %s); set PMEMPRELOAD_LIB", PRELOAD_NAME,
		   rl ? PMP_BUILD_ROOT "/preload, " : "", "BINDIR/" PMP_BINDIR_TO_LIBDIR, PMP_INSTALL_LIBDIR);
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
	const char *heap = NULL, *keep = NULL, *mode = NULL, *size = NULL;
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
	if ((keep && !one_of("--keep", keep, keeps)) || (mode && !one_of("--mode", mode, modes)) ||
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
	/* What the flags do not say, the environment does: every PMEMPRELOAD_* variable reaches the program as it is,
	 * and only a flag replaces one. run's own defaults (./PROG.heap, keep=always, so that the heap outlives a clean
	 * exit for inspection) fill in only for variables that are not set. */
	const char *env_path = getenv("PMEMPRELOAD_PATH"), *env_keep = getenv("PMEMPRELOAD_KEEP");
	int set_path = heap || !env_path || !*env_path, set_keep = keep || !env_keep || !*env_keep;
	char *path;
	if (heap) {
		path = absolute(heap);
	} else if (!set_path) {
		path = absolute(env_path); /* the program starts in this directory: a relative name means the same here */
	} else {
		const char *slash = strrchr(prog[0], '/'), *name = slash ? slash + 1 : prog[0];
		char *rel = join(name, ".heap", "");
		path = rel ? absolute(rel) : NULL;
		free(rel);
	}
	if (!keep)
		keep = set_keep ? "always" : env_keep;
	const char *old = getenv("LD_PRELOAD");
	char *preload = old && *old ? join(lib, " ", old) : strdup(lib);
	if (!path || !preload) {
		cli_errorf("run: %s", strerror(errno ? errno : ENOMEM));
		return CLI_ERR;
	}
	/* set here, before fork: this process has already been loaded, so only the child's exec sees them */
	if (setenv("LD_PRELOAD", preload, 1) || (set_path && setenv("PMEMPRELOAD_PATH", path, 1)) ||
	    (set_keep && setenv("PMEMPRELOAD_KEEP", keep, 1)) || (mode && setenv("PMEMPRELOAD_MODE", mode, 1)) ||
	    (size && setenv("PMEMPRELOAD_SIZE", size, 1))) {
		cli_errorf("run: setenv: %s", strerror(errno));
		return CLI_ERR;
	}
	cli_runtime_warn(prog[0]);
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
	char how[96], sn[32];
	int rc;
	struct cli_run_end end = {prog[0], how, path, keep, (long)pid, WIFSIGNALED(st), t0};
	if (WIFSIGNALED(st)) {
		int sig = WTERMSIG(st);
		snprintf(how, sizeof how, "killed by %s%s", cli_signame(sig, sn, sizeof sn),
			 WCOREDUMP(st) ? " (core dumped)" : "");
		rc = 128 + sig;
	} else {
		rc = WEXITSTATUS(st);
		snprintf(how, sizeof how, "exited with status %d", rc);
	}
	cli_run_heaps(&end);
	free(lib);
	free(path);
	free(preload);
	return rc;
}
