/* forkthreads.c: fork while other threads allocate, many times: no deadlock, the child sees a consistent heap and
 * cannot write into the parent's (snapshot and copy modes).
 * Usage: forkthreads NFORKS. Exit 0 on success; a hang is caught by alarm().
 * Must never: pass without having forked NFORKS times with allocating threads running.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_int stop;
static atomic_long ops;

static void *churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	void *slot[64] = {0};
	while (!atomic_load(&stop)) {
		unsigned i = (unsigned)rand_r(&seed) % 64;
		free(slot[i]);
		slot[i] = malloc((size_t)rand_r(&seed) % 3000 + 1);
		if (slot[i])
			memset(slot[i], (int)i, 1);
		atomic_fetch_add(&ops, 1);
	}
	for (int i = 0; i < 64; i++)
		free(slot[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	alarm(120);
	char *shared = strdup("parent data");
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	int failures = 0;
	for (int k = 0; k < n; k++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			alarm(20);
			/* the child allocates too, and writes into a block it inherited */
			char *p[200];
			for (int i = 0; i < 200; i++)
				p[i] = malloc((size_t)i * 7 + 1);
			for (int i = 0; i < 200; i++)
				free(p[i]);
			int ok = strcmp(shared, "parent data") == 0;
			memcpy(shared, "child  data", 11);
			_exit(ok ? 0 : 3);
		}
		int st;
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "child %d failed: status %#x\n", k, st);
			failures++;
		}
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	int isolated = strcmp(shared, "parent data") == 0;
	printf("forks=%d failures=%d isolated=%d ops>0=%d\n", n, failures, isolated, atomic_load(&ops) > 0);
	free(shared);
	return failures == 0 ? 0 : 1;
}
