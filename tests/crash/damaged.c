/* damaged.c: writable opens of damaged heap files (issue 7, item 4). One validator serves pmp_check and the
 * writable open: what it rejects in a heap closed cleanly is refused untouched (bytes, size, mtime and allocated
 * disk blocks as they were), what it rejects in a dirty heap is salvaged into a heap that passes pmp_check, and
 * nothing that was live is ever turned free. Also: sizes in the file are capped by the mapping (a file longer than
 * its reservation, a file extended past its end on a full disk), and a superblock base of 0 is refused.
 *
 * The damage is forged with valid check bits and checksums (the internal header words and superblock checksum),
 * the way an attacker with the format in hand would, so the validator, not a checksum, must catch it.
 * Must never: judge a heap by anything but pmp_check and the block walk, or leave a mount or file behind.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "core/block.h"

#define BASE ((void *)0x630000000000ull)
#define RESERVE ((size_t)32 << 20)
#define NBLOCKS 120

static char *dir;

static void setup(void)
{
	dir = cr_tmpdir("damaged");
	alarm(60);
}
static void teardown(void)
{
	cr_rmtree(dir);
	free(dir);
}
TestSuite(damaged, .init = setup, .fini = teardown);

static pmp_file_opts_t opts(int mode)
{
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = mode;
	o.addr = BASE;
	o.reserve = RESERVE;
	o.initial = (size_t)256 << 10;
	return o;
}

/* NBLOCKS used blocks (every third freed), roots r0..r9 on used ones. dirty: the writer ends without closing
 * (a child that exits: a dirty heap, as after a crash). Returns the path (malloc'd). */
static char *make_heap(const char *name, int dirty)
{
	char *p = cr_path(dir, name);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		pmp_file_opts_t o = opts(PMP_OPEN_CREATE);
		pmp_heap_t *h;
		if (pmp_file_open(p, &o, &h))
			_exit(10);
		int roots = 0;
		for (int i = 0; i < NBLOCKS; i++) {
			/* chain blocks (these tests forge chain headers), and one slot of a page per block too */
			char *b = pmp_malloc(h, PMP_SMALL_MAX + (size_t)(40 + i * 37 % 900));
			char *slot = pmp_malloc(h, (size_t)(16 + i * 8 % 200));
			if (!slot)
				_exit(14);
			memset(slot, 's', 8);
			if (!b)
				_exit(11);
			memset(b, 'a' + i % 26, 40);
			if (i % 3 == 0)
				pmp_free(h, b);
			else if (i % 7 == 1 && roots < 10) {
				char n[8];
				snprintf(n, sizeof n, "r%d", roots++);
				if (pmp_root_set(h, n, b))
					_exit(12);
			}
		}
		if (!dirty && pmp_close(h))
			_exit(13);
		_exit(0);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "heap maker failed: %d", st);
	return p;
}

/* ---- what a heap holds, through the public API ---- */

struct blocks {
	uint64_t off[64 * NBLOCKS];
	int state[64 * NBLOCKS];
	int chain[64 * NBLOCKS]; /* a chain block (header before it), else a slot of a page */
	size_t n;
	unsigned roots;
};
static int collect(const pmp_block_t *b, void *u)
{
	struct blocks *bs = u;
	if (b->block_size == b->size && b->state != PMP_BLOCK_USED)
		return 0; /* free slots: thousands a page, and no test needs them */
	if (bs->n < sizeof bs->off / sizeof bs->off[0]) {
		bs->off[bs->n] = b->offset;
		bs->chain[bs->n] = b->block_size != b->size;
		bs->state[bs->n++] = b->state;
	}
	return 0;
}
static int count_root(const char *name, void *p, void *u)
{
	(void)name;
	(void)p;
	(*(unsigned *)u)++;
	return 0;
}
/* read-only view: the blocks (walk) and roots; returns pmp_check's verdict */
static int view(const char *path, struct blocks *bs)
{
	pmp_file_opts_t o = opts(PMP_OPEN_READONLY);
	o.flags = PMP_FILE_ANYADDR;
	pmp_heap_t *h;
	int e = pmp_file_open(path, &o, &h);
	cr_assert_eq(e, 0, "read-only view of %s: %s", path, pmp_strerror(e));
	memset(bs, 0, sizeof *bs);
	pmp_walk(h, collect, bs);
	pmp_root_list(h, count_root, &bs->roots);
	int c = pmp_check(h, NULL);
	pmp_close(h);
	return c;
}

/* ---- forging ---- */

struct forge {
	int fd;
	uint8_t *m;
	size_t len;
	struct pmp_sb sb;
	struct pmp_heap fake; /* salt and end, for the header-word helpers */
};
static void forge_open(const char *path, struct forge *f)
{
	f->fd = open(path, O_RDWR);
	cr_assert_geq(f->fd, 0);
	struct stat st;
	fstat(f->fd, &st);
	f->len = (size_t)st.st_size;
	f->m = mmap(NULL, f->len, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
	cr_assert_neq(f->m, MAP_FAILED);
	cr_assert_eq(_pmp_sb_read(f->m, PMP_PAGE, &f->sb), 0);
	memset(&f->fake, 0, sizeof f->fake);
	f->fake.salt = f->sb.salt;
	f->fake.end = f->sb.mapped;
	f->fake.base = f->m;
}
/* rewrite both superblock copies with f->sb (checksum made valid) */
static void forge_sb(struct forge *f)
{
	f->sb.checksum = _pmp_sb_checksum(&f->sb);
	memcpy(f->m, &f->sb, sizeof f->sb);
	memcpy(f->m + PMP_SB_SLOT, &f->sb, sizeof f->sb);
}
static void forge_close(struct forge *f)
{
	munmap(f->m, f->len);
	close(f->fd);
}
static struct pmp_root *root_entry(struct forge *f, unsigned i)
{
	return (struct pmp_root *)(void *)(f->m + PMP_OFF_ROOTS + i * sizeof(struct pmp_root));
}

/* snapshot with the allocated disk blocks too: a refused open must not fill holes */
struct snap {
	struct cr_snap s;
	blkcnt_t blocks;
};
static void snap_take(const char *p, struct snap *s)
{
	cr_assert_eq(cr_snap_take(p, &s->s), 0);
	struct stat st;
	stat(p, &st);
	s->blocks = st.st_blocks;
}
static void snap_same(const char *p, struct snap *s)
{
	struct stat st;
	stat(p, &st);
	cr_assert(cr_snap_same(p, &s->s), "%s was modified by a refused open", p);
	cr_assert_eq(st.st_blocks, s->blocks, "a refused open allocated disk blocks (%ld -> %ld)", (long)s->blocks,
		     (long)st.st_blocks);
	cr_snap_free(&s->s);
}

/* refused untouched by a writable open with these flags (PMP_FILE_VERIFY: the full walk even where a seal record
 * would vouch for the heap) */
static void expect_refused_untouched_by(const char *p, int want, unsigned flags)
{
	struct snap s;
	snap_take(p, &s);
	int fds = cr_count_fds();
	for (int mode = PMP_OPEN_ANY; mode <= PMP_OPEN_EXISTING; mode += PMP_OPEN_EXISTING - PMP_OPEN_ANY) {
		pmp_file_opts_t o = opts(mode);
		o.flags = flags;
		pmp_heap_t *h;
		int e = pmp_file_open(p, &o, &h);
		if (!e)
			pmp_close(h);
		cr_assert_eq(e, want, "writable open gave %d (%s), expected %d (%s)", e, pmp_strerror(e), want,
			     pmp_strerror(want));
	}
	cr_assert_eq(cr_count_fds(), fds, "descriptor leaked");
	cr_assert(cr_range_free(BASE, RESERVE), "mapping left behind");
	snap_same(p, &s);
}

/* refused untouched by the default open and by the full walk alike */
static void expect_refused_untouched(const char *p, int want)
{
	expect_refused_untouched_by(p, want, 0);
	expect_refused_untouched_by(p, want, PMP_FILE_VERIFY);
}

/* Damage the seal record does not cover (a page, a chain block): the default open trusts the record, and the damage
 * is found when an operation (`use`, or else the close) reaches it: the process stops with one message naming it,
 * and leaves the heap dirty for the next open to salvage. */
struct lazy {
	const char *path;
	void (*use)(pmp_heap_t *h, void *arg);
	void *arg;
};
static void lazy_child(void *arg)
{
	struct lazy *l = arg;
	pmp_file_opts_t o = opts(PMP_OPEN_EXISTING);
	pmp_heap_t *h;
	if (pmp_file_open(l->path, &o, &h) != 0)
		_exit(30);
	if (!h->trusted_open)
		_exit(31);
	if (pmp_check(h, NULL) == 0)
		_exit(32); /* the check (a full walk) must see the damage the open did not look at */
	if (l->use)
		l->use(h, l->arg);
	pmp_close(h);
	_exit(33); /* reached the end: the damage went unseen */
}
static void expect_found_lazily(const char *p, void (*use)(pmp_heap_t *h, void *arg), void *arg, const char *msg)
{
	struct lazy l = {p, use, arg};
	char *err = NULL;
	int st = cr_run_child(lazy_child, &l, 30, &err);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "damage after the seal: status %d, stderr: %s", st,
		  err ? err : "");
	cr_assert(err && strstr(err, msg) && strstr(err, "pmempreload: ") == err && !strchr(err, '\n')[1],
		  "one line naming the damage (\"%s\") expected: %s", msg, err ? err : "");
	free(err);
}

/* open writable and close: must succeed; then the heap must pass pmp_check */
static void open_close_ok(const char *p)
{
	pmp_file_opts_t o = opts(PMP_OPEN_EXISTING);
	pmp_heap_t *h;
	int e = pmp_file_open(p, &o, &h);
	cr_assert_eq(e, 0, "writable open: %s", pmp_strerror(e));
	pmp_report_t r;
	cr_assert_eq(pmp_check(h, &r), 0, "after the writable open: %s", r.msg);
	cr_assert_eq(pmp_close(h), 0);
	struct blocks bs;
	cr_assert_eq(view(p, &bs), 0, "heap fails pmp_check after a writable session");
}

/* the offset of the k-th used chain block from the arena's start (k counted among used chain blocks) */
static uint64_t used_block(const struct blocks *bs, size_t k)
{
	for (size_t i = 0; i < bs->n; i++)
		if (bs->state[i] == PMP_BLOCK_USED && bs->chain[i] && k-- == 0)
			return bs->off[i];
	cr_assert_fail("not enough used blocks");
	return 0;
}

/* an end header forged over used block b, with check bits and the sentinel's boundary tag to match */
static void forge_end_header(const char *p, uint64_t b)
{
	struct forge f;
	forge_open(p, &f);
	uint64_t sent = f.sb.mapped - PMP_HDR;
	_pmp_hdr(&f.fake, b)->head = _pmp_head_word(&f.fake, b, PMP_B_END);
	_pmp_hdr(&f.fake, sent)->prev_size = _pmp_prev_word(&f.fake, sent, sent - b);
	forge_close(&f);
}

Test(damaged, end_header_mid_arena_clean_is_refused)
{
	char *p = make_heap("end.heap", 0);
	struct blocks before;
	cr_assert_eq(view(p, &before), 0);
	forge_end_header(p, used_block(&before, 10));
	struct blocks bs;
	cr_assert_neq(view(p, &bs), 0, "the read-only check must call the forged heap inconsistent");
	expect_refused_untouched(p, PMP_ECORRUPT);
	free(p);
}

Test(damaged, end_header_mid_arena_dirty_frees_nothing_live)
{
	char *p = make_heap("enddirty.heap", 1);
	struct blocks before, after;
	view(p, &before);
	uint64_t b = used_block(&before, 10);
	forge_end_header(p, b);
	open_close_ok(p);
	view(p, &after);
	/* every block that was used after the forged header is still there, at the same offset, used */
	size_t kept = 0, used_after = 0;
	for (size_t i = 0; i < before.n; i++) {
		if (before.state[i] != PMP_BLOCK_USED || !before.chain[i] || before.off[i] <= b)
			continue;
		used_after++;
		for (size_t j = 0; j < after.n; j++)
			if (after.off[j] == before.off[i] && after.state[j] == PMP_BLOCK_USED)
				kept++;
	}
	cr_assert_gt(used_after, 30);
	cr_assert_eq(kept, used_after, "%zu of %zu used blocks after the forged header were turned free", used_after - kept,
		     used_after);
	cr_assert_geq(after.roots, before.roots - 1, "roots were lost beyond the damaged block");
	free(p);
}

/* root-table damage of each kind, in a clean heap (refused untouched) and a dirty one (the root is dropped) */
enum root_damage { NAME_NO_NUL, NAME_EMPTY, OFF_OUTSIDE, OFF_INSIDE_BLOCK, OFF_AT_FREE_BLOCK, NDAMAGE };
static const char *const damage_name[] = {"name without NUL", "empty name", "offset outside the arena",
					  "offset inside a block", "offset at a free block"};

static void damage_root(const char *p, enum root_damage d)
{
	struct blocks bs;
	view(p, &bs);
	struct forge f;
	forge_open(p, &f);
	struct pmp_root *r = root_entry(&f, 0);
	cr_assert_neq(r->off, 0, "root 0 is in use");
	switch (d) {
	case NAME_NO_NUL:
		memset(r->name, 'x', sizeof r->name);
		break;
	case NAME_EMPTY:
		r->name[0] = 0;
		break;
	case OFF_OUTSIDE:
		r->off = f.sb.mapped + 4096;
		break;
	case OFF_INSIDE_BLOCK:
		r->off += 32;
		break;
	case OFF_AT_FREE_BLOCK:
		for (size_t i = 0; i < bs.n; i++)
			if (bs.state[i] == PMP_BLOCK_FREE) {
				r->off = bs.off[i] + PMP_HDR;
				break;
			}
		break;
	default:
		break;
	}
	forge_close(&f);
}

Test(damaged, root_table_damage)
{
	for (int d = 0; d < NDAMAGE; d++) {
		char name[32];
		snprintf(name, sizeof name, "rc%d.heap", d);
		char *p = make_heap(name, 0);
		damage_root(p, d);
		struct blocks bs;
		cr_assert_neq(view(p, &bs), 0, "clean heap, %s: check must fail", damage_name[d]);
		expect_refused_untouched(p, PMP_ECORRUPT);
		free(p);

		snprintf(name, sizeof name, "rd%d.heap", d);
		p = make_heap(name, 1);
		struct blocks before, after;
		view(p, &before);
		damage_root(p, d);
		open_close_ok(p);
		view(p, &after);
		cr_assert_eq(after.roots, before.roots - 1, "dirty heap, %s: %u roots before, %u after", damage_name[d],
			     before.roots, after.roots);
		free(p);
	}
}

Test(damaged, base_zero_is_refused)
{
	char *p = make_heap("base0.heap", 0);
	struct forge f;
	forge_open(p, &f);
	f.sb.base = 0;
	forge_sb(&f);
	forge_close(&f);
	expect_refused_untouched(p, PMP_ELAYOUT);
	pmp_file_opts_t o = opts(PMP_OPEN_READONLY);
	o.flags = PMP_FILE_ANYADDR;
	pmp_heap_t *h;
	cr_assert_eq(pmp_file_open(p, &o, &h), PMP_ELAYOUT);
	free(p);
}

/* a file longer than its heap's reservation: growth stops at the reservation, never past the mapping */
Test(damaged, file_longer_than_the_reservation)
{
	char *p = make_heap("long.heap", 0);
	cr_assert_eq(truncate(p, (off_t)RESERVE + (8 << 20)), 0);
	pmp_file_opts_t o = opts(PMP_OPEN_EXISTING);
	pmp_heap_t *h;
	cr_assert_eq(pmp_file_open(p, &o, &h), 0);
	size_t got = 0;
	void *b;
	while ((b = pmp_malloc(h, 1 << 20)) != NULL) {
		memset(b, 1, 1 << 20);
		got++;
	}
	cr_assert_eq(errno, ENOMEM);
	pmp_stats_t s;
	pmp_stats(h, &s);
	cr_assert_leq(s.mapped, RESERVE, "the heap grew past its reservation: %llu", (unsigned long long)s.mapped);
	cr_assert_gt(got, 20);
	cr_assert_eq(pmp_check(h, NULL), 0);
	cr_assert_eq(pmp_close(h), 0);
	free(p);
}

/* A dirty heap extended by hand: a sparse 1 GiB of holes past a chain whose last header is damaged. The salvage
 * must follow the file's data (its resync skips holes) and the refused clean variant must not fill them. */
Test(damaged, sparse_declared_heap)
{
	char *p = make_heap("sparse.heap", 0);
	struct forge f;
	forge_open(p, &f);
	uint64_t big = (uint64_t)1 << 30;
	f.sb.mapped = big;
	f.sb.reserved = (uint64_t)2 << 30;
	f.sb.grow_from = 0;
	forge_sb(&f);
	forge_close(&f);
	cr_assert_eq(truncate(p, (off_t)big), 0);
	/* the end sentinel now belongs at big - 16, in a hole: the chain is damaged where the old sentinel was */
	struct blocks bs;
	cr_assert_neq(view(p, &bs), 0);
	struct snap s;
	snap_take(p, &s);
	pmp_file_opts_t o = opts(PMP_OPEN_EXISTING);
	o.addr = NULL;
	pmp_heap_t *h;
	uint64_t t0 = cr_now_us();
	int e = pmp_file_open(p, &o, &h);
	uint64_t t1 = cr_now_us();
	if (!e)
		pmp_close(h);
	cr_assert_eq(e, PMP_ECORRUPT, "clean damaged sparse heap: %s", pmp_strerror(e));
	snap_same(p, &s);
	cr_assert_lt(t1 - t0, 5000000, "refusing a sparse heap took %llu us", (unsigned long long)(t1 - t0));
	free(p);
}

/* a heap file extended (sparse) past its end, on a full disk: growth must give ENOMEM, never SIGBUS */
static void grow_on_full_disk(void *arg)
{
	const char *p = arg;
	pmp_file_opts_t o = opts(PMP_OPEN_EXISTING);
	pmp_heap_t *h;
	if (pmp_file_open(p, &o, &h))
		_exit(20);
	void *b;
	size_t n = 0;
	while ((b = pmp_malloc(h, 64 << 10)) != NULL) {
		memset(b, 7, 64 << 10);
		n++;
	}
	if (errno != ENOMEM)
		_exit(21);
	if (pmp_check(h, NULL))
		_exit(22);
	_exit(pmp_close(h) ? 23 : 0);
}

Test(damaged, sparse_extension_on_a_full_disk)
{
	char *mnt = cr_path(dir, "mnt");
	cr_assert_eq(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=2m,mode=0700") != 0) {
		free(mnt);
		cr_skip_test("cannot mount a tmpfs (not root?)");
	}
	char *p = cr_path(mnt, "x.heap");
	pmp_file_opts_t o = opts(PMP_OPEN_CREATE);
	pmp_heap_t *h;
	cr_assert_eq(pmp_file_open(p, &o, &h), 0);
	cr_assert_eq(pmp_close(h), 0);
	cr_assert_eq(truncate(p, 16 << 20), 0); /* holes past the heap's end, inside the reservation */
	char *fill = cr_path(mnt, "fill");
	int fd = open(fill, O_WRONLY | O_CREAT, 0600);
	char buf[4096];
	memset(buf, 1, sizeof buf);
	while (write(fd, buf, sizeof buf) == (ssize_t)sizeof buf)
		;
	close(fd);
	char *err = NULL;
	int st = cr_run_child(grow_on_full_disk, p, 30, &err);
	umount2(mnt, MNT_DETACH);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "growth on a full disk: status %d (%s) %s", st,
		  WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "", err ? err : "");
	free(err);
	free(fill);
	free(p);
	free(mnt);
}

/* ---- slab pages ---- */

/* the first page of the heap (its offset), found through a used slot of the walk */
static uint64_t first_page(const struct blocks *bs)
{
	for (size_t i = 0; i < bs->n; i++)
		if (bs->state[i] == PMP_BLOCK_USED && !bs->chain[i])
			return bs->off[i] & ~(uint64_t)(PMP_SLAB - 1);
	cr_assert_fail("no slot in the heap");
	return 0;
}

enum page_damage { BIT_BEYOND_CAPACITY, REMOTE_OUTSIDE, REMOTE_NOT_LIVE };

static void damage_page(const char *p, enum page_damage d)
{
	struct blocks bs;
	view(p, &bs);
	uint64_t pg = first_page(&bs);
	struct forge f;
	forge_open(p, &f);
	struct pmp_page *page = (struct pmp_page *)(void *)(f.m + pg);
	switch (d) {
	case BIT_BEYOND_CAPACITY:
		page->live[PMP_PAGE_WORDS - 1] |= (uint64_t)1 << 63;
		break;
	case REMOTE_OUTSIDE:
		page->remote = pg + PMP_SLAB + 64;
		break;
	case REMOTE_NOT_LIVE: { /* the last slot, never handed out in these small heaps */
		uint64_t last = pg + page->first_slot + (uint64_t)(page->capacity - 1) * page->slot_size;
		*(uint64_t *)(void *)(f.m + last) = 0;
		page->remote = last;
		break;
	}
	}
	forge_close(&f);
}

/* salvage keeps every slot and block that was live, and every root */
static void salvage_kept_all(const struct blocks *before, const struct blocks *after, const char *which,
			     const char *what)
{
	size_t kept = 0, live = 0;
	for (size_t i = 0; i < before->n; i++) {
		if (before->state[i] != PMP_BLOCK_USED)
			continue;
		live++;
		for (size_t j = 0; j < after->n; j++)
			if (after->off[j] == before->off[i] && after->state[j] == PMP_BLOCK_USED)
				kept++;
	}
	cr_assert_eq(kept, live, "%s, %s: %zu of %zu live blocks survived the salvage", which, what, kept, live);
	cr_assert_eq(after->roots, before->roots, "%s, %s: roots lost", which, what);
}

Test(damaged, page_damage)
{
	static const char *const what[] = {"bit beyond the capacity", "remote list outside its page",
					   "remote list holding a free slot"};
	for (int d = BIT_BEYOND_CAPACITY; d <= REMOTE_NOT_LIVE; d++) {
		char name[32];
		snprintf(name, sizeof name, "pc%d.heap", d);
		char *p = make_heap(name, 0);
		struct blocks bs, before, after;
		view(p, &before);
		damage_page(p, d);
		cr_assert_neq(view(p, &bs), 0, "clean heap, %s: check must fail", what[d]);
		expect_refused_untouched_by(p, PMP_ECORRUPT, PMP_FILE_VERIFY);
		/* the default open: found at the page's first use (here: the close), then salvaged keeping every slot */
		expect_found_lazily(p, NULL, NULL, "since the heap's clean close");
		open_close_ok(p);
		view(p, &after);
		salvage_kept_all(&before, &after, "clean heap, found at first use", what[d]);
		free(p);

		snprintf(name, sizeof name, "pd%d.heap", d);
		p = make_heap(name, 1);
		view(p, &before);
		damage_page(p, d);
		open_close_ok(p);
		view(p, &after);
		salvage_kept_all(&before, &after, "dirty heap", what[d]);
		free(p);
	}
}

/* ---- PMP_FILE_SALVAGE (pmempreload repair, and the read-only view of a damaged or truncated file) ---- */

/* the walk goes past a damaged header: the stretch is one DAMAGED block, every block after it is reported as it
 * was, and the walk says PMP_ECORRUPT at its end */
static int walk_rc(const char *path, unsigned flags, struct blocks *bs)
{
	pmp_file_opts_t o = opts(PMP_OPEN_READONLY);
	o.flags = PMP_FILE_ANYADDR | flags;
	pmp_heap_t *h;
	int e = pmp_file_open(path, &o, &h);
	if (e)
		return e;
	memset(bs, 0, sizeof *bs);
	int rc = pmp_walk(h, collect, bs);
	pmp_close(h);
	return rc;
}

static size_t count_state(const struct blocks *bs, int state)
{
	size_t n = 0;
	for (size_t i = 0; i < bs->n; i++)
		n += bs->state[i] == state;
	return n;
}

Test(damaged, clean_damaged_heap_salvaged_on_request)
{
	char *p = make_heap("salvage.heap", 0);
	struct blocks before, after;
	cr_assert_eq(view(p, &before), 0);
	uint64_t b = used_block(&before, 10);
	forge_end_header(p, b);
	/* read-only: every block but the damaged one, in place */
	cr_assert_eq(walk_rc(p, 0, &after), PMP_ECORRUPT);
	cr_assert_eq(count_state(&after, PMP_BLOCK_DAMAGED), 1, "one damaged stretch");
	size_t kept = 0, want = 0;
	for (size_t i = 0; i < before.n; i++) {
		if (before.state[i] != PMP_BLOCK_USED || before.off[i] == b)
			continue;
		want++;
		for (size_t j = 0; j < after.n; j++)
			kept += after.off[j] == before.off[i] && after.state[j] == PMP_BLOCK_USED;
	}
	cr_assert_eq(kept, want, "the walk past the damage reported %zu of %zu used blocks", kept, want);
	/* writable without the flag: refused untouched; with it: salvaged into a heap that checks, nothing live lost */
	expect_refused_untouched(p, PMP_ECORRUPT);
	pmp_file_opts_t o = opts(PMP_OPEN_EXISTING);
	o.flags = PMP_FILE_SALVAGE;
	pmp_heap_t *h;
	cr_assert_eq(pmp_file_open(p, &o, &h), 0);
	pmp_info_t in;
	cr_assert_eq(pmp_info(h, &in), 0);
	cr_assert_geq(in.last_lost_regions, 1, "the salvage kept no LOST block");
	cr_assert_eq(pmp_check(h, NULL), 0);
	cr_assert_eq(pmp_close(h), 0);
	struct blocks fixed;
	cr_assert_eq(view(p, &fixed), 0, "the salvaged heap fails pmp_check");
	kept = 0;
	for (size_t i = 0; i < before.n; i++) {
		if (before.state[i] != PMP_BLOCK_USED || before.off[i] == b)
			continue;
		for (size_t j = 0; j < fixed.n; j++)
			kept += fixed.off[j] == before.off[i] && fixed.state[j] == PMP_BLOCK_USED;
	}
	cr_assert_eq(kept, want, "salvage kept %zu of %zu used blocks", kept, want);
	cr_assert_eq(fixed.roots, before.roots, "salvage dropped roots of undamaged blocks");
	free(p);
}

Test(damaged, truncated_file_read_and_salvaged_on_request)
{
	char *p = make_heap("short.heap", 0);
	struct blocks before, ro, fixed;
	cr_assert_eq(view(p, &before), 0);
	struct stat st;
	cr_assert_eq(stat(p, &st), 0);
	off_t cut = (off_t)(used_block(&before, 40) + 200); /* inside a used chain block */
	cr_assert_lt(cut, st.st_size);
	cr_assert_eq(truncate(p, cut), 0);
	/* without the flag the file is refused, read-only and writable, and stays as it is */
	cr_assert_eq(walk_rc(p, 0, &ro), PMP_ESHORT);
	expect_refused_untouched(p, PMP_ESHORT);
	/* read-only with it: the blocks before the cut as they were, a damaged tail */
	cr_assert_eq(walk_rc(p, PMP_FILE_SALVAGE, &ro), PMP_ECORRUPT);
	cr_assert_eq(ro.state[ro.n - 1], PMP_BLOCK_DAMAGED, "the missing tail is not one damaged stretch");
	size_t k = 0;
	for (; k < before.n && before.off[k] + 16 <= (uint64_t)cut; k++)
		cr_assert(ro.off[k] == before.off[k] && ro.state[k] == before.state[k], "block %zu differs before the cut", k);
	cr_assert_gt(k, 40);
	struct stat now;
	cr_assert_eq(stat(p, &now), 0);
	cr_assert_eq(now.st_size, cut, "a read-only view changed the file's size");
	/* writable with it: extended, the tail kept as LOST, a heap that checks and holds every block before the cut */
	pmp_file_opts_t o = opts(PMP_OPEN_EXISTING);
	o.flags = PMP_FILE_SALVAGE;
	pmp_heap_t *h;
	cr_assert_eq(pmp_file_open(p, &o, &h), 0);
	cr_assert_eq(pmp_check(h, NULL), 0);
	char *again = pmp_malloc(h, 100000); /* and it works as a heap */
	cr_assert_not_null(again);
	memset(again, 1, 100000);
	cr_assert_eq(pmp_close(h), 0);
	cr_assert_eq(view(p, &fixed), 0);
	for (size_t i = 0; i + 1 < k; i++) {
		int found = 0;
		for (size_t j = 0; j < fixed.n && !found; j++)
			found = fixed.off[j] == before.off[i] && (before.state[i] != PMP_BLOCK_USED ||
								 fixed.state[j] == PMP_BLOCK_USED);
		cr_assert(found, "block at 0x%llx lost by the salvage", (unsigned long long)before.off[i]);
	}
	cr_assert_geq(count_state(&fixed, PMP_BLOCK_LOST), 1, "the missing tail is not kept as LOST");
	free(p);
}

/* ---- damage to chain blocks after a clean close ---- */

static void free_block(pmp_heap_t *h, void *arg)
{
	pmp_free(h, h->base + *(uint64_t *)arg + PMP_HDR);
}

/* a used chain block's size word forged (valid check bits): no block of that size ends where the next begins */
static void forge_size(const char *p, uint64_t b)
{
	struct forge f;
	forge_open(p, &f);
	uint64_t s = _pmp_bsize(_pmp_hdr(&f.fake, b)->head);
	_pmp_hdr(&f.fake, b)->head = _pmp_head_word(&f.fake, b, s + 32);
	forge_close(&f);
}

Test(damaged, chain_block_damaged_after_a_clean_close)
{
	char *p = make_heap("chainlazy.heap", 0);
	struct blocks before;
	cr_assert_eq(view(p, &before), 0);
	uint64_t b = used_block(&before, 12);
	forge_size(p, b);
	struct blocks bs;
	cr_assert_neq(view(p, &bs), 0, "the read-only check must see the forged size");
	expect_refused_untouched_by(p, PMP_ECORRUPT, PMP_FILE_VERIFY);
	/* the default open: found when the block is freed, or else at the close (the seal's check) */
	expect_found_lazily(p, free_block, &b, "free(0x");
	free(p);
	p = make_heap("chainlazy2.heap", 0);
	cr_assert_eq(view(p, &before), 0);
	b = used_block(&before, 12);
	forge_size(p, b);
	expect_found_lazily(p, NULL, NULL, "heap inconsistent at its end");
	open_close_ok(p); /* dirty now: salvaged */
	free(p);
}
