/* heapfile.c: heaps on files (pmp_file_open): create, open, read-only views, growth, persistence, release.
 *
 * Holds: the policy that turns a path into a mapped heap: refusal of links, FIFOs, foreign owners and loose
 * permissions; the owner lock; the fixed-address mapping; growth in fallocated chunks so a full disk is ENOMEM,
 * never SIGBUS.
 * Must never: touch a file page that was not fallocated, map over an existing mapping, write to a file opened
 * read-only or to a file it did not lock, or delete a file it did not create in this call.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "heapfile.h"
#include "../os/os.h"

static int file_release(struct pmp_heap *h);

struct heapfile {
	int fd;
	uint64_t file_size;   /* bytes fallocated */
	uint64_t grow_step;
};

static struct heapfile *hf(struct pmp_heap *h) { return h->layer; }

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }


static int file_grow(struct pmp_heap *h, uint64_t want, uint64_t *got)
{
	struct heapfile *f = hf(h);
	uint64_t target = f->file_size;
	if (want > target) {
		/* at least one growth step and at least 1/8 of the heap, to keep the number of steps logarithmic */
		uint64_t cur = f->file_size;
		uint64_t step = f->grow_step > cur / 8 ? f->grow_step : round_up(cur / 8, PMP_PAGE);
		target = round_up(want > cur + step ? want : cur + step, PMP_PAGE);
		if (target > h->reserved)
			target = h->reserved;
		if (target < want)
			return ENOMEM;
		int e = _pmp_os_fallocate(f->fd, cur, target - cur);
		if (e == ENOSPC && target > round_up(want, PMP_PAGE)) { /* a full disk may still fit the bare need */
			target = round_up(want, PMP_PAGE);
			e = _pmp_os_fallocate(f->fd, cur, target - cur);
		}
		if (e)
			return e == ENOSPC || e == EFBIG || e == EDQUOT ? ENOMEM : e;
		f->file_size = target;
	}
	/* the mapping follows the file: address space is taken as the heap grows, not all of the reservation at
	 * once (RLIMIT_AS, and the address space other mappings of the program may want meanwhile) */
	if (target > h->map_len) {
		void *at;
		if (_pmp_os_map(h->base + h->map_len, (size_t)(target - h->map_len), f->fd, h->map_len, 1, 1, &at))
			return ENOMEM; /* no address space, or something else was mapped in our range meanwhile */
		h->map_len = target;
	}
	*got = target;
	return 0;
}

static int file_discard(struct pmp_heap *h, uint64_t off, uint64_t len)
{
	return _pmp_os_punch_hole(hf(h)->fd, off, len);
}

static int file_prewrite(struct pmp_heap *h, uint64_t off, uint64_t len)
{
	/* through the file, not the mapping: the page cache gets them in large pieces, and a first touch then maps
	 * them (a populate of the range as well made mallocbench's touch slower: 0.43 against 0.53 Mops/s) */
	int fd = hf(h)->fd;
	return fd < 0 ? EBADF : _pmp_os_write_zeros(fd, off, len);
}

static int file_reserve(struct pmp_heap *h, uint64_t off, uint64_t len)
{
	int e = _pmp_os_fallocate(hf(h)->fd, off, len);
	return e == ENOSPC || e == EDQUOT ? ENOMEM : e;
}

static int file_data_extent(struct pmp_heap *h, uint64_t off, uint64_t *data, uint64_t *hole)
{
	return _pmp_os_data_extent(hf(h)->fd, off, data, hole);
}

static int file_persist(struct pmp_heap *h, void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(PMP_PAGE - 1);
	uintptr_t z = round_up((uintptr_t)addr + len, PMP_PAGE);
	return _pmp_os_msync((void *)a, z - a);
}

static int file_release(struct pmp_heap *h)
{
	struct heapfile *f = hf(h);
	int e = _pmp_os_unmap(h->base, h->map_len);
	int e2 = f->fd >= 0 ? _pmp_os_close(f->fd) : 0; /* releases the OFD lock */
	_pmp_heap_handle_free(h);
	return e ? e : e2;
}

/* a forked child: the descriptor (and the owner lock through it) is the parent's; the child's copy goes */
static void file_disown(struct pmp_heap *h)
{
	struct heapfile *f = hf(h);
	if (f->fd >= 0)
		_pmp_os_close(f->fd);
	f->fd = -1;
}

/* the crash annex lives in the file past the reservation: pwrite, never the mapping (no SIGBUS on a full disk) */
static int file_annex_write(struct pmp_heap *h, const void *buf, size_t len, uint64_t off)
{
	int fd = hf(h)->fd;
	return fd < 0 ? EBADF : _pmp_os_pwrite(fd, buf, len, off);
}

static int file_annex_read(struct pmp_heap *h, void *buf, size_t len, uint64_t off, size_t *got)
{
	int fd = hf(h)->fd;
	return fd < 0 ? EBADF : _pmp_os_pread(fd, buf, len, off, got);
}

static const struct pmp_heap_ops file_ops = {
	.name = "file",
	.grow = file_grow,
	.discard = file_discard,
	.reserve = file_reserve,
	.prewrite = file_prewrite,
	.data_extent = file_data_extent,
	.persist = file_persist,
	.release = file_release,
	.disown = file_disown,
	.annex_write = file_annex_write,
	.annex_read = file_annex_read,
};
/* a read-only view: private mapping, nothing given back, grown or persisted */
static const struct pmp_heap_ops file_ro_ops = {
	.name = "file (read-only)",
	.data_extent = file_data_extent,
	.release = file_release,
	.disown = file_disown,
	.annex_read = file_annex_read,
};

int _pmp_file_fd(const struct pmp_heap *h)
{
	return h->ops == &file_ops || h->ops == &file_ro_ops ? ((const struct heapfile *)h->layer)->fd : -1;
}

/* A file we may write into: a regular file of ours, private, with one link. */
static int vet_writable(int fd, struct pmp_os_stat *st)
{
	int e = _pmp_os_fstat(fd, st);
	if (e)
		return e;
	if (!st->regular)
		return PMP_EFILETYPE;
	if (st->uid != _pmp_os_euid() || (st->mode & 022) || st->nlink != 1)
		return PMP_EOWNER;
	return 0;
}

/* the superblock of the file open on fd (size bytes long); with `short_ok` a file shorter than the heap it holds
 * passes (PMP_FILE_SALVAGE) */
static int read_sb(int fd, uint64_t size, struct pmp_sb *sb, int short_ok)
{
	unsigned char page[PMP_PAGE];
	size_t got = 0;
	int e = _pmp_os_pread(fd, page, sizeof page, 0, &got);
	if (e)
		return e;
	if (got == 0)
		return PMP_ESHORT;
	e = _pmp_sb_read(page, got, sb);
	if (e)
		return e;
	e = _pmp_sb_validate(sb, size);
	return e == PMP_ESHORT && short_ok ? 0 : e;
}

/* a truncated file's read-only view: private memory holding what the file has, zeros after its end (never a
 * mapping of the file past its end: reading there would be SIGBUS). Only the file's data extents are read. */
static int copy_in(int fd, uint64_t size, void *mem)
{
	for (uint64_t pos = 0, data, hole; pos < size; pos = hole) {
		int e = _pmp_os_data_extent(fd, pos, &data, &hole);
		if (e)
			return e;
		if (data >= size)
			break;
		if (hole > size)
			hole = size;
		size_t got;
		if ((e = _pmp_os_pread(fd, (uint8_t *)mem + data, (size_t)(hole - data), data, &got)) != 0)
			return e;
	}
	return 0;
}

static int check_opts(const pmp_file_opts_t *o)
{
	if (o->mode < PMP_OPEN_ANY || o->mode > PMP_OPEN_READONLY)
		return EINVAL;
	if ((uintptr_t)o->addr % PMP_PAGE || o->reserve % PMP_PAGE)
		return EINVAL;
	if (o->reserve && o->reserve < PMP_HEAP_MIN)
		return PMP_ETOOSMALL;
	if ((o->flags & PMP_FILE_ANYADDR) && o->mode != PMP_OPEN_READONLY)
		return EINVAL;
	if (o->flags & ~(unsigned)(PMP_FILE_ANYADDR | PMP_FILE_NOLOCK | PMP_FILE_ZERO_FREED | PMP_FILE_SAME_EXE |
				   PMP_FILE_SALVAGE | PMP_FILE_SINGLE_THREAD | PMP_FILE_TRACK | PMP_FILE_VERIFY))
		return EINVAL;
	return 0;
}

static int open_readonly(const char *path, const pmp_file_opts_t *o, struct pmp_heap *h)
{
	struct heapfile *f = hf(h);
	/* O_NONBLOCK: a FIFO at the path must not hang the forensic tools */
	int e = _pmp_os_open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0, &f->fd);
	if (e)
		return e;
	struct pmp_os_stat st;
	struct pmp_sb sb;
	if ((e = _pmp_os_fstat(f->fd, &st)) != 0)
		goto fail;
	if (!st.regular) {
		e = PMP_EFILETYPE;
		goto fail;
	}
	if ((e = read_sb(f->fd, st.size, &sb, (o->flags & PMP_FILE_SALVAGE) != 0)) != 0)
		goto fail;
	size_t map_len = (size_t)round_up(sb.mapped, PMP_PAGE);
	int truncated = st.size < sb.mapped, mfd = truncated ? -1 : f->fd;
	f->file_size = st.size;
	void *base;
	e = _pmp_os_map((void *)(uintptr_t)sb.base, map_len, mfd, 0, 0, truncated, &base);
	if (e == EEXIST && (o->flags & PMP_FILE_ANYADDR))
		e = _pmp_os_map(NULL, map_len, mfd, 0, 0, truncated, &base);
	if (e) {
		e = e == EEXIST ? PMP_EADDRINUSE : e;
		goto fail;
	}
	if (truncated && (e = copy_in(f->fd, st.size, base)) != 0) {
		_pmp_os_unmap(base, map_len);
		goto fail;
	}
	h->map_len = map_len;
	h->salvage_clean = truncated;
	if ((e = _pmp_heap_load(h, base, &sb, 1, NULL)) != 0) {
		_pmp_os_unmap(base, map_len);
		goto fail;
	}
	return 0;
fail:
	_pmp_os_close(f->fd);
	return e;
}

/* Map [0, len) of the file at exactly addr, writable and shared, once the whole reservation [addr, addr+reserve)
 * was seen free: the heap must be able to grow into it. The probe takes the reservation only for an instant (the
 * mapping itself grows with the file), so it fits under RLIMIT_AS when the heap does; a probe refused for lack of
 * address space (ENOMEM) does not refuse the heap, which then grows as far as the limit lets it. */
static int map_heap(void *addr, uint64_t reserve, uint64_t len, int fd, void **base)
{
	void *probe;
	int e = _pmp_os_map(addr, (size_t)reserve, -1, 0, 0, 0, &probe);
	if (e == EEXIST)
		return PMP_EADDRINUSE;
	if (e == 0)
		_pmp_os_unmap(probe, (size_t)reserve);
	e = _pmp_os_map(addr, (size_t)len, fd, 0, 1, 1, base);
	return e == EEXIST ? PMP_EADDRINUSE : e;
}

/* Format a new heap in the file open on f->fd (ours, locked, empty or being created) and map it. */
static int format_new(const pmp_file_opts_t *o, struct pmp_heap *h, const struct pmp_identity *id)
{
	struct heapfile *f = hf(h);
	uint64_t reserve = o->reserve ? o->reserve : PMP_DEFAULT_RESERVE;
	uint64_t initial = round_up(o->initial ? o->initial : PMP_DEFAULT_INITIAL, PMP_PAGE);
	if (initial < PMP_HEAP_MIN)
		initial = PMP_HEAP_MIN;
	if (initial > reserve)
		return EINVAL;
	int e = _pmp_os_fallocate(f->fd, 0, initial);
	if (e)
		return e;
	void *base, *addr = o->addr ? o->addr : PMP_DEFAULT_ADDR;
	if ((e = map_heap(addr, reserve, initial, f->fd, &base)) != 0)
		return e;
	/* the format, and a small program after it, touch a few pages of the first chunk: no readahead of the rest (a
	 * hint: it fails only on a bad range). Growth, and what a larger first chunk holds past the default's size,
	 * keep readahead: there it zeroes, in batches, pages that a large program goes on to touch. */
	_pmp_os_map_fresh(base, initial < PMP_DEFAULT_INITIAL ? initial : PMP_DEFAULT_INITIAL);
	f->file_size = initial;
	h->map_len = initial;
	if ((e = _pmp_heap_format(h, base, initial, reserve,
				     PMP_LAYOUT_FILE | ((o->flags & PMP_FILE_TRACK) ? PMP_LAYOUT_TRACK : 0), id)) != 0) {
		_pmp_os_unmap(base, initial);
		return e;
	}
	return 0;
}

/* A new heap file appears at path complete or not at all: it is created, locked and formatted under a temporary
 * name in the same directory, then renamed into place without replacing anything (EEXIST if path exists by then).
 * A stop before the rename leaves only the temporary file (PATH.new.PID.N), never a half-made heap at path. */
static int create_new(const char *path, const pmp_file_opts_t *o, struct pmp_heap *h)
{
	static unsigned counter;
	struct heapfile *f = hf(h);
	char tmp[4096], *t = tmp, *end = tmp + sizeof tmp - 1;
	size_t n = strlen(path);
	if (n + 48 >= sizeof tmp)
		return ENAMETOOLONG;
	memcpy(t, path, n);
	t += n;
	uint64_t parts[2] = {_pmp_os_pid(), __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED)};
	memcpy(t, ".new", 4);
	t += 4;
	for (int i = 0; i < 2; i++) {
		char d[24];
		int k = 0;
		uint64_t v = parts[i];
		do
			d[k++] = (char)('0' + v % 10);
		while ((v /= 10) != 0 && k < 23);
		*t++ = '.';
		while (k > 0 && t < end)
			*t++ = d[--k];
	}
	*t = 0;
	int e = _pmp_os_open(tmp, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CREAT | O_EXCL, 0600, &f->fd);
	if (e)
		return e;
	struct pmp_identity id;
	if (!(o->flags & PMP_FILE_NOLOCK) && (e = _pmp_os_lock(f->fd, 1)) != 0) {
		e = e == EAGAIN ? PMP_ELOCKED : e;
		goto fail;
	}
	_pmp_identity_self(&id, o->exe);
	if ((e = format_new(o, h, &id)) != 0)
		goto fail;
	if ((e = _pmp_os_rename_noreplace(tmp, path)) != 0) {
		_pmp_os_unmap(h->base, h->map_len);
		_pmp_heap_discard(h);
		goto fail;
	}
	return 0;
fail:
	_pmp_os_unlink(tmp);
	_pmp_os_close(f->fd);
	return e;
}

static int open_writable(const char *path, const pmp_file_opts_t *o, struct pmp_heap *h)
{
	struct heapfile *f = hf(h);
	const int base_flags = O_RDWR | O_NOFOLLOW | O_NONBLOCK;
	if (o->mode == PMP_OPEN_CREATE)
		return create_new(path, o, h);
	int e = _pmp_os_open(path, base_flags, 0, &f->fd);
	if (e == ENOENT && o->mode == PMP_OPEN_ANY) {
		e = create_new(path, o, h);
		if (e != EEXIST)
			return e;
		e = _pmp_os_open(path, base_flags, 0, &f->fd); /* lost a race with another creator: open theirs */
	}
	if (e)
		return e;
	struct pmp_os_stat st;
	struct pmp_identity id;
	void *base = NULL;
	size_t map_len = 0;
	if ((e = vet_writable(f->fd, &st)) != 0)
		goto fail;
	/* The checks ran on the descriptor; the path must still name that same file, or a link swapped in between
	 * (a hard link dropped after open, a rename over the path) would pass them on someone else's behalf. */
	struct pmp_os_stat now;
	if ((e = _pmp_os_lstat(path, &now)) != 0 || now.dev != st.dev || now.ino != st.ino) {
		e = e ? e : PMP_EOWNER;
		goto fail;
	}
	/* and still one link after that: a link made between the first fstat and the lstat is seen here */
	if ((e = vet_writable(f->fd, &st)) != 0)
		goto fail;
	if (!(o->flags & PMP_FILE_NOLOCK) && (e = _pmp_os_lock(f->fd, 1)) != 0) {
		e = e == EAGAIN ? PMP_ELOCKED : e;
		goto fail;
	}
	_pmp_identity_self(&id, o->exe);
	if (st.size == 0 && o->mode == PMP_OPEN_ANY) {
		/* an empty file of ours at the path (made by hand): nothing in it to lose */
		if ((e = format_new(o, h, &id)) != 0)
			goto fail;
		return 0;
	}
	struct pmp_sb sb;
	int salvage = (o->flags & PMP_FILE_SALVAGE) != 0;
	if ((e = read_sb(f->fd, st.size, &sb, salvage)) != 0)
		goto fail;
	if (!(sb.layout_flags & PMP_LAYOUT_FILE)) {
		e = PMP_ELAYOUT;
		goto fail;
	}
	if ((o->flags & PMP_FILE_SAME_EXE) && strncmp(sb.writer_exe, id.exe, sizeof sb.writer_exe) != 0) {
		e = PMP_EFOREIGN;
		goto fail;
	}
	/* salvage of a truncated file: its missing tail comes back as a hole (zeros, a damaged stretch that recovery
	 * keeps as a LOST block), so that nothing of the mapping lies past the file's end */
	if (salvage && st.size < sb.mapped && (e = _pmp_os_ftruncate(f->fd, sb.mapped)) != 0)
		goto fail;
	map_len = (size_t)round_up(sb.mapped, PMP_PAGE);
	if ((e = map_heap((void *)(uintptr_t)sb.base, sb.reserved, map_len, f->fd, &base)) != 0)
		goto fail;
	/* What the file holds past the heap's end (a file extended by hand, or longer than the reservation) is not the
	 * heap's: growth fallocates from the end the superblock names, and never past the reservation. The core backs
	 * [0, mapped) through file_reserve once it accepted the heap, and not before: a refused file stays as it was. */
	f->file_size = sb.mapped;
	h->map_len = map_len;
	h->salvage_clean = salvage;
	if ((e = _pmp_heap_load(h, base, &sb, 0, &id)) != 0)
		goto fail;
	return 0;
fail:
	if (base)
		_pmp_os_unmap(base, map_len);
	_pmp_os_close(f->fd);
	return e;
}

int pmp_file_open(const char *path, const pmp_file_opts_t *opts, pmp_heap_t **out)
{
	if (!path || !path[0] || !out)
		return EINVAL;
	pmp_file_opts_t o;
	if (opts)
		o = *opts;
	else
		memset(&o, 0, sizeof o);
	int e = check_opts(&o);
	if (e)
		return e;
	struct pmp_heap *h;
	if ((e = _pmp_heap_handle_alloc(&h, sizeof(struct heapfile) + 16)) != 0)
		return e;
	h->layer = (char *)h + ((sizeof *h + 15) & ~(size_t)15);
	struct heapfile *f = hf(h);
	f->fd = -1;
	f->grow_step = o.grow ? round_up(o.grow, PMP_PAGE) : PMP_DEFAULT_GROW;
	/* the hooks are in place before the open: recovery inside it may need to back pages again */
	h->ops = o.mode == PMP_OPEN_READONLY ? &file_ro_ops : &file_ops;
	if (o.flags & PMP_FILE_VERIFY)
		h->flags |= PMP_HEAP_VERIFY;
	e = o.mode == PMP_OPEN_READONLY ? open_readonly(path, &o, h) : open_writable(path, &o, h);
	if (e) {
		_pmp_heap_handle_free(h);
		return e;
	}
	if (o.flags & PMP_FILE_ZERO_FREED)
		_pmp_heap_set_flags(h, h->flags | PMP_HEAP_ZERO_FREED);
	if (o.flags & PMP_FILE_SINGLE_THREAD) /* no lock is held here: from now on none is taken */
		_pmp_heap_set_flags(h, h->flags | PMP_HEAP_SINGLE_THREAD);
	*out = h;
	return 0;
}
