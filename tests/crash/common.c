/* common.c: the crash suite's scaffolding (see common.h): payloads, scratch directories, file snapshots, children
 * with captured stderr.
 *
 * Holds: helpers with no opinion on heap validity (pmp_check is the only oracle).
 * Must never: touch the heap's memory directly or swallow an error silently: helpers report failures to the caller.
 */
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t mix(uint64_t seed, uint64_t id, uint64_t seq)
{
	uint64_t s = seed ^ (id * 0x9e3779b97f4a7c15ull) ^ (seq * 0xc2b2ae3d27d4eb4full);
	return cr_rand(&s);
}

size_t cr_payload_len(uint64_t seed, uint64_t id, uint64_t seq, size_t max_len)
{
	size_t min = sizeof(struct cr_payload_hdr);
	if (max_len <= min)
		return min;
	return min + (size_t)(mix(seed, id, seq) % (max_len - min + 1));
}

void cr_payload_fill(void *p, uint64_t seed, uint64_t id, uint64_t seq, size_t len)
{
	struct cr_payload_hdr h = {CR_PAYLOAD_MAGIC, id, seq, len};
	memcpy(p, &h, sizeof h);
	uint64_t s = mix(seed, id, seq) ^ 0x5a5a5a5a5a5a5a5aull;
	unsigned char *b = (unsigned char *)p + sizeof h;
	for (size_t i = 0; i < len - sizeof h; i += 8) {
		uint64_t v = cr_rand(&s);
		size_t n = len - sizeof h - i < 8 ? len - sizeof h - i : 8;
		memcpy(b + i, &v, n);
	}
}

int cr_payload_verify(const void *p, size_t avail, uint64_t seed, uint64_t id, uint64_t *seq, const char **why)
{
	struct cr_payload_hdr h;
	if (avail < sizeof h) {
		*why = "block smaller than a payload header";
		return -1;
	}
	memcpy(&h, p, sizeof h);
	if (h.magic != CR_PAYLOAD_MAGIC) {
		*why = "payload magic overwritten";
		return -1;
	}
	if (h.name_id != id) {
		*why = "payload belongs to another root";
		return -1;
	}
	if (h.len < sizeof h || h.len > avail) {
		*why = "payload length does not fit its block";
		return -1;
	}
	uint64_t s = mix(seed, id, h.seq) ^ 0x5a5a5a5a5a5a5a5aull;
	const unsigned char *b = (const unsigned char *)p + sizeof h;
	size_t body = (size_t)h.len - sizeof h;
	for (size_t i = 0; i < body; i += 8) {
		uint64_t v = cr_rand(&s);
		size_t n = body - i < 8 ? body - i : 8;
		if (memcmp(b + i, &v, n) != 0) {
			*why = "payload bytes differ from the version its header names (torn)";
			return -1;
		}
	}
	*seq = h.seq;
	return 0;
}

char *cr_tmpdir(const char *tag)
{
	const char *t = getenv("TMPDIR");
	char buf[4096];
	snprintf(buf, sizeof buf, "%s/pmp-crash-%s-XXXXXX", t && *t ? t : "/tmp", tag);
	char *d = mkdtemp(buf);
	if (!d) {
		perror("mkdtemp");
		abort();
	}
	return strdup(d);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

void cr_rmtree(const char *dir)
{
	if (dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *cr_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

unsigned char *cr_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	size_t n = (size_t)st.st_size, done = 0;
	unsigned char *b = malloc(n ? n : 1);
	while (b && done < n) {
		ssize_t r = pread(fd, b + done, n - done, (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(b);
			b = NULL;
			break;
		}
		done += (size_t)r;
	}
	close(fd);
	if (b)
		*len = n;
	return b;
}

int cr_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
	if (fd < 0)
		return errno;
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, (const char *)data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno ? errno : EIO;
			close(fd);
			return e;
		}
		done += (size_t)w;
	}
	if (fchmod(fd, (mode_t)mode) < 0) {
		int e = errno;
		close(fd);
		return e;
	}
	return close(fd) < 0 ? errno : 0;
}

int cr_snap_take(const char *path, struct cr_snap *s)
{
	struct stat st;
	memset(s, 0, sizeof *s);
	if (lstat(path, &st) < 0)
		return errno;
	s->data = cr_read_file(path, &s->len);
	if (!s->data)
		return EIO;
	s->mtime_s = (int64_t)st.st_mtim.tv_sec;
	s->mtime_ns = (int64_t)st.st_mtim.tv_nsec;
	s->ino = (uint64_t)st.st_ino;
	return 0;
}

int cr_snap_same(const char *path, const struct cr_snap *s)
{
	struct stat st;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if ((int64_t)st.st_mtim.tv_sec != s->mtime_s || (int64_t)st.st_mtim.tv_nsec != s->mtime_ns ||
	    (uint64_t)st.st_ino != s->ino || (size_t)st.st_size != s->len)
		return 0;
	size_t n;
	unsigned char *d = cr_read_file(path, &n);
	int same = d && n == s->len && memcmp(d, s->data, n) == 0;
	free(d);
	return same;
}

void cr_snap_free(struct cr_snap *s)
{
	free(s->data);
	s->data = NULL;
}

int cr_run_child(cr_child_fn fn, void *arg, unsigned timeout_s, char **err)
{
	int p[2];
	*err = NULL;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -2;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -2;
	}
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 2);
		close(p[1]);
		/* a test's own abort must not be caught by a harness handler */
		signal(SIGABRT, SIG_DFL);
		fn(arg);
		_exit(0);
	}
	close(p[1]);
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	uint64_t deadline = cr_now_us() + (uint64_t)timeout_s * 1000000u;
	int timed_out = 0;
	for (;;) {
		uint64_t now = cr_now_us();
		if (now >= deadline) {
			timed_out = 1;
			break;
		}
		struct pollfd pf = {p[0], POLLIN, 0};
		int r = poll(&pf, 1, (int)((deadline - now) / 1000 + 1));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		if (len + 1024 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		ssize_t n = read(p[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	buf[len] = 0;
	*err = buf;
	int st = 0;
	if (timed_out)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return timed_out ? -1 : st;
}

int cr_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

int cr_range_free(void *addr, size_t len)
{
	void *p = mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	munmap(p, len);
	return p == addr;
}

uint64_t cr_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

long cr_env_long(const char *name, long def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	errno = 0;
	long r = strtol(v, &end, 0);
	return errno || *end ? def : r;
}
