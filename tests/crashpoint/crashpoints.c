/* crashpoints.c: crash-point enumeration. For every allocator operation (chain blocks: alloc with and without
 * split, free with merges, realloc in place and moving, memalign, arena growth; slab pages: a slot's alloc and free,
 * a free from another thread, the owner's collection of those, a page made, adopted, retired and reshaped for
 * another class, a thread's exit; a large block's disk blocks given back by pmp_trim or the close; root
 * set/replace/remove, commit, close with its seal record and the reopen that trusts it, recovery, a reset; the crash
 * record and its root set as the preload's signal handler writes them; on a heap that tracks call sites, the record
 * each operation writes), and
 * for every N, a child prepares a heap file, arms the Nth store point and runs the operation; the point sends
 * SIGKILL to the child as kill -9 would. The parent reopens the file, requires pmp_check == 0, the
 * untouched blocks intact through the "table" root, and the operation's root either old or new. N grows until the
 * operation completes without reaching the point. On a tracked heap every untouched block must keep its record.
 * Must never: count a scenario as passed if it enumerated no point (an uninstrumented build would pass vacuously), or
 * reuse a heap file between runs.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/heap.h"
#include "core/page.h"
#include "core/theap.h"
#include "core/heap.h"
#include "pmempreload.h"

#define NBLK 24
#define ADDR ((void *)0x6a0000000000ull)

static char path[256];

struct table {
	uint64_t n;
	void *blk[NBLK];
	size_t len[NBLK];
};

static void fill(void *p, size_t n, unsigned seed)
{
	unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		c[i] = (unsigned char)(seed * 31 + i * 7);
}

static int same(const void *p, size_t n, unsigned seed)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != (unsigned char)(seed * 31 + i * 7))
			return 0;
	return 1;
}

static void die(const char *what, int e)
{
	fprintf(stderr, "crashpoints: %s: %s\n", what, pmp_strerror(e));
	_exit(3);
}

/* the table's blocks: chain blocks (above the largest slot) for the chain scenarios, slots for the page ones */
static size_t base_len;
/* PMP_FILE_TRACK for the tracked scenarios: every block carries a call-site record */
static unsigned track_flags;

/* A heap with a table of blocks, every fourth one freed so that frees can merge both ways. Roots: "table", "r". */
static pmp_heap_t *prepare(size_t initial)
{
	unlink(path);
	pmp_file_opts_t o = {.mode = PMP_OPEN_CREATE, .flags = track_flags, .addr = ADDR, .reserve = 64u << 20,
			     .initial = initial, .grow = 1u << 20};
	pmp_heap_t *h;
	int e = pmp_file_open(path, &o, &h);
	if (e)
		die("create", e);
	struct table *t = pmp_calloc(h, 1, sizeof *t);
	for (unsigned i = 0; i < NBLK; i++) {
		t->len[i] = base_len + 24 + i * 40;
		t->blk[i] = pmp_malloc(h, t->len[i]);
		fill(t->blk[i], t->len[i], i);
	}
	t->n = NBLK;
	for (unsigned i = 1; i < NBLK; i += 4) { /* holes: blocks 1, 5, 9, ... freed */
		pmp_free(h, t->blk[i]);
		t->blk[i] = NULL;
	}
	if ((e = pmp_root_set(h, "table", t)) != 0 || (e = pmp_root_set(h, "r", t->blk[0])) != 0)
		die("root", e);
	return h;
}

static struct table *table(pmp_heap_t *h) { return pmp_root_get(h, "table"); }

/* ---- the operations; `victim` is the table slot the operation may change (-1: none) ---- */
struct scenario {
	const char *name;
	size_t initial;
	int victim;
	void (*op)(pmp_heap_t *h);
	int root_changes;  /* root "r" may be old (blk[0]) or new (blk[3] or removed) */
	int no_stores;     /* the op must not write the heap at all (commit only msyncs) */
};

static void op_alloc_split(pmp_heap_t *h) { fill(pmp_malloc(h, 5000), 5000, 99); }
static void op_alloc_exact(pmp_heap_t *h) { pmp_malloc(h, 24 + 1 * 40); } /* fits hole 1 exactly */
static void op_free_merge(pmp_heap_t *h) /* blk[2]: neighbours 1 (free) and 3 (used) */
{
	struct table *t = table(h);
	pmp_free(h, t->blk[2]);
}
static void op_free_merge_both(pmp_heap_t *h) /* free 6 then 7: 7 sits between free 6 and ... */
{
	struct table *t = table(h);
	pmp_free(h, t->blk[4]); /* between 3 (used) and 5 (free) */
}
static void op_realloc_grow(pmp_heap_t *h) /* blk[8] grows into free blk[9] */
{
	struct table *t = table(h);
	pmp_realloc(h, t->blk[8], t->len[8] + 200);
}
static void op_realloc_shrink(pmp_heap_t *h)
{
	struct table *t = table(h);
	pmp_realloc(h, t->blk[23], 16);
}
static void op_realloc_move(pmp_heap_t *h)
{
	struct table *t = table(h);
	pmp_realloc(h, t->blk[11], 100000);
}
static void op_memalign(pmp_heap_t *h) { pmp_memalign(h, 4096, 3000); }
static void op_grow(pmp_heap_t *h) { pmp_malloc(h, 3u << 20); }
static void op_root_new(pmp_heap_t *h) { pmp_root_set(h, "new", pmp_malloc(h, 64)); }
static void op_root_replace(pmp_heap_t *h)
{
	struct table *t = table(h);
	pmp_root_set(h, "r", t->blk[3]);
}
static void op_root_remove(pmp_heap_t *h) { pmp_root_set(h, "r", NULL); }
static void op_commit(pmp_heap_t *h) { pmp_commit(h, NULL, 0); }
static void op_close(pmp_heap_t *h) { pmp_close(h); }
static void op_reset(pmp_heap_t *h) { pmp_heap_reset(h); }
/* a large free keeps its disk blocks (decay.c); pmp_trim or the close gives them back: mark, then punch */
static void *large_freed(pmp_heap_t *h)
{
	void *p = pmp_malloc(h, 2u << 20);
	if (p) {
		fill(p, 2u << 20, 96);
		pmp_free(h, p);
	}
	return p;
}
static void op_large_trim(pmp_heap_t *h)
{
	large_freed(h);
	pmp_trim(h);
	fill(pmp_malloc(h, 2u << 20), 2u << 20, 95); /* backed again before reuse */
}
static void op_large_close(pmp_heap_t *h)
{
	large_freed(h);
	pmp_close(h);
}
/* The close writes the seal record (directory and hashes), the next open trusts it without a walk (it marks the
 * heap dirty, then every page is checked at its first use), frees and allocates (slots of pages not checked yet,
 * a chain block), and closes again: a stop at any store of the three must leave a heap that opens valid. */
static void op_sealed_reopen(pmp_heap_t *h)
{
	pmp_close(h);
	pmp_file_opts_t o = {.mode = PMP_OPEN_EXISTING};
	if (pmp_file_open(path, &o, &h))
		_exit(7);
	if (!h->trusted_open)
		_exit(8); /* the record of the close must vouch for the heap */
	struct table *t = table(h);
	pmp_free(h, t->blk[2]);
	fill(pmp_malloc(h, 70), 70, 94);
	fill(pmp_malloc(h, 20000), 20000, 93);
	pmp_close(h);
}

/* ---- slab pages (base_len 0: the table's blocks are slots) ---- */
static void op_slot_alloc(pmp_heap_t *h) { fill(pmp_malloc(h, 70), 70, 98); }
static void op_slot_free(pmp_heap_t *h) { pmp_free(h, table(h)->blk[2]); }
static void op_slot_realloc(pmp_heap_t *h) { pmp_realloc(h, table(h)->blk[8], 700); }
static void op_page_new(pmp_heap_t *h) { fill(pmp_malloc(h, 3000), 3000, 97); } /* a class the table never used */

static void *remote_free(void *arg)
{
	pmp_heap_t *h = arg;
	struct table *t = table(h);
	pmp_free(h, t->blk[2]);
	pmp_free(h, t->blk[6]);
	return NULL;
}
static void op_remote_free(pmp_heap_t *h)
{
	pthread_t th;
	pthread_create(&th, NULL, remote_free, h);
	pthread_join(th, NULL);
}
/* the owner takes back what another thread freed: it allocates until its page's free slots run out and the
 * remote list is collected (the point is armed after the remote frees) */
static void *remote_free_all(void *arg)
{
	pmp_heap_t *h = arg;
	struct table *t = table(h);
	for (unsigned i = 12; i < NBLK; i += 4) /* blocks of one class, freed from here */
		if (t->blk[i]) {
			pmp_free(h, t->blk[i]);
			t->blk[i] = NULL;
		}
	return NULL;
}
static void op_collect(pmp_heap_t *h)
{
	for (int i = 0; i < 300; i++) /* more than a page of the class holds: its free slots run out */
		pmp_malloc(h, 24 + 12 * 40);
}
/* pages of their own emptied: the class keeps one, the thread PMP_THEAP_EMPTY_MAX, the rest go back to the chain */
static void op_page_retire(pmp_heap_t *h)
{
	enum { N = 4 * (PMP_THEAP_EMPTY_MAX + 3) }; /* 16,000-byte slots: 4 a page */
	void *p[N];
	for (int i = 0; i < N; i++)
		p[i] = pmp_malloc(h, 16000);
	for (int i = 0; i < N; i++)
		pmp_free(h, p[i]);
}
/* a page emptied while its class has another waits; a class never used takes it: its shape changes in one store */
static void op_page_reshape(pmp_heap_t *h)
{
	void *p[8];
	for (int i = 0; i < 8; i++) /* two pages */
		p[i] = pmp_malloc(h, 16000);
	for (int i = 0; i < 4; i++)
		pmp_free(h, p[i]);
	fill(pmp_malloc(h, 3000), 3000, 95);
}
/* pages of one class between pages of another, made by a thread that empties them and exits (they go back to the
 * chain): the page a third class needs next is made in the place of one of them, split from the free block it left */
static void *pages_between(void *arg)
{
	pmp_heap_t *h = arg;
	void *a[30];
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 15; i++)
			a[k * 15 + i] = pmp_malloc(h, 4000);
		for (int i = 0; i < 12; i++)
			pmp_malloc(h, 5000);
	}
	for (int i = 0; i < 30; i++)
		pmp_free(h, a[i]);
	return NULL;
}
static void op_page_reuse(pmp_heap_t *h)
{
	pthread_t th;
	pthread_create(&th, NULL, pages_between, h);
	pthread_join(th, NULL);
	fill(pmp_malloc(h, 3000), 3000, 96);
}
static void *thread_allocs(void *arg)
{
	pmp_heap_t *h = arg;
	void *keep = NULL;
	for (int i = 0; i < 50; i++) {
		void *q = pmp_malloc(h, 40 + (size_t)(i % 5) * 300);
		if (i % 2)
			pmp_free(h, q);
		else
			keep = q;
	}
	(void)keep;
	return NULL;
}
static void op_thread_exit(pmp_heap_t *h) /* a thread's pages are abandoned (or retired, when empty) at its exit */
{
	pthread_t th;
	pthread_create(&th, NULL, thread_allocs, h);
	pthread_join(th, NULL);
}

/* the preload's fatal-signal handler, as it writes: a record with frame-pointer frames, the annex of the root set,
 * the record again naming it; a stop anywhere leaves no record, the first one, or the whole one with its root set */
static struct pmp_crash crash_rec;
static struct pmp_annex_writer crash_annex;
static uint64_t crash_region[64];
static void op_crash_record(pmp_heap_t *h)
{
	struct pmp_heap *hh = (struct pmp_heap *)h;
	memset(&crash_rec, 0, sizeof crash_rec);
	crash_rec.signo = SIGSEGV;
	crash_rec.time_ns = 1234567;
	crash_rec.ext_magic = PMP_CRASH_EXT_MAGIC;
	crash_rec.nframes = 3;
	crash_rec.frames[0] = 0x1111, crash_rec.frames[1] = 0x2222, crash_rec.frames[2] = 0x3333;
	crash_rec.nregs = 2;
	crash_rec.regs[0] = 0xaaaa, crash_rec.regs[1] = (uint64_t)(uintptr_t)table(h)->blk[5];
	crash_rec.annex_err = ENODATA;
	_pmp_crash_write(hh, &crash_rec);
	for (unsigned i = 0; i < 64; i++)
		crash_region[i] = 0x5000 + i;
	if (_pmp_annex_begin(hh, &crash_annex) == 0) {
		_pmp_annex_put(hh, &crash_annex, PMP_ANNEX_STACK, PMP_ANNEX_CRASHING, (uint64_t)(uintptr_t)crash_region,
			       sizeof crash_region, sizeof crash_region, 7, -1);
		if (_pmp_annex_end(hh, &crash_annex, crash_rec.time_ns) == 0) {
			crash_rec.annex_off = crash_annex.off;
			crash_rec.annex_len = crash_annex.pos;
			crash_rec.annex_err = 0;
		}
	}
	_pmp_crash_write(hh, &crash_rec);
}

struct seen_roots {
	unsigned regs, stacks, bad;
};
static int crash_root(const pmp_crash_root_t *r, void *user)
{
	struct seen_roots *sr = user;
	const uint64_t *w = r->data;
	if (r->kind == PMP_CRASH_ROOT_REGISTERS)
		sr->regs += r->len == 16 && w[0] == 0xaaaa;
	else if (r->kind == PMP_CRASH_ROOT_STACK && r->len == 64 * 8 && w[0] == 0x5000 && w[63] == 0x5000 + 63 &&
		 r->crashing && r->tid == 7)
		sr->stacks++;
	else
		sr->bad++;
	return 0;
}

/* after the crash-record scenario: no record, or a whole one; its root set whole, or absent, never torn */
static int crash_record_ok(pmp_heap_t *h, const char *when)
{
	static pmp_crash_info_t ci;
	static pmp_crash_ext_t x;
	int e = pmp_crash_get(h, &ci);
	if (e == ENOENT)
		return 0;
	if (!e)
		e = pmp_crash_ext(h, &x);
	if (e || ci.nframes != 3 || ci.frames[2] != 0x3333 || x.nregs != 2 || ci.signo != SIGSEGV) {
		fprintf(stderr, "crash-record %s: a torn record (error %d, %u frames)\n", when, e, ci.nframes);
		return 1;
	}
	struct seen_roots sr = {0, 0, 0};
	e = pmp_crash_roots(h, crash_root, &sr);
	if (sr.regs != 1 || sr.bad || (e == 0) != (sr.stacks == 1) || (e && e != ENODATA) || e != x.roots_err) {
		fprintf(stderr, "crash-record %s: root set torn (error %d, %u registers, %u stacks, %u bad)\n", when, e,
			sr.regs, sr.stacks, sr.bad);
		return 1;
	}
	return 0;
}

static const struct scenario scenarios[] = {
	{"alloc-split", 1u << 20, -1, op_alloc_split, 0, 0},
	{"alloc-exact", 1u << 20, -1, op_alloc_exact, 0, 0},
	{"free-merge-prev", 1u << 20, 2, op_free_merge, 0, 0},
	{"free-merge-next", 1u << 20, 4, op_free_merge_both, 0, 0},
	{"realloc-grow-in-place", 1u << 20, 8, op_realloc_grow, 0, 0},
	{"realloc-shrink", 1u << 20, 23, op_realloc_shrink, 0, 0},
	{"realloc-move", 1u << 20, 11, op_realloc_move, 0, 0},
	{"memalign", 1u << 20, -1, op_memalign, 0, 0},
	{"grow", 1u << 20, -1, op_grow, 0, 0},
	{"root-new", 1u << 20, -1, op_root_new, 0, 0},
	{"root-replace", 1u << 20, -1, op_root_replace, 1, 0},
	{"root-remove", 1u << 20, -1, op_root_remove, 1, 0},
	{"commit", 1u << 20, -1, op_commit, 0, 1},
	{"close", 1u << 20, -1, op_close, 0, 0},
	{"large-free-trim-reuse", 1u << 20, -1, op_large_trim, 0, 0},
	{"large-free-close", 1u << 20, -1, op_large_close, 0, 0},
	{"reset", 1u << 20, -1, op_reset, 0, 0},
	{"sealed-reopen", 1u << 20, 2, op_sealed_reopen, 0, 0},
	{"crash-record", 1u << 20, -1, op_crash_record, 0, 0},
};
/* the page scenarios: the table's blocks are slots */
static const struct scenario page_scenarios[] = {
	{"slot-alloc", 1u << 20, -1, op_slot_alloc, 0, 0},
	{"slot-free", 1u << 20, 2, op_slot_free, 0, 0},
	{"slot-realloc-move", 1u << 20, 8, op_slot_realloc, 0, 0},
	{"page-new", 1u << 20, -1, op_page_new, 0, 0},
	{"remote-free", 1u << 20, -2, op_remote_free, 0, 0},
	{"collect-remote-frees", 1u << 20, -3, op_collect, 0, 0},
	{"page-retire", 1u << 20, -1, op_page_retire, 0, 0},
	{"page-reshaped-for-another-class", 1u << 20, -1, op_page_reshape, 0, 0},
	{"page-in-retired-place", 1u << 20, -1, op_page_reuse, 0, 0},
	{"thread-exit", 1u << 20, -1, op_thread_exit, 0, 0},
	{"close", 1u << 20, -1, op_close, 0, 0},
	{"reset", 1u << 20, -1, op_reset, 0, 0},
	{"sealed-reopen", 1u << 20, 2, op_sealed_reopen, 0, 0},
};

static int count_root(const char *name, void *p, void *user)
{
	(void)name;
	(void)p;
	++*(int *)user;
	return 0;
}

/* a reset stopped: roots go first, then one store empties the arena. Either the chain is untouched (the table,
 * while its root lasts, intact) or the heap is empty and has no root. */
static int verify_reset(pmp_heap_t *h, const struct scenario *s, const char *when, int completed)
{
	pmp_stats_t st;
	int roots = 0;
	pmp_info_t in;
	if (pmp_stats(h, &st) || pmp_root_list(h, count_root, &roots) || pmp_info(h, &in)) {
		fprintf(stderr, "%s %s: stats, roots or info failed\n", s->name, when);
		return 1;
	}
	if (in.last_dropped_roots || in.last_lost_regions) { /* a root left pointing into the emptied arena */
		fprintf(stderr, "%s %s: the open had to salvage (%u roots dropped)\n", s->name, when,
			in.last_dropped_roots);
		return 1;
	}
	if (st.used_blocks == 0)
		return roots ? (fprintf(stderr, "%s %s: empty heap with %d roots\n", s->name, when, roots), 1) : 0;
	if (completed) {
		fprintf(stderr, "%s %s: %llu blocks left\n", s->name, when, (unsigned long long)st.used_blocks);
		return 1;
	}
	struct table *t = table(h);
	for (int i = 0; t && i < NBLK; i++)
		if (t->blk[i] && (pmp_usable_size(h, t->blk[i]) < t->len[i] || !same(t->blk[i], t->len[i], (unsigned)i))) {
			fprintf(stderr, "%s %s: block %d damaged before the reset's store\n", s->name, when, i);
			return 1;
		}
	return 0;
}

/* tracked scenarios: chain and slot operations that write records (alloc, free, realloc both ways, memalign, a
 * free from another thread) */
static const struct scenario tracked_scenarios[] = {
	{"alloc-split", 1u << 20, -1, op_alloc_split, 0, 0},
	{"free-merge-prev", 1u << 20, 2, op_free_merge, 0, 0},
	{"realloc-grow-in-place", 1u << 20, 8, op_realloc_grow, 0, 0},
	{"realloc-move", 1u << 20, 11, op_realloc_move, 0, 0},
	{"memalign", 1u << 20, -1, op_memalign, 0, 0},
	{"slot-alloc", 1u << 20, -1, op_slot_alloc, 0, 0},
	{"slot-free", 1u << 20, 2, op_slot_free, 0, 0},
	{"remote-free", 1u << 20, -2, op_remote_free, 0, 0},
};

struct records {
	const struct scenario *s;
	const struct table *t;
	pmp_heap_t *h;
	int bad;
};

/* every live block of the table the operation did not touch still names its allocation, and no free */
static int record_cb(const pmp_block_t *b, void *user)
{
	struct records *rc = user;
	for (int i = 0; i < NBLK; i++) {
		if (rc->t->blk[i] != b->addr || i == rc->s->victim || (rc->s->victim == -2 && (i == 2 || i == 6)))
			continue;
		pmp_site_record_t r;
		if (pmp_block_site(rc->h, b, &r) != 0 || r.freed || !r.alloc_site || !r.seq)
			rc->bad = 1;
	}
	return 0;
}

/* what the parent requires of the file after the child stopped (or finished) */
static int verify(const struct scenario *s, const char *when)
{
	pmp_file_opts_t o = {.mode = PMP_OPEN_EXISTING};
	pmp_heap_t *h;
	int e = pmp_file_open(path, &o, &h);
	if (e) {
		fprintf(stderr, "%s %s: reopen failed: %s\n", s->name, when, pmp_strerror(e));
		return 1;
	}
	pmp_report_t r;
	if ((e = pmp_check(h, &r)) != 0) {
		fprintf(stderr, "%s %s: pmp_check: %s\n", s->name, when, r.msg);
		pmp_close(h);
		return 1;
	}
	if (s->op == op_reset) { /* the old heap (fewer roots) or the empty one */
		int bad = verify_reset(h, s, when, strcmp(when, "completed") == 0);
		pmp_close(h);
		return bad;
	}
	struct table *t = table(h);
	int bad = 0;
	if (!t || t->n != NBLK) {
		fprintf(stderr, "%s %s: table root lost\n", s->name, when);
		bad = 1;
	}
	for (int i = 0; !bad && i < NBLK; i++) {
		if (!t->blk[i])
			continue;
		size_t n = t->len[i];
		if (i == s->victim) { /* realloc may have moved or shrunk it: whatever survives keeps its prefix */
			continue;
		}
		if (s->victim == -2 && (i == 2 || i == 6)) /* freed from another thread when the stop came, or not */
			continue;
		if (pmp_usable_size(h, t->blk[i]) < n || !same(t->blk[i], n, (unsigned)i)) {
			fprintf(stderr, "%s %s: block %d damaged\n", s->name, when, i);
			bad = 1;
		}
	}
	void *r0 = pmp_root_get(h, "r");
	if (!bad && !s->root_changes && r0 != t->blk[0]) {
		fprintf(stderr, "%s %s: root r changed\n", s->name, when);
		bad = 1;
	}
	if (!bad && s->root_changes && r0 != t->blk[0] && r0 != t->blk[3] && r0 != NULL) {
		fprintf(stderr, "%s %s: root r is neither old nor new (%p)\n", s->name, when, r0);
		bad = 1;
	}
	if (!bad && track_flags) {
		struct records rc = {s, t, h, 0};
		pmp_walk(h, record_cb, &rc);
		if (rc.bad) {
			fprintf(stderr, "%s %s: a block's call-site record was lost\n", s->name, when);
			bad = 1;
		}
	}
	if (!bad && s->op == op_crash_record)
		bad = crash_record_ok(h, when);
	void *nw = pmp_root_get(h, "new");
	if (!bad && nw && pmp_usable_size(h, nw) < 64) {
		fprintf(stderr, "%s %s: root new points to a bad block\n", s->name, when);
		bad = 1;
	}
	pmp_close(h);
	return bad;
}

/* child: prepare, arm, operate. Exit status 0 = the op completed before the armed point. */
static _Noreturn void child(const struct scenario *s, long nth)
{
	pmp_heap_t *h = prepare(s->initial);
	if (s->victim == -3) { /* frees from another thread wait in the owner's page before the armed operation */
		pthread_t th;
		pthread_create(&th, NULL, remote_free_all, h);
		pthread_join(th, NULL);
	}
	_pmp_crashpoint_arm(nth);
	s->op(h);
	_pmp_crashpoint_arm(0);
	_exit(0);
}

/* run one scenario for every N; returns failures, counts the points in *points */
static int enumerate(const struct scenario *s, long *points, long *kills)
{
	int fails = 0;
	for (long nth = 1;; nth++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork", errno);
		if (pid == 0)
			child(s, nth);
		int st;
		waitpid(pid, &st, 0);
		char when[48];
		snprintf(when, sizeof when, "stop at store %ld", nth);
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
			(*kills)++;
			fails += verify(s, when);
			continue;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "%s: child failed (status 0x%x)\n", s->name, st);
			return fails + 1;
		}
		*points = nth - 1;
		fails += verify(s, "completed");
		return fails;
	}
}

/* Recovery under stops: a dirty heap (child _exits without closing), then a second process opens it (recovery runs
 * inside pmp_file_open) and is stopped at its Nth store; a third open must still recover to a valid heap. */
static int enumerate_recovery(long *points, long *kills)
{
	const struct scenario *s = &scenarios[2];
	int fails = 0;
	for (long nth = 1;; nth++) {
		pid_t pid = fork();
		if (pid == 0) {
			pmp_heap_t *h = prepare(1u << 20);
			s->op(h);
			/* leave recovery work, as stops inside free and a thread cache would: block 6 marked free next to
			 * free block 5 (unmerged), block 10 marked cached next to free block 9. Then die without closing. */
			struct table *t = table(h);
			uint64_t b6 = (uint64_t)((uint8_t *)t->blk[6] - h->base) - PMP_HDR;
			uint64_t b10 = (uint64_t)((uint8_t *)t->blk[10] - h->base) - PMP_HDR;
			t->blk[6] = t->blk[10] = NULL;
			_pmp_set_head(h, b6, (_pmp_head(h, b6) & PMP_W_VALUE) | PMP_B_FREE);
			_pmp_set_head(h, b10, (_pmp_head(h, b10) & PMP_W_VALUE) | PMP_B_CACHED);
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return fails + 1;
		pid = fork();
		if (pid == 0) {
			_pmp_crashpoint_arm(nth);
			pmp_file_opts_t o = {.mode = PMP_OPEN_EXISTING};
			pmp_heap_t *h;
			int e = pmp_file_open(path, &o, &h);
			_pmp_crashpoint_arm(0);
			_exit(e ? 5 : 0);
		}
		waitpid(pid, &st, 0);
		char when[48];
		snprintf(when, sizeof when, "recovery stopped at store %ld", nth);
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
			(*kills)++;
			fails += verify(s, when);
			continue;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "recovery: child failed (status 0x%x)\n", st);
			return fails + 1;
		}
		*points = nth - 1;
		return fails + verify(s, "recovery completed");
	}
}

int main(void)
{
	char dir[] = "/tmp/pmp-crashpoints-XXXXXX";
	if (!mkdtemp(dir))
		die("mkdtemp", errno);
	snprintf(path, sizeof path, "%s/h.heap", dir);
	int fails = 0;
	long total_points = 0, total_kills = 0;
	const struct { const struct scenario *s; size_t n, len; unsigned track; const char *what; } tables[] = {
		{scenarios, sizeof scenarios / sizeof scenarios[0], PMP_SMALL_MAX, 0, "chain blocks"},
		{page_scenarios, sizeof page_scenarios / sizeof page_scenarios[0], 0, 0, "slab pages"},
		{tracked_scenarios, 5, PMP_SMALL_MAX, PMP_FILE_TRACK, "call sites tracked: chain blocks"},
		{tracked_scenarios + 5, 3, 0, PMP_FILE_TRACK, "call sites tracked: slab pages"},
	};
	for (size_t k = 0; k < sizeof tables / sizeof tables[0]; k++) {
		base_len = tables[k].len;
		track_flags = tables[k].track;
		printf("-- %s\n", tables[k].what);
		for (size_t i = 0; i < tables[k].n; i++) {
			const struct scenario *sc = &tables[k].s[i];
			long points = 0, kills = 0;
			int f = enumerate(sc, &points, &kills);
			printf("%-22s %3ld store points, %3ld stops, %d failures\n", sc->name, points, kills, f);
			if (points == 0 && !sc->no_stores) {
				fprintf(stderr, "%s: no store point reached: is the build instrumented?\n", sc->name);
				f++;
			} else if (points != 0 && sc->no_stores) {
				fprintf(stderr, "%s: wrote the heap %ld times, expected no store\n", sc->name, points);
				f++;
			}
			fails += f;
			total_points += points;
			total_kills += kills;
		}
	}
	base_len = PMP_SMALL_MAX;
	track_flags = 0;
	long points = 0, kills = 0;
	int f = enumerate_recovery(&points, &kills);
	printf("%-22s %3ld store points, %3ld stops, %d failures\n", "recovery", points, kills, f);
	fails += f + (points == 0);
	total_points += points;
	total_kills += kills;
	printf("crashpoints: %ld store points, %ld stops checked, %d failures\n", total_points, total_kills, fails);
	unlink(path);
	rmdir(dir);
	return fails ? 1 : 0;
}
