/* fuzz_ops.c: libFuzzer target: allocator operation sequences on a heap in caller memory, against a shadow model.
 *
 * Each input byte pair is one operation (malloc, free, realloc, memalign, calloc, root set/remove, check, detach and
 * re-attach cleanly or as after a crash). The shadow knows every live block's size and fill byte; after each step
 * the touched block must hold its bytes, be aligned and large enough; at the end no two blocks overlap, pmp_check
 * passes and the counters agree with the shadow. Any mismatch aborts (a finding).
 * Must never: call the allocator with a pointer the shadow does not own (that is a program bug, not a finding).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmempreload.h"

#define HEAP_LEN ((size_t)4 << 20)
#define SLOTS 64
#define ROOTS 8

static unsigned char heap_mem[HEAP_LEN] __attribute__((aligned(4096)));

struct slot { unsigned char *p; size_t n; unsigned char fill; };

static void finding(const char *what, size_t i)
{
	fprintf(stderr, "fuzz_ops: %s (slot %zu)\n", what, i);
	abort();
}

/* full: every byte (on free, realloc and at the end); otherwise the edges, where neighbours' headers live */
static void verify_n(pmp_heap_t *h, const struct slot *s, size_t i, int full)
{
	if (!s->p)
		return;
	if (pmp_usable_size(h, s->p) < s->n)
		finding("usable size below the request", i);
	for (size_t k = 0; k < s->n; k++) {
		if (s->p[k] != s->fill)
			finding("block contents changed behind the owner's back", i);
		if (!full && k == 31 && s->n > 64)
			k = s->n - 33;
	}
}
static void verify(pmp_heap_t *h, const struct slot *s, size_t i) { verify_n(h, s, i, 1); }

static int cmp_slot(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	return x->p < y->p ? -1 : x->p > y->p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pmp_heap_t *h;
	if (pmp_heap_create(heap_mem, HEAP_LEN, (size & 1) ? PMP_HEAP_ZERO_FREED : 0, &h) != 0)
		finding("create", 0);
	struct slot sl[SLOTS];
	int root_of[ROOTS]; /* slot a root points to, -1 none */
	memset(sl, 0, sizeof sl);
	for (int r = 0; r < ROOTS; r++)
		root_of[r] = -1;
	char name[8];
	for (size_t i = 0; i + 1 < size; i += 2) {
		uint8_t op = data[i], arg = data[i + 1];
		size_t k = arg % SLOTS;
		struct slot *s = &sl[k];
		size_t n = (size_t)arg * (((op >> 4) & 3) + 1) * ((op & 0x80) ? 37 : 1);
		switch (op % 9) {
		case 0: case 1: case 2: { /* (re)fill a slot with a new block */
			if (s->p)
				break;
			unsigned char *p = (op % 9) == 0 ? pmp_malloc(h, n)
					   : (op % 9) == 1 ? pmp_calloc(h, 1, n)
							   : pmp_memalign(h, (size_t)16 << (op % 10), n);
			if (!p)
				break; /* a full heap is not a finding */
			if ((op % 9) == 1)
				for (size_t z = 0; z < n; z++)
					if (p[z])
						finding("calloc memory not zero", k);
			if ((op % 9) == 2 && ((uintptr_t)p & (((size_t)16 << (op % 10)) - 1)))
				finding("memalign result misaligned", k);
			if ((uintptr_t)p & 15)
				finding("block not 16-aligned", k);
			s->p = p;
			s->n = n;
			s->fill = (uint8_t)(op ^ arg);
			memset(p, s->fill, n);
			break;
		}
		case 3: case 4: /* free */
			if (!s->p)
				break;
			verify(h, s, k);
			for (int r = 0; r < ROOTS; r++)
				if (root_of[r] == (int)k) {
					snprintf(name, sizeof name, "r%d", r);
					if (pmp_root_set(h, name, NULL) != 0)
						finding("root removal failed", k);
					root_of[r] = -1;
				}
			pmp_free(h, s->p);
			s->p = NULL;
			break;
		case 5: { /* realloc */
			if (!s->p)
				break;
			verify(h, s, k);
			for (int r = 0; r < ROOTS; r++)
				if (root_of[r] == (int)k) {
					snprintf(name, sizeof name, "r%d", r);
					pmp_root_set(h, name, NULL);
					root_of[r] = -1;
				}
			unsigned char *q = pmp_realloc(h, s->p, n + 1);
			if (!q) { /* old block untouched */
				verify(h, s, k);
				break;
			}
			size_t keep = s->n < n + 1 ? s->n : n + 1;
			for (size_t z = 0; z < keep; z++)
				if (q[z] != s->fill)
					finding("realloc lost bytes", k);
			s->p = q;
			s->n = n + 1;
			memset(q, s->fill, s->n);
			break;
		}
		case 6: { /* root set */
			int r = arg % ROOTS;
			snprintf(name, sizeof name, "r%d", r);
			if (!s->p)
				break;
			if (pmp_root_set(h, name, s->p) != 0)
				finding("root set on a live block failed", k);
			root_of[r] = (int)k;
			if (pmp_root_get(h, name) != s->p)
				finding("root get disagrees", k);
			break;
		}
		case 7: { /* check */
			pmp_report_t rep;
			if (pmp_check(h, &rep) != 0) {
				fprintf(stderr, "fuzz_ops: %s\n", rep.msg);
				finding("pmp_check failed mid-sequence", k);
			}
			break;
		}
		default: /* detach: cleanly (close) or as a crash (drop the handle), then attach with recovery */
			if (arg & 1)
				pmp_close(h);
			if (pmp_heap_attach(heap_mem, &h) != 0)
				finding("attach after detach failed", k);
			break;
		}
		verify_n(h, s, k, 0);
	}
	/* the end: contents, no overlap, invariant, counters */
	struct slot live[SLOTS];
	size_t nl = 0;
	for (size_t k = 0; k < SLOTS; k++)
		if (sl[k].p) {
			verify(h, &sl[k], k);
			live[nl++] = sl[k];
		}
	qsort(live, nl, sizeof live[0], cmp_slot);
	for (size_t k = 1; k < nl; k++)
		if (live[k - 1].p + pmp_usable_size(h, live[k - 1].p) > live[k].p)
			finding("two live blocks overlap", k);
	pmp_report_t rep;
	if (pmp_check(h, &rep) != 0) {
		fprintf(stderr, "fuzz_ops: %s\n", rep.msg);
		finding("pmp_check failed at the end", 0);
	}
	if (rep.used_blocks != nl)
		finding("used block count differs from the shadow", nl);
	for (int r = 0; r < ROOTS; r++) {
		snprintf(name, sizeof name, "r%d", r);
		void *p = pmp_root_get(h, name);
		if (p != (root_of[r] >= 0 ? (void *)sl[root_of[r]].p : NULL))
			finding("root differs from the shadow", (size_t)r);
	}
	pmp_close(h);
	return 0;
}
