/* crash.c: the `crash` verb: the crash record the preload's signal handler left in the heap (signal, code, fault
 * address or the sender of a sent signal, time, pid/tid, registers, the root set saved) and its backtrace, each frame
 * attributed to a module and symbolised (symbols.c), with a warning for each module whose file now has another
 * build-id than the one the process had loaded.
 *
 * Must never: trust counts or strings from the record beyond what pmp_crash_get bounded, or symbolise against a
 * changed file without saying so.
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

static void hex(char *out, const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = 0;
}

/* whether module m's file now has the build-id the process had loaded: 1 same, 0 another (or none, or no file),
 * -1 the record has none to compare; now gets the file's */
static int module_same(const pmp_crash_info_t *ci, const pmp_crash_ext_t *xt, const struct cli_heap *ch, unsigned m,
		       char *now, size_t len)
{
	const pmp_crash_module_ext_t *x = &xt->modules[m];
	now[0] = 0;
	if (!x->build_id_len || module_path(ci, ch, (int)m)[0] != '/') /* the vDSO has no file */
		return -1;
	uint8_t id[64];
	unsigned n;
	if (cli_file_build_id(module_path(ci, ch, (int)m), id, sizeof id, &n))
		return 0;
	if (2 * n + 1 <= len)
		hex(now, id, n);
	return n >= x->build_id_len && !memcmp(id, x->build_id, x->build_id_len);
}

static const char *unwinder_name(int u)
{
	return u == PMP_UNWIND_TABLES ? "unwind tables" : u == PMP_UNWIND_FP ? "frame pointers" : NULL;
}

static unsigned count_kind(const struct cli_rootset *rs, int kind, uint64_t *bytes)
{
	unsigned n = 0;
	for (size_t i = 0; i < rs->n; i++)
		if (rs->r[i].kind == kind) {
			n++;
			*bytes += rs->r[i].len;
		}
	return n;
}

int cli_crash(int argc, char **argv)
{
	int json = 0, raw = 0;
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {"--raw", NULL, &raw}, {NULL, NULL, NULL}};
	struct cli_heap ch;
	if (cli_open_args(argc, argv, opts, &ch))
		return CLI_ERR;
	pmp_crash_info_t *ci = calloc(1, sizeof *ci);
	pmp_crash_ext_t *xt = calloc(1, sizeof *xt);
	struct cli_sym *fr = calloc(PMP_CRASH_MAX_FRAMES, sizeof *fr);
	if (!ci || !xt || !fr) {
		cli_errorf("out of memory");
		free(ci);
		free(xt);
		free(fr);
		cli_close(&ch);
		return CLI_ERR;
	}
	int e = pmp_crash_get(ch.h, ci), rc = CLI_OK;
	if (!e)
		e = pmp_crash_ext(ch.h, xt);
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
		mods[m].end = xt->modules[m].end;
		mods[m].path = module_path(ci, &ch, (int)m);
	}
	struct cli_rootset rs;
	if (cli_rootset_load(&ch, &rs)) {
		rc = CLI_ERR;
		goto out;
	}
	uint64_t set_bytes = 0;
	unsigned stacks = count_kind(&rs, PMP_CRASH_ROOT_STACK, &set_bytes);
	unsigned segments = count_kind(&rs, PMP_CRASH_ROOT_DATA, &set_bytes);
	char missing_buf[256];
	const char *missing = cli_rootset_missing(&rs, missing_buf, sizeof missing_buf);
	int sent = ci->code <= 0; /* kill, tkill, raise, abort: si_addr means nothing, the sender is known */
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
		if (sent) {
			json_null(&j, "fault_address");
			json_i64(&j, "sender_pid", xt->sender_pid);
			json_u64(&j, "sender_uid", xt->sender_uid);
		} else {
			json_addr(&j, "fault_address", fault);
		}
		json_bool(&j, "fault_in_heap", !sent && fault - ch.base < ch.info.reserved);
		if (unwinder_name(xt->unwinder))
			json_str(&j, "unwinder", unwinder_name(xt->unwinder));
		json_arr(&j, "registers");
		for (unsigned r = 0; r < xt->nregs; r++)
			json_addr(&j, NULL, xt->regs[r]);
		json_arr_end(&j);
		json_obj(&j, "root_set");
		json_bool(&j, "complete", !missing);
		if (missing)
			json_str(&j, "missing", missing);
		json_u64(&j, "stacks", stacks);
		json_u64(&j, "segments", segments);
		json_u64(&j, "bytes", set_bytes);
		json_obj_end(&j);
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
			if (fr[i].outer[0])
				json_str(&j, "inlined_into", fr[i].outer);
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
			const pmp_crash_module_ext_t *x = &xt->modules[m];
			if (x->end) {
				json_addr(&j, "start", x->start);
				json_addr(&j, "end", x->end);
			}
			char id[2 * sizeof x->build_id + 1], now[160];
			int same = module_same(ci, xt, &ch, m, now, sizeof now);
			if (same >= 0) {
				hex(id, x->build_id, x->build_id_len);
				json_str(&j, "build_id", id);
				if (now[0])
					json_str(&j, "build_id_now", now);
				else
					json_null(&j, "build_id_now");
				json_bool(&j, "changed", !same);
			}
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_end(&j);
	} else {
		printf("signal:  %s (%d)\n", sig, ci->signo);
		printf("code:    %d%s%s\n", ci->code, code ? " " : "", code ? code : "");
		if (sent)
			printf("sender:  pid %d%s, uid %u (a signal that was sent has no fault address)\n", xt->sender_pid,
			       (uint64_t)xt->sender_pid == ci->pid ? " (this process)" : "", xt->sender_uid);
		else
			printf("address: 0x%" PRIx64 "%s\n", fault,
			       fault - ch.base < ch.info.reserved ? "  (inside this heap)" : "");
		printf("time:    %s\n", when);
		printf("pid:     %" PRIu64 "  tid: %" PRIu64 "\n", ci->pid, ci->tid);
		if (xt->nregs >= 17) /* x86-64 gregs: rip 16, rsp 15, rbp 10 */
			printf("registers: rip 0x%" PRIx64 "  rsp 0x%" PRIx64 "  rbp 0x%" PRIx64 "  (%u saved)\n", xt->regs[16],
			       xt->regs[15], xt->regs[10], xt->nregs);
		if (missing)
			printf("root set: %s\n", missing);
		else
			printf("root set: %u stack%s, %u writable segment%s, %" PRIu64 " bytes (pmempreload leaks uses it)\n",
			       stacks, stacks == 1 ? "" : "s", segments, segments == 1 ? "" : "s", set_bytes);
		const char *how = unwinder_name(xt->unwinder);
		printf("backtrace (%u frames, innermost first%s%s):\n", nf, how ? ", from the " : "", how ? how : "");
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
			if (fr[i].outer[0]) {
				fputs(" (inlined into ", stdout);
				cli_print_str(stdout, fr[i].outer);
				putchar(')');
			}
			if (fr[i].line[0]) {
				fputs("  at ", stdout);
				cli_print_str(stdout, fr[i].line);
			}
			putchar('\n');
		}
		printf("modules: %u recorded\n", ci->nmodules);
		for (unsigned m = 0; m < ci->nmodules; m++) {
			char now[160], id[2 * sizeof xt->modules[m].build_id + 1];
			if (module_same(ci, xt, &ch, m, now, sizeof now))
				continue;
			hex(id, xt->modules[m].build_id, xt->modules[m].build_id_len);
			fputs("warning: ", stdout);
			cli_print_str(stdout, module_path(ci, &ch, (int)m));
			if (now[0])
				printf(" now has build-id %s, the crashed process had %s: its frames may be symbolised wrong\n",
				       now, id);
			else
				printf(" is gone or has no build-id now, the crashed process had %s\n", id);
		}
	}
	cli_rootset_free(&rs);
out:
	free(ci);
	free(xt);
	free(fr);
	cli_close(&ch);
	return rc;
}
