/* main.c: the `pmempreload` command's entry point: verb dispatch, usage text, option parsing and the small
 * formatting helpers every verb shares.
 *
 * Must never: open a heap or know any verb's internals; a verb is reached only through its cli_<verb> function.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#ifndef PMP_PROJECT_VERSION
#error "PMP_PROJECT_VERSION is the project version that meson passes (see meson.build)"
#endif

struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *help;
};

static const struct verb verbs[] = {
	{"run", cli_run, "[--heap FILE] [--keep always|crash|never] [--mode fresh|open|readonly] [--size S] [--] PROG [ARGS...]",
	 "run PROG under the preload; every PMEMPRELOAD_* variable a flag does not override applies. The heap is FILE,\n"
	 "           else $PMEMPRELOAD_PATH (a pattern too), else ./PROG.heap; keep is $PMEMPRELOAD_KEEP, else always.\n"
	 "           Says which heap file the program used; warns about runtimes that bypass malloc (python3 without\n"
	 "           PYTHONMALLOC=malloc). Finds the preload in PMEMPRELOAD_LIB, the build tree or beside this binary"},
	{"info", cli_info, "[--json] FILE", "superblock: address, size, writer, clean or not, crash record"},
	{"check", cli_check, "[--json] FILE", "check the heap's invariants; exit 1 if inconsistent"},
	{"stats", cli_stats, "[--json] [--by-site [--limit N]] FILE",
	 "blocks and bytes by state, slab pages and their slots, operation counters, a size-class histogram;\n"
	 "           --by-site: used bytes by allocating call site, heaviest first (N rows, default 20)"},
	{"blocks", cli_blocks, "[--json] [--used|--free] [--min N] [--limit N] [--by-site] FILE",
	 "one line per block; --by-site: blocks summed by call site (live: allocating, freed: freeing), heaviest first"},
	{"roots", cli_roots, "[--json] FILE [NAME]", "named roots: name, address, block size"},
	{"whatis", cli_whatis, "[--json] FILE ADDR",
	 "the block containing ADDR, the offset into it, roots at it; for a slot its slab page; on a tracked heap who\n"
	 "           allocated it, who freed it and its sequence number; else what is there"},
	{"refs", cli_refs, "[--json] [--used|--free] FILE ADDR",
	 "blocks holding a pointer into the block containing ADDR, as block+offset, live or freed"},
	{"grep", cli_grep, "[--json] [--used|--free] FILE PATTERN | --hex BYTES | --ptr ADDR",
	 "a string, hex bytes (de ad be ef) or a pointer value in live and freed blocks: block+offset, state, context"},
	{"strings", cli_strings, "[--json] [--used|--free] [--min N] FILE", "printable runs in live and freed blocks"},
	{"hexdump", cli_hexdump, "[--json] FILE ADDR [LEN]", "bytes at ADDR (default 256)"},
	{"dump", cli_dump, "FILE ADDR -o OUT", "write the bytes of the block containing ADDR to OUT (- for stdout)"},
	{"crash", cli_crash, "[--json] [--raw] FILE", "the crash record, frames symbolised with addr2line"},
	{"map", cli_map, "FILE [-o OUT.svg]",
	 "an SVG picture of the heap: each pixel shaded by the share of used, free, cached and lost bytes and of\n"
	 "           slab page overhead in it"},
	{"leaks", cli_leaks, "[--json] [--limit N] [--by-site] FILE",
	 "used blocks by what holds them: anchored from the named roots, or from the globals, stacks and registers\n"
	 "           the crash saved; reachable through blocks; leaked (conservative scan); the leaked ones listed,\n"
	 "           --limit: at most N, all counted; --by-site: the leaked ones summed by allocating call site"},
	{"path", cli_path, "[--json] FILE ADDR",
	 "one chain from an anchor (root, global, stack slot, register) through blocks to the block holding ADDR"},
	{"dangling", cli_dangling, "[--json] FILE",
	 "words of live blocks that point into freed blocks (use-after-free candidates); exit 0 found or not"},
	{"diff", cli_diff, "[--json] [--limit N] A B",
	 "two images of one heap: live blocks added, removed, resized, changed; growth per size class;\n"
	 "           exit 0 same, 1 different (as diff)"},
	{"report", cli_report, "FILE -o OUT.html | --json FILE",
	 "one self-contained HTML page: info, check, stats, the map, leaks, dangling, the crash record (--json: one\n"
	 "           record of those verbs' records); exit 1 when the heap is inconsistent (written all the same)"},
	{"repair", cli_repair, "[--json] [--yes] [--backup BACKUP] FILE",
	 "rebuild a damaged heap the way a writable open salvages it and say what changes: a dry run on a copy\n"
	 "           unless --yes, which renames the repaired copy over FILE (after copying it to BACKUP); exit 1 when a\n"
	 "           repair is needed and was not applied"},
	{"top", cli_top, "[--json] [--count N] [--interval SECONDS] FILE",
	 "live view of a running program's heap (read-only, costs it nothing): used and free bytes, operations per\n"
	 "           second, growth by size class; every second until ^C or N ticks; --json: one record per line per tick"},
};

#define NVERBS (sizeof verbs / sizeof verbs[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: pmempreload <verb> [options] <heap-file> ...\n\n");
	for (size_t i = 0; i < NVERBS; i++)
		fprintf(f, "  %-8s %s\n           %s\n", verbs[i].name, verbs[i].args, verbs[i].help);
	fprintf(f, "\nHeap files are opened read-only; addresses shown are the writer's. --used narrows a search to live\n"
		   "blocks, --free to freed (free and cached) ones; every hit says which it is.\n"
		   "Bytes of blocks (used bytes, free bytes, sizes) are usable bytes, what malloc_usable_size says; block\n"
		   "headers are counted apart as overhead. Blocks of up to 16,208 bytes are slots of 64 KiB slab pages: a slot\n"
		   "has no header (whatis names its page), a free slot is a free block, and a page's own bytes (its\n"
		   "headers, the slack after its slots) are slab page overhead, in no block. --json output is schema 2.\n"
		   "ADDR is hexadecimal, with or without 0x (every address is printed that way); sizes (N, LEN, S) are\n"
		   "decimal or 0x hex, with an optional K, M, G or T.\n"
		   "Exit status: 0 ok, 1 inconsistent or not found, 2 usage or I/O error.\n");
}

void cli_usage_verb(const char *verb)
{
	for (size_t i = 0; i < NVERBS; i++)
		if (!strcmp(verbs[i].name, verb)) {
			fprintf(stderr, "usage: pmempreload %s %s\n", verbs[i].name, verbs[i].args);
			return;
		}
}

void cli_errorf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pmempreload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int cli_args(int argc, char **argv, const struct cli_opt *opts, const char **pos, int min_pos, int max_pos,
	     int *npos)
{
	int n = 0, only_pos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!only_pos && !strcmp(a, "--")) {
			only_pos = 1;
			continue;
		}
		if (only_pos || a[0] != '-' || !a[1]) {
			if (n >= max_pos) {
				cli_errorf("%s: unexpected argument '%s'", argv[0], a);
				goto bad;
			}
			pos[n++] = a;
			continue;
		}
		const struct cli_opt *o = opts;
		size_t alen = strcspn(a, "=");
		for (; o && o->name; o++)
			if (strlen(o->name) == alen && !strncmp(o->name, a, alen))
				break;
		if (!o || !o->name) {
			cli_errorf("%s: unknown option '%s'", argv[0], a);
			goto bad;
		}
		if (o->value) {
			if (a[alen] == '=') {
				*o->value = a + alen + 1;
			} else if (i + 1 < argc) {
				*o->value = argv[++i];
			} else {
				cli_errorf("%s: option %s needs a value", argv[0], o->name);
				goto bad;
			}
		} else {
			if (a[alen] == '=') {
				cli_errorf("%s: option %s takes no value", argv[0], o->name);
				goto bad;
			}
			*o->flag = 1;
		}
	}
	if (n < min_pos) {
		cli_errorf("%s: missing argument", argv[0]);
		goto bad;
	}
	*npos = n;
	return 0;
bad:
	cli_usage_verb(argv[0]);
	return CLI_ERR;
}

static int parse_size(const char *s, uint64_t *out)
{
	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	char *end;
	/* base 0 would read "010" as octal: a size is decimal unless it says 0x */
	int hexa = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	unsigned long long v = strtoull(s, &end, hexa ? 16 : 10);
	if (errno || end == s)
		return -1;
	unsigned shift = 0;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'K': shift = 10; break;
		case 'M': shift = 20; break;
		case 'G': shift = 30; break;
		case 'T': shift = 40; break;
		default: return -1;
		}
		end++;
		if (toupper((unsigned char)*end) == 'B' || *end == 'i')
			end += *end == 'i' ? (toupper((unsigned char)end[1]) == 'B' ? 2 : 1) : 1;
	}
	if (*end)
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* Addresses are printed in hex with 0x everywhere, so one copied from any output must read back as the same
 * address: hex, with or without 0x, never decimal (600000010400 is 0x600000010400). */
int cli_parse_addr(const char *s, uint64_t *out)
{
	const char *d = s && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? s + 2 : s;
	char *end;
	errno = 0;
	unsigned long long v = d && isxdigit((unsigned char)*d) ? strtoull(d, &end, 16) : 0;
	if (!d || !isxdigit((unsigned char)*d) || errno || *end) {
		cli_errorf("'%s' is not an address (hexadecimal, with or without 0x)", s ? s : "");
		return -1;
	}
	*out = v;
	return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	if (parse_size(s, out)) {
		cli_errorf("'%s' is not a size (a number, optionally with K, M, G or T)", s);
		return -1;
	}
	return 0;
}

const char *cli_time(uint64_t ns, char *buf, size_t len)
{
	if (!ns) {
		snprintf(buf, len, "-");
		return buf;
	}
	time_t t = (time_t)(ns / 1000000000u);
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, len, "%llu ns", (unsigned long long)ns);
		return buf;
	}
	char day[32];
	strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", day, (unsigned)(ns % 1000000000u / 1000000u));
	return buf;
}

void cli_print_escaped(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c == '\\')
			fputs("\\\\", f);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
}

void cli_print_str(FILE *f, const char *s)
{
	cli_print_escaped(f, (const uint8_t *)s, strlen(s));
}

void cli_html_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_ERR;
	}
	const char *v = argv[1];
	if (!strcmp(v, "-h") || !strcmp(v, "--help") || !strcmp(v, "help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(v, "--version") || !strcmp(v, "version")) {
		printf("pmempreload %s\n", PMP_PROJECT_VERSION);
		return CLI_OK;
	}
	for (size_t i = 0; i < NVERBS; i++)
		if (!strcmp(verbs[i].name, v)) {
			for (int k = 2; verbs[i].fn != cli_run && k < argc && strcmp(argv[k], "--"); k++)
				if (!strcmp(argv[k], "-h") || !strcmp(argv[k], "--help")) {
					printf("usage: pmempreload %s %s\n  %s\n", verbs[i].name, verbs[i].args, verbs[i].help);
					return CLI_OK;
				}
			int rc = verbs[i].fn(argc - 1, argv + 1);
			if (fflush(stdout) || ferror(stdout)) {
				cli_errorf("write error on standard output: %s", strerror(errno));
				return CLI_ERR;
			}
			return rc;
		}
	cli_errorf("unknown verb '%s' (pmempreload --help lists them)", v);
	return CLI_ERR;
}
