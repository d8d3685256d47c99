/* reopen.c: api tests of a heap file's life across opens: many close/reopen cycles against a shadow of the roots,
 * a reopen in a new process (exec of api-reopen-helper), an unclean stop (_exit without pmp_close) and a kill -9
 * in the middle of allocator work, each followed by recovery, pmp_check and verification of every root.
 *
 * Holds: a shadow table of rooted objects (name -> id, length) kept in this process's own memory.
 * Must never: trust the heap to tell what it should hold (the shadow decides), or leave files behind on success.
 */
#include "api.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#define RESERVE ((size_t)256 << 20)
#define MAXR 48

struct shadow {
	uint64_t id[MAXR]; /* 0 = no root in this slot */
	uint64_t next_id;
	unsigned n;
};

static void rname(char *buf, uint64_t id) { snprintf(buf, 32, "obj-%llu", (unsigned long long)id); }

static pmp_heap_t *open_heap(const char *path, void *addr, int mode)
{
	pmp_file_opts_t o = t_opts(mode, addr, RESERVE);
	pmp_heap_t *h = NULL;
	int e = pmp_file_open(path, &o, &h);
	cr_assert_eq(e, 0, "open %s: %s", path, pmp_strerror(e));
	return h;
}

static int count_cb(const char *name, void *p, void *user)
{
	(void)name;
	(void)p;
	(*(unsigned *)user)++;
	return 0;
}

static void verify(pmp_heap_t *h, const struct shadow *s, unsigned extra_roots)
{
	t_check(h, "verify");
	char name[32];
	for (unsigned i = 0; i < MAXR; i++) {
		if (!s->id[i])
			continue;
		rname(name, s->id[i]);
		void *p = pmp_root_get(h, name);
		const char *why = t_obj_bad(h, p, s->id[i]);
		cr_assert_null(why, "root %s: %s", name, why);
	}
	unsigned n = 0;
	cr_assert_eq(pmp_root_list(h, count_cb, &n), 0);
	cr_assert_eq(n, s->n + extra_roots, "%u roots listed, shadow has %u", n, s->n + extra_roots);
}

/* random changes to the rooted set: add, replace, remove; plus unrooted churn */
static void mutate(pmp_heap_t *h, struct shadow *s, uint64_t *seed)
{
	char name[32];
	void *tmp[32];
	for (int k = 0; k < 32; k++)
		tmp[k] = pmp_malloc(h, (size_t)t_below(seed, 4000));
	for (int op = 0; op < 12; op++) {
		unsigned i = (unsigned)t_below(seed, MAXR);
		size_t len = t_below(seed, 10) == 0 ? (size_t)t_below(seed, 1 << 20) : (size_t)t_below(seed, 2000);
		if (s->id[i] && t_below(seed, 3) == 0) { /* remove */
			rname(name, s->id[i]);
			void *p = pmp_root_get(h, name);
			cr_assert_eq(pmp_root_set(h, name, NULL), 0);
			pmp_free(h, p);
			s->id[i] = 0;
			s->n--;
			continue;
		}
		uint64_t id = ++s->next_id;
		void *p = t_obj_new(h, id, len);
		cr_assert_not_null(p);
		rname(name, id);
		cr_assert_eq(pmp_root_set(h, name, p), 0);
		if (s->id[i]) { /* replaced: the old root goes */
			rname(name, s->id[i]);
			void *old = pmp_root_get(h, name);
			cr_assert_eq(pmp_root_set(h, name, NULL), 0);
			pmp_free(h, old);
		} else {
			s->n++;
		}
		s->id[i] = id;
	}
	for (int k = 0; k < 32; k++)
		pmp_free(h, tmp[k]);
}

Test(reopen, many_cycles, .timeout = 120)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "cycles.heap");
	void *addr = T_ADDR(20);
	struct shadow s = {0};
	uint64_t seed = 11;
	pmp_heap_t *h = open_heap(path, addr, PMP_OPEN_CREATE);
	pmp_stats_t st0;
	for (int cycle = 0; cycle < 60; cycle++) {
		mutate(h, &s, &seed);
		verify(h, &s, 0);
		cr_assert_eq(pmp_stats(h, &st0), 0);
		cr_assert_eq(pmp_close(h), 0);
		h = open_heap(path, addr, cycle % 2 ? PMP_OPEN_EXISTING : PMP_OPEN_ANY);
		pmp_info_t i;
		cr_assert_eq(pmp_info(h, &i), 0);
		cr_assert_eq(i.base, addr);
		verify(h, &s, 0);
		pmp_stats_t st;
		cr_assert_eq(pmp_stats(h, &st), 0);
		cr_assert_eq(st.used_blocks, st0.used_blocks, "cycle %d: reopen changed the used blocks", cycle);
		cr_assert_eq(st.used_bytes, st0.used_bytes);
		/* a close gives empty pages back to the chain: their slots and headers become free bytes */
		cr_assert_geq(st.free_bytes, st0.free_bytes);
		cr_assert_leq(st.pages, st0.pages);
		cr_assert_eq(st.used_blocks, s.n, "only rooted objects are live");
	}
	cr_assert_eq(pmp_close(h), 0);
	free(path);
	t_rmtree(dir);
}

static int run_helper(const char *path, void *addr, unsigned nroots)
{
	/* meson sets PMP_REOPEN_HELPER; run by hand, the helper sits next to this program */
	const char *helper = getenv("PMP_REOPEN_HELPER");
	static char self[4096];
	if (!helper) {
		ssize_t k = readlink("/proc/self/exe", self, sizeof self - 32);
		cr_assert_gt(k, 0);
		self[k] = 0;
		char *slash = strrchr(self, '/');
		cr_assert_not_null(slash);
		strcpy(slash + 1, "api-reopen-helper");
		helper = self;
	}
	char a[32], n[16];
	snprintf(a, sizeof a, "%p", addr);
	snprintf(n, sizeof n, "%u", nroots);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl(helper, helper, path, a, n, (char *)NULL);
		_exit(127);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "helper died by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return WEXITSTATUS(st);
}

Test(reopen, new_process_same_address, .timeout = 120)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "exec.heap");
	void *addr = T_ADDR(21);
	struct shadow s = {0};
	uint64_t seed = 12;
	pmp_heap_t *h = open_heap(path, addr, PMP_OPEN_CREATE);
	for (int k = 0; k < 5; k++)
		mutate(h, &s, &seed);
	verify(h, &s, 0);
	cr_assert_gt(s.n, 5);
	cr_assert_eq(pmp_close(h), 0);
	cr_assert_eq(run_helper(path, addr, s.n), 0, "the helper found the heap wrong");
	/* a wrong expectation must make the helper fail: the helper can fail */
	cr_assert_eq(run_helper(path, addr, s.n + 7), 8);
	cr_assert_eq(run_helper(path, (char *)addr + 4096, s.n + 1), 4);
	/* what the helper wrote is here */
	h = open_heap(path, addr, PMP_OPEN_EXISTING);
	verify(h, &s, 1);
	cr_assert_null(t_obj_bad(h, pmp_root_get(h, "helper"), 4242));
	/* and the heap is held: the helper is refused while we have it open */
	cr_assert_eq(run_helper(path, addr, s.n + 1), 3);
	cr_assert_eq(pmp_close(h), 0);
	free(path);
	t_rmtree(dir);
}

Test(reopen, unclean_stop_recovers, .timeout = 120)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "unclean.heap");
	void *addr = T_ADDR(22);
	struct shadow s = {0};
	uint64_t seed = 13;
	/* the parent makes the same decisions as the child, from the same seed, to know what the heap must hold */
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		pmp_heap_t *c = open_heap(path, addr, PMP_OPEN_CREATE);
		for (int k = 0; k < 20; k++)
			mutate(c, &s, &seed);
		void *leak = pmp_malloc(c, 12345); /* allocated, unrooted, never freed */
		memset(leak, 0x42, 12345);
		_exit(0); /* no pmp_close */
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed (status 0x%x)", st);
	/* replay the child's decisions on a scratch heap in memory to rebuild the shadow */
	void *mem = t_map(NULL, RESERVE);
	pmp_heap_t *m = NULL;
	cr_assert_eq(pmp_heap_create(mem, RESERVE, 0, &m), 0);
	for (int k = 0; k < 20; k++)
		mutate(m, &s, &seed);
	pmp_close(m);
	munmap(mem, RESERVE);
	/* the file says it was not closed; a read-only view does not trust its index */
	pmp_heap_t *h = open_heap(path, NULL, PMP_OPEN_READONLY);
	pmp_info_t i;
	cr_assert_eq(pmp_info(h, &i), 0);
	cr_assert_eq(i.clean, 0, "the writer died without closing");
	pmp_report_t r;
	cr_assert_eq(pmp_check(h, &r), 0, "%s", r.msg);
	cr_assert_eq(r.index_checked, 0);
	cr_assert_eq(r.used_blocks, s.n + 1);
	verify(h, &s, 0);
	cr_assert_eq(pmp_close(h), 0);
	/* a writable open recovers */
	h = open_heap(path, addr, PMP_OPEN_EXISTING);
	cr_assert_eq(pmp_check(h, &r), 0, "%s", r.msg);
	cr_assert_eq(r.index_checked, 1);
	verify(h, &s, 0);
	pmp_stats_t ps;
	cr_assert_eq(pmp_stats(h, &ps), 0);
	cr_assert_eq(ps.used_blocks, s.n + 1, "rooted objects plus the leaked block");
	mutate(h, &s, &seed);
	verify(h, &s, 0);
	cr_assert_eq(pmp_close(h), 0);
	h = open_heap(path, NULL, PMP_OPEN_READONLY);
	cr_assert_eq(pmp_info(h, &i), 0);
	cr_assert_eq(i.clean, 1);
	verify(h, &s, 0);
	cr_assert_eq(pmp_close(h), 0);
	free(path);
	t_rmtree(dir);
}

/* ---- kill -9 while threads allocate ---- */
struct churn {
	pmp_heap_t *h;
	uint64_t seed;
};

static void *churn_main(void *arg)
{
	struct churn *c = arg;
	void *slot[256] = {0};
	for (;;) {
		unsigned i = (unsigned)t_below(&c->seed, 256);
		if (slot[i]) {
			if (t_below(&c->seed, 2))
				pmp_free(c->h, slot[i]);
			else {
				void *q = pmp_realloc(c->h, slot[i], (size_t)t_below(&c->seed, 70000));
				if (q) {
					slot[i] = q;
					continue;
				}
			}
			slot[i] = NULL;
		} else {
			size_t n = (size_t)t_below(&c->seed, t_below(&c->seed, 50) ? 500 : 3u << 20);
			slot[i] = t_below(&c->seed, 4) ? pmp_malloc(c->h, n) : pmp_memalign(c->h, 256, n);
			if (slot[i])
				memset(slot[i], 0x6b, n);
		}
	}
	return NULL;
}

Test(reopen, kill_during_allocation_recovers, .timeout = 120)
{
	char *dir = t_tmpdir(), *path = t_path(dir, "kill.heap");
	void *addr = T_ADDR(23);
	for (int round = 0; round < 6; round++) {
		struct shadow s = {0};
		uint64_t seed = 100 + (uint64_t)round;
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			pmp_heap_t *c = open_heap(path, addr, round ? PMP_OPEN_EXISTING : PMP_OPEN_CREATE);
			if (round == 0)
				for (int k = 0; k < 4; k++)
					mutate(c, &s, &seed);
			static struct churn ch[3];
			pthread_t t[3];
			for (int k = 0; k < 3; k++) {
				ch[k].h = c;
				ch[k].seed = seed * 31 + (uint64_t)k;
				pthread_create(&t[k], NULL, churn_main, &ch[k]);
			}
			usleep(30000 + (useconds_t)round * 15000);
			kill(getpid(), SIGKILL);
			_exit(99);
		}
		int st;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child was not killed (status 0x%x)", st);
		/* the rooted objects of round 0 survive every kill */
		struct shadow want = {0};
		uint64_t wseed = 100;
		void *mem = t_map(NULL, RESERVE);
		pmp_heap_t *m = NULL;
		cr_assert_eq(pmp_heap_create(mem, RESERVE, 0, &m), 0);
		for (int k = 0; k < 4; k++)
			mutate(m, &want, &wseed);
		pmp_close(m);
		munmap(mem, RESERVE);
		pmp_heap_t *ro = open_heap(path, NULL, PMP_OPEN_READONLY);
		pmp_report_t r;
		cr_assert_eq(pmp_check(ro, &r), 0, "round %d: the chain after kill -9: %s", round, r.msg);
		cr_assert_eq(pmp_close(ro), 0);
		pmp_heap_t *h = open_heap(path, addr, PMP_OPEN_EXISTING);
		verify(h, &want, 0);
		cr_assert_eq(pmp_close(h), 0);
	}
	free(path);
	t_rmtree(dir);
}
