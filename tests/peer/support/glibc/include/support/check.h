/* support/check.h (peer shim): the assertions of glibc's test support library, for glibc's malloc tests.
 *
 * Holds: TEST_VERIFY, TEST_VERIFY_EXIT, TEST_COMPARE and the FAIL_* macros, with glibc's meaning: a TEST_* failure
 * is recorded and the test goes on (the driver turns it into exit status 1), a FAIL_EXIT* failure ends the process.
 * Must never: let a failed check pass, or stop a test that glibc's library would let continue.
 * Our own implementation of the documented interface (the glibc sources are not copied).
 */
#ifndef PEER_SUPPORT_CHECK_H
#define PEER_SUPPORT_CHECK_H

#include <stdbool.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

/* exit status of a test that cannot run here (meson's "skip"; the peer runner counts it as a failure) */
#define EXIT_UNSUPPORTED 77

#define TEST_VERIFY(expr) \
	((expr) ? (void)0 : support_test_verify_impl(__FILE__, __LINE__, #expr))
#define TEST_VERIFY_EXIT(expr) \
	((expr) ? (void)0 : support_test_verify_exit_impl(1, __FILE__, __LINE__, #expr))

#define FAIL(...) support_print_failure_impl(__FILE__, __LINE__, __VA_ARGS__)
#define FAIL_RET(...) return (support_print_failure_impl(__FILE__, __LINE__, __VA_ARGS__), 1)
#define FAIL_EXIT(status, ...) support_exit_failure_impl(status, __FILE__, __LINE__, __VA_ARGS__)
#define FAIL_EXIT1(...) support_exit_failure_impl(1, __FILE__, __LINE__, __VA_ARGS__)
#define FAIL_UNSUPPORTED(...) support_exit_failure_impl(EXIT_UNSUPPORTED, __FILE__, __LINE__, __VA_ARGS__)

/* Compares two integers by value: a negative value of a signed type never equals a value of an unsigned type
 * (plain == would convert it and call -1 equal to SIZE_MAX). */
#define PEER_IS_NEGATIVE(x) ((__typeof__(x))-1 < (__typeof__(x))0 && (x) < (__typeof__(x))0)
#define TEST_COMPARE(left, right)                                                                              \
	do {                                                                                                   \
		__typeof__(left) peer_left_ = (left);                                                          \
		__typeof__(right) peer_right_ = (right);                                                       \
		support_test_compare_impl(__FILE__, __LINE__, #left, (unsigned long long)peer_left_,          \
					  PEER_IS_NEGATIVE(peer_left_), #right, (unsigned long long)peer_right_, \
					  PEER_IS_NEGATIVE(peer_right_));                                      \
	} while (0)

/* a failure that forked children and the test process itself all count (shared memory, see support.c) */
void support_record_failure(void);
bool support_record_failure_is_failed(void);

void support_test_verify_impl(const char *file, int line, const char *expr);
__attribute__((noreturn)) void support_test_verify_exit_impl(int status, const char *file, int line,
							     const char *expr);
__attribute__((format(printf, 3, 4))) void support_print_failure_impl(const char *file, int line,
								       const char *format, ...);
__attribute__((noreturn, format(printf, 4, 5))) void support_exit_failure_impl(int status, const char *file,
										int line, const char *format, ...);
void support_test_compare_impl(const char *file, int line, const char *left_expr, unsigned long long left,
			       int left_negative, const char *right_expr, unsigned long long right,
			       int right_negative);

#ifdef __cplusplus
}
#endif
#endif
