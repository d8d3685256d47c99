/* secrets.c: with PMP_FILE_ZERO_FREED no freed byte survives in the heap file: plain frees, frees that merge with
 * both neighbours, realloc shrinking in place, realloc moving, realloc to 0, memalign gaps, and a reopen.
 * A control run without the flag must find the secret in the file, which proves the search can fail.
 * (PMEMPRELOAD_ZERO=1 under the shim maps to this flag; that path belongs to the preload suite.)
 * Must never: keep a secret alive on purpose and count it as leaked, or search anything but the file's bytes.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common.h"

#define BASE ((void *)0x640000000000ull)
static const char SECRET[] = "S3CR3T-pmempreload-key-9f1c";

static void fill_secret(void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((char *)p)[i] = SECRET[i % (sizeof SECRET - 1)];
}

/* occurrences of any 12-byte window of the secret pattern */
static long count_secret(const unsigned char *d, size_t n)
{
	long hits = 0;
	for (size_t i = 0; i + 12 <= n; i++)
		for (size_t k = 0; k < sizeof SECRET - 1; k++) {
			size_t m = 0;
			while (m < 12 && d[i + m] == (unsigned char)SECRET[(k + m) % (sizeof SECRET - 1)])
				m++;
			if (m == 12) {
				hits++;
				i += 11;
				break;
			}
		}
	return hits;
}

static long run(unsigned flags)
{
	char *dir = cr_tmpdir("secrets");
	char *path = cr_path(dir, "s.heap");
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = PMP_OPEN_CREATE;
	o.addr = BASE;
	o.reserve = (size_t)32 << 20;
	o.initial = (size_t)256 << 10;
	o.flags = flags;
	pmp_heap_t *h;
	cr_assert_eq(pmp_file_open(path, &o, &h), 0);
	void *keep = pmp_malloc(h, 64);
	memset(keep, 0x11, 64);
	/* plain free between used neighbours */
	void *a = pmp_malloc(h, 300), *g1 = pmp_malloc(h, 32);
	fill_secret(a, 300);
	pmp_free(h, a);
	/* three neighbours freed so that the middle one merges both ways */
	void *x = pmp_malloc(h, 200), *y = pmp_malloc(h, 5000), *z = pmp_malloc(h, 200), *g2 = pmp_malloc(h, 32);
	fill_secret(x, 200);
	fill_secret(y, 5000);
	fill_secret(z, 200);
	pmp_free(h, x);
	pmp_free(h, z);
	pmp_free(h, y);
	/* realloc shrinking in place, then moving, then to 0 */
	void *r = pmp_malloc(h, 4000), *g3 = pmp_malloc(h, 32);
	fill_secret(r, 4000);
	r = pmp_realloc(h, r, 100);
	memset(r, 0x22, 100);
	r = pmp_realloc(h, r, 60000);
	memset(r, 0x22, 60000);
	void *r0 = pmp_malloc(h, 700);
	fill_secret(r0, 700);
	cr_assert_null(pmp_realloc(h, r0, 0));
	/* aligned allocation with a front gap, then freed */
	void *al = pmp_memalign(h, 4096, 3000);
	fill_secret(al, 3000);
	pmp_free(h, al);
	/* a large block (growth) freed */
	void *big = pmp_malloc(h, 300000);
	fill_secret(big, 300000);
	pmp_free(h, big);
	/* calloc'd then freed */
	void *c = pmp_calloc(h, 10, 100);
	fill_secret(c, 1000);
	pmp_free(h, c);
	pmp_free(h, g1);
	pmp_free(h, g2);
	pmp_free(h, g3);
	pmp_free(h, r);
	cr_assert_eq(pmp_root_set(h, "keep", keep), 0);
	cr_assert_eq(pmp_check(h, NULL), 0);
	cr_assert_eq(pmp_close(h), 0);
	size_t n;
	unsigned char *d = cr_read_file(path, &n);
	cr_assert_not_null(d);
	long hits = count_secret(d, n);
	free(d);
	cr_rmtree(dir);
	free(dir);
	free(path);
	return hits;
}

Test(secrets, zero_freed_leaves_no_byte)
{
	long hits = run(PMP_FILE_ZERO_FREED);
	cr_assert_eq(hits, 0, "%ld fragments of freed secrets remain in the heap file", hits);
}

Test(secrets, control_without_the_flag_finds_them)
{
	long hits = run(0);
	cr_assert_gt(hits, 0, "the search finds nothing even without zeroing: it proves nothing");
}
