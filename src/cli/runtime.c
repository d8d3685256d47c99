/* runtime.c: for `run`: whether the program is a language runtime that keeps most of its objects out of malloc (in
 * arenas it maps itself), so that the heap file would miss them, and what to do about it. A script counts as the
 * interpreter its #! line names (through env too).
 *
 * Must never: stop the run (this only warns), change the program's environment, or execute anything to find out.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* prog as execvp would find it, or NULL */
static char *resolve(const char *prog)
{
	if (strchr(prog, '/'))
		return realpath(prog, NULL);
	const char *path = getenv("PATH");
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");
		char buf[PATH_MAX];
		if (n && n + strlen(prog) + 2 < sizeof buf) {
			memcpy(buf, p, n);
			buf[n] = '/';
			strcpy(buf + n + 1, prog);
			if (!access(buf, X_OK))
				return realpath(buf, NULL);
		}
		p += n;
		if (*p)
			p++;
	}
	return NULL;
}

/* the interpreter of a #! script (the program env runs, for "#!/usr/bin/env python3"), or NULL */
static char *interpreter(const char *file)
{
	char line[256];
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, line, sizeof line - 1);
	close(fd);
	if (n < 3 || line[0] != '#' || line[1] != '!')
		return NULL;
	line[n] = 0;
	line[strcspn(line, "\n")] = 0;
	char *save, *tok = strtok_r(line + 2, " \t", &save);
	if (!tok)
		return NULL;
	const char *slash = strrchr(tok, '/');
	if (!strcmp(slash ? slash + 1 : tok, "env")) {
		while ((tok = strtok_r(NULL, " \t", &save)) != NULL && tok[0] == '-')
			;
		return tok ? resolve(tok) : NULL;
	}
	return realpath(tok, NULL);
}

static const struct {
	const char *prefix; /* of the executable's name */
	const char *env, *ok; /* no warning when env is set to ok (NULL: always warn) */
	const char *what;
} runtimes[] = {
	{"python", "PYTHONMALLOC", "malloc",
	 "allocates most objects from its own arenas (pymalloc, mapped with mmap), not through malloc, so they are not "
	 "in the heap file; set PYTHONMALLOC=malloc to put them there"},
	{"node", NULL, NULL, "keeps JavaScript objects in V8's own mapped heap: only native allocations reach the heap file"},
	{"java", NULL, NULL, "keeps Java objects in the JVM's own mapped heap: only native allocations reach the heap file"},
};

/* the runtime a name belongs to, or -1 */
static int runtime_of(const char *name)
{
	const char *slash = name ? strrchr(name, '/') : NULL, *base = slash ? slash + 1 : name;
	for (size_t i = 0; base && i < sizeof runtimes / sizeof runtimes[0]; i++)
		if (!strncmp(base, runtimes[i].prefix, strlen(runtimes[i].prefix)))
			return (int)i;
	return -1;
}

void cli_runtime_warn(const char *prog)
{
	/* the name given, the file it resolves to, the interpreter of a script: a wrapper (pyenv's shims are bash
	 * scripts named python3) still runs the runtime its name says */
	char *exe = resolve(prog), *in = exe ? interpreter(exe) : NULL;
	const char *names[3] = {in, exe, prog};
	for (size_t k = 0; k < 3; k++) {
		int i = runtime_of(names[k]);
		if (i < 0)
			continue;
		const char *v = runtimes[i].env ? getenv(runtimes[i].env) : NULL;
		/* PYTHONMALLOC=malloc_debug is malloc with hooks: its objects reach the heap too */
		if (!v || !runtimes[i].ok || strncmp(v, runtimes[i].ok, strlen(runtimes[i].ok))) {
			const char *slash = strrchr(names[k], '/');
			fprintf(stderr, "pmempreload: warning: %s %s\n", slash ? slash + 1 : names[k], runtimes[i].what);
		}
		break;
	}
	free(in);
	free(exe);
}
