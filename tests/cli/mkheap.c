/* mkheap.c: builds a heap file with known content for the cli suite and prints what it planted as KEY=VALUE lines
 * (addresses, offsets, counts) for the test script to compare the command's output with.
 *
 * Content: roots (one with a name that needs JSON escaping), a string at a known offset, a linked list, a holder
 * block with an interior pointer to an unrooted target, kept and freed blocks interleaved, three unreachable blocks,
 * one large block, a freed block that still holds a secret and a live "session" block whose word still points at it
 * (a dangling pointer). With --unclean the process exits without pmp_close, leaving the heap dirty; with --hold it
 * keeps the heap open and waits to be killed (a live writer); --mutate reopens an existing heap and changes it in
 * known ways (the second image for `diff`).
 * Counts the command must find (blocks, slab pages, the slots of a page) come from layout.c, which derives them from
 * what this program allocated and freed and from the heap format, not from the library.
 * Must never: use anything but the public API (it stands for a user's program; layout.c reads format.h's constants
 * only), or leave a word that accidentally points into a planted leak (the leaks test counts exactly).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"
#include "pmempreload.h"

#define NEEDLE "needle-in-the-heap-42"
#define NEEDLE_OFF 32
#define HOLDER_OFF 24
#define TARGET_INNER 40
#define NKEEP 11
#define SECRET "secret-password-1234"
#define SECRET_OFF 48  /* past the free-list links a freed block holds in its first bytes */
#define SESSION_OFF 8

struct node {
	struct node *next;
	uint64_t id;
	char name[32];
};

static pmp_heap_t *h;
static unsigned live;
static uint64_t live_bytes; /* usable bytes of the live blocks: the payload meaning of "used bytes" */
static struct layout lay;

static void die(const char *what, int e)
{
	fprintf(stderr, "mkheap: %s: %s\n", what, pmp_strerror(e));
	exit(2);
}

static void *alloc(size_t n)
{
	void *p = pmp_calloc(h, 1, n);
	if (!p)
		die("calloc", ENOMEM);
	live++;
	live_bytes += pmp_usable_size(h, p);
	layout_alloc(&lay, p, pmp_usable_size(h, p));
	return p;
}

static void release(void *p)
{
	live--;
	live_bytes -= pmp_usable_size(h, p);
	layout_free(&lay, p, pmp_usable_size(h, p));
	pmp_free(h, p);
}

static void root(const char *name, void *p)
{
	int e = pmp_root_set(h, name, p);
	if (e)
		die(name, e);
}

static void out_addr(const char *key, const void *p)
{
	printf("%s=0x%" PRIxPTR "\n", key, (uintptr_t)p);
}

/* The second image of the heap for `diff`: reopen it and change it in known ways, printing each as MUT_*. */
static int mutate(const char *path)
{
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = PMP_OPEN_EXISTING;
	int e = pmp_file_open(path, &o, &h);
	pmp_info_t inf;
	if (e || (e = pmp_info(h, &inf)) != 0)
		die(path, e);
	layout_init(&lay, inf.base); /* alloc() keeps it; nothing here counts on it */
	char *config = pmp_root_get(h, "config");
	struct node *head = pmp_root_get(h, "list");
	void **keep = pmp_root_get(h, "keep");
	if (!config || !head || !keep)
		die("roots", ENOENT);
	memcpy(config + 60, "changed!", 8);
	out_addr("MUT_CONFIG", config);
	printf("MUT_CONFIG_OFF=60\n");
	struct node *n1 = head->next, *n2 = n1->next;
	n1->next = n2->next; /* unlink node 2: node 1 changes at offset 0, node 2 goes */
	pmp_free(h, n2);
	out_addr("MUT_NODE1", n1);
	out_addr("MUT_REMOVED", n2);
	printf("MUT_REMOVED_SIZE=%zu\n", sizeof *n2);
	for (int i = 0; i < 3; i++) {
		char k[16];
		void *p = alloc(300);
		snprintf(k, sizeof k, "MUT_ADDED%d", i);
		out_addr(k, p);
		if (!i) /* a 300-byte request is a slot of its size class: the usable size says how big */
			printf("MUT_ADDED_SIZE=%zu\n", pmp_usable_size(h, p));
	}
	/* keep[8] has the freed keep[9] after it: realloc may grow it in place (resized) or move it (keep changes) */
	void *old = keep[NKEEP - 3], *p = pmp_realloc(h, old, 100);
	if (!p)
		die("realloc", ENOMEM);
	if (p == old) {
		out_addr("MUT_RESIZED", p);
	} else {
		keep[NKEEP - 3] = p;
		printf("MUT_RESIZED=\n");
	}
	layout_fini(&lay);
	if ((e = pmp_close(h)) != 0)
		die("close", e);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: mkheap FILE ADDR [--unclean|--hold|--mutate]\n");
		return 2;
	}
	if (argc > 3 && !strcmp(argv[3], "--mutate"))
		return mutate(argv[1]);
	int unclean = argc > 3 && !strcmp(argv[3], "--unclean"), hold = argc > 3 && !strcmp(argv[3], "--hold");
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = PMP_OPEN_ANY;
	o.addr = (void *)(uintptr_t)strtoull(argv[2], NULL, 0);
	o.reserve = (size_t)64 << 20;
	o.initial = (size_t)1 << 20;
	int e = pmp_file_open(argv[1], &o, &h);
	if (e)
		die(argv[1], e);
	layout_init(&lay, o.addr);

	char *config = alloc(100);
	memcpy(config + NEEDLE_OFF, NEEDLE, sizeof NEEDLE);
	root("config", config);

	char *target = alloc(256);
	memcpy(target, "TARGETDATA", 10);
	uint64_t *holder = alloc(64);
	holder[HOLDER_OFF / 8] = (uint64_t)(uintptr_t)(target + TARGET_INNER);
	root("holder", holder);

	struct node *head = NULL;
	for (int i = 4; i >= 0; i--) {
		struct node *n = alloc(sizeof *n);
		n->next = head;
		n->id = (uint64_t)i;
		snprintf(n->name, sizeof n->name, "node-%d", i);
		head = n;
	}
	root("list", head);

	void **keep = alloc(NKEEP * sizeof *keep);
	for (int i = 0; i < NKEEP; i++)
		keep[i] = alloc(64);
	root("keep", keep);
	root("we\"ird\\name\t\xff", keep);

	void *leak[3];
	for (int i = 0; i < 3; i++) {
		leak[i] = alloc(200);
		memset(leak[i], 'L', 200);
	}

	/* freed below, with no allocation after it: it stays free, between leak[2] and big, both live */
	char *secret = alloc(200);
	memcpy(secret + SECRET_OFF, SECRET, sizeof SECRET);
	uint64_t *session = alloc(48);
	session[SESSION_OFF / 8] = (uint64_t)(uintptr_t)(secret + SECRET_OFF);
	root("session", session);

	char *big = alloc(100000);
	memcpy(big + 5000, "big-block-marker", 16);
	root("big", big);

	/* free every other kept block (the last kept block fences them off from the arena's free tail); they are slots
	 * of the page the holder block opened (the first of their size class), so they stay free slots of it */
	unsigned freed = 0;
	void *freed_slot = keep[1];
	for (int i = 1; i < NKEEP - 1; i += 2) {
		release(keep[i]);
		keep[i] = NULL;
		freed++;
	}

	release(secret);

	pmp_stats_t s;
	if ((e = pmp_stats(h, &s)) != 0)
		die("stats", e);
	out_addr("BASE", o.addr);
	out_addr("CONFIG", config);
	printf("NEEDLE=%s\nNEEDLE_OFF=%d\n", NEEDLE, NEEDLE_OFF);
	out_addr("NEEDLE_ADDR", config + NEEDLE_OFF);
	out_addr("TARGET", target);
	out_addr("TARGET_INNER", target + TARGET_INNER);
	printf("TARGET_INNER_OFF=%d\n", TARGET_INNER);
	out_addr("HOLDER", holder);
	printf("HOLDER_OFF=%d\n", HOLDER_OFF);
	out_addr("LIST", head);
	out_addr("NODE2", head->next->next);
	out_addr("KEEP", keep);
	out_addr("BIG", big);
	for (int i = 0; i < 3; i++) {
		char k[16];
		snprintf(k, sizeof k, "LEAK%d", i);
		out_addr(k, leak[i]);
	}
	out_addr("SECRET_BLOCK", secret);
	out_addr("SECRET_ADDR", secret + SECRET_OFF);
	printf("SECRET=%s\nSECRET_OFF=%d\n", SECRET, SECRET_OFF);
	out_addr("SESSION", session);
	printf("SESSION_OFF=%d\n", SESSION_OFF);
	/* FREED: the freed kept blocks (all in one size class); the secret's block is freed besides. The free blocks are
	 * the free slots of the pages and the free chain blocks between (layout.c) */
	struct layout_counts lc;
	layout_counts(&lay, s.mapped, &lc);
	if (lc.used != live)
		die("layout: used blocks miscounted", EINVAL);
	printf("USED_BLOCKS=%u\nFREED=%u\nFREE_BLOCKS=%" PRIu64 "\nROOTS=7\nPAGES=%" PRIu64 "\n", live, freed, lc.free,
	       lc.pages);
	printf("LEAK_SIZE=%zu\n", pmp_usable_size(h, leak[0]));
	/* a page's own bytes: the header of config's page; a free slot: the first freed kept block, in holder's page */
	const struct layout_page *cp = layout_page(&lay, config), *fp = layout_page(&lay, freed_slot);
	printf("CONFIG_PAGE=0x%" PRIx64 "\nFREED_SLOT=0x%" PRIxPTR "\nFREED_SLOT_SIZE=%" PRIu64 "\n", cp->start,
	       (uintptr_t)freed_slot, fp->slot);
	printf("FREED_SLOT_PAGE=0x%" PRIx64 "\nFREED_SLOT_INDEX=%" PRIu64 "\nFREED_SLOT_PAGE_SLOTS=%" PRIu64
	       "\nFREED_SLOT_PAGE_USED=%" PRIu64 "\n", fp->start, layout_slot_index(fp, freed_slot),
	       layout_capacity(fp->slot), fp->live);
	layout_fini(&lay);
	/* the heap's own counters include headers; the command's "bytes" are usable bytes */
	printf("USED_BYTES=%" PRIu64 "\nUSED_BYTES_WITH_HEADERS=%" PRIu64 "\nFREE_BYTES_WITH_HEADERS=%" PRIu64 "\n",
	       live_bytes, s.used_bytes, s.free_bytes);
	if (hold) {
		/* the heap stays open for writing until the test kills us */
		printf("READY=1\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	fflush(stdout);
	if (unclean)
		_exit(0); /* no pmp_close: the heap stays dirty, as after a crash */
	if ((e = pmp_close(h)) != 0)
		die("close", e);
	return 0;
}
