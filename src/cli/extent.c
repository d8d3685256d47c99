/* extent.c: where a heap file holds data. A sparse file may declare a terabyte and hold a few pages: the verbs that
 * read contents follow the data extents of the file (SEEK_DATA/SEEK_HOLE) and skip its holes, which read as zeros,
 * so their time and memory follow the data present, not the declared size.
 *
 * Must never: skip bytes that hold data (when the extents cannot be learned, or the file at the path is not the one
 * mapped, the whole heap counts as data: slower, never wrong), or keep more than one entry per extent of data.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int add(struct cli_heap *ch, size_t *cap, uint64_t lo, uint64_t hi)
{
	if (ch->next == *cap) {
		size_t n = *cap ? *cap * 2 : 16;
		struct cli_extent *v = realloc(ch->ext, n * sizeof *v);
		if (!v)
			return ENOMEM;
		ch->ext = v;
		*cap = n;
	}
	ch->ext[ch->next].lo = lo;
	ch->ext[ch->next].hi = hi;
	ch->next++;
	return 0;
}

/* The heap maps its file from offset 0, so file offsets are heap offsets. The path is opened a second time: the
 * file there must be the one mapped (its page 0 equal to the view's), or its extents say nothing about the view. */
static int learn(struct cli_heap *ch, size_t *cap)
{
	int fd = open(ch->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int e = 0;
	uint8_t page[4096];
	if (ch->mapped < sizeof page || pread(fd, page, sizeof page, 0) != (ssize_t)sizeof page ||
	    memcmp(page, ch->local, sizeof page)) {
		e = ESTALE;
		goto out;
	}
	for (off_t pos = 0; (uint64_t)pos < ch->mapped;) {
		off_t lo = lseek(fd, pos, SEEK_DATA);
		if (lo < 0) {
			e = errno == ENXIO ? 0 : errno; /* ENXIO: no data after pos */
			break;
		}
		off_t hi = lseek(fd, lo, SEEK_HOLE);
		if (hi <= lo) {
			e = hi < 0 ? errno : EIO;
			break;
		}
		if ((uint64_t)lo >= ch->mapped)
			break;
		if ((e = add(ch, cap, (uint64_t)lo, (uint64_t)hi < ch->mapped ? (uint64_t)hi : ch->mapped)) != 0)
			break;
		pos = hi;
	}
out:
	close(fd);
	return e;
}

static void load(struct cli_heap *ch)
{
	size_t cap = 0;
	ch->ext_loaded = 1;
	ch->next = 0;
	if (learn(ch, &cap)) { /* whatever went wrong: all of it is data */
		free(ch->ext);
		ch->ext = NULL;
		ch->whole.lo = 0;
		ch->whole.hi = ch->mapped;
		ch->next = 1;
	}
}

int cli_data_next(struct cli_heap *ch, uint64_t off, uint64_t end, uint64_t *lo, uint64_t *hi)
{
	if (!ch->ext_loaded)
		load(ch);
	const struct cli_extent *x = ch->ext ? ch->ext : &ch->whole;
	size_t a = 0, b = ch->next;
	while (a < b) { /* the first extent that ends after off */
		size_t m = a + (b - a) / 2;
		if (x[m].hi <= off)
			a = m + 1;
		else
			b = m;
	}
	if (a == ch->next || x[a].lo >= end || off >= end)
		return 0;
	*lo = x[a].lo > off ? x[a].lo : off;
	*hi = x[a].hi < end ? x[a].hi : end;
	return 1;
}

uint64_t cli_data_bytes(struct cli_heap *ch)
{
	uint64_t n = 0, lo, hi;
	for (uint64_t pos = 0; cli_data_next(ch, pos, ch->mapped, &lo, &hi); pos = hi)
		n += hi - lo;
	return n;
}
