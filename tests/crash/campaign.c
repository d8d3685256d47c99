/* campaign.c: the kill -9 campaign. A child runs a seeded mixed workload (alloc, free, realloc, memalign, root set
 * and removal, commit; 1 to 4 threads, the ones after the first ending after 20 to 420 operations and replaced,
 * blocks handed between threads so that frees cross threads and reach pages of threads that ended) on one heap
 * file and reports every completed root change over a pipe; the parent kills it at a random moment, sometimes
 * kills a second child in the middle of recovery, then a checker child reopens the heap (read-only view and
 * writable open with recovery), runs pmp_check and compares every root with what was reported: each must be the
 * reported version or a later one, intact, never lost, never torn.
 *
 * Knobs (environment): PMP_CRASH_KILLS (default 1000), PMP_CRASH_SEED (default: time), PMP_CRASH_MAX_US (longest
 * workload run before the kill, default 15000), PMP_CRASH_DIR (keep the heap there instead of a temporary dir),
 * PMEMPRELOAD_TRACK=callsite (a heap that records call sites, as the preload makes it).
 * Exit 0 only when every kill left a valid heap and every root intact.
 * Must never: map the heap in the parent (the parent only forks, kills and counts), judge validity by anything but
 * pmp_check, or count a child that died of anything but our SIGKILL as a success.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define NT 4            /* threads at most */
#define NR 8            /* roots per thread */
#define NNAMES (NT * NR)
#define SCRATCH 48      /* scratch blocks per thread */
#define PAYLOAD_MAX 6000

static uint64_t g_seed;  /* payload seed: fixed for the whole campaign */
static const char *g_path;

static void root_name(char *buf, size_t n, unsigned id) { snprintf(buf, n, "t%u.r%u", id / NR, id % NR); }

static int name_id(const char *name)
{
	unsigned t, r;
	char tail;
	if (sscanf(name, "t%u.r%u%c", &t, &r, &tail) != 2 || t >= NT || r >= NR)
		return -1;
	return (int)(t * NR + r);
}

static pmp_file_opts_t heap_opts(int mode)
{
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = mode;
	o.reserve = (size_t)256 << 20;
	o.initial = (size_t)256 << 10;
	o.grow = (size_t)128 << 10;
	/* PMEMPRELOAD_TRACK=callsite, as under the preload: the heap records call sites (each block's last 16 bytes) */
	const char *track = getenv("PMEMPRELOAD_TRACK");
	if (track && !strcmp(track, "callsite"))
		o.flags |= PMP_FILE_TRACK;
	return o;
}

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	/* one write below PIPE_BUF: lines of different threads never interleave */
	while (write(fd, buf, (size_t)n) < 0 && errno == EINTR)
		;
}

/* ================= the workload child ================= */

struct wl {
	pmp_heap_t *h;
	int fd;
	unsigned t;
	uint64_t rng;
	uint64_t base_seq;
	uint64_t ctr;  /* root versions made by this thread id so far (its later incarnations go on counting) */
	unsigned life; /* operations before this incarnation ends (0: runs until killed) */
};

struct scratch { unsigned char *p; size_t len; unsigned char fill; };

/* blocks handed between threads: whoever replaces one frees it, usually not the thread that made it */
#define NX 64
static struct scratch g_x[NX];
static pthread_mutex_t g_x_lock = PTHREAD_MUTEX_INITIALIZER;

static void scratch_verify(struct wl *w, const struct scratch *s)
{
	for (size_t i = 0; i < s->len; i++)
		if (s->p[i] != s->fill) {
			say(w->fd, "E scratch block %p byte %zu changed under its owner (overlapping blocks?)\n", (void *)s->p, i);
			_exit(4);
		}
}

static void *workload_thread(void *arg)
{
	struct wl *w = arg;
	struct scratch sc[SCRATCH];
	memset(sc, 0, sizeof sc);
	char name[32];
	for (unsigned left = w->life; w->life == 0 || left-- > 0;) {
		unsigned op = (unsigned)cr_below(&w->rng, 1000);
		unsigned k = (unsigned)cr_below(&w->rng, SCRATCH);
		struct scratch *s = &sc[k];
		if (op < 380) { /* allocate into a scratch slot */
			if (s->p) {
				scratch_verify(w, s);
				pmp_free(w->h, s->p);
				s->p = NULL;
			}
			size_t n = cr_below(&w->rng, 100) < 3 ? 16384 + cr_below(&w->rng, 200000) : cr_below(&w->rng, 2048);
			unsigned kind = (unsigned)cr_below(&w->rng, 10);
			unsigned char *p;
			if (kind == 0)
				p = pmp_calloc(w->h, 1, n);
			else if (kind == 1)
				p = pmp_memalign(w->h, (size_t)16 << cr_below(&w->rng, 9), n);
			else
				p = pmp_malloc(w->h, n);
			if (!p) {
				say(w->fd, "E allocation of %zu bytes failed: errno %d\n", n, errno);
				_exit(5);
			}
			s->p = p;
			s->len = n;
			s->fill = (unsigned char)cr_rand(&w->rng);
			memset(p, s->fill, n);
		} else if (op < 460) { /* hand a block to whichever thread replaces it next; free the one it replaces */
			struct scratch x = {NULL, cr_below(&w->rng, 50) ? cr_below(&w->rng, 2048) : 9000 + cr_below(&w->rng, 30000),
					    (unsigned char)cr_rand(&w->rng)};
			if (!(x.p = pmp_malloc(w->h, x.len))) {
				say(w->fd, "E hand-over allocation of %zu bytes failed: errno %d\n", x.len, errno);
				_exit(5);
			}
			memset(x.p, x.fill, x.len);
			unsigned i = (unsigned)cr_below(&w->rng, NX);
			pthread_mutex_lock(&g_x_lock);
			struct scratch old = g_x[i];
			g_x[i] = x;
			pthread_mutex_unlock(&g_x_lock);
			if (old.p) {
				scratch_verify(w, &old);
				pmp_free(w->h, old.p);
			}
		} else if (op < 560) { /* free */
			if (s->p) {
				scratch_verify(w, s);
				pmp_free(w->h, s->p);
				s->p = NULL;
			}
		} else if (op < 700) { /* realloc, in place or moving */
			if (s->p) {
				scratch_verify(w, s);
				size_t n = cr_below(&w->rng, 4096);
				unsigned char *q = pmp_realloc(w->h, s->p, n);
				if (!q && n) {
					say(w->fd, "E realloc to %zu failed: errno %d\n", n, errno);
					_exit(5);
				}
				s->p = q;
				if (q) {
					size_t keep = s->len < n ? s->len : n;
					for (size_t i = 0; i < keep; i++)
						if (q[i] != s->fill) {
							say(w->fd, "E realloc lost byte %zu\n", i);
							_exit(4);
						}
					memset(q, s->fill, n);
				}
				s->len = n;
			}
		} else if (op < 980) { /* set a root to a fresh payload, then free the old one */
			unsigned r = (unsigned)cr_below(&w->rng, NR), id = w->t * NR + r;
			uint64_t seq = w->base_seq + ++w->ctr;
			size_t len = cr_payload_len(g_seed, id, seq, PAYLOAD_MAX);
			void *p = pmp_malloc(w->h, len);
			if (!p) {
				say(w->fd, "E payload allocation failed: errno %d\n", errno);
				_exit(5);
			}
			cr_payload_fill(p, g_seed, id, seq, len);
			root_name(name, sizeof name, id);
			void *old = pmp_root_get(w->h, name);
			int e = pmp_root_set(w->h, name, p);
			if (e) {
				say(w->fd, "E pmp_root_set(%s) = %d\n", name, e);
				_exit(6);
			}
			say(w->fd, "S %u %" PRIu64 "\n", id, seq);
			if (old)
				pmp_free(w->h, old);
		} else if (op < 997) { /* remove a root: announce first, confirm after */
			unsigned r = (unsigned)cr_below(&w->rng, NR), id = w->t * NR + r;
			root_name(name, sizeof name, id);
			void *old = pmp_root_get(w->h, name);
			if (old) {
				say(w->fd, "X %u\n", id);
				int e = pmp_root_set(w->h, name, NULL);
				if (e) {
					say(w->fd, "E pmp_root_set(%s, NULL) = %d\n", name, e);
					_exit(6);
				}
				say(w->fd, "D %u\n", id);
				pmp_free(w->h, old);
			}
		} else { /* durability point: exercises msync under kill */
			int e = pmp_commit(w->h, NULL, 0);
			if (e) {
				say(w->fd, "E pmp_commit = %d\n", e);
				_exit(6);
			}
		}
	}
	/* this incarnation ends: half its scratch freed, the rest left live in its pages (garbage the next run
	 * collects), which the thread heap abandons at the thread's exit */
	for (unsigned k = 0; k < SCRATCH; k += 2)
		if (sc[k].p) {
			scratch_verify(w, &sc[k]);
			pmp_free(w->h, sc[k].p);
		}
	return NULL;
}

/* thread id w->t after the first: one incarnation after another, each a new thread */
static void *incarnations(void *arg)
{
	struct wl *w = arg;
	for (;;) {
		w->life = 20 + (unsigned)cr_below(&w->rng, 400);
		pthread_t th;
		if (pthread_create(&th, NULL, workload_thread, w) != 0) {
			say(w->fd, "E pthread_create\n");
			_exit(3);
		}
		pthread_join(th, NULL);
		say(w->fd, "T\n");
	}
	return NULL;
}

struct gc { uint64_t *offs; size_t n, cap; pmp_heap_t *h; };

static int gc_block(const pmp_block_t *b, void *user)
{
	struct gc *g = user;
	if (b->state != PMP_BLOCK_USED)
		return 0;
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 1024;
		g->offs = realloc(g->offs, g->cap * sizeof *g->offs);
	}
	g->offs[g->n++] = (uint64_t)(uintptr_t)b->addr;
	return 0;
}

static int gc_root(const char *name, void *p, void *user)
{
	struct gc *g = user;
	(void)name;
	for (size_t i = 0; i < g->n; i++)
		if (g->offs[i] == (uint64_t)(uintptr_t)p)
			g->offs[i] = 0;
	return 0;
}

/* Every block no root reaches is scratch of a killed predecessor: give it back, so the heap stays bounded. */
static void collect_garbage(pmp_heap_t *h)
{
	struct gc g = {NULL, 0, 0, h};
	pmp_walk(h, gc_block, &g);
	pmp_root_list(h, gc_root, &g);
	for (size_t i = 0; i < g.n; i++)
		if (g.offs[i])
			pmp_free(h, (void *)(uintptr_t)g.offs[i]);
	free(g.offs);
}

static void run_workload(uint64_t seed, uint64_t base_seq, unsigned nthreads, int fd)
{
	pmp_file_opts_t o = heap_opts(PMP_OPEN_ANY);
	pmp_heap_t *h;
	int e = pmp_file_open(g_path, &o, &h);
	if (e) {
		say(fd, "E workload open: %d %s\n", e, pmp_strerror(e));
		_exit(3);
	}
	collect_garbage(h);
	say(fd, "R\n"); /* running: startup (open, recovery, collection) is over */
	struct wl w[NT];
	pthread_t th[NT];
	for (unsigned t = 0; t < nthreads; t++) {
		w[t] = (struct wl){h, fd, t, seed ^ (t * 0x1234567ull), base_seq + ((uint64_t)t << 20), 0, 0};
		if (t && pthread_create(&th[t], NULL, incarnations, &w[t]) != 0) {
			say(fd, "E pthread_create\n");
			_exit(3);
		}
	}
	workload_thread(&w[0]);
}

/* ================= the recovery victim ================= */

static void run_recovery(int fd)
{
	pmp_file_opts_t o = heap_opts(PMP_OPEN_EXISTING);
	pmp_heap_t *h;
	int e = pmp_file_open(g_path, &o, &h);
	if (e) {
		say(fd, "F %d %s\n", e, pmp_strerror(e));
		_exit(3);
	}
	say(fd, "O\n");
	pause(); /* stay dirty: the parent kills us either way */
	_exit(0);
}

/* ================= the checker ================= */

struct expect {
	uint64_t seq_min;  /* a present root must hold this version or a later one */
	int must_present;  /* reported set, no removal announced since */
};

struct verify { const struct expect *ex; pmp_heap_t *h; int fd; int seen[NNAMES]; int bad; };

static int verify_root(const char *name, void *p, void *user)
{
	struct verify *v = user;
	int id = name_id(name);
	if (id < 0) {
		say(v->fd, "TORN unknown root name \"%.70s\"\n", name);
		v->bad = 1;
		return 0;
	}
	v->seen[id] = 1;
	const char *why = "";
	uint64_t seq = 0;
	size_t avail = p ? pmp_usable_size(v->h, p) : 0;
	if (!p || cr_payload_verify(p, avail, g_seed, (uint64_t)id, &seq, &why) != 0) {
		say(v->fd, "TORN %s: %s\n", name, p ? why : "points outside the heap");
		v->bad = 1;
	} else if (seq < v->ex[id].seq_min) {
		say(v->fd, "TORN %s: holds version %" PRIu64 ", older than the reported %" PRIu64 "\n", name, seq,
		    v->ex[id].seq_min);
		v->bad = 1;
	}
	return 0;
}

static int verify_heap(pmp_heap_t *h, const struct expect *ex, int fd, const char *view)
{
	pmp_report_t r;
	int e = pmp_check(h, &r);
	if (e) {
		say(fd, "INVALID %s: pmp_check %d: %s\n", view, e, r.msg);
		return 1;
	}
	struct verify v;
	memset(&v, 0, sizeof v);
	v.ex = ex;
	v.h = h;
	v.fd = fd;
	pmp_root_list(h, verify_root, &v);
	for (unsigned id = 0; id < NNAMES; id++)
		if (ex[id].must_present && !v.seen[id]) {
			char name[32];
			root_name(name, sizeof name, id);
			say(fd, "LOST %s %s: reported version %" PRIu64 " is gone\n", view, name, ex[id].seq_min);
			v.bad = 1;
		}
	return v.bad ? 2 : 0;
}

/* flags: 1 leave the heap dirty after checking; 2 no workload has run yet, so the heap may not exist */
static void run_checker(const struct expect *ex, int flags, int fd)
{
	int leave_dirty = flags & 1;
	pmp_file_opts_t o = heap_opts(PMP_OPEN_READONLY);
	pmp_heap_t *h;
	int e = pmp_file_open(g_path, &o, &h);
	if (e == ENOENT && (flags & 2))
		_exit(0); /* killed before its heap was created: creation is atomic, so there is no file at all */
	if (e) {
		say(fd, "INVALID read-only open: %d %s\n", e, pmp_strerror(e));
		_exit(1);
	}
	/* the read-only view is what the command sees of a dead process's heap: no recovery has run on it */
	int rc_ro = verify_heap(h, ex, fd, "read-only view");
	pmp_close(h);
	o = heap_opts(PMP_OPEN_EXISTING);
	if ((e = pmp_file_open(g_path, &o, &h)) != 0) {
		say(fd, "INVALID writable open (recovery): %d %s\n", e, pmp_strerror(e));
		_exit(1);
	}
	int rc = verify_heap(h, ex, fd, "after recovery");
	if (rc || rc_ro)
		_exit(rc ? rc : rc_ro);
	if (!leave_dirty && (e = pmp_close(h)) != 0) {
		say(fd, "INVALID pmp_close: %d\n", e);
		_exit(1);
	}
	_exit(0);
}

/* ================= the parent ================= */

struct child {
	pid_t pid;
	int fd;
	char buf[8192];
	size_t len;
};

static pid_t spawn(struct child *c, int kind, uint64_t a, uint64_t b, unsigned n, const struct expect *ex)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("pipe");
		exit(2);
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		close(p[0]);
		if (kind == 0)
			run_workload(a, b, n, p[1]);
		else if (kind == 1)
			run_recovery(p[1]);
		else
			run_checker(ex, (int)a, p[1]);
		_exit(9);
	}
	close(p[1]);
	c->pid = pid;
	c->fd = p[0];
	c->len = 0;
	return pid;
}

/* read what is available (wait up to timeout_us); hand complete lines to fn; 0 at EOF */
static int pump(struct child *c, int64_t timeout_us, void (*fn)(const char *line, void *u), void *u)
{
	struct pollfd pf = {c->fd, POLLIN, 0};
	/* ppoll: microsecond timeouts, so short kill delays really are short */
	struct timespec ts = {(time_t)(timeout_us / 1000000), (long)(timeout_us % 1000000) * 1000};
	int r = ppoll(&pf, 1, timeout_us < 0 ? NULL : &ts, NULL);
	if (r <= 0)
		return 1;
	ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
	if (n < 0)
		return errno == EINTR ? 1 : 0;
	if (n == 0)
		return 0;
	c->len += (size_t)n;
	c->buf[c->len] = 0;
	char *s = c->buf, *nl;
	while ((nl = strchr(s, '\n')) != NULL) {
		*nl = 0;
		fn(s, u);
		s = nl + 1;
	}
	c->len -= (size_t)(s - c->buf);
	memmove(c->buf, s, c->len);
	return 1;
}

static int reap(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

struct stats {
	long kills, kills_startup, invalid_ro, startup_us_n, startup_us_sum, recovery_runs, recovery_kills, recovery_done, invalid, lost, torn, child_errors;
	long reported_sets, roots_verified, checks, thread_ends;
	int running;   /* the workload child said R */
	int ever_ran;  /* some workload child said R: the heap file exists */
	uint64_t spawned_us;
	int opened;    /* the recovery victim said O */
	int failed_line;
	struct expect ex[NNAMES];
};

static void on_workload_line(const char *line, void *u)
{
	struct stats *s = u;
	unsigned id;
	uint64_t seq;
	if (line[0] == 'R') {
		s->running = 1;
		s->ever_ran = 1;
		s->startup_us_n++;
		s->startup_us_sum += (long)(cr_now_us() - s->spawned_us);
	} else if (sscanf(line, "S %u %" SCNu64, &id, &seq) == 2 && id < NNAMES) {
		s->ex[id].seq_min = seq;
		s->ex[id].must_present = 1;
		s->reported_sets++;
	} else if (line[0] == 'T') {
		s->thread_ends++;
	} else if (sscanf(line, "X %u", &id) == 1 && id < NNAMES) {
		s->ex[id].must_present = 0;
	} else if (sscanf(line, "D %u", &id) == 1 && id < NNAMES) {
		s->ex[id].must_present = 0; /* a later set has a higher sequence number; seq_min stays as the floor */
	} else {
		fprintf(stderr, "campaign: workload: %s\n", line);
		s->child_errors++;
	}
}

static void on_recovery_line(const char *line, void *u)
{
	struct stats *s = u;
	if (line[0] == 'O') {
		s->opened = 1;
	} else {
		fprintf(stderr, "campaign: recovery victim: %s\n", line);
		s->invalid++;
	}
}

static void on_checker_line(const char *line, void *u)
{
	struct stats *s = u;
	fprintf(stderr, "campaign: checker: %s\n", line);
	if (!strncmp(line, "INVALID read-only view", 22))
		s->invalid_ro++;
	else if (!strncmp(line, "INVALID", 7))
		s->invalid++;
	else if (!strncmp(line, "LOST", 4))
		s->lost++;
	else if (!strncmp(line, "TORN", 4))
		s->torn++;
	else
		s->child_errors++;
}

static void keep_evidence(const char *dir, long kill)
{
	char dst[4200];
	snprintf(dst, sizeof dst, "%s/failed-%ld.heap", dir, kill);
	size_t n;
	unsigned char *d = cr_read_file(g_path, &n);
	if (d && cr_write_file(dst, d, n, 0600) == 0)
		fprintf(stderr, "campaign: heap kept as %s\n", dst);
	free(d);
}

int main(void)
{
	long kills = cr_env_long("PMP_CRASH_KILLS", 1000);
	long max_us = cr_env_long("PMP_CRASH_MAX_US", 15000);
	uint64_t seed = (uint64_t)cr_env_long("PMP_CRASH_SEED", (long)(time(NULL) ^ getpid()));
	const char *keep = getenv("PMP_CRASH_DIR");
	char *dir = keep && *keep ? strdup(keep) : cr_tmpdir("campaign");
	char *path = cr_path(dir, "campaign.heap");
	unlink(path);
	g_path = path;
	g_seed = seed;
	uint64_t rng = seed;
	printf("campaign: seed %" PRIu64 " (PMP_CRASH_SEED), %ld kills, heap %s\n", seed, kills, path);
	fflush(stdout);

	static struct stats st;
	uint64_t open_us_sum = 0, open_n = 0;
	uint64_t t0 = cr_now_us();
	for (long k = 0; k < kills; k++) {
		/* 1. the workload, killed at a random moment; 1 in 5 kills aims at its startup (open, recovery, collection) */
		struct child c;
		unsigned nthreads = 1 + (unsigned)cr_below(&rng, NT);
		uint64_t delay = cr_below(&rng, 5) == 0 ? cr_below(&rng, 400) : cr_below(&rng, (uint64_t)max_us);
		st.running = 0;
		st.spawned_us = cr_now_us();
		spawn(&c, 0, cr_rand(&rng), (uint64_t)(k + 1) << 28, nthreads, NULL);
		uint64_t deadline = cr_now_us() + delay, now;
		int alive = 1;
		while (alive && (now = cr_now_us()) < deadline)
			alive = pump(&c, (int64_t)(deadline - now), on_workload_line, &st);
		kill(c.pid, SIGKILL);
		while (pump(&c, -1, on_workload_line, &st))
			;
		close(c.fd);
		int ws = reap(c.pid);
		if (!(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL)) {
			fprintf(stderr, "campaign: kill %ld: workload ended by itself (status 0x%x)\n", k, ws);
			st.child_errors++;
		}
		st.kills++;
		if (!st.running)
			st.kills_startup++;

		/* 2. one kill in three: a second process opens the unclean heap and dies during recovery (only once a heap
		 * exists: creation is atomic, so a workload killed before its first report may have left no file) */
		if (st.ever_ran && cr_below(&rng, 3) == 0) {
			uint64_t avg = open_n ? open_us_sum / open_n : 300;
			uint64_t d = cr_below(&rng, avg + avg / 4 + 1);
			st.opened = 0;
			uint64_t start = cr_now_us();
			spawn(&c, 1, 0, 0, 0, NULL);
			deadline = start + d;
			alive = 1;
			while (alive && !st.opened && (now = cr_now_us()) < deadline)
				alive = pump(&c, (int64_t)(deadline - now), on_recovery_line, &st);
			kill(c.pid, SIGKILL);
			while (pump(&c, -1, on_recovery_line, &st))
				;
			close(c.fd);
			reap(c.pid);
			st.recovery_runs++;
			if (st.opened) {
				st.recovery_done++;
				open_us_sum += cr_now_us() - start;
				open_n++;
			} else {
				st.recovery_kills++;
				st.kills++;
			}
		}

		/* 3. the verdict: pmp_check on a read-only view and after recovery, roots against the reports */
		long before = st.invalid + st.invalid_ro + st.lost + st.torn + st.child_errors;
		spawn(&c, 2, cr_below(&rng, 2) | (st.ever_ran ? 0 : 2), 0, 0, st.ex);
		while (pump(&c, -1, on_checker_line, &st))
			;
		close(c.fd);
		int cs = reap(c.pid);
		st.checks++;
		if (!WIFEXITED(cs) || WEXITSTATUS(cs) != 0) {
			fprintf(stderr, "campaign: kill %ld: checker status 0x%x\n", k, cs);
			if (st.invalid + st.invalid_ro + st.lost + st.torn + st.child_errors == before)
				st.invalid++; /* died without saying why: a crash of the library */
		}
		if (st.invalid + st.invalid_ro + st.lost + st.torn + st.child_errors != before) {
			fprintf(stderr, "campaign: failure after kill %ld (seed %" PRIu64 ")\n", k, seed);
			keep_evidence(dir, k);
			if (st.invalid + st.invalid_ro + st.lost + st.torn + st.child_errors > 20)
				break;
		}
		for (unsigned id = 0; id < NNAMES; id++)
			st.roots_verified += st.ex[id].must_present;
	}
	double secs = (double)(cr_now_us() - t0) / 1e6;
	printf("campaign: %ld kills (%ld during workload startup, %ld during recovery of %ld recovery runs), "
	       "%ld checks, %ld root sets reported, %ld root verifications, %.1f s\n",
	       st.kills, st.kills_startup, st.recovery_kills, st.recovery_runs, st.checks, st.reported_sets,
	       st.roots_verified, secs);
	printf("campaign: workload startup (open + recovery + collection) takes %ld us on average; %ld thread ends\n",
	       st.startup_us_n ? st.startup_us_sum / st.startup_us_n : 0, st.thread_ends);
	printf("campaign: invalid heaps %ld (after recovery), invalid read-only views %ld, lost roots %ld, torn roots %ld, "
	       "child errors %ld\n", st.invalid, st.invalid_ro, st.lost, st.torn, st.child_errors);
	int ok = st.invalid == 0 && st.invalid_ro == 0 && st.lost == 0 && st.torn == 0 && st.child_errors == 0 && st.kills >= kills;
	if (ok && !(keep && *keep))
		cr_rmtree(dir);
	return ok ? 0 : 1;
}
