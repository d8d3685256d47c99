/* options.c: the PMEMPRELOAD_* environment options, one descriptor table, read once with secure_getenv.
 *
 * Holds: the table (name, kind, where the value goes, accepted words, default), the parsers for sizes with K/M/G/T
 * suffixes, addresses, enumerations and levels, the allocation-free log line writer and the exe glob matcher.
 * Must never: allocate, use stdio or strerror (this runs inside the first malloc call), or abort on a bad value:
 * a bad value gets one clear warning and the default.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../src/os/os.h"
#include "shim.h"

struct shim_opts _pmp_opts;

/* ---- logging ---- */

void _pmp_log(int level, const char *a, const char *b, const char *c)
{
	if (_pmp_opts.log < level)
		return;
	char line[SHIM_PATH_MAX + 512], *o = line, *end = line + sizeof line - 2;
	o = _pmp_fmt_str(o, end, "pmempreload: ");
	o = _pmp_fmt_str(o, end, a ? a : "");
	o = _pmp_fmt_str(o, end, b ? b : "");
	o = _pmp_fmt_str(o, end, c ? c : "");
	*o++ = '\n';
	*o = 0;
	_pmp_os_write_err(line);
}

/* ---- the descriptor table ---- */

enum kind { K_PATH, K_SIZE, K_ADDR, K_ENUM, K_LEVEL, K_STR, K_CHECK };

struct opt {
	const char *name;
	enum kind kind;
	size_t off;            /* offset in struct shim_opts */
	const char *const *words; /* K_ENUM: accepted words, index = value */
	int lo, hi;            /* K_LEVEL: accepted range */
	const char *help;      /* what is accepted, for the warning */
};

static const char *const w_mode[] = {"fresh", "open", "readonly", NULL};
static const char *const w_keep[] = {"crash", "always", "never", NULL};
static const char *const w_fork[] = {"snapshot", "copy", "unsafe", NULL};
static const char *const w_full[] = {"fallback", "enomem", "abort", NULL};
static const char *const w_sync[] = {"none", "commit", "exit", NULL};
static const char *const w_track[] = {"off", "callsite", NULL};

#define OFF(f) offsetof(struct shim_opts, f)
static const struct opt table[] = {
	{"PMEMPRELOAD_PATH", K_PATH, OFF(path), NULL, 0, 0, "a path pattern (%p %e %t %u %%)"},
	{"PMEMPRELOAD_SIZE", K_SIZE, OFF(size), NULL, 0, 0, "a size >= 128K with K/M/G/T suffix"},
	{"PMEMPRELOAD_ADDR", K_ADDR, OFF(addr), NULL, 0, 0, "a page-aligned address below 2^47 (0x...)"},
	{"PMEMPRELOAD_MODE", K_ENUM, OFF(mode), w_mode, 0, 0, "fresh, open or readonly"},
	{"PMEMPRELOAD_KEEP", K_ENUM, OFF(keep), w_keep, 0, 0, "crash, always or never"},
	{"PMEMPRELOAD_FORK", K_ENUM, OFF(fork), w_fork, 0, 0, "snapshot, copy or unsafe"},
	{"PMEMPRELOAD_EXE", K_STR, OFF(exe), NULL, 0, 0, "globs on the executable name, comma separated"},
	{"PMEMPRELOAD_ON_FULL", K_ENUM, OFF(on_full), w_full, 0, 0, "fallback, enomem or abort"},
	{"PMEMPRELOAD_SYNC", K_ENUM, OFF(sync), w_sync, 0, 0, "none, commit or exit"},
	{"PMEMPRELOAD_TRACK", K_ENUM, OFF(track), w_track, 0, 0, "off or callsite"},
	{"PMEMPRELOAD_CHECK", K_CHECK, OFF(check), NULL, 0, 2, "0, 1, 2 or 2:N (a check step every 2^N ops, N 4..40)"},
	{"PMEMPRELOAD_ZERO", K_LEVEL, OFF(zero), NULL, 0, 1, "0 or 1"},
	{"PMEMPRELOAD_CRASH", K_LEVEL, OFF(crash), NULL, 0, 1, "0 or 1"},
	{"PMEMPRELOAD_LOG", K_LEVEL, OFF(log), NULL, 0, 3, "0, 1, 2 or 3"},
	{"PMEMPRELOAD_STATS", K_LEVEL, OFF(stats), NULL, 0, 1, "0 or 1"},
	{"PMEMPRELOAD_DECAY", K_LEVEL, OFF(decay_ms), NULL, 0, (int)PMP_DECAY_MAX_MS, "milliseconds, 0 to 86400000"},
};

static void defaults(struct shim_opts *o)
{
	memset(o, 0, sizeof *o);
	_pmp_path_default(o->path, sizeof o->path);
	o->size = PMP_DEFAULT_RESERVE;
	o->addr = (uint64_t)(uintptr_t)PMP_DEFAULT_ADDR;
	o->mode = MODE_FRESH;
	o->keep = KEEP_DEFAULT; /* resolved by mode: crash (fresh), always (open, readonly) */
	o->fork = FORK_SNAPSHOT;
	o->on_full = FULL_FALLBACK;
	o->sync = SYNC_NONE;
	o->track = TRACK_OFF;
	o->check = 1;
	o->check_every_log2 = 0; /* the core's default */
	o->zero = 0;
	o->crash = 1;
	o->log = 1;
	o->decay_ms = (int)PMP_DECAY_DEFAULT_MS;
}

/* ---- parsers: 0 = accepted ---- */

static int parse_u64(const char *s, int base, uint64_t *v, const char **rest)
{
	uint64_t x = 0;
	int any = 0;
	if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (;; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			break;
		if (x > (UINT64_MAX - d) / (unsigned)base)
			return -1;
		x = x * (unsigned)base + d;
		any = 1;
	}
	*v = x;
	*rest = s;
	return any ? 0 : -1;
}

static int parse_size(const char *s, uint64_t *out)
{
	uint64_t v;
	const char *r;
	if (parse_u64(s, 10, &v, &r))
		return -1;
	unsigned shift = 0;
	switch (*r) {
	case 'k': case 'K': shift = 10; r++; break;
	case 'm': case 'M': shift = 20; r++; break;
	case 'g': case 'G': shift = 30; r++; break;
	case 't': case 'T': shift = 40; r++; break;
	default: break;
	}
	if (shift && (*r == 'i' || *r == 'I'))
		r++;
	if (*r == 'b' || *r == 'B')
		r++;
	if (*r)
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	v <<= shift;
	if (v < PMP_HEAP_MIN || v > ((uint64_t)1 << 46))
		return -1;
	*out = (v + PMP_PAGE - 1) & ~(uint64_t)(PMP_PAGE - 1);
	return 0;
}

static int parse_addr(const char *s, uint64_t *out)
{
	uint64_t v;
	const char *r;
	if (parse_u64(s, 16, &v, &r) || *r || v == 0 || v % PMP_PAGE || v >= ((uint64_t)1 << 47))
		return -1;
	*out = v;
	return 0;
}

static int parse_level(const char *s, int lo, int hi, int *out)
{
	uint64_t v;
	const char *r;
	if (parse_u64(s, 10, &v, &r) || *r || v < (uint64_t)lo || v > (uint64_t)hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_check(const char *s, struct shim_opts *o)
{
	uint64_t v, n = o->check_every_log2;
	const char *r;
	if (parse_u64(s, 10, &v, &r) || v > 2)
		return -1;
	if (*r == ':') {
		if (v != 2 || parse_u64(r + 1, 10, &n, &r) || *r || n < 4 || n > 40)
			return -1;
	} else if (*r) {
		return -1;
	}
	o->check = (int)v;
	o->check_every_log2 = (unsigned)n;
	return 0;
}

static int parse_enum(const char *s, const char *const *words, int *out)
{
	for (int i = 0; words[i]; i++)
		if (strcmp(s, words[i]) == 0) {
			*out = i;
			return 0;
		}
	return -1;
}

static int copy_str(const char *s, char *dst, size_t len)
{
	size_t n = strlen(s);
	if (n >= len)
		return -1;
	memcpy(dst, s, n + 1);
	return 0;
}

static int parse_one(const struct opt *d, const char *s, struct shim_opts *o)
{
	char *f = (char *)o + d->off;
	switch (d->kind) {
	case K_PATH:
		return s[0] ? copy_str(s, o->path, sizeof o->path) : -1;
	case K_STR:
		return copy_str(s, o->exe, sizeof o->exe);
	case K_SIZE:
		return parse_size(s, (uint64_t *)(void *)f);
	case K_ADDR:
		return parse_addr(s, (uint64_t *)(void *)f);
	case K_ENUM:
		return parse_enum(s, d->words, (int *)(void *)f);
	case K_LEVEL:
		return parse_level(s, d->lo, d->hi, (int *)(void *)f);
	case K_CHECK:
		return parse_check(s, o);
	}
	return -1;
}

void _pmp_opts_load(void)
{
	struct shim_opts *o = &_pmp_opts;
	defaults(o);
	/* the log level first, so that warnings about the other options obey it */
	const char *lv = secure_getenv("PMEMPRELOAD_LOG");
	if (lv && parse_level(lv, 0, 3, &o->log))
		o->log = 1;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct opt *d = &table[i];
		const char *s = secure_getenv(d->name);
		if (!s)
			continue;
		if (parse_one(d, s, o) == 0)
			continue;
		/* restore the default of this one field, then say so */
		struct shim_opts def;
		defaults(&def);
		if (d->kind == K_CHECK) {
			o->check = def.check;
			o->check_every_log2 = def.check_every_log2;
		} else if (d->kind == K_PATH) {
			memcpy(o->path, def.path, sizeof o->path);
		} else if (d->kind == K_STR) {
			o->exe[0] = 0;
		} else if (d->kind == K_SIZE || d->kind == K_ADDR) {
			memcpy((char *)o + d->off, (char *)&def + d->off, sizeof(uint64_t));
		} else {
			memcpy((char *)o + d->off, (char *)&def + d->off, sizeof(int));
		}
		char msg[512], *m = msg, *end = msg + sizeof msg - 1;
		m = _pmp_fmt_str(m, end, d->name);
		m = _pmp_fmt_str(m, end, "=");
		m = _pmp_fmt_str(m, end, s);
		m = _pmp_fmt_str(m, end, " is not valid (expected ");
		m = _pmp_fmt_str(m, end, d->help);
		*m = 0;
		_pmp_log(1, msg, "); ", "using the default");
	}
	if (o->keep == KEEP_DEFAULT)
		o->keep = o->mode == MODE_FRESH ? KEEP_CRASH : KEEP_ALWAYS;
}

/* ---- exe filter ---- */

/* glob on [p, pe) against s: * ? [abc] [a-z] [!x] */
static int glob(const char *p, const char *pe, const char *s)
{
	while (p < pe) {
		char c = *p++;
		if (c == '*') {
			for (;; s++) {
				if (glob(p, pe, s))
					return 1;
				if (!*s)
					return 0;
			}
		}
		if (!*s)
			return 0;
		if (c == '?') {
			s++;
			continue;
		}
		if (c == '[') {
			int neg = p < pe && (*p == '!' || *p == '^'), hit = 0;
			const char *q = p + neg;
			if (q < pe && *q == ']') { /* leading ] is literal */
				hit |= *s == ']';
				q++;
			}
			for (; q < pe && *q != ']'; q++) {
				if (q + 2 < pe && q[1] == '-' && q[2] != ']') {
					hit |= *s >= q[0] && *s <= q[2];
					q += 2;
				} else {
					hit |= *s == *q;
				}
			}
			if (q >= pe) /* unterminated: a literal [ */
				hit = *s == '[', q = p - 1;
			else if (neg)
				hit = !hit;
			if (!hit)
				return 0;
			p = q + 1;
			s++;
			continue;
		}
		if (c != *s++)
			return 0;
	}
	return !*s;
}

int _pmp_glob_list(const char *patterns, const char *name)
{
	const char *p = patterns;
	while (*p) {
		const char *e = p;
		while (*e && *e != ',')
			e++;
		if (e > p && glob(p, e, name))
			return 1;
		p = *e ? e + 1 : e;
	}
	return 0;
}
