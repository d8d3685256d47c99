/* forktorture.c: the fork torture of the crash suite (issue 7), run under the preload. Threads allocate and free
 * (small and large blocks) while other threads fork; each child allocates, frees a large block, writes a file of
 * its own, and ends by exit, _exit, or an exec of this program that reads the file back. The parent checks every
 * child's file byte for byte, and with PMEMPRELOAD_FORK=copy every heap file the child left (pmp_check on a
 * read-only view). A watchdog aborts when no fork completes for 30 s: a hang is a failure, never a wait.
 *
 * Usage: forktorture DIR FORKS [children-allocate: 1|0]      (mode, path pattern and KEEP come from the environment)
 *        forktorture --verify FILE SEED                       (what an exec'd child runs)
 * Prints "forks=N failures=F heaps_checked=H". Exit 0 when F is 0.
 * Must never: count a child as good without reading back its whole file, or leave a file of its own in DIR.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pmempreload.h"

#define CHURN_THREADS 3
#define FORK_THREADS 2
#define FILE_LEN (256u << 10)

static const char *dir;
static long forks_wanted;
static int children_allocate = 1;
static atomic_long forks_done, failures, heaps_checked;
static atomic_int stop;
static char self[4096];

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ull;
	return x ^ (x >> 29);
}

static void fill(unsigned char *b, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t w = mix(seed + i);
		memcpy(b + i, &w, n - i < 8 ? n - i : 8);
	}
}

static int file_matches(const char *path, uint64_t seed)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	unsigned char *want = malloc(FILE_LEN), *got = malloc(FILE_LEN);
	fill(want, FILE_LEN, seed);
	size_t n = 0;
	ssize_t r;
	while (n < FILE_LEN && (r = read(fd, got + n, FILE_LEN - n)) > 0)
		n += (size_t)r;
	char extra;
	int ok = n == FILE_LEN && read(fd, &extra, 1) == 0 && memcmp(want, got, FILE_LEN) == 0;
	close(fd);
	free(want);
	free(got);
	return ok;
}

/* ---- the child ---- */

static _Noreturn void child(uint64_t seed, unsigned how)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/child.%d.data", dir, (int)getpid());
	unsigned char *buf = NULL;
	if (children_allocate) {
		unsigned char *big = malloc(3u << 20); /* a large block: freed below, its pages given back */
		memset(big, 3, 3u << 20);
		buf = malloc(FILE_LEN);
		fill(buf, FILE_LEN, seed);
		free(big);
	} else {
		static unsigned char stat_buf[FILE_LEN]; /* unsafe mode: a child that allocates corrupts the parent */
		buf = stat_buf;
		fill(buf, FILE_LEN, seed);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf, FILE_LEN) != (ssize_t)FILE_LEN || fsync(fd) != 0 || close(fd) != 0)
		_exit(3);
	if (children_allocate) {
		void *again = malloc(2u << 20);
		memset(again, 4, 2u << 20);
		free(again);
		free(buf);
	}
	char s[32];
	snprintf(s, sizeof s, "%llu", (unsigned long long)seed);
	switch (how % 3) {
	case 0:
		exit(0);
	case 1:
		_exit(0);
	default:
		execl(self, "forktorture", "--verify", path, s, (char *)NULL);
		_exit(5);
	}
}

/* ---- the parent's threads ---- */

static void *churn(void *arg)
{
	uint64_t r = (uint64_t)(uintptr_t)arg;
	void *slot[256] = {0};
	while (!atomic_load(&stop)) {
		r = mix(r);
		unsigned i = (unsigned)(r % 256);
		free(slot[i]);
		size_t n = (r >> 8) % 512 == 0 ? (size_t)(1u << 20) + (r >> 20) % (1u << 20) : (size_t)(r >> 8) % 2000;
		slot[i] = malloc(n);
		if (slot[i])
			memset(slot[i], (int)i, n < 64 ? n : 64);
	}
	for (unsigned i = 0; i < 256; i++)
		free(slot[i]);
	return NULL;
}

/* the heap files a child left (copy mode, KEEP=always): each must pass pmp_check; then they go */
static void check_child_heaps(pid_t pid)
{
	const char *pat = getenv("PMEMPRELOAD_PATH");
	if (!pat || !strstr(pat, "%e.%p.heap"))
		return;
	for (int k = 0; k < 3; k++) {
		char path[4200];
		if (k == 0)
			snprintf(path, sizeof path, "%s/forktorture.%d.heap", dir, (int)pid);
		else
			snprintf(path, sizeof path, "%s/forktorture.%d.heap.%d", dir, (int)pid, k);
		struct stat st;
		if (stat(path, &st) != 0)
			continue;
		pmp_file_opts_t o;
		memset(&o, 0, sizeof o);
		o.mode = PMP_OPEN_READONLY;
		o.flags = PMP_FILE_ANYADDR;
		pmp_heap_t *h;
		pmp_report_t rep;
		int e = pmp_file_open(path, &o, &h);
		if (e == 0) {
			e = pmp_check(h, &rep);
			pmp_close(h);
		}
		if (e) {
			fprintf(stderr, "forktorture: heap %s of child %d: %s %s\n", path, (int)pid, pmp_strerror(e),
				e == PMP_ECORRUPT ? rep.msg : "");
			atomic_fetch_add(&failures, 1);
		}
		atomic_fetch_add(&heaps_checked, 1);
		unlink(path);
	}
}

static void *forker(void *arg)
{
	uint64_t r = (uint64_t)(uintptr_t)arg;
	while (atomic_load(&forks_done) < forks_wanted) {
		r = mix(r);
		uint64_t seed = r;
		pid_t pid = fork();
		if (pid < 0) {
			fprintf(stderr, "forktorture: fork: %s\n", strerror(errno));
			atomic_fetch_add(&failures, 1);
			break;
		}
		if (pid == 0)
			child(seed, (unsigned)(r >> 40));
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "forktorture: child %d ended with status %#x\n", (int)pid, st);
			atomic_fetch_add(&failures, 1);
		}
		char path[4200];
		snprintf(path, sizeof path, "%s/child.%d.data", dir, (int)pid);
		if (!file_matches(path, seed)) {
			fprintf(stderr, "forktorture: child %d's file is not what it wrote\n", (int)pid);
			atomic_fetch_add(&failures, 1);
		}
		unlink(path);
		check_child_heaps(pid);
		atomic_fetch_add(&forks_done, 1);
	}
	return NULL;
}

static void *watchdog(void *arg)
{
	(void)arg;
	long last = -1;
	int still = 0;
	while (!atomic_load(&stop)) {
		sleep(1);
		long now = atomic_load(&forks_done);
		still = now == last ? still + 1 : 0;
		last = now;
		if (still >= 30) {
			fprintf(stderr, "forktorture: no fork completed for 30 s at %ld forks: hang\n", now);
			_exit(9);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--verify") == 0)
		return file_matches(argv[2], strtoull(argv[3], NULL, 10)) ? 0 : 6;
	if (argc < 3)
		return 2;
	dir = argv[1];
	forks_wanted = atol(argv[2]);
	if (argc > 3)
		children_allocate = atoi(argv[3]);
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return 2;
	self[n] = 0;
	pthread_t c[CHURN_THREADS], f[FORK_THREADS], w;
	pthread_create(&w, NULL, watchdog, NULL);
	for (int i = 0; i < CHURN_THREADS; i++)
		pthread_create(&c[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < FORK_THREADS; i++)
		pthread_create(&f[i], NULL, forker, (void *)(uintptr_t)(100 + i));
	for (int i = 0; i < FORK_THREADS; i++)
		pthread_join(f[i], NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < CHURN_THREADS; i++)
		pthread_join(c[i], NULL);
	pthread_join(w, NULL);
	printf("forks=%ld failures=%ld heaps_checked=%ld\n", atomic_load(&forks_done), atomic_load(&failures),
	       atomic_load(&heaps_checked));
	return atomic_load(&failures) != 0;
}
