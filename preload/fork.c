/* fork.c: what a fork does to the process heap (PMEMPRELOAD_FORK): snapshot, copy or unsafe.
 *
 * Holds: the pthread_atfork handlers. prepare takes the heap lock (so no thread is inside the heap at the fork) and,
 * for snapshot and copy, copies the used range to anonymous memory; the child then replaces the shared file
 * mapping: snapshot moves the copy over the heap range (private from then on, the parent keeps the file); copy
 * writes it into a new heap file named by the path pattern with the child's pid and maps that one instead.
 * Must never: let a child write into the parent's heap file (except in unsafe mode), allocate from the malloc
 * family in a handler, or leave the heap lock held on either side.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>

#include "../src/os/os.h"
#include "shim.h"

static struct pmp_heap *fork_heap; /* the heap the handlers guard (writable, owned by this process) */
static void *snap;
static size_t snap_len;

static size_t page_up(uint64_t v)
{
	return (size_t)((v + PMP_PAGE - 1) & ~(uint64_t)(PMP_PAGE - 1));
}

static void prepare(void)
{
	struct pmp_heap *h = fork_heap;
	_pmp_depth++;
	if (!h)
		return;
	_pmp_lock(h);
	snap = NULL;
	snap_len = 0;
	if (_pmp_opts.fork == FORK_UNSAFE)
		return;
	size_t len = page_up(h->end);
	if (_pmp_os_pages_alloc(len, &snap) == 0) {
		memcpy(snap, h->base, h->end);
		snap_len = len;
	} else {
		snap = NULL;
	}
}

static void parent(void)
{
	struct pmp_heap *h = fork_heap;
	if (h) {
		if (snap)
			_pmp_os_pages_free(snap, snap_len);
		snap = NULL;
		_pmp_unlock(h);
	}
	_pmp_depth--;
}

/* ---- child side ---- */

/* a private heap grows into its anonymous reservation: nothing to allocate, nothing to persist */
static int anon_grow(struct pmp_heap *h, uint64_t want, uint64_t *got)
{
	uint64_t t = page_up(want);
	if (t > h->reserved)
		return ENOMEM;
	*got = t > h->end ? t : h->end;
	return 0;
}

static void drop_parent_fd(void)
{
	if (_pmp_file.fd >= 0)
		_pmp_os_close(_pmp_file.fd); /* the parent keeps the lock through its own descriptor */
	_pmp_file.fd = -1;
}

/* Move the snapshot over the heap range; the rest of the reservation becomes private anonymous memory. */
static int become_private(struct pmp_heap *h)
{
	int e = _pmp_os_remap_fixed(snap, snap_len, h->base);
	if (e)
		return e;
	snap = NULL;
	if (h->reserved > snap_len && (e = _pmp_os_map_anon_over(h->base + snap_len, h->reserved - snap_len)) != 0)
		return e;
	drop_parent_fd();
	h->ops.grow = anon_grow;
	h->ops.persist = NULL;
	h->ops.release = NULL;
	return 0;
}

/* copy mode: write the snapshot into a new file of our own and open it at the same address */
static int become_copy(struct pmp_heap *h)
{
	uint64_t pid = _pmp_os_pid();
	char base[SHIM_PATH_MAX], path[SHIM_PATH_MAX];
	int e = _pmp_path_expand(_pmp_opts.path, pid, base, sizeof base);
	if (e)
		return e;
	int fd = -1;
	for (unsigned i = 0; i < 64; i++) {
		char *o = _pmp_fmt_str(path, path + sizeof path - 1, base);
		if (i) {
			o = _pmp_fmt_str(o, path + sizeof path - 1, ".");
			o = _pmp_fmt_u64(o, path + sizeof path - 1, i);
		}
		*o = 0;
		e = _pmp_os_open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600, &fd);
		if (e != EEXIST)
			break;
	}
	if (e)
		return e;
	if ((e = _pmp_os_fallocate(fd, 0, snap_len)) != 0 || (e = _pmp_os_write(fd, snap, snap_len)) != 0) {
		_pmp_os_close(fd);
		_pmp_os_unlink(path);
		return e;
	}
	_pmp_os_close(fd);
	/* the parent's file mapping goes; the copy is mapped at the same place (recovered: it was open when copied) */
	_pmp_os_unmap(h->base, h->reserved);
	pmp_file_opts_t fo;
	memset(&fo, 0, sizeof fo);
	fo.mode = PMP_OPEN_EXISTING;
	fo.flags = _pmp_opts.zero ? PMP_FILE_ZERO_FREED : 0;
	struct pmp_heap *nh;
	if ((e = pmp_file_open(path, &fo, &nh)) != 0) {
		_pmp_os_unlink(path);
		return e; /* the snapshot is still in hand: the caller moves it into the now free range */
	}
	nh->check_level = h->check_level;
	_pmp_os_pages_free(snap, snap_len);
	snap = NULL;
	drop_parent_fd();
	_pmp_heap_handle_free(h); /* the parent's handle copy; its descriptor was dropped above */
	memcpy(_pmp_file.path, path, sizeof path);
	_pmp_file.owner_pid = pid;
	_pmp_file_adopt(nh);
	if (_pmp_file.keep == KEEP_NEVER)
		_pmp_os_unlink(path);
	fork_heap = nh;
	__atomic_store_n(&_pmp_heap, nh, __ATOMIC_RELEASE);
	__atomic_store_n(&_pmp_default_heap, nh, __ATOMIC_RELEASE);
	return 0;
}

static void child(void)
{
	struct pmp_heap *h = fork_heap;
	if (!h) {
		_pmp_depth--;
		return;
	}
	/* the lock was taken by the forking thread, which is this one; start it afresh */
	pthread_mutex_init(&h->lock, NULL);
	int mode = _pmp_opts.fork;
	if (mode != FORK_UNSAFE && !snap) {
		/* no memory for a copy: the child must not write into the parent's heap; it uses the fallback */
		__atomic_store_n(&_pmp_heap, NULL, __ATOMIC_RELEASE);
		fork_heap = NULL;
		_pmp_log(1, "fork: no memory for the heap snapshot; the child uses the fallback allocator", "", "");
	} else if (mode == FORK_COPY && become_copy(h) == 0) {
		/* done: the child owns a heap file of its own */
	} else if (mode != FORK_UNSAFE) {
		if (mode == FORK_COPY)
			_pmp_log(1, "fork: could not copy the heap to a file of the child's; using a private snapshot", "", "");
		int e = become_private(h);
		if (e) {
			__atomic_store_n(&_pmp_heap, NULL, __ATOMIC_RELEASE);
			fork_heap = NULL;
			_pmp_log(1, "fork: snapshot failed, the child uses the fallback: ", pmp_strerror(e), "");
		}
	}
	_pmp_depth--;
}

void _pmp_fork_install(void)
{
	fork_heap = _pmp_heap;
	if (fork_heap)
		pthread_atfork(prepare, parent, child);
}
