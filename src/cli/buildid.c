/* buildid.c: the GNU build-id of an ELF file on disk (its NT_GNU_BUILD_ID note), so `crash` can tell whether the
 * file at a recorded module's path is still the one the crashed process had loaded.
 *
 * Must never: trust a header of the file (every offset and size is bounded by the file's length and small caps),
 * read more than a few pages, or open anything but a regular file (a FIFO would hang).
 */
#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	return pread(fd, buf, len, (off_t)off) == (ssize_t)len ? 0 : -1;
}

/* the build-id in one note segment [off, off+len) of the file */
static int in_notes(int fd, uint64_t off, uint64_t len, uint8_t *id, unsigned cap, unsigned *n)
{
	uint8_t buf[8192];
	if (len > sizeof buf)
		len = sizeof buf;
	if (read_at(fd, buf, (size_t)len, off))
		return -1;
	for (uint64_t p = 0; p + sizeof(Elf64_Nhdr) <= len;) {
		Elf64_Nhdr h;
		memcpy(&h, buf + p, sizeof h);
		uint64_t name = p + sizeof h, desc = name + ((h.n_namesz + 3ull) & ~3ull);
		uint64_t next = desc + ((h.n_descsz + 3ull) & ~3ull);
		if (next > len)
			return -1;
		if (h.n_type == NT_GNU_BUILD_ID && h.n_namesz == 4 && !memcmp(buf + name, "GNU", 4)) {
			*n = h.n_descsz < cap ? h.n_descsz : cap;
			memcpy(id, buf + desc, *n);
			return 0;
		}
		p = next;
	}
	return -1;
}

int cli_file_build_id(const char *path, uint8_t *id, unsigned cap, unsigned *n)
{
	*n = 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	Elf64_Ehdr eh;
	int rc = -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || read_at(fd, &eh, sizeof eh, 0) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 256)
		goto out;
	for (unsigned i = 0; i < eh.e_phnum && rc; i++) {
		Elf64_Phdr ph;
		if (read_at(fd, &ph, sizeof ph, eh.e_phoff + (uint64_t)i * sizeof ph))
			break;
		if (ph.p_type == PT_NOTE && ph.p_offset < (uint64_t)st.st_size && ph.p_filesz <= (uint64_t)st.st_size - ph.p_offset)
			rc = in_notes(fd, ph.p_offset, ph.p_filesz, id, cap, n);
	}
out:
	close(fd);
	return rc;
}
