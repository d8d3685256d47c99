/* test-skeleton.c (peer shim): glibc's legacy test skeleton, which older tests include as "../test-skeleton.c"
 * (found through the include path: this file sits one level above the shim's include directory).
 *
 * Holds: the adapters from the legacy macro forms (TEST_FUNCTION as an expression such as "do_test ()",
 * PREPARE and CLEANUP_HANDLER as statements) to the function pointers of support/test-driver.c, and the headers
 * the legacy skeleton made visible to the tests that include it.
 * Must never: define a main of its own (support/test-driver.c does).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <support/check.h>
#include <support/support.h>
#include <support/temp_file.h>
#include <support/xsignal.h>

static int peer_legacy_test_function(int argc, char **argv)
{
	(void)argc;
	(void)argv;
#ifdef TEST_FUNCTION
	return TEST_FUNCTION;
#undef TEST_FUNCTION
#else
	return do_test(argc, argv);
#endif
}
#define TEST_FUNCTION_ARGV peer_legacy_test_function

#ifdef PREPARE
static void peer_legacy_prepare_function(int argc, char **argv)
{
	PREPARE(argc, argv);
}
#undef PREPARE
#define PREPARE peer_legacy_prepare_function
#endif

#ifdef CLEANUP_HANDLER
static void peer_legacy_cleanup_function(void)
{
	CLEANUP_HANDLER;
}
#undef CLEANUP_HANDLER
#define CLEANUP_HANDLER peer_legacy_cleanup_function
#endif

#include <support/test-driver.c>
