/* fuzz_file.c: libFuzzer target: heap files mutated field by field and bit by bit, opened by the read-only path
 * the `pmempreload` command uses (PMP_OPEN_READONLY | PMP_FILE_ANYADDR), then checked, walked, listed and measured;
 * inputs that still open for writing also go through recovery, pmp_check and a few allocations.
 *
 * Input: byte 0 picks a template (a clean heap, or one copied while open, i.e. dirty) and whether the superblock
 * checksums are recomputed after the edits (so field mutations reach the validation behind the checksum); then
 * 12-byte records: kind, 24-bit offset (modulo the file size), 64-bit value. Kinds: set byte, flip bit, store a
 * 64-bit word, store an "interesting" word (0, 1, -1, sizes and offsets of the layout), truncate.
 * Any crash, hang or sanitizer report is a finding; errors returned by the library are the expected outcome.
 * Must never: write outside its own temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/heap.h"

#define BASE ((void *)0x660000000000ull)

static unsigned char *tmpl[2];
static size_t tmpl_len[2];
static char img_path[4200];

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

static char dir[4096];

static void cleanup(void)
{
	unlink(img_path);
	rmdir(dir);
}

static void init(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/pmp-fuzz-file-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup); /* the scratch image and its directory go with the process */
	char path[4200];
	snprintf(path, sizeof path, "%s/template.heap", dir);
	snprintf(img_path, sizeof img_path, "%s/image.heap", dir);
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = PMP_OPEN_CREATE;
	o.addr = BASE;
	o.reserve = (size_t)16 << 20;
	o.initial = (size_t)128 << 10;
	o.grow = (size_t)64 << 10;
	pmp_heap_t *h;
	if (pmp_file_open(path, &o, &h) != 0)
		abort();
	void *keep[64];
	for (int i = 0; i < 64; i++) {
		keep[i] = pmp_malloc(h, (size_t)(i * 173 % 2500) + (i == 40 ? 150000 : 0));
		memset(keep[i], i, 8);
	}
	for (int i = 0; i < 64; i += 3)
		pmp_free(h, keep[i]);
	for (int i = 1; i < 20; i += 3) {
		char name[16];
		snprintf(name, sizeof name, "root%d", i);
		pmp_root_set(h, name, keep[i]);
	}
	tmpl[1] = slurp(path, &tmpl_len[1]); /* dirty: a live writer's file */
	pmp_close(h);
	tmpl[0] = slurp(path, &tmpl_len[0]);
	unlink(path);
}

static const uint64_t interesting[] = {
	0, 1, 2, 15, 16, 17, 32, 0x1000, 0x10000, 0x10010, 0x20000, 0x7fffffffffffffffull, 0xffffffffffffffffull,
	0x8000000000000000ull, 0x600000000000ull, 0x660000000000ull, (uint64_t)16 << 20, (uint64_t)128 << 10,
	0x434c45414eull, 0x4449525459ull, 0x11, 0x19, 0x8, 0x9, 0xfffffffffffffff0ull, 1ull << 47, 1ull << 48,
};

static int touch_block(const pmp_block_t *b, void *u)
{
	volatile const unsigned char *d = b->data;
	*(volatile unsigned *)u += d[0] + (b->size ? d[b->size - 1] : 0);
	return 0;
}

static int touch_root(const char *name, void *p, void *u)
{
	*(volatile unsigned *)u += (unsigned)name[0] + (p != NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!tmpl[0])
		init();
	if (size < 1)
		return 0;
	int which = data[0] & 1, fix_sum = (data[0] >> 1) & 1, writable = (data[0] >> 2) & 1;
	size_t len = tmpl_len[which];
	unsigned char *img = malloc(len);
	memcpy(img, tmpl[which], len);
	for (size_t i = 1; i + 12 <= size && len > 0; i += 12) {
		uint8_t kind = data[i];
		size_t off = ((size_t)data[i + 1] | (size_t)data[i + 2] << 8 | (size_t)data[i + 3] << 16);
		/* half the edits aim at the metadata pages and the first blocks, where the fields are */
		off = (kind & 0x80) ? off % (0x11000 < len ? 0x11000 : len) : off % len;
		uint64_t v;
		memcpy(&v, data + i + 4, 8);
		switch (kind & 7) {
		case 0: img[off] = (uint8_t)v; break;
		case 1: img[off] ^= (uint8_t)(1u << (v & 7)); break;
		case 2: case 3:
			off &= ~(size_t)7;
			if (off + 8 <= len) {
				uint64_t w = (kind & 7) == 2 ? v : interesting[v % (sizeof interesting / sizeof interesting[0])];
				memcpy(img + off, &w, 8);
			}
			break;
		case 4: if ((v & 15) == 0) len = off; break; /* truncate, rarely */
		default: img[off] = 0; break;
		}
	}
	if (fix_sum && len >= PMP_SB_SLOT + sizeof(struct pmp_sb)) {
		for (int c = 0; c < 2; c++) {
			struct pmp_sb *sb = (struct pmp_sb *)(void *)(img + c * PMP_SB_SLOT);
			sb->checksum = _pmp_hash64(sb, offsetof(struct pmp_sb, checksum), 0x706d70736231ull);
		}
	}
	int fd = open(img_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, img, len) != (ssize_t)len)
		abort();
	close(fd);
	free(img);

	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = PMP_OPEN_READONLY;
	o.flags = PMP_FILE_ANYADDR;
	pmp_heap_t *h;
	volatile unsigned sink = 0;
	if (pmp_file_open(img_path, &o, &h) == 0) {
		pmp_report_t r;
		int ok = pmp_check(h, &r) == 0;
		if (ok) /* the walk is only promised on a heap that passed the check: it hands out payload pointers */
			pmp_walk(h, touch_block, (void *)&sink);
		pmp_root_list(h, touch_root, (void *)&sink);
		pmp_stats_t st;
		pmp_stats(h, &st);
		pmp_info_t in;
		pmp_info(h, &in);
		pmp_close(h);
	}
	if (writable) {
		o.mode = PMP_OPEN_EXISTING;
		o.flags = 0;
		if (pmp_file_open(img_path, &o, &h) == 0) {
			if (pmp_check(h, NULL) == 0) {
				void *p = pmp_malloc(h, 100);
				void *q = pmp_malloc(h, 70000);
				pmp_free(h, p);
				pmp_free(h, q);
				if (pmp_check(h, NULL) != 0)
					abort(); /* a heap that passed the check must stay valid under use */
			} else if (h->trusted_open) {
				/* a seal record vouched for a heap damaged where it does not look: the check sees it, and the
				 * writer stops as after a crash (an operation reaching the damage would abort) */
				_pmp_heap_discard(h);
				h->ops->release(h);
				h = NULL;
			}
			if (h)
				pmp_close(h);
		}
	}
	(void)sink;
	return 0;
}
