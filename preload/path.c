/* path.c: heap file names: the default pattern, expansion of %p %e %t %u %%, the private directory.
 *
 * Holds: allocation-free string building (used inside the first malloc call and in a forked child's atfork
 * handler) and the check that the default directory is ours and closed to others.
 * Must never: allocate, use stdio, follow a symlink for the directory, or create anything but one 0700 directory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../src/os/os.h"
#include "shim.h"

char *_pmp_fmt_str(char *o, char *end, const char *s)
{
	while (*s && o < end)
		*o++ = *s++;
	return o;
}

char *_pmp_fmt_u64(char *o, char *end, uint64_t v)
{
	char t[24];
	int n = 0;
	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0 && o < end)
		*o++ = t[--n];
	return o;
}

void _pmp_exe_name(char *out, size_t len)
{
	char exe[SHIM_PATH_MAX];
	if (_pmp_os_exe_path(exe, sizeof exe) || !exe[0]) {
		_pmp_fmt_str(out, out + len - 1, "unknown")[0] = 0;
		return;
	}
	const char *b = strrchr(exe, '/');
	b = b ? b + 1 : exe;
	/* "(deleted)" suffix of a replaced binary: keep the name readable */
	char *o = _pmp_fmt_str(out, out + len - 1, b);
	*o = 0;
	char *sp = strchr(out, ' ');
	if (sp)
		*sp = 0;
}

void _pmp_path_default(char *out, size_t len)
{
	const char *tmp = secure_getenv("TMPDIR");
	if (!tmp || tmp[0] != '/' || strlen(tmp) > len / 2)
		tmp = "/tmp";
	char *o = _pmp_fmt_str(out, out + len - 1, tmp);
	while (o > out + 1 && o[-1] == '/')
		o--;
	o = _pmp_fmt_str(o, out + len - 1, "/pmempreload-%u/%e.%p.heap");
	*o = 0;
}

int _pmp_path_expand(const char *pat, uint64_t pid, char *out, size_t len)
{
	char *o = out, *end = out + len - 1;
	char exe[256];
	for (const char *p = pat; *p; p++) {
		if (o >= end)
			return ENAMETOOLONG;
		if (*p != '%') {
			*o++ = *p;
			continue;
		}
		switch (*++p) {
		case 'p': o = _pmp_fmt_u64(o, end, pid); break;
		case 'u': o = _pmp_fmt_u64(o, end, _pmp_os_euid()); break; /* the user the files are created as: the same one the directory check compares with */
		case 't': o = _pmp_fmt_u64(o, end, _pmp_os_now_ns() / 1000000000u); break;
		case 'e':
			_pmp_exe_name(exe, sizeof exe);
			o = _pmp_fmt_str(o, end, exe);
			break;
		case '%': *o++ = '%'; break;
		default:
			return EINVAL; /* unknown escape or a trailing % */
		}
		if (o >= end)
			return ENAMETOOLONG;
	}
	*o = 0;
	return out[0] ? 0 : EINVAL;
}

int _pmp_path_mkdir(const char *path, int vet)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return 0; /* relative file name in the working directory, or a file in / */
	char dir[SHIM_PATH_MAX];
	size_t n = (size_t)(slash - path);
	if (n >= sizeof dir)
		return ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = 0;
	int e = _pmp_os_mkdir(dir, 0700);
	if (e || !vet)
		return e;
	/* the default directory lives in a shared /tmp: someone else could have made it first */
	struct pmp_os_stat st;
	if ((e = _pmp_os_lstat(dir, &st)) != 0)
		return e;
	if (st.uid != _pmp_os_euid() || (st.mode & 077))
		return PMP_EOWNER;
	return 0;
}
