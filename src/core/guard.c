/* guard.c: the cheap checks on free and realloc, and the one-line fatal messages they end in.
 *
 * Holds: validation of a user pointer from its own block header and the boundary tags that frame it
 * (_pmp_block_of), or from its page's header and live bit (_pmp_user_block), and the allocation-free writer of "pmempreload: op(ptr): why in heap base" lines.
 * Must never: allocate, take a lock, write to the heap, or follow an offset it has not range-checked first.
 */
#include <errno.h>
#include <string.h>

#include "../os/os.h"
#include "page.h"
#include "track.h"

/* ---- pointer validation ---- */

uint64_t _pmp_block_of(const struct pmp_heap *h, const void *p, const char **why)
{
	uintptr_t u = (uintptr_t)p, base = (uintptr_t)h->base;
	if (u < base + PMP_OFF_ARENA + PMP_HDR || u >= base + _pmp_sentinel(h)) {
		*why = "pointer outside the heap's arena";
		return 0;
	}
	if (u & (PMP_ALIGN - 1)) {
		*why = "pointer not aligned to a block";
		return 0;
	}
	uint64_t b = u - base - PMP_HDR;
	uint64_t head = _pmp_head(h, b), s = _pmp_bsize(head);
	if (!_pmp_head_valid(h, b, head)) {
		*why = "no block starts here (invalid pointer or overwritten header)";
		return 0;
	}
	if (head & PMP_B_FREE) {
		*why = "block is already free (double free?)";
		return 0;
	}
	if ((head & (PMP_B_FLAGS & ~(uint64_t)PMP_B_CACHED)) || s < PMP_MIN_BLOCK || s > _pmp_sentinel(h) - b) {
		*why = "no block starts here (invalid pointer or overwritten header)";
		return 0;
	}
	if (head & PMP_B_CACHED) {
		*why = "block is already free (held in a cache or quarantine: double free?)";
		return 0;
	}
	if (b == h->sites_block) {
		*why = "no block of the program starts here (the heap's table of call sites)";
		return 0;
	}
	/* the neighbours' tags are compared by value: their check bits serve recovery, the value is what matters here */
	if (_pmp_prev(h, b + s) != s) {
		*why = "next block's boundary tag disagrees (invalid pointer or heap overflow)";
		return 0;
	}
	if (b > PMP_OFF_ARENA) {
		uint64_t ps = _pmp_prev(h, b);
		if (ps < PMP_MIN_BLOCK || ps > b - PMP_OFF_ARENA ||
		    _pmp_bsize(_pmp_hdr(h, b - ps)->head) != ps) {
			*why = "boundary tag disagrees with the previous block (invalid pointer or heap underflow)";
			return 0;
		}
	} else if (_pmp_prev(h, b) != 0) {
		*why = "first block has a previous size (overwritten header)";
		return 0;
	}
	return b;
}

uint64_t _pmp_page_containing(const struct pmp_heap *h, uint64_t off)
{
	uint64_t pg = off & ~(uint64_t)(PMP_SLAB - 1);
	if (pg < PMP_OFF_ARENA + PMP_HDR || pg - PMP_HDR + PMP_SLAB > _pmp_sentinel(h))
		return 0;
	uint64_t b = pg - PMP_HDR, head = _pmp_head(h, b);
	if (!_pmp_head_valid(h, b, head) || (head & PMP_B_FLAGS))
		return 0;
	return _pmp_page_block(h, b, _pmp_bsize(head)) ? pg : 0;
}

int _pmp_user_block(const struct pmp_heap *h, const void *p, uint64_t *size, const char **why)
{
	uintptr_t u = (uintptr_t)p, base = (uintptr_t)h->base;
	if (u < base + PMP_OFF_ARENA + PMP_HDR || u >= base + _pmp_sentinel(h)) {
		*why = "pointer outside the heap's arena";
		return 0;
	}
	uint64_t off = u - base, pg = _pmp_page_containing(h, off);
	if (pg) {
		const struct pmp_page *page = _pmp_page_at(h, pg);
		uint64_t d = off - pg - sizeof(struct pmp_page);
		uint32_t i = _pmp_slot_index(d, _pmp_class_inv(page->cls));
		if (off < pg + sizeof(struct pmp_page) || i >= page->capacity || (uint64_t)i * page->slot_size != d) {
			*why = "no block starts here (invalid pointer)";
			return 0;
		}
		if (!(__atomic_load_n(&page->live[i >> 6], __ATOMIC_RELAXED) & ((uint64_t)1 << (i & 63)))) {
			*why = "block is already free (double free?)";
			return 0;
		}
		*size = page->slot_size - _pmp_trail(h);
		return PMP_USER_SLOT;
	}
	uint64_t b = _pmp_block_of(h, p, why);
	if (!b)
		return 0;
	*size = _pmp_bsize(_pmp_head(h, b)) - PMP_HDR - _pmp_trail(h);
	return PMP_USER_CHAIN;
}

char *_pmp_put_str(char *o, char *end, const char *s)
{
	while (*s && o < end)
		*o++ = *s++;
	return o;
}

char *_pmp_put_hex(char *o, char *end, uint64_t v)
{
	char t[16];
	int n = 0;
	do
		t[n++] = "0123456789abcdef"[v & 15];
	while ((v >>= 4) != 0);
	o = _pmp_put_str(o, end, "0x");
	while (n > 0 && o < end)
		*o++ = t[--n];
	return o;
}

void _pmp_fatal_pointer(const struct pmp_heap *h, const char *op, const void *p, const char *why)
{
	char msg[256], *o = msg, *end = msg + sizeof msg - 2;
	o = _pmp_put_str(o, end, "pmempreload: ");
	o = _pmp_put_str(o, end, op);
	o = _pmp_put_str(o, end, "(");
	o = _pmp_put_hex(o, end, (uint64_t)(uintptr_t)p);
	o = _pmp_put_str(o, end, "): ");
	o = _pmp_put_str(o, end, why);
	o = _pmp_put_str(o, end, " in heap ");
	o = _pmp_put_hex(o, end, h->orig_base);
	*o++ = '\n';
	*o = 0;
	_pmp_os_fatal(msg);
}

