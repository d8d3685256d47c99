/* support/test-driver.h (peer shim): the test driver interface of glibc's test support library.
 *
 * Holds: struct test_config (filled by test-driver.c from the test's macros) and support_test_main, which runs
 * the test in a child process under a timeout and judges its exit (status, expected signal, recorded failures).
 * Must never: report success for a test that timed out, died of an unexpected signal or recorded a failure.
 */
#ifndef PEER_SUPPORT_TEST_DRIVER_H
#define PEER_SUPPORT_TEST_DRIVER_H

#include <support/check.h>

#ifdef __cplusplus
extern "C" {
#endif

/* seconds, scaled by the TIMEOUTFACTOR environment variable as in glibc */
#define DEFAULT_TIMEOUT 20

struct test_config {
	void (*prepare_function)(int argc, char **argv);
	int (*test_function)(void);
	int (*test_function_argv)(int argc, char **argv);
	void (*cleanup_function)(void);
	int expected_status;
	int expected_signal;
	int timeout;      /* 0: DEFAULT_TIMEOUT */
	int no_mallopt;   /* 1: do not call mallopt (M_PERTURB, 42) first */
	int no_setvbuf;   /* 1: keep stdout buffered */
};

int support_test_main(int argc, char **argv, const struct test_config *config);

#ifdef __cplusplus
}
#endif
#endif
