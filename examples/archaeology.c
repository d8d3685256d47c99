/* archaeology.c: read an old heap file at another address and follow the pointers it holds.
 *
 *   archaeology bury FILE   make FILE, a heap at 0x614000000000 holding a linked list of layers (plain pointers)
 *   archaeology dig FILE    open FILE read-only somewhere else and walk the list, translating every pointer
 *
 * A heap file opened read-only with PMP_FILE_ANYADDR maps elsewhere when its address is taken. Its contents are
 * unchanged, so every pointer in it is still an address of the old mapping: pmp_ptr_to_off turns one into an offset
 * in the heap (it accepts addresses of the original range) and pmp_off_to_ptr turns the offset into an address in
 * this process. A program that must read its data at another address stores pmp_off_t (or C++ offset_ptr) instead.
 * Must never: follow a stored pointer without translating it, or write to the view (it is private and read-only).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MAP_FIXED_NOREPLACE */
#endif
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <pmempreload.h>

#define HEAP_ADDR ((void *)0x614000000000ull)
#define HEAP_RESERVE ((size_t)64 << 20)

struct layer {
	struct layer *below; /* an address of the writer's mapping */
	int depth;
	char era[32];
};

static int bury(const char *path)
{
	static const char *const eras[] = {"last week", "the iron age", "the bronze age", "the stone age"};
	pmp_file_opts_t o = {.mode = PMP_OPEN_CREATE, .addr = HEAP_ADDR, .reserve = HEAP_RESERVE};
	pmp_heap_t *h;
	int e = pmp_file_open(path, &o, &h);
	if (e) {
		fprintf(stderr, "%s: %s\n", path, pmp_strerror(e));
		return 1;
	}
	struct layer *top = NULL;
	for (int i = 3; i >= 0; i--) {
		struct layer *l = pmp_calloc(h, 1, sizeof *l);
		if (!l)
			return 1;
		l->below = top;
		l->depth = i;
		snprintf(l->era, sizeof l->era, "%s", eras[i]);
		top = l;
	}
	pmp_root_set(h, "top", top);
	printf("buried 4 layers at %p\n", (void *)top);
	return pmp_close(h) != 0;
}

/* where the view holds the object a stored pointer names */
static const struct layer *translate(pmp_heap_t *h, const struct layer *stored)
{
	return pmp_off_to_ptr(h, pmp_ptr_to_off(h, stored));
}

static int dig(const char *path)
{
	/* Stand-in for whatever holds that range in a real process (a library, another heap): take it first, so the
	 * heap must map elsewhere. */
	if (mmap(HEAP_ADDR, HEAP_RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) !=
	    HEAP_ADDR)
		fprintf(stderr, "note: the range was taken already\n");
	pmp_file_opts_t o = {.mode = PMP_OPEN_READONLY, .flags = PMP_FILE_ANYADDR};
	pmp_heap_t *h;
	int e = pmp_file_open(path, &o, &h);
	if (e) {
		fprintf(stderr, "%s: %s\n", path, pmp_strerror(e));
		return 1;
	}
	pmp_info_t info;
	pmp_info(h, &info);
	printf("heap made at %p, read at %p%s\n", info.base, info.mapped_at,
	       info.base == info.mapped_at ? "" : " (moved)");
	/* roots come back translated already; the pointers inside the objects do not */
	const struct layer *l = pmp_root_get(h, "top");
	while (l) {
		printf("depth %d: %-15s stored below=%p\n", l->depth, l->era, (void *)l->below);
		l = translate(h, l->below);
	}
	pmp_close(h);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "bury"))
		return bury(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "dig"))
		return dig(argv[2]);
	fprintf(stderr, "usage: %s bury FILE | dig FILE\n", argv[0]);
	return 2;
}
