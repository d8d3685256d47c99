/* ender.c: a program that ends one chosen way, for the preload suite's exit matrix (t-exit.sh).
 *
 * Usage: ender HOW   with HOW one of: exit _exit _Exit return exec exec-fail abort kill9 sigterm sigterm-handler
 * execvp execl fexecve. Before ending it allocates 1,000 blocks (so the heap holds something) and, for exec-fail,
 * checks after the failed exec that the heap still serves and frees allocations, then exits 0. exec* runs
 * /bin/true. Prints "ready" before ending.
 * Must never: end in any other way than the one asked for, or pass exec-fail without the heap working after it.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pmempreload.h"

extern char **environ;

static void on_term(int sig)
{
	(void)sig;
	exit(0);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	const char *how = argv[1];
	static void *keep[1000];
	for (int i = 0; i < 1000; i++) {
		keep[i] = malloc(32 + i);
		memset(keep[i], i & 0xff, 32 + i);
	}
	printf("ready\n");
	fflush(stdout);
	char *const targv[] = {"true", NULL};
	if (!strcmp(how, "exit"))
		exit(0);
	if (!strcmp(how, "_exit"))
		_exit(0);
	if (!strcmp(how, "_Exit"))
		_Exit(0);
	if (!strcmp(how, "return"))
		return 0;
	if (!strcmp(how, "exec"))
		execv("/bin/true", targv);
	if (!strcmp(how, "execvp"))
		execvp("true", targv);
	if (!strcmp(how, "execl"))
		execl("/bin/true", "true", (char *)NULL);
	if (!strcmp(how, "fexecve")) {
		int fd = open("/bin/true", O_RDONLY | O_CLOEXEC);
		fexecve(fd, targv, environ);
	}
	if (!strcmp(how, "exec-fail")) {
		if (execv("/nonexistent/program", targv) != -1)
			return 3;
		pmp_heap_t *h = pmp_default();
		void *p = malloc(100);
		if (!h || !pmp_owns(h, p)) {
			fprintf(stderr, "ender: after a failed exec the heap no longer serves malloc\n");
			return 4;
		}
		free(p);
		for (int i = 0; i < 1000; i++)
			free(keep[i]);
		exit(0);
	}
	if (!strcmp(how, "abort"))
		abort();
	if (!strcmp(how, "kill9"))
		raise(SIGKILL);
	if (!strcmp(how, "sigterm"))
		raise(SIGTERM);
	if (!strcmp(how, "sigterm-handler")) {
		signal(SIGTERM, on_term);
		raise(SIGTERM);
	}
	fprintf(stderr, "ender: %s did not end the program\n", how);
	return 5;
}
