/* api.h: scaffolding shared by the api suite: scratch directories, distinct fixed addresses, derivable block
 * contents, a shadow record of live blocks, and small assertion helpers.
 *
 * Holds: only test scaffolding over the public API (<pmempreload.h>); the oracle of heap validity is pmp_check.
 * Must never: include an internal header, reach into the heap's layout, or hide a failure (helpers assert).
 */
#ifndef PMP_API_TEST_H
#define PMP_API_TEST_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <pmempreload.h>

/* Test k gets its own 512 GiB slot of address space above the sanitizers' fixed ranges (ASan's allocator sits at
 * 0x600000000000..0x640000000000). Criterion runs each test in its own process, so slots only matter when tests run
 * in one process (--no-fork). */
#define T_ADDR(k) ((void *)(uintptr_t)(0x650000000000ull + (uint64_t)(k) * 0x8000000000ull))

#if defined(__SANITIZE_ADDRESS__)
#define T_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_SANITIZED 1
#endif
#endif
#ifndef T_SANITIZED
#define T_SANITIZED 0
#endif

/* ---- scratch directory ---- */
static inline char *t_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *d = malloc(4096);
	cr_assert_not_null(d);
	snprintf(d, 4096, "%s/pmp-api-XXXXXX", base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(d), "mkdtemp %s: %s", d, strerror(errno));
	return d;
}
static inline char *t_path(const char *dir, const char *name)
{
	char *p = malloc(4096);
	cr_assert_not_null(p);
	snprintf(p, 4096, "%s/%s", dir, name);
	return p;
}
static inline void t_rmtree(char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *p = t_path(dir, e->d_name);
			unlink(p);
			free(p);
		}
		closedir(d);
	}
	rmdir(dir);
	free(dir);
}

/* ---- randomness: splitmix64 ---- */
static inline uint64_t t_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
static inline uint64_t t_below(uint64_t *s, uint64_t n) { return n ? t_rand(s) % n : 0; }

/* ---- contents derived from (id, offset): word k of block id is t_word(id, k) ---- */
static inline uint64_t t_word(uint64_t id, uint64_t k)
{
	return (id + 1) * 0x9e3779b97f4a7c15ull ^ (k * 0xd6e8feb86659fd93ull + id);
}
static inline uint8_t t_byte(uint64_t id, size_t i)
{
	return (uint8_t)(t_word(id, i / 8) >> (8 * (i % 8)));
}
/* fill bytes [from, to) of p with block id's pattern */
static inline void t_fill(void *p, uint64_t id, size_t from, size_t to)
{
	uint8_t *b = p;
	size_t i = from;
	for (; i < to && (i & 7); i++)
		b[i] = t_byte(id, i);
	for (; i + 8 <= to; i += 8) {
		uint64_t w = t_word(id, i / 8);
		memcpy(b + i, &w, 8);
	}
	for (; i < to; i++)
		b[i] = t_byte(id, i);
}
/* first offset in [from, to) that does not hold the pattern, or `to` */
static inline size_t t_find_bad(const void *p, uint64_t id, size_t from, size_t to)
{
	const uint8_t *b = p;
	size_t i = from;
	for (; i < to && (i & 7); i++)
		if (b[i] != t_byte(id, i))
			return i;
	for (; i + 8 <= to; i += 8) {
		uint64_t w;
		memcpy(&w, b + i, 8);
		if (w != t_word(id, i / 8))
			break;
	}
	for (; i < to; i++)
		if (b[i] != t_byte(id, i))
			return i;
	return to;
}
#define t_assert_pattern(p, id, n)                                                                         \
	do {                                                                                               \
		size_t bad_ = t_find_bad((p), (id), 0, (n));                                               \
		cr_assert_eq(bad_, (size_t)(n), "block %llu (%zu bytes) damaged at byte %zu",             \
			     (unsigned long long)(id), (size_t)(n), bad_);                                 \
	} while (0)

static inline void t_check(pmp_heap_t *h, const char *when)
{
	pmp_report_t r;
	int e = pmp_check(h, &r);
	cr_assert_eq(e, 0, "%s: pmp_check: %s: problem %d: %s", when, pmp_strerror(e), r.problem, r.msg);
}

static inline void *t_map(void *addr, size_t len)
{
	void *m = mmap(addr, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (addr ? MAP_FIXED_NOREPLACE : 0), -1, 0);
	cr_assert_neq(m, MAP_FAILED, "mmap %zu bytes: %s", len, strerror(errno));
	if (addr)
		cr_assert_eq(m, addr);
	return m;
}

static inline pmp_file_opts_t t_opts(int mode, void *addr, size_t reserve)
{
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = mode;
	o.addr = addr;
	o.reserve = reserve;
	o.initial = 256 << 10;
	o.grow = 256 << 10;
	return o;
}

static inline double t_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif

/* ---- self-describing objects for roots: header, then pattern bytes of their id ---- */
#define T_OBJ_MAGIC 0x4a424f504d50ull /* "PMPOBJ" */
struct t_obj {
	uint64_t magic, id, len; /* len: bytes of the whole object */
};
static inline void *t_obj_new(pmp_heap_t *h, uint64_t id, size_t len)
{
	if (len < sizeof(struct t_obj))
		len = sizeof(struct t_obj);
	struct t_obj *o = pmp_malloc(h, len);
	if (!o)
		return NULL;
	o->magic = T_OBJ_MAGIC;
	o->id = id;
	o->len = len;
	t_fill(o, id, sizeof *o, len);
	return o;
}
/* NULL when intact, else what is wrong */
static inline const char *t_obj_bad(pmp_heap_t *h, const void *p, uint64_t id)
{
	const struct t_obj *o = p;
	if (!o)
		return "missing";
	if (o->magic != T_OBJ_MAGIC)
		return "bad magic";
	if (o->id != id)
		return "wrong id";
	if (pmp_usable_size(h, p) < o->len)
		return "block smaller than the object";
	if (t_find_bad(p, id, sizeof *o, o->len) != o->len)
		return "contents damaged";
	return NULL;
}
