/* crash.c: the `crash` verb: the crash record the preload's signal handler left in the heap (signal, code, fault
 * address, time, pid/tid) and its backtrace, each frame attributed to a module and symbolised with addr2line.
 *
 * Must never: trust counts or strings from the record beyond what pmp_crash_get bounded, pass a module path to the
 * shell unquoted, or fail because addr2line is missing (frames are then shown raw).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const struct {
	int sig;
	const char *name;
} signames[] = {
	{SIGHUP, "SIGHUP"}, {SIGINT, "SIGINT"}, {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"}, {SIGTRAP, "SIGTRAP"},
	{SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"}, {SIGFPE, "SIGFPE"}, {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"},
	{SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"}, {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
	{SIGCHLD, "SIGCHLD"}, {SIGCONT, "SIGCONT"}, {SIGSTOP, "SIGSTOP"}, {SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"},
	{SIGTTOU, "SIGTTOU"}, {SIGURG, "SIGURG"}, {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"}, {SIGVTALRM, "SIGVTALRM"},
	{SIGPROF, "SIGPROF"}, {SIGWINCH, "SIGWINCH"}, {SIGIO, "SIGIO"}, {SIGSYS, "SIGSYS"},
};

const char *cli_signame(int sig, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof signames / sizeof signames[0]; i++)
		if (signames[i].sig == sig)
			return signames[i].name;
	snprintf(buf, len, "signal %d", sig);
	return buf;
}

static const char *code_name(int sig, int code)
{
	switch (code) {
	case SI_USER: return "SI_USER (sent by kill)";
	case SI_TKILL: return "SI_TKILL (sent by tkill/raise)";
	case SI_QUEUE: return "SI_QUEUE (sent by sigqueue)";
	case SI_KERNEL: return "SI_KERNEL";
	default: break;
	}
	if (sig == SIGSEGV) {
		if (code == SEGV_MAPERR) return "SEGV_MAPERR (address not mapped)";
		if (code == SEGV_ACCERR) return "SEGV_ACCERR (permission denied)";
	} else if (sig == SIGBUS) {
		if (code == BUS_ADRALN) return "BUS_ADRALN (misaligned address)";
		if (code == BUS_ADRERR) return "BUS_ADRERR (nonexistent physical address, e.g. beyond a file's end)";
		if (code == BUS_OBJERR) return "BUS_OBJERR (object-specific hardware error)";
	} else if (sig == SIGFPE) {
		if (code == FPE_INTDIV) return "FPE_INTDIV (integer divide by zero)";
		if (code == FPE_INTOVF) return "FPE_INTOVF (integer overflow)";
		if (code == FPE_FLTDIV) return "FPE_FLTDIV (floating-point divide by zero)";
	} else if (sig == SIGILL) {
		if (code == ILL_ILLOPC) return "ILL_ILLOPC (illegal opcode)";
		if (code == ILL_PRVOPC) return "ILL_PRVOPC (privileged opcode)";
	}
	return NULL;
}

struct frame {
	uint64_t pc;
	int module;         /* index into ci->modules, -1 when none */
	uint64_t offset;    /* pc - load address */
	char func[128];     /* from addr2line, empty when unknown */
	char line[256];
};

static const char *module_path(const pmp_crash_info_t *ci, const struct cli_heap *ch, int m)
{
	/* dl_iterate_phdr names the main program "": the writer's executable is in the superblock */
	return ci->modules[m].path[0] ? ci->modules[m].path : ch->info.writer_exe;
}

static int have_addr2line(void)
{
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/bin:/bin";
	char buf[4096];
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");
		if (n && n < sizeof buf - 16) {
			snprintf(buf, sizeof buf, "%.*s/addr2line", (int)n, p);
			if (!access(buf, X_OK))
				return 1;
		}
		p += n;
		if (*p)
			p++;
	}
	return 0;
}

static void chomp(char *s)
{
	s[strcspn(s, "\n")] = 0;
}

/* one addr2line run per module: every frame of that module in one command line */
static void symbolise(const pmp_crash_info_t *ci, const struct cli_heap *ch, struct frame *fr, unsigned nf, int m)
{
	const char *path = module_path(ci, ch, m);
	struct stat st;
	/* the path comes from the file: only a readable regular file goes to addr2line (a FIFO would hang it) */
	if (path[0] != '/' || stat(path, &st) || !S_ISREG(st.st_mode) || access(path, R_OK))
		return;
	size_t cap = 64 + 4 * strlen(path) + nf * 24, len = 0;
	char *cmd = malloc(cap);
	if (!cmd)
		return;
	len += (size_t)snprintf(cmd, cap, "addr2line -f -C -e '");
	for (const char *p = path; *p; p++)
		len += (size_t)snprintf(cmd + len, cap - len, *p == '\'' ? "'\\''" : "%c", *p);
	len += (size_t)snprintf(cmd + len, cap - len, "'");
	unsigned count = 0;
	for (unsigned i = 0; i < nf; i++)
		if (fr[i].module == m) {
			/* a return address points after the call: look up the call itself */
			uint64_t q = fr[i].offset - (i > 0 && fr[i].offset > 0);
			len += (size_t)snprintf(cmd + len, cap - len, " 0x%" PRIx64, q);
			count++;
		}
	len += (size_t)snprintf(cmd + len, cap - len, " 2>/dev/null");
	FILE *f = popen(cmd, "r");
	free(cmd);
	if (!f)
		return;
	for (unsigned i = 0; i < nf; i++) {
		if (fr[i].module != m)
			continue;
		char fn[sizeof fr[i].func], ln[sizeof fr[i].line];
		if (!fgets(fn, sizeof fn, f) || !fgets(ln, sizeof ln, f))
			break;
		chomp(fn);
		chomp(ln);
		if (strcmp(fn, "??"))
			snprintf(fr[i].func, sizeof fr[i].func, "%s", fn);
		if (strncmp(ln, "??", 2))
			snprintf(fr[i].line, sizeof fr[i].line, "%s", ln);
	}
	pclose(f);
}

int cli_crash(int argc, char **argv)
{
	int json = 0, raw = 0;
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {"--raw", NULL, &raw}, {NULL, NULL, NULL}};
	struct cli_heap ch;
	if (cli_open_args(argc, argv, opts, &ch))
		return CLI_ERR;
	pmp_crash_info_t *ci = calloc(1, sizeof *ci);
	struct frame *fr = calloc(PMP_CRASH_MAX_FRAMES, sizeof *fr);
	if (!ci || !fr) {
		cli_errorf("out of memory");
		free(ci);
		free(fr);
		cli_close(&ch);
		return CLI_ERR;
	}
	int e = pmp_crash_get(ch.h, ci), rc = CLI_OK;
	if (e) {
		if (e == ENOENT) {
			if (json) {
				struct cli_json j;
				json_begin(&j, stdout, "crash");
				json_str(&j, "file", ch.path);
				json_bool(&j, "present", 0);
				json_end(&j);
			} else {
				printf("%s: no crash record\n", ch.path);
			}
			rc = CLI_FAIL;
		} else {
			cli_errorf("%s: crash record: %s", ch.path, pmp_strerror(e));
			rc = CLI_ERR;
		}
		goto out;
	}
	unsigned nf = ci->nframes;
	for (unsigned i = 0; i < nf; i++) {
		fr[i].pc = ci->frames[i];
		fr[i].module = -1;
		uint64_t best = 0;
		for (unsigned m = 0; m < ci->nmodules; m++) {
			uint64_t la = ci->modules[m].load_addr;
			if (la <= fr[i].pc && (fr[i].module < 0 || la > best)) {
				best = la;
				fr[i].module = (int)m;
			}
		}
		if (fr[i].module >= 0)
			fr[i].offset = fr[i].pc - best;
	}
	if (!raw && have_addr2line())
		for (unsigned m = 0; m < ci->nmodules; m++) {
			unsigned any = 0;
			for (unsigned i = 0; i < nf; i++)
				any |= fr[i].module == (int)m;
			if (any)
				symbolise(ci, &ch, fr, nf, (int)m);
		}
	char sn[32], when[40];
	const char *sig = cli_signame(ci->signo, sn, sizeof sn), *code = code_name(ci->signo, ci->code);
	cli_time(ci->time_ns, when, sizeof when);
	uint64_t fault = (uint64_t)(uintptr_t)ci->fault_addr;
	if (json) {
		struct cli_json j;
		json_begin(&j, stdout, "crash");
		json_str(&j, "file", ch.path);
		json_bool(&j, "present", 1);
		json_str(&j, "signal", sig);
		json_i64(&j, "signo", ci->signo);
		json_i64(&j, "code", ci->code);
		if (code)
			json_str(&j, "code_name", code);
		json_addr(&j, "fault_address", fault);
		json_bool(&j, "fault_in_heap", fault - ch.base < ch.info.reserved);
		json_u64(&j, "time_ns", ci->time_ns);
		json_str(&j, "time", when);
		json_u64(&j, "pid", ci->pid);
		json_u64(&j, "tid", ci->tid);
		json_arr(&j, "frames");
		for (unsigned i = 0; i < nf; i++) {
			json_obj(&j, NULL);
			json_addr(&j, "pc", fr[i].pc);
			if (fr[i].module >= 0) {
				json_str(&j, "module", module_path(ci, &ch, fr[i].module));
				json_addr(&j, "offset", fr[i].offset);
			} else {
				json_null(&j, "module");
			}
			if (fr[i].func[0])
				json_str(&j, "function", fr[i].func);
			if (fr[i].line[0])
				json_str(&j, "line", fr[i].line);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_arr(&j, "modules");
		for (unsigned m = 0; m < ci->nmodules; m++) {
			json_obj(&j, NULL);
			json_addr(&j, "load_address", ci->modules[m].load_addr);
			json_str(&j, "path", module_path(ci, &ch, (int)m));
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_end(&j);
	} else {
		printf("signal:  %s (%d)\n", sig, ci->signo);
		printf("code:    %d%s%s\n", ci->code, code ? " " : "", code ? code : "");
		printf("address: 0x%" PRIx64 "%s\n", fault,
		       fault - ch.base < ch.info.reserved ? "  (inside this heap)" : "");
		printf("time:    %s\n", when);
		printf("pid:     %" PRIu64 "  tid: %" PRIu64 "\n", ci->pid, ci->tid);
		printf("backtrace (%u frames, innermost first):\n", nf);
		for (unsigned i = 0; i < nf; i++) {
			printf("  #%-2u 0x%016" PRIx64, i, fr[i].pc);
			if (fr[i].module >= 0) {
				const char *mp = module_path(ci, &ch, fr[i].module), *slash = strrchr(mp, '/');
				fputs("  ", stdout);
				cli_print_str(stdout, slash ? slash + 1 : mp[0] ? mp : "?");
				printf("+0x%" PRIx64, fr[i].offset);
			} else {
				fputs("  ?", stdout);
			}
			if (fr[i].func[0]) {
				fputs("  ", stdout);
				cli_print_str(stdout, fr[i].func);
			}
			if (fr[i].line[0]) {
				fputs("  at ", stdout);
				cli_print_str(stdout, fr[i].line);
			}
			putchar('\n');
		}
		printf("modules: %u recorded\n", ci->nmodules);
	}
out:
	free(ci);
	free(fr);
	cli_close(&ch);
	return rc;
}
