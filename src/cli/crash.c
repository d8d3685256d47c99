/* crash.c: the `crash` verb: the crash record the preload's signal handler left in the heap (signal, code, fault
 * address, time, pid/tid) and its backtrace, each frame attributed to a module and symbolised (symbols.c).
 *
 * Must never: trust counts or strings from the record beyond what pmp_crash_get bounded.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

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

static const char *module_path(const pmp_crash_info_t *ci, const struct cli_heap *ch, int m)
{
	/* dl_iterate_phdr names the main program "": the writer's executable is in the superblock */
	return ci->modules[m].path[0] ? ci->modules[m].path : ch->info.writer_exe;
}

int cli_crash(int argc, char **argv)
{
	int json = 0, raw = 0;
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {"--raw", NULL, &raw}, {NULL, NULL, NULL}};
	struct cli_heap ch;
	if (cli_open_args(argc, argv, opts, &ch))
		return CLI_ERR;
	pmp_crash_info_t *ci = calloc(1, sizeof *ci);
	struct cli_sym *fr = calloc(PMP_CRASH_MAX_FRAMES, sizeof *fr);
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
	struct cli_module mods[PMP_CRASH_MAX_MODULES];
	for (unsigned m = 0; m < ci->nmodules; m++) {
		mods[m].load_addr = ci->modules[m].load_addr;
		mods[m].path = module_path(ci, &ch, (int)m);
	}
	for (unsigned i = 0; i < nf; i++) {
		fr[i].pc = ci->frames[i];
		fr[i].is_return = i > 0; /* frame 0 is where the signal struck; the others are return addresses */
	}
	cli_symbolise(fr, nf, mods, ci->nmodules, !raw);
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
