/* test/jemalloc_test.h (peer shim): the part of jemalloc's test harness that jemalloc's standard-API
 * integration tests (malloc, aligned_alloc, posix_memalign, overflow, cpp/basic, cpp/infallible_new_false) use,
 * so that they build against the C library's malloc (here: the preload) instead of jemalloc's internals.
 *
 * Holds: TEST_BEGIN/TEST_END/test(), the expect_* checks they use (a failed expect marks the test failed and
 * goes on, as in jemalloc), test_fail, errno helpers, TEST_MALLOC_SIZE (= malloc_usable_size), and a mallctl
 * that knows exactly the three names these tests ask (arena.0.purge = malloc_trim (0); arenas.nlextents and
 * arenas.lextent.0.size = one largest size class of PTRDIFF_MAX, the size beyond which every C allocator must
 * fail). Any other mallctl name is ENOENT, so a test that needs jemalloc itself fails instead of passing.
 * Must never: let a failed expect pass, or answer a mallctl name with a made-up value other than the above.
 * Our own implementation of the interface of jemalloc's test/include/test/test.h (no jemalloc code copied).
 */
#ifndef PEER_JEMALLOC_TEST_H
#define PEER_JEMALLOC_TEST_H

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LG_SIZEOF_PTR 3
#define SIZE_T_MAX SIZE_MAX
#define BUFERROR_BUF 64
#define TEST_MALLOC_SIZE malloc_usable_size

#define JEMALLOC_DIAGNOSTIC_PUSH _Pragma("GCC diagnostic push")
#define JEMALLOC_DIAGNOSTIC_POP _Pragma("GCC diagnostic pop")
#define JEMALLOC_DIAGNOSTIC_IGNORE_ALLOC_SIZE_LARGER_THAN _Pragma("GCC diagnostic ignored \"-Walloc-size-larger-than=\"")

typedef void(peer_test_t)(void);

#define TEST_BEGIN(f)              \
	static void f(void)        \
	{                          \
		peer_test_init(#f);

#define TEST_END                 \
	goto label_test_end;     \
	label_test_end:          \
	peer_test_fini();        \
	}

#define test(...) peer_test_run(__VA_ARGS__, (peer_test_t *)NULL)

/* one comparison of two values of type t; may_abort: assert_* (leave the test), else expect_* (go on) */
#define peer_verify_cmp(t, a, b, cmp, pri, ...)                                                              \
	do {                                                                                                 \
		t peer_a_ = (a);                                                                             \
		t peer_b_ = (b);                                                                             \
		if (!(peer_a_ cmp peer_b_)) {                                                                \
			char peer_msg_[256];                                                                 \
			snprintf(peer_msg_, sizeof peer_msg_, __VA_ARGS__);                                  \
			peer_test_fail_cmp(__func__, __FILE__, __LINE__, "(" #a ") " #cmp " (" #b ")", pri, peer_msg_, \
					   (long long)(intptr_t)peer_a_, (long long)(intptr_t)peer_b_);         \
		}                                                                                            \
	} while (0)

#define expect_d_eq(a, b, ...) peer_verify_cmp(int, a, b, ==, 'd', __VA_ARGS__)
#define expect_d_ne(a, b, ...) peer_verify_cmp(int, a, b, !=, 'd', __VA_ARGS__)
#define expect_b_eq(a, b, ...) peer_verify_cmp(bool, a, b, ==, 'b', __VA_ARGS__)
#define expect_true(a, ...) expect_b_eq(a, true, __VA_ARGS__)
#define expect_false(a, ...) expect_b_eq(a, false, __VA_ARGS__)
#define expect_ptr_null(a, ...) peer_verify_cmp(const void *, a, NULL, ==, 'p', __VA_ARGS__)
#define expect_ptr_not_null(a, ...) peer_verify_cmp(const void *, a, NULL, !=, 'p', __VA_ARGS__)

void peer_test_init(const char *name);
void peer_test_fini(void);
int peer_test_run(peer_test_t *first, ...);
void peer_test_fail_cmp(const char *func, const char *file, int line, const char *expr, char pri,
			const char *message, long long a, long long b);
void test_fail(const char *format, ...) __attribute__((format(printf, 1, 2)));

void set_errno(int e);
int get_errno(void);
void buferror(int err, char *buf, size_t buflen);

int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
int mallctlnametomib(const char *name, size_t *mibp, size_t *miblenp);
int mallctlbymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

#ifdef __cplusplus
}
#endif
#endif
