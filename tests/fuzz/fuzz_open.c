/* fuzz_open.c: libFuzzer target: writable opens of heap files damaged with structure-aware mutations (forged block
 * headers and boundary tags with valid check bits, end headers mid-arena, root entries, free-list links, superblock
 * fields with a valid checksum), the damage an attacker with the format in hand, or a bad copy, can do.
 *
 * Input: byte 0 picks a template (a heap closed cleanly, or one copied while open: dirty); then 11-byte records:
 * kind, 16-bit target index, 64-bit value. The oracle, for every input:
 *  - a refused writable open leaves the file's bytes exactly as they were;
 *  - an accepted one gives a heap that passes pmp_check, still passes after a few allocations and a close, and
 *    has turned no block free that was live before (every used block the read-only walk saw is still covered by a
 *    used or lost block at the same place);
 *  - a heap that was closed cleanly and fails the read-only check is never accepted by the full walk (PMP_FILE_VERIFY),
 *    unless what failed is derived state only (the free index, counters), which that open rebuilds from the chain;
 *  - a default open that trusts the seal record hides nothing from pmp_check: it fails exactly when the read-only
 *    check failed (damage the record does not cover is found when an operation reaches it).
 * A violated oracle aborts (a finding), as does any crash, hang or sanitizer report.
 * Must never: write outside its own temporary directory.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/block.h"

#define BASE ((void *)0x670000000000ull)
#define MAXB 512

struct tmpl {
	unsigned char *img;
	size_t len;
	uint64_t blocks[MAXB]; /* block offsets, in chain order */
	int state[MAXB];
	unsigned nblocks;
};
static struct tmpl tm[2];
static char dir[4096], img_path[4200];

static void cleanup(void)
{
	unlink(img_path);
	rmdir(dir);
}

static unsigned char *slurp(const char *p, size_t *n)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		abort();
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *b = malloc(*n);
	if (!b || fread(b, 1, *n, f) != *n)
		abort();
	fclose(f);
	return b;
}

static void put_file(const unsigned char *img, size_t len)
{
	int fd = open(img_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, img, len) != (ssize_t)len)
		abort();
	close(fd);
}

static pmp_file_opts_t opts(int mode)
{
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = mode;
	o.flags = mode == PMP_OPEN_READONLY ? PMP_FILE_ANYADDR : 0;
	o.addr = BASE;
	o.reserve = (size_t)16 << 20;
	o.initial = (size_t)128 << 10;
	o.grow = (size_t)64 << 10;
	return o;
}

struct walk {
	uint64_t *off;
	int *state;
	size_t *size;
	unsigned n, cap;
};
static int collect(const pmp_block_t *b, void *u)
{
	struct walk *w = u;
	if (w->n < w->cap) {
		w->off[w->n] = b->offset;
		w->state[w->n] = b->state;
		if (w->size)
			w->size[w->n] = b->block_size;
		w->n++;
	}
	return 0;
}

static void init(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/pmp-fuzz-open-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	char path[4200];
	snprintf(path, sizeof path, "%s/template.heap", dir);
	snprintf(img_path, sizeof img_path, "%s/image.heap", dir);
	pmp_file_opts_t o = opts(PMP_OPEN_CREATE);
	pmp_heap_t *h;
	if (pmp_file_open(path, &o, &h) != 0)
		abort();
	void *keep[96];
	for (int i = 0; i < 96; i++) {
		keep[i] = pmp_malloc(h, (size_t)(i * 173 % 2500) + (i == 40 ? 150000 : 0));
		memset(keep[i], i, 8);
	}
	for (int i = 0; i < 96; i += 3)
		pmp_free(h, keep[i]);
	for (int i = 1; i < 40; i += 3) {
		char name[16];
		snprintf(name, sizeof name, "root%d", i);
		pmp_root_set(h, name, keep[i]);
	}
	tm[1].img = slurp(path, &tm[1].len); /* dirty: a live writer's file */
	pmp_close(h);
	tm[0].img = slurp(path, &tm[0].len);
	unlink(path);
	for (int k = 0; k < 2; k++) {
		put_file(tm[k].img, tm[k].len);
		pmp_file_opts_t ro = opts(PMP_OPEN_READONLY);
		if (pmp_file_open(img_path, &ro, &h) != 0)
			abort();
		struct walk w = {tm[k].blocks, tm[k].state, NULL, 0, MAXB};
		pmp_walk(h, collect, &w);
		tm[k].nblocks = w.n;
		pmp_close(h);
	}
}

static const uint64_t interesting[] = {0, 1, 16, 32, 0x1000, 0x10000, 0x10010, 0x20000, (uint64_t)16 << 20,
				       (uint64_t)128 << 10, 1ull << 40, 0xfffffffffffffff0ull};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!tm[0].img)
		init();
	if (size < 1)
		return 0;
	const struct tmpl *t = &tm[data[0] & 1];
	size_t len = t->len;
	unsigned char *img = malloc(len);
	memcpy(img, t->img, len);
	struct pmp_sb sb;
	if (_pmp_sb_read(img, PMP_PAGE, &sb))
		abort();
	struct pmp_heap fake;
	memset(&fake, 0, sizeof fake);
	fake.base = img;
	fake.salt = sb.salt;
	fake.end = sb.mapped;
	int sb_edited = 0;
	for (size_t i = 1; i + 11 <= size; i += 11) {
		uint8_t kind = data[i];
		unsigned idx = (unsigned)data[i + 1] | (unsigned)data[i + 2] << 8;
		uint64_t v;
		memcpy(&v, data + i + 3, 8);
		/* targets come from the template, never from fields an earlier record may have changed */
		uint64_t b = t->blocks[idx % t->nblocks], sent = fake.end - PMP_HDR;
		switch (kind % 8) {
		case 0: /* a forged head word: size and flags from v, check bits valid */
			_pmp_hdr(&fake, b)->head = _pmp_head_word(&fake, b, (v & PMP_W_SIZE & 0xfffff0) | (v >> 60));
			break;
		case 1: /* a forged boundary tag */
			_pmp_hdr(&fake, b)->prev_size = _pmp_prev_word(&fake, b, v & 0xfffff0);
			break;
		case 2: /* an end header over a block, the sentinel's tag made to agree */
			_pmp_hdr(&fake, b)->head = _pmp_head_word(&fake, b, PMP_B_END);
			if (v & 1)
				_pmp_hdr(&fake, sent)->prev_size = _pmp_prev_word(&fake, sent, sent - b);
			break;
		case 3: { /* a root entry */
			struct pmp_root *r = (struct pmp_root *)(void *)(img + PMP_OFF_ROOTS +
									 (idx % PMP_ROOT_COUNT) * sizeof *r);
			switch (v & 3) {
			case 0: r->off = b + PMP_HDR + ((v >> 8) & 0x70); break;
			case 1: memset(r->name, 'n', sizeof r->name); break;
			case 2: r->name[0] = 0; break;
			default: r->off = interesting[(v >> 8) % (sizeof interesting / sizeof interesting[0])]; break;
			}
			break;
		}
		case 4: { /* a superblock field, checksum made valid below */
			uint64_t w = interesting[(v >> 8) % (sizeof interesting / sizeof interesting[0])];
			switch (v % 6) {
			case 0: sb.mapped = w; break;
			case 1: sb.reserved = w; break;
			case 2: sb.base = w & ~(uint64_t)0xfff; break;
			case 3: sb.state = (v >> 4) & 1 ? PMP_STATE_CLEAN : PMP_STATE_DIRTY; break;
			case 4: sb.grow_from = w; break;
			default: sb.mapped = b + PMP_MIN_BLOCK; break;
			}
			sb_edited = 1;
			break;
		}
		case 5: { /* free-list links of a block */
			struct pmp_free_links *l = _pmp_links(&fake, b);
			if (v & 1)
				l->next = t->blocks[(v >> 8) % t->nblocks];
			else
				l->prev = t->blocks[(v >> 8) % t->nblocks];
			break;
		}
		case 6: /* a forgotten header (what a merge leaves) */
			_pmp_hdr(&fake, b)->head = 0;
			break;
		default: { /* a raw byte in the metadata or the first blocks */
			size_t off = (size_t)(v % (0x11000 < len ? 0x11000 : len));
			img[off] = (uint8_t)(v >> 32);
			break;
		}
		}
	}
	if (sb_edited) {
		sb.checksum = _pmp_sb_checksum(&sb);
		memcpy(img, &sb, sizeof sb);
		memcpy(img + PMP_SB_SLOT, &sb, sizeof sb);
	}
	put_file(img, len);

	/* what the read-only view says first: its verdict and the used blocks its walk sees */
	static uint64_t off0[4 * MAXB], off1[4 * MAXB];
	static int st0[4 * MAXB], st1[4 * MAXB];
	static size_t sz1[4 * MAXB];
	struct walk before = {off0, st0, NULL, 0, 4 * MAXB}, after = {off1, st1, sz1, 0, 4 * MAXB};
	int clean = -1, check_before = -1;
	pmp_report_t rep;
	rep.problem = PMP_OK;
	pmp_file_opts_t o = opts(PMP_OPEN_READONLY);
	pmp_heap_t *h;
	if (pmp_file_open(img_path, &o, &h) == 0) {
		pmp_info_t in;
		pmp_info(h, &in);
		clean = in.clean;
		check_before = pmp_check(h, &rep);
		pmp_walk(h, collect, &before);
		pmp_close(h);
	}
	/* the default open: where it trusts the seal record, the damage it did not look at must still be there for
	 * pmp_check to see (and then the writer stops as after a crash: the damage is found when an operation reaches
	 * it, which aborts); where it does not, it is the full walk checked below */
	o = opts(PMP_OPEN_EXISTING);
	if (pmp_file_open(img_path, &o, &h) == 0) {
		if (h->trusted_open && clean == 0)
			abort(); /* trusted a heap that is not clean */
		if (h->trusted_open && (pmp_check(h, NULL) == 0) != (check_before == 0))
			abort(); /* trusting the record hid damage from the check, or made some */
		if (h->trusted_open && check_before != 0) {
			_pmp_heap_discard(h);
			h->ops->release(h);
		} else {
			void *p = pmp_malloc(h, 100), *q = pmp_malloc(h, 70000);
			pmp_free(h, p);
			pmp_free(h, q);
			if (pmp_check(h, NULL) != 0)
				abort();
			pmp_close(h);
		}
		put_file(img, len);
	}
	o.flags = PMP_FILE_VERIFY; /* the full walk: the oracle of what a writable open accepts */
	int e = pmp_file_open(img_path, &o, &h);
	if (e) {
		size_t n;
		unsigned char *now = slurp(img_path, &n);
		if (n != len || memcmp(now, img, len) != 0)
			abort(); /* a refused open changed the file */
		free(now);
		free(img);
		return 0;
	}
	if (clean == 1 && check_before != 0 && rep.problem != PMP_P_INDEX && rep.problem != PMP_P_STATS)
		abort(); /* accepted a clean heap whose chain or roots the read-only check rejects */
	if (pmp_check(h, NULL) != 0)
		abort(); /* accepted, but not a valid heap */
	pmp_walk(h, collect, &after);
	for (unsigned i = 0; i < before.n; i++) {
		if (st0[i] != PMP_BLOCK_USED)
			continue;
		int covered = 0;
		for (unsigned j = 0; j < after.n && !covered; j++)
			covered = off1[j] <= off0[i] && off0[i] < off1[j] + sz1[j] &&
				  (st1[j] == PMP_BLOCK_USED || st1[j] == PMP_BLOCK_LOST);
		if (!covered)
			abort(); /* a live block was turned free */
	}
	void *p = pmp_malloc(h, 100), *q = pmp_malloc(h, 70000);
	pmp_free(h, p);
	pmp_free(h, q);
	if (pmp_check(h, NULL) != 0)
		abort();
	pmp_close(h);
	o = opts(PMP_OPEN_READONLY);
	if (pmp_file_open(img_path, &o, &h) != 0)
		abort();
	if (pmp_check(h, NULL) != 0)
		abort(); /* what a writable session left must check */
	pmp_close(h);
	free(img);
	return 0;
}
