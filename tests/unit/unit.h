/* unit.h: scaffolding shared by the unit suite: heaps on anonymous memory, derivable block contents, small helpers
 * to reach the internal structures of a heap.
 *
 * Holds: only test scaffolding; the oracle of heap validity is always pmp_check or an explicit property, never
 * something computed here.
 * Must never: change the heap except through the calls a test asks for, or hide a failure (every helper that can
 * fail asserts).
 */
#ifndef PMP_UNIT_H
#define PMP_UNIT_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "core/block.h"
#include "core/chain.h"
#include "core/heap.h"
#include "pmempreload.h"

static inline void *u_map(size_t len)
{
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(m, MAP_FAILED, "mmap of %zu bytes failed", len);
	return m;
}

static inline struct pmp_heap *u_heap(void *mem, size_t len)
{
	pmp_heap_t *h = NULL;
	int e = pmp_heap_create(mem, len, 0, &h);
	cr_assert_eq(e, 0, "pmp_heap_create: %s", pmp_strerror(e));
	return h;
}

/* byte i of the content of block `id` */
static inline uint8_t u_byte(uint64_t id, size_t i)
{
	uint64_t x = (id + 1) * 0x9e3779b97f4a7c15ull + i * 0xbf58476d1ce4e5b9ull;
	return (uint8_t)(x >> 56);
}
static inline void u_fill(void *p, uint64_t id, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)p)[i] = u_byte(id, i);
}
/* index of the first wrong byte, or n */
static inline size_t u_verify(const void *p, uint64_t id, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((const uint8_t *)p)[i] != u_byte(id, i))
			return i;
	return n;
}

static inline uint64_t u_off(const struct pmp_heap *h, const void *user)
{
	return (uint64_t)((const uint8_t *)user - h->base) - PMP_HDR;
}

static inline void u_assert_check(struct pmp_heap *h, const char *when)
{
	pmp_report_t r;
	int e = pmp_check(h, &r);
	cr_assert_eq(e, 0, "%s: pmp_check: %s (problem %d: %s)", when, pmp_strerror(e), r.problem, r.msg);
	cr_assert_eq(r.problem, PMP_OK);
}

/* splitmix64 */
static inline uint64_t u_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
