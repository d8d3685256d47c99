/* support/test-driver.c (peer shim): the main() that glibc's tests include last; it turns the test's macros
 * (TEST_FUNCTION, TEST_FUNCTION_ARGV, PREPARE, CLEANUP_HANDLER, EXPECTED_SIGNAL, EXPECTED_STATUS, TIMEOUT,
 * TEST_NO_MALLOPT, TEST_NO_SETVBUF) into a struct test_config and calls support_test_main.
 * Must never: accept a macro of glibc's driver that the shim does not implement (it fails to compile instead).
 */
#include <support/test-driver.h>

#include <string.h>

#if defined(CMDLINE_OPTIONS) || defined(CMDLINE_PROCESS) || defined(RUN_COMMAND_MODE)
#error "peer shim: command-line options and command mode of glibc's test driver are not implemented"
#endif
#if defined(TEST_FUNCTION) && defined(TEST_FUNCTION_ARGV)
#error "TEST_FUNCTION and TEST_FUNCTION_ARGV cannot be defined at the same time"
#endif

int main(int argc, char **argv)
{
	struct test_config config;
	memset(&config, 0, sizeof config);
#ifdef PREPARE
	config.prepare_function = (PREPARE);
#endif
#if defined(TEST_FUNCTION)
	config.test_function = TEST_FUNCTION;
#elif defined(TEST_FUNCTION_ARGV)
	config.test_function_argv = TEST_FUNCTION_ARGV;
#else
	config.test_function = do_test;
#endif
#ifdef CLEANUP_HANDLER
	config.cleanup_function = CLEANUP_HANDLER;
#endif
#ifdef EXPECTED_SIGNAL
	config.expected_signal = (EXPECTED_SIGNAL);
#endif
#ifdef EXPECTED_STATUS
	config.expected_status = (EXPECTED_STATUS);
#endif
#ifdef TEST_NO_MALLOPT
	config.no_mallopt = 1;
#endif
#ifdef TEST_NO_SETVBUF
	config.no_setvbuf = 1;
#endif
#ifdef TIMEOUT
	config.timeout = TIMEOUT;
#endif
	return support_test_main(argc, argv, &config);
}
