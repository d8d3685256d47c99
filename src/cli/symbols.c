/* symbols.c: code addresses turned into module+offset, function and source line: each address is attributed to a
 * recorded module (executable or library: the one loaded highest below it whose extent holds it) and looked up with
 * one addr2line run per module (with the inline chain, so code inlined into a function names that function too).
 * Shared by every verb that shows code addresses (crash backtraces, allocation call sites).
 *
 * Must never: pass a module path to the shell unquoted, hand addr2line anything but a readable regular file (a FIFO
 * would hang it), or fail because addr2line is missing (addresses are then shown as module+offset only).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

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

/* a line of addr2line's output into a field of n bytes, cut to fit */
static void put(char *dst, size_t n, const char *src)
{
	size_t k = strnlen(src, n - 1);
	memcpy(dst, src, k);
	dst[k] = 0;
}

/* one addr2line run for every address of module m */
static void lookup(struct cli_sym *s, unsigned n, const char *path, int m)
{
	struct stat st;
	if (!path || path[0] != '/' || stat(path, &st) || !S_ISREG(st.st_mode) || access(path, R_OK))
		return;
	size_t cap = 64 + 4 * strlen(path) + (size_t)n * 24, len = 0;
	char *cmd = malloc(cap);
	if (!cmd)
		return;
	len += (size_t)snprintf(cmd, cap, "addr2line -a -i -f -C -e '");
	for (const char *p = path; *p; p++)
		len += (size_t)snprintf(cmd + len, cap - len, *p == '\'' ? "'\\''" : "%c", *p);
	len += (size_t)snprintf(cmd + len, cap - len, "'");
	for (unsigned i = 0; i < n; i++)
		if (s[i].module == m) /* a return address points after the call: look up the call itself */
			len += (size_t)snprintf(cmd + len, cap - len, " 0x%" PRIx64,
						s[i].offset - (s[i].is_return && s[i].offset > 0));
	len += (size_t)snprintf(cmd + len, cap - len, " 2>/dev/null");
	FILE *f = popen(cmd, "r");
	free(cmd);
	if (!f)
		return;
	/* -a: each address's answer starts with the address itself ("0x..."), then function and line pairs,
	 * innermost inline first: the first pair is the code, the last the function it was inlined into */
	char fn[sizeof s[0].func], ln[sizeof s[0].line], buf[512];
	int have = fgets(buf, sizeof buf, f) != NULL;
	for (unsigned i = 0; i < n && have; i++) {
		if (s[i].module != m)
			continue;
		if (strncmp(buf, "0x", 2))
			break; /* out of step: leave the rest unknown */
		for (int pair = 0; (have = fgets(buf, sizeof buf, f) != NULL) && strncmp(buf, "0x", 2); pair++) {
			put(fn, sizeof fn, buf);
			if (!fgets(ln, sizeof ln, f)) {
				have = 0;
				break;
			}
			chomp(fn);
			chomp(ln);
			if (!strcmp(fn, "??"))
				continue;
			if (!pair) {
				put(s[i].func, sizeof s[i].func, fn);
				if (strncmp(ln, "??", 2))
					put(s[i].line, sizeof s[i].line, ln);
			} else {
				put(s[i].outer, sizeof s[i].outer, fn);
			}
		}
	}
	pclose(f);
}

void cli_symbolise(struct cli_sym *s, unsigned n, const struct cli_module *mods, unsigned nmods, int lookup_lines)
{
	for (unsigned i = 0; i < n; i++) {
		s[i].module = -1;
		s[i].offset = 0;
		s[i].func[0] = s[i].line[0] = s[i].outer[0] = 0;
		uint64_t best = 0;
		for (unsigned m = 0; m < nmods; m++) {
			uint64_t la = mods[m].load_addr;
			/* a module's extent bounds it: an address past its end is in none (a heap or stack address) */
			if (la <= s[i].pc && (!mods[m].end || s[i].pc < mods[m].end) && (s[i].module < 0 || la > best)) {
				best = la;
				s[i].module = (int)m;
			}
		}
		if (s[i].module >= 0)
			s[i].offset = s[i].pc - best;
	}
	if (!lookup_lines || !have_addr2line())
		return;
	for (unsigned m = 0; m < nmods; m++) {
		unsigned any = 0;
		for (unsigned i = 0; i < n; i++)
			any |= s[i].module == (int)m;
		if (any)
			lookup(s, n, mods[m].path, (int)m);
	}
}
