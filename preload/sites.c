/* sites.c: the preload's part of call-site tracking: the snapshot of the loaded objects (path, where they lie,
 * build-id) that a tracked heap keeps, so that its call sites can be symbolised after the program is gone.
 *
 * Holds: the heap's site hook (called by the core, with no allocator lock held, when a new call site lies in no
 * recorded object: at the first allocation, and after a dlopen) and the dl_iterate_phdr walk it runs.
 * Must never: run while this thread holds an allocator lock (dl_iterate_phdr takes the loader's lock, which a thread
 * inside dlopen holds while it allocates), allocate (the walk runs inside malloc: nested calls would go to the
 * fallback, but there are none), or run twice at once (a second caller skips: the first one records everything).
 */
#include <elf.h>
#include <link.h>
#include <string.h>

#include "../src/core/track.h"
#include "../src/os/os.h"
#include "shim.h"

struct walk {
	struct pmp_heap *h;
	unsigned index;
};

/* the NT_GNU_BUILD_ID note of a loaded object, from its PT_NOTE segments in memory */
static void build_id(const struct dl_phdr_info *info, pmp_module_t *m)
{
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)(const void *)p;
			size_t name = (n->n_namesz + 3) & ~(size_t)3, desc = (n->n_descsz + 3) & ~(size_t)3;
			const uint8_t *d = p + sizeof *n + name;
			if (d + desc > end)
				break;
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && !memcmp(p + sizeof *n, "GNU", 4) &&
			    n->n_descsz <= sizeof m->build_id) {
				memcpy(m->build_id, d, n->n_descsz);
				m->build_id_len = n->n_descsz;
				return;
			}
			p = d + desc;
		}
	}
}

static int add_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct walk *w = arg;
	pmp_module_t m;
	memset(&m, 0, sizeof m);
	m.load_addr = info->dlpi_addr;
	m.lo = UINT64_MAX;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uint64_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (lo < m.lo)
			m.lo = lo;
		if (hi > m.hi)
			m.hi = hi;
	}
	if (m.lo >= m.hi)
		return 0;
	const char *name = info->dlpi_name;
	if ((!name || !name[0]) && w->index == 0 && _pmp_os_exe_path(m.path, sizeof m.path) == 0)
		name = NULL; /* the executable: its path from /proc/self/exe */
	if (name) {
		size_t n = strlen(name);
		if (n >= sizeof m.path)
			name += n - (sizeof m.path - 1), n = sizeof m.path - 1; /* keep the tail: the file name matters */
		memcpy(m.path, name, n);
	}
	w->index++;
	if (!m.path[0])
		return 0; /* the vdso: nothing to symbolise it with */
	build_id(info, &m);
	return _pmp_sites_add_module(w->h, &m) == ENOSPC;
}

static int busy;

static void snapshot(struct pmp_heap *h)
{
	if (__atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE))
		return;
	struct walk w = {h, 0};
	dl_iterate_phdr(add_object, &w);
	__atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
}

void _pmp_sites_install(struct pmp_heap *h)
{
	if (h->track && !h->readonly)
		h->site_hook = snapshot;
}
