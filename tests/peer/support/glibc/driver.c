/* driver.c (peer shim): support_test_main, the driver of glibc's tests, reimplemented for running them under
 * LD_PRELOAD=libpmempreload.so.
 *
 * Like glibc's driver, it runs the test in a child process in a process group of its own, kills that group
 * when the timeout (TIMEOUT or DEFAULT_TIMEOUT seconds, times $TIMEOUTFACTOR) expires, and judges the child:
 * exit status (or EXPECTED_STATUS), death by EXPECTED_SIGNAL and nothing else, and failures recorded by checks
 * in any process of the test. Unlike glibc's, the child is not a plain fork of the driver but a fresh exec of the
 * same program: a forked child would run on the preload's fork snapshot (private anonymous memory), while the
 * point is to test the heap file, which a new process image creates as any program run under the preload does.
 * "--direct" runs the test in this process instead (for a debugger).
 * Must never: report success for a test that timed out or died of a signal it did not expect, or leave a process
 * of the test's group running after it returns.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <support/test-driver.h>

#include "peer-glibc.h"

#define CHILD_ENV "PEER_GLIBC_TEST_CHILD"
#define FAILFD_ENV "PEER_GLIBC_FAILFD"

static int run_test(int argc, char **argv, const struct test_config *config)
{
	if (!config->no_setvbuf)
		setvbuf(stdout, NULL, _IONBF, 0);
	if (!config->no_mallopt)
		mallopt(M_PERTURB, 42);
	if (config->prepare_function)
		config->prepare_function(argc, argv);
	int status = config->test_function ? config->test_function() : config->test_function_argv(argc, argv);
	if (status == 0 && _peer_failures() != 0)
		status = 1;
	return status;
}

static volatile sig_atomic_t timed_out;
static volatile pid_t test_pid;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	kill(-test_pid, SIGKILL);
}

/* The driver is stopped from outside (the runner's or meson's timeout): the test's group goes first, or its
 * children (a fork test's signal senders, blocked on a barrier) would outlive everything. */
static void on_stop(int sig)
{
	kill(-test_pid, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static unsigned timeout_of(const struct test_config *config)
{
	unsigned t = config->timeout > 0 ? (unsigned)config->timeout : DEFAULT_TIMEOUT;
	const char *f = getenv("TIMEOUTFACTOR");
	if (f && atoi(f) > 0)
		t *= (unsigned)atoi(f);
	return t;
}

static int judge(int status, const struct test_config *config)
{
	unsigned failed = _peer_failures();
	int verdict = 0;
	if (failed)
		printf("error: %u test failure%s\n", failed, failed == 1 ? "" : "s");
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		if (config->expected_signal == 0) {
			printf("Didn't expect signal from child: got `%s'\n", strsignal(sig));
			verdict = 1;
		} else if (sig != config->expected_signal) {
			printf("Incorrect signal from child: got `%s', need `%s'\n", strsignal(sig),
			       strsignal(config->expected_signal));
			verdict = 1;
		}
	} else if (WIFEXITED(status)) {
		int code = WEXITSTATUS(status);
		if (config->expected_signal != 0) {
			printf("Expected signal `%s' from child, got none (exit status %d)\n",
			       strsignal(config->expected_signal), code);
			verdict = 1;
		} else if (code == EXIT_UNSUPPORTED && config->expected_status != EXIT_UNSUPPORTED) {
			verdict = EXIT_UNSUPPORTED;
		} else if (code != config->expected_status) {
			printf("Expected status %d from child, got %d\n", config->expected_status, code);
			verdict = 1;
		}
	} else {
		printf("Child stopped or in an unknown state (wait status 0x%x)\n", (unsigned)status);
		verdict = 1;
	}
	return verdict ? verdict : failed ? 1 : 0;
}

static int monitor(char **argv, const struct test_config *config)
{
	int fd = memfd_create("peer-glibc-failures", 0);
	if (fd < 0 || ftruncate(fd, (off_t)sizeof(unsigned)) != 0) {
		printf("error: memfd for the failure counter: %s\n", strerror(errno));
		return 1;
	}
	_peer_failures_attach(fd);
	char num[16];
	snprintf(num, sizeof num, "%d", fd);
	if (setenv(CHILD_ENV, "1", 1) != 0 || setenv(FAILFD_ENV, num, 1) != 0) {
		printf("error: setenv: %s\n", strerror(errno));
		return 1;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		printf("error: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		/* a driver killed from outside (meson's own timeout) takes the test with it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		execv("/proc/self/exe", argv);
		dprintf(STDOUT_FILENO, "error: exec /proc/self/exe: %s\n", strerror(errno));
		_exit(1);
	}
	setpgid(pid, pid); /* also here: whichever of the two runs first, the group exists before a kill */
	test_pid = pid;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	unsigned seconds = timeout_of(config);
	alarm(seconds);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			printf("error: waitpid: %s\n", strerror(errno));
			kill(-pid, SIGKILL);
			return 1;
		}
	}
	alarm(0);
	/* children of the test that outlived it (signal senders of the fork tests) */
	kill(-pid, SIGKILL);
	if (timed_out) {
		printf("Timed out: killed the child process after %u s\n", seconds);
		if (config->cleanup_function)
			config->cleanup_function();
		return 1;
	}
	return judge(status, config);
}

int support_test_main(int argc, char **argv, const struct test_config *config)
{
	const char *child = getenv(CHILD_ENV);
	if (child) {
		const char *fd = getenv(FAILFD_ENV);
		_peer_failures_attach(fd ? atoi(fd) : -1);
		unsetenv(CHILD_ENV);
		unsetenv(FAILFD_ENV);
		exit(run_test(argc, argv, config));
	}
	if (argc > 1 && strcmp(argv[1], "--direct") == 0) {
		argv[1] = argv[0];
		_peer_failures_attach(-1);
		return run_test(argc - 1, argv + 1, config);
	}
	return monitor(argv, config);
}
