/* page.c: the persistent header of a slab page: made, and checked (see format.h and page.h).
 *
 * Holds: the header's formatting (the magic written last), an empty page's change of class, and the two checks
 * recovery, pmp_check and the walk share: the remote list as a set of slots, and the consistency of a page.
 * Must never: write anything but the header of a page being made or of an empty page changing class, or follow a
 * link it has not range-checked.
 */
#include <string.h>

#include "../os/os.h"
#include "page.h"

/* _pmp_class_compute of the largest request of each 16-byte step, as a constant expression: every n with
 * (n + 15) / 16 == k shares class _pmp_class_table[k] (class sizes are multiples of 16), checked against the
 * computation for every request up to PMP_SMALL_MAX by the unit suite. The steps past PMP_SMALL_MAX / 16 are
 * never read. */
#define CLS_FLS(x) ((x) >= 4096 ? 12 : (x) >= 2048 ? 11 : (x) >= 1024 ? 10 : (x) >= 512 ? 9 : (x) >= 256 ? 8 : 7)
#define CLS_OF(n)                                                                                                     \
	((n) > 8192 ? 32 + ((n) > PMP_CLASS_BIG0) + ((n) > PMP_CLASS_BIG1) + ((n) > PMP_CLASS_BIG2)                   \
	 : (n) <= 128 ? ((n) ? ((n) - 1) >> 4 : 0)                                                                    \
		      : 8 + (CLS_FLS((n) - 1) - 7) * 4 + ((((n) - 1) >> (CLS_FLS((n) - 1) - 2)) & 3))
#define CLS_1(k) CLS_OF(16u * (k))
#define CLS_2(k) CLS_1(k), CLS_1((k) + 1)
#define CLS_4(k) CLS_2(k), CLS_2((k) + 2)
#define CLS_8(k) CLS_4(k), CLS_4((k) + 4)
#define CLS_16(k) CLS_8(k), CLS_8((k) + 8)
#define CLS_32(k) CLS_16(k), CLS_16((k) + 16)
#define CLS_64(k) CLS_32(k), CLS_32((k) + 32)
#define CLS_128(k) CLS_64(k), CLS_64((k) + 64)
#define CLS_256(k) CLS_128(k), CLS_128((k) + 128)
#define CLS_512(k) CLS_256(k), CLS_256((k) + 256)
_Static_assert(PMP_CLASS_STEPS == 1024 && PMP_SMALL_MAX / 16 < PMP_CLASS_STEPS, "the table covers the small sizes");
const uint8_t _pmp_class_table[PMP_CLASS_STEPS] = {CLS_512(0u), CLS_512(512u)};

void _pmp_page_format(struct pmp_heap *h, uint64_t off, unsigned c, uint32_t owner_tag)
{
	struct pmp_page *pg = _pmp_page_at(h, off);
	PMP_CRASHPOINT();
	__atomic_store_n(&pg->magic, 0, __ATOMIC_RELAXED); /* a page of a layout long gone is no page while made */
	memset((char *)pg + sizeof pg->magic, 0, sizeof *pg - sizeof pg->magic);
	pg->shape = _pmp_class_shape(c);
	pg->first_slot = sizeof(struct pmp_page);
	pg->owner_tag = owner_tag;
	pg->acquired_ns = _pmp_os_now_ns();
	PMP_CRASHPOINT();
	__atomic_store_n(&pg->magic, _pmp_page_magic(h, off), __ATOMIC_RELEASE);
}

void _pmp_page_reshape(struct pmp_heap *h, uint64_t off, unsigned c)
{
	struct pmp_page *pg = _pmp_page_at(h, off);
	PMP_CRASHPOINT();
	__atomic_store_n(&pg->shape, _pmp_class_shape(c), __ATOMIC_RELEASE);
	PMP_CRASHPOINT();
	pg->acquired_ns = _pmp_os_now_ns();
}

const char *_pmp_page_remote_set(const struct pmp_heap *h, uint64_t off, uint64_t *words)
{
	const struct pmp_page *pg = _pmp_page_at(h, off);
	memset(words, 0, PMP_PAGE_WORDS * sizeof *words);
	uint64_t x = __atomic_load_n(&pg->remote, __ATOMIC_ACQUIRE);
	uint32_t inv = _pmp_class_inv(pg->cls);
	for (uint32_t n = 0; x; n++) {
		if (n >= pg->capacity || x < off + pg->first_slot || x >= off + PMP_SLAB - PMP_HDR)
			return "remote free list runs outside its page";
		uint64_t d = x - off - pg->first_slot;
		uint32_t i = _pmp_slot_index(d, inv);
		if (i >= pg->capacity || (uint64_t)i * pg->slot_size != d)
			return "remote free list links to no slot start";
		if (words[i >> 6] & ((uint64_t)1 << (i & 63)))
			return "remote free list holds a slot twice";
		words[i >> 6] |= (uint64_t)1 << (i & 63);
		x = __atomic_load_n((const uint64_t *)(const void *)(h->base + x), __ATOMIC_RELAXED);
	}
	return NULL;
}

static uint64_t beyond_capacity(const struct pmp_page *pg, unsigned w) { return ~_pmp_page_word_mask(pg->capacity, w); }

const char *_pmp_page_beyond(const struct pmp_page *pg)
{
	for (unsigned w = (pg->capacity - 1u) / 64; w < PMP_PAGE_WORDS; w++)
		if (__atomic_load_n(&pg->live[w], __ATOMIC_RELAXED) & beyond_capacity(pg, w))
			return "page bitmap marks slots beyond its capacity";
	return NULL;
}

const char *_pmp_page_wrong(const struct pmp_heap *h, uint64_t off, uint32_t *live)
{
	const struct pmp_page *pg = _pmp_page_at(h, off);
	uint64_t remote[PMP_PAGE_WORDS];
	const char *why = _pmp_page_remote_set(h, off, remote);
	if (why)
		return why;
	uint32_t n = 0;
	for (unsigned w = 0; w < PMP_PAGE_WORDS; w++) {
		uint64_t bits = __atomic_load_n(&pg->live[w], __ATOMIC_RELAXED);
		if (bits & beyond_capacity(pg, w))
			return "page bitmap marks slots beyond its capacity";
		if (remote[w] & ~bits)
			return "remote free list holds a slot that is not live";
		n += (uint32_t)__builtin_popcountll(bits & ~remote[w]);
	}
	*live = n;
	return NULL;
}
