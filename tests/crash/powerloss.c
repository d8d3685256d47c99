/* powerloss.c: power-loss simulation. A writer child runs a seeded workload that makes every root change durable
 * with the documented protocol (write the payload, pmp_commit it, pmp_root_set, pmp_commit, only then free the old
 * payload). At each pmp_commit return it snapshots the file (the last synced state S); at a random later moment,
 * before the next commit, it snapshots again (the current state C) and hands the pair to the parent. The parent
 * builds images out of the pair: S alone, C alone, and mixtures where every 4 KiB page that differs comes from S or
 * C at random, plus one page torn at a 512-byte sector boundary. Each image is written to a new file, opened (with
 * recovery), checked with pmp_check, and every root committed at S must be there, intact, in its committed version
 * or the one set after it.
 *
 * What this proves, and what it does not. It models a machine that loses power after pmp_commit returned: the
 * kernel may have written back any subset of the pages dirtied since, in any order, and a page write may be torn
 * at a sector boundary. It assumes the file's size and extents at the crash point survive (they come from
 * fallocate, a journaled metadata operation, not from page writeback), that msync(MS_SYNC) returning means S is
 * on the medium, and that a 512-byte sector is written atomically. It does not model a drive that reorders or
 * loses writes it acknowledged, a rollback of the file size, or corruption of bytes that were never written.
 * Images of class "S" show that a commit is durable; class "C" is the same as a kill -9; class "mix" shows whether
 * the heap survives an arbitrary writeback order after the last commit.
 *
 * Knobs: PMP_PL_PAIRS (default 150), PMP_PL_IMAGES (mixed images per pair, default 8; 0 = classes S and C only),
 * PMP_PL_SEED.
 * Must never: open the writer's live file, or count an image as good on anything but pmp_check and the payloads.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define NROOTS 16
#define PAGE 4096u
#define SECTOR 512u

static uint64_t g_seed;

struct expect { uint64_t seq[NROOTS]; uint64_t next_seq[NROOTS]; }; /* committed version; the one being set, or 0 */

static pmp_file_opts_t opts(int mode)
{
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = mode;
	o.reserve = (size_t)64 << 20;
	o.initial = (size_t)128 << 10;
	o.grow = (size_t)64 << 10;
	return o;
}

static void name_of(char *b, size_t n, unsigned id) { snprintf(b, n, "pl%u", id); }

/* ================= writer ================= */

struct writer {
	pmp_heap_t *h;
	const char *dir, *path;
	int fd;             /* to the parent */
	uint64_t rng;
	unsigned char *synced;
	size_t synced_len;
	struct expect ex;   /* as of the last commit */
	unsigned pairs, want_pairs;
	int crash_armed;    /* a crash point is due before the next commit */
	unsigned ops_to_crash;
};

static void die(const char *what, int e)
{
	fprintf(stderr, "powerloss writer: %s: %d %s\n", what, e, pmp_strerror(e));
	_exit(3);
}

static void emit_pair(struct writer *w)
{
	size_t clen;
	unsigned char *cur = cr_read_file(w->path, &clen);
	if (!cur)
		die("read current state", errno);
	char name[64];
	snprintf(name, sizeof name, "pair%u", w->pairs);
	char *p = cr_path(w->dir, name);
	FILE *f = fopen(p, "wb");
	if (!f)
		die("create pair file", errno);
	uint64_t lens[2] = {w->synced_len, clen};
	if (fwrite(lens, sizeof lens, 1, f) != 1 || fwrite(&w->ex, sizeof w->ex, 1, f) != 1 ||
	    fwrite(w->synced, 1, w->synced_len, f) != w->synced_len || fwrite(cur, 1, clen, f) != clen || fclose(f) != 0)
		die("write pair file", EIO);
	free(p);
	free(cur);
	char line[32];
	int n = snprintf(line, sizeof line, "P %u\n", w->pairs);
	if (write(w->fd, line, (size_t)n) != n)
		die("notify parent", errno);
	w->pairs++;
	w->crash_armed = 0;
}

/* one heap operation that is not a commit; a due crash point is taken after it */
static void tick(struct writer *w)
{
	if (w->crash_armed && w->ops_to_crash-- == 0)
		emit_pair(w);
}

static void commit(struct writer *w, void *p, size_t n)
{
	if (w->crash_armed) /* the crash point comes before this commit at the latest */
		emit_pair(w);
	int e = pmp_commit(w->h, p, n);
	if (e)
		die("pmp_commit", e);
	free(w->synced);
	w->synced = cr_read_file(w->path, &w->synced_len);
	if (!w->synced)
		die("read synced state", errno);
	if (w->pairs < w->want_pairs && cr_below(&w->rng, 2) == 0) {
		w->crash_armed = 1;
		w->ops_to_crash = (unsigned)cr_below(&w->rng, 12);
	}
}

struct scratch { void *p; size_t n; };

static void run_writer(const char *dir, const char *path, uint64_t seed, unsigned want_pairs, int fd)
{
	struct writer w;
	memset(&w, 0, sizeof w);
	w.dir = dir;
	w.path = path;
	w.fd = fd;
	w.rng = seed;
	w.want_pairs = want_pairs;
	pmp_file_opts_t o = opts(PMP_OPEN_CREATE);
	int e = pmp_file_open(path, &o, &w.h);
	if (e)
		die("create heap", e);
	struct scratch sc[32];
	memset(sc, 0, sizeof sc);
	uint64_t seq = 0;
	commit(&w, NULL, 0);
	while (w.pairs < want_pairs) {
		/* scratch traffic: splits, merges and growth that no commit covers */
		unsigned nops = (unsigned)cr_below(&w.rng, 10);
		for (unsigned i = 0; i < nops; i++) {
			struct scratch *s = &sc[cr_below(&w.rng, 32)];
			unsigned op = (unsigned)cr_below(&w.rng, 3);
			if (s->p && op == 0) {
				pmp_free(w.h, s->p);
				s->p = NULL;
			} else if (s->p && op == 1) {
				size_t n = cr_below(&w.rng, 3000);
				void *q = pmp_realloc(w.h, s->p, n);
				if (!q && n)
					die("realloc", errno);
				s->p = q;
				s->n = n;
				if (q)
					memset(q, 0x5c, n);
			} else if (!s->p) {
				s->n = cr_below(&w.rng, 100) < 5 ? 20000 + cr_below(&w.rng, 60000) : cr_below(&w.rng, 1500);
				if (!(s->p = pmp_malloc(w.h, s->n)))
					die("malloc", errno);
				memset(s->p, 0x5c, s->n);
			}
			tick(&w);
		}
		/* a durable root change */
		unsigned id = (unsigned)cr_below(&w.rng, NROOTS);
		char name[16];
		name_of(name, sizeof name, id);
		uint64_t sq = ++seq;
		size_t len = cr_payload_len(g_seed, id, sq, 2500);
		void *p = pmp_malloc(w.h, len);
		if (!p)
			die("payload malloc", errno);
		tick(&w);
		cr_payload_fill(p, g_seed, id, sq, len);
		tick(&w);
		commit(&w, p, len);          /* the payload is durable */
		void *old = pmp_root_get(w.h, name);
		w.ex.next_seq[id] = sq;
		if ((e = pmp_root_set(w.h, name, p)) != 0)
			die("pmp_root_set", e);
		tick(&w);
		commit(&w, NULL, 0);         /* the root is durable */
		w.ex.seq[id] = sq;
		w.ex.next_seq[id] = 0;
		if (old) {
			pmp_free(w.h, old);  /* only now may the old version's bytes change */
			tick(&w);
		}
	}
	if (write(fd, "E\n", 2) != 2)
		die("notify parent", errno);
	_exit(0); /* no pmp_close: the file stays as a live process leaves it */
}

/* ================= the parent: images ================= */

struct counts { long images, invalid, lost, torn, open_fail, salvaged, lost_bytes; };

/* what the last check_image's recovery had to salvage (a chain damaged by the mix of pages) */
static int g_salvaged;
static uint64_t g_lost_bytes;

static int check_image(const char *img, const struct expect *ex, const char *cls, unsigned pair, char *why, size_t wl)
{
	pmp_file_opts_t o = opts(PMP_OPEN_EXISTING);
	pmp_heap_t *h;
	int e = pmp_file_open(img, &o, &h);
	if (e) {
		snprintf(why, wl, "INVALID %s image of pair %u: open: %d %s", cls, pair, e, pmp_strerror(e));
		return 1;
	}
	pmp_info_t info;
	g_salvaged = pmp_info(h, &info) == 0 && (info.last_lost_regions || info.last_dropped_roots);
	g_lost_bytes = g_salvaged ? info.last_lost_bytes : 0;
	pmp_report_t r;
	if ((e = pmp_check(h, &r)) != 0) {
		snprintf(why, wl, "INVALID %s image of pair %u: pmp_check: %s", cls, pair, r.msg);
		pmp_close(h);
		return 1;
	}
	int rc = 0;
	for (unsigned id = 0; id < NROOTS && !rc; id++) {
		char name[16];
		name_of(name, sizeof name, id);
		void *p = pmp_root_get(h, name);
		if (!p) {
			if (ex->seq[id]) {
				snprintf(why, wl, "LOST %s image of pair %u: root %s (committed version %" PRIu64 ")", cls, pair,
					 name, ex->seq[id]);
				rc = 2;
			}
			continue;
		}
		const char *w = "";
		uint64_t seq;
		if (cr_payload_verify(p, pmp_usable_size(h, p), g_seed, id, &seq, &w) != 0) {
			snprintf(why, wl, "TORN %s image of pair %u: root %s: %s", cls, pair, name, w);
			rc = 3;
		} else if (seq != ex->seq[id] && seq != ex->next_seq[id]) {
			snprintf(why, wl, "TORN %s image of pair %u: root %s holds version %" PRIu64 ", committed %" PRIu64,
				 cls, pair, name, seq, ex->seq[id]);
			rc = 3;
		}
	}
	pmp_close(h);
	return rc;
}

static void account(struct counts *c, int rc, const char *why)
{
	c->images++;
	c->salvaged += g_salvaged;
	c->lost_bytes += (long)g_lost_bytes;
	g_salvaged = 0;
	g_lost_bytes = 0;
	if (rc == 0)
		return;
	if (rc == 1)
		c->invalid++;
	else if (rc == 2)
		c->lost++;
	else
		c->torn++;
	if (c->invalid + c->lost + c->torn <= 5)
		fprintf(stderr, "powerloss: %s\n", why);
}

static int process_pair(const char *dir, unsigned n, uint64_t *rng, unsigned mixes, struct counts cnt[3])
{
	char name[64];
	snprintf(name, sizeof name, "pair%u", n);
	char *pp = cr_path(dir, name);
	size_t len;
	unsigned char *d = cr_read_file(pp, &len);
	unlink(pp);
	free(pp);
	uint64_t lens[2];
	struct expect ex;
	if (!d || len < sizeof lens + sizeof ex) {
		fprintf(stderr, "powerloss: pair %u unreadable\n", n);
		free(d);
		return -1;
	}
	memcpy(lens, d, sizeof lens);
	memcpy(&ex, d + sizeof lens, sizeof ex);
	const unsigned char *S = d + sizeof lens + sizeof ex, *C = S + lens[0];
	size_t ilen = (size_t)(lens[1] > lens[0] ? lens[1] : lens[0]);
	unsigned char *img = calloc(1, ilen);
	char *ip = cr_path(dir, "image.heap");
	char why[512];
	size_t npages = (ilen + PAGE - 1) / PAGE;
	size_t *diff = malloc(npages * sizeof *diff), nd = 0;
	for (size_t pg = 0; pg < npages; pg++) {
		size_t o = pg * PAGE, e = o + PAGE < ilen ? o + PAGE : ilen;
		int same = e <= lens[0] && e <= lens[1] && memcmp(S + o, C + o, e - o) == 0;
		if (!same)
			diff[nd++] = pg;
	}
	for (unsigned k = 0; k < mixes + 2; k++) {
		int cls = k == 0 ? 0 : k == 1 ? 1 : 2; /* S, C, mix */
		/* bytes beyond one state's length read as zeros there: a page the writer never wrote */
		memset(img, 0, ilen);
		const unsigned char *base = cls == 1 ? C : S;
		memcpy(img, base, (size_t)(cls == 1 ? lens[1] : lens[0]));
		if (cls == 2) {
			for (size_t i = 0; i < nd; i++) {
				if (cr_below(rng, 2) == 0)
					continue;
				size_t o = diff[i] * PAGE, e = o + PAGE < ilen ? o + PAGE : ilen;
				memset(img + o, 0, e - o);
				if (o < lens[1])
					memcpy(img + o, C + o, (e < lens[1] ? e : lens[1]) - o);
			}
			if (nd && cr_below(rng, 2) == 0) { /* tear one differing page at a sector boundary */
				size_t o = diff[cr_below(rng, nd)] * PAGE, cut = SECTOR * (1 + cr_below(rng, PAGE / SECTOR - 1));
				int c_first = (int)cr_below(rng, 2);
				for (size_t b = o; b < o + PAGE && b < ilen; b++) {
					int from_c = (b - o < cut) == c_first;
					const unsigned char *src = from_c ? C : S;
					size_t slen = (size_t)(from_c ? lens[1] : lens[0]);
					img[b] = b < slen ? src[b] : 0;
				}
			}
		}
		int e = cr_write_file(ip, img, ilen, 0600);
		if (e) {
			fprintf(stderr, "powerloss: write image: %s\n", strerror(e));
			return -1;
		}
		static const char *names[3] = {"S", "C", "mix"};
		int rc = check_image(ip, &ex, names[cls], n, why, sizeof why);
		account(&cnt[cls], rc, why);
		unlink(ip);
	}
	free(diff);
	free(ip);
	free(img);
	free(d);
	return 0;
}

int main(void)
{
	unsigned pairs = (unsigned)cr_env_long("PMP_PL_PAIRS", 150);
	unsigned mixes = (unsigned)cr_env_long("PMP_PL_IMAGES", 8);
	uint64_t seed = (uint64_t)cr_env_long("PMP_PL_SEED", (long)(time(NULL) ^ getpid()));
	g_seed = seed;
	char *dir = cr_tmpdir("powerloss");
	char *path = cr_path(dir, "writer.heap");
	printf("powerloss: seed %" PRIu64 " (PMP_PL_SEED), %u crash points, %u mixed images each\n", seed, pairs, mixes);
	fflush(stdout);
	int p[2];
	if (pipe(p) < 0)
		return 2;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		run_writer(dir, path, seed, pairs, p[1]);
	}
	close(p[1]);
	FILE *in = fdopen(p[0], "r");
	struct counts cnt[3];
	memset(cnt, 0, sizeof cnt);
	uint64_t rng = seed ^ 0xabcdefull;
	char line[64];
	unsigned got = 0;
	int ended = 0, bad = 0;
	while (fgets(line, sizeof line, in)) {
		unsigned n;
		if (line[0] == 'E') {
			ended = 1;
			break;
		}
		if (sscanf(line, "P %u", &n) == 1) {
			if (process_pair(dir, n, &rng, mixes, cnt) != 0)
				bad = 1;
			got++;
		}
	}
	fclose(in);
	int st;
	waitpid(pid, &st, 0);
	if (!ended || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "powerloss: writer failed (status 0x%x)\n", st);
		bad = 1;
	}
	static const char *names[3] = {"synced state S", "current state C (= kill -9)", "mixed S/C pages + torn"};
	long fails = 0;
	for (int c = 0; c < 3; c++) {
		printf("powerloss: %-32s %5ld images: %ld invalid, %ld lost roots, %ld torn roots; %ld salvaged (%ld bytes kept as lost)\n",
		       names[c], cnt[c].images, cnt[c].invalid, cnt[c].lost, cnt[c].torn, cnt[c].salvaged, cnt[c].lost_bytes);
		fails += cnt[c].invalid + cnt[c].lost + cnt[c].torn;
	}
	printf("powerloss: %u crash points\n", got);
	if (!bad && !fails)
		cr_rmtree(dir);
	else
		fprintf(stderr, "powerloss: evidence left in %s\n", dir);
	return bad || fails || got < pairs ? 1 : 0;
}
