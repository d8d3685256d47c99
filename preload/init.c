/* init.c: the lazy start of the shim (CAS state machine), opening the process heap, and what happens at exit.
 *
 * Holds: the state (uninit -> init -> active | inert), the thread-local depth guard, the routing range, the choice
 * of heap file per mode (fresh: a new file, never an existing one; open: reopen ours, refuse a foreign or locked
 * one; readonly), a reservation that fits under RLIMIT_AS. What the end of the process does is in exit.c.
 * Must never: allocate, use stdio, dlsym or strerror on the init path (it runs inside the first malloc call, before
 * libc is fully up); unmap the heap (calls arrive after our destructor); write into or delete a heap file this
 * process does not own.
 */
#include <errno.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <string.h>

#include "../src/file/heapfile.h"
#include "../src/os/os.h"
#include "shim.h"

int _pmp_state;
uintptr_t _pmp_lo, _pmp_len;
struct shim_file _pmp_file;

/* ---- choosing and opening the heap file ---- */

int _pmp_file_is_ours(void)
{
	struct pmp_os_stat st;
	return _pmp_os_lstat(_pmp_file.path, &st) == 0 && st.dev == _pmp_file.dev && st.ino == _pmp_file.ino;
}

/* Is the existing heap file at path the heap of this process's previous image (exec without fork: same pid,
 * same start time, same boot)? Only such a file may be removed to make room; it is dead: exec released its lock. */
static int predecessor_heap(const char *path)
{
	int fd, yes = 0;
	if (_pmp_os_open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK, 0, &fd))
		return 0;
	struct pmp_os_stat st;
	unsigned char page[PMP_PAGE];
	size_t got = 0;
	struct pmp_sb sb;
	if (_pmp_os_fstat(fd, &st) == 0 && st.regular && st.uid == _pmp_os_euid() && st.nlink == 1 &&
	    _pmp_os_lock(fd, 1) == 0 && _pmp_os_pread(fd, page, sizeof page, 0, &got) == 0 &&
	    _pmp_sb_read(page, got, &sb) == 0) {
		struct pmp_identity id;
		_pmp_identity_self(&id, NULL);
		yes = sb.writer_pid == id.pid && sb.writer_start == id.start &&
		      strncmp(sb.writer_boot_id, id.boot_id, sizeof id.boot_id) == 0;
	}
	_pmp_os_close(fd); /* drops the probe lock */
	return yes;
}

static int append_suffix(char *path, size_t len, const char *base, unsigned i)
{
	char *o = _pmp_fmt_str(path, path + len - 1, base);
	if (i) {
		o = _pmp_fmt_str(o, path + len - 1, ".");
		o = _pmp_fmt_u64(o, path + len - 1, i);
	}
	if (o >= path + len - 1)
		return ENAMETOOLONG;
	*o = 0;
	return 0;
}

/* The address space to reserve for a new heap: PMEMPRELOAD_SIZE, shrunk to a quarter of what RLIMIT_AS leaves, so
 * that the program keeps room for its own mappings (and a fork its snapshot); 0 when not even a minimal heap fits. */
static uint64_t reservation(uint64_t want)
{
	uint64_t limit = _pmp_os_as_limit();
	if (!limit)
		return want;
	uint64_t used = _pmp_os_vm_size(), room = limit > used ? (limit - used) / 4 : 0;
	room &= ~(uint64_t)(PMP_PAGE - 1);
	if (room >= want)
		return want;
	if (room < PMP_HEAP_MIN) {
		_pmp_log(1, "RLIMIT_AS leaves no room for a heap; using the fallback allocator", "", "");
		return 0;
	}
	char n[24], *e = _pmp_fmt_u64(n, n + sizeof n - 1, room >> 20);
	*e = 0;
	_pmp_log(2, "RLIMIT_AS: heap reservation shrunk to MiB: ", n, "");
	return room;
}

int _pmp_open_heap(uint64_t pid, struct pmp_heap **out)
{
	const struct shim_opts *o = &_pmp_opts;
	char base[SHIM_PATH_MAX], def[SHIM_PATH_MAX];
	int e = _pmp_path_expand(o->path, pid, base, sizeof base);
	if (e)
		return e;
	_pmp_path_default(def, sizeof def);
	if (o->mode != MODE_READONLY && (e = _pmp_path_mkdir(base, strcmp(o->path, def) == 0)) != 0)
		return e;
	pmp_file_opts_t fo;
	memset(&fo, 0, sizeof fo);
	fo.addr = (void *)(uintptr_t)o->addr;
	fo.reserve = reservation(o->size);
	if (!fo.reserve)
		return ENOMEM;
	if (fo.reserve < PMP_DEFAULT_INITIAL)
		fo.initial = fo.reserve;
	if (o->zero)
		fo.flags |= PMP_FILE_ZERO_FREED;
	if (o->track == TRACK_CALLSITE)
		fo.flags |= PMP_FILE_TRACK; /* a heap this open makes; a reopened one keeps what it was made with */
	if (o->check >= 2) /* the thorough level checks a reopened heap whole, not only where it is used */
		fo.flags |= PMP_FILE_VERIFY;
	char *path = _pmp_file.path;
	if (o->mode == MODE_READONLY || o->mode == MODE_OPEN) {
		fo.mode = o->mode == MODE_READONLY ? PMP_OPEN_READONLY : PMP_OPEN_ANY;
		if (o->mode == MODE_OPEN)
			fo.flags |= PMP_FILE_SAME_EXE;
		memcpy(path, base, sizeof base);
		return pmp_file_open(path, &fo, out);
	}
	/* fresh: a new file; an existing one is never reused. The dead heap of our own previous image (exec) is
	 * removed unless PMEMPRELOAD_KEEP=always; anything else stays untouched and we take the next free name. */
	fo.mode = PMP_OPEN_CREATE;
	int removed = 0;
	for (unsigned i = 0; i < 64; i++) {
		if ((e = append_suffix(path, SHIM_PATH_MAX, base, i)) != 0)
			return e;
		e = pmp_file_open(path, &fo, out);
		if (e != EEXIST)
			return e;
		if (!removed && o->keep != KEEP_ALWAYS && predecessor_heap(path) && _pmp_os_unlink(path) == 0) {
			_pmp_log(2, "removed the heap of this process's previous program (exec): ", path, "");
			removed = 1;
			i--;
			continue;
		}
		_pmp_log(2, "heap file exists, not reused: ", path, "");
	}
	return EEXIST;
}

void _pmp_file_adopt(void)
{
	struct pmp_os_stat st;
	if (_pmp_os_lstat(_pmp_file.path, &st))
		return;
	_pmp_file.dev = st.dev;
	_pmp_file.ino = st.ino;
}

/* ---- the state machine ---- */

static int open_process_heap(void)
{
	_pmp_opts_load();
	if (_pmp_opts.exe[0]) {
		char exe[256];
		_pmp_exe_name(exe, sizeof exe);
		if (!_pmp_glob_list(_pmp_opts.exe, exe)) {
			_pmp_log(3, "inert: executable not matched by PMEMPRELOAD_EXE: ", exe, "");
			return 0;
		}
	}
	uint64_t pid = _pmp_os_pid();
	struct pmp_heap *h;
	int e = _pmp_open_heap(pid, &h);
	if (e) {
		_pmp_log(1, "no heap, using the fallback allocator: ", _pmp_file.path[0] ? _pmp_file.path : _pmp_opts.path,
			 e == PMP_ELOCKED || e == PMP_EFOREIGN ? " is not ours to write (in use or another program's)" : "");
		_pmp_log(1, "reason: ", pmp_strerror(e), "");
		return 0;
	}
	pmp_set_check(h, _pmp_opts.check, _pmp_opts.check_every_log2);
	pmp_set_decay(h, (unsigned long)_pmp_opts.decay_ms);
	if (h->track != (_pmp_opts.track == TRACK_CALLSITE))
		_pmp_log(1, "PMEMPRELOAD_TRACK: the heap was made ", h->track ? "with" : "without",
			 " call-site tracking and keeps it");
	_pmp_sites_install(h);
	_pmp_file.owner_pid = pid;
	_pmp_file.keep = _pmp_opts.keep;
	_pmp_file_adopt();
	if (_pmp_opts.keep == KEEP_NEVER && !h->readonly && _pmp_file_is_ours())
		_pmp_os_unlink(_pmp_file.path); /* nothing is left behind, even after kill -9 */
	__atomic_store_n(&_pmp_lo, (uintptr_t)h->base, __ATOMIC_RELAXED);
	__atomic_store_n(&_pmp_len, (uintptr_t)h->reserved, __ATOMIC_RELAXED);
	_pmp_heap_set_default(h);
	_pmp_fork_install();
	if (_pmp_opts.crash)
		_pmp_crash_install();
	_pmp_log(2, "heap ", _pmp_file.path, h->readonly ? " (read-only)" : "");
	return 1;
}

void _pmp_shim_init(void)
{
	int expect = ST_UNINIT;
	if (!__atomic_compare_exchange_n(&_pmp_state, &expect, ST_INIT, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return; /* another thread initialises: this call uses the fallback */
	int saved = errno; /* the malloc that got here must not see errno changed by the probing below */
	_pmp_enter(); /* whatever the init path calls that allocates goes to the fallback */
	int ok = open_process_heap();
	__atomic_store_n(&_pmp_state, ok ? ST_ACTIVE : ST_INERT, __ATOMIC_RELEASE);
	_pmp_leave();
	errno = saved;
}

/* Start early enough for programs that never call malloc themselves; normally the first malloc got here first. */
__attribute__((constructor)) static void shim_start(void)
{
	if (__atomic_load_n(&_pmp_state, __ATOMIC_ACQUIRE) == ST_UNINIT && !_pmp_depth)
		_pmp_shim_init();
}

