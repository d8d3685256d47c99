/* crash.c: the crash record area: written once by the shim's fatal-signal handler, read by pmp_crash_get.
 *
 * Holds: the copy in (async-signal-safe: no locks, no allocation; the magic is stored last so a stop mid-write leaves
 * no record rather than a torn one) and the bounds-checked copy out.
 * Must never: take the heap lock (the crashing thread may hold it) or trust counts read from the file.
 */
#include <errno.h>
#include <string.h>

#include "heap.h"

_Static_assert(PMP_CRASH_FRAMES == PMP_CRASH_MAX_FRAMES, "public and on-disk frame counts agree");
_Static_assert(PMP_CRASH_MODULES == PMP_CRASH_MAX_MODULES, "public and on-disk module counts agree");
_Static_assert(sizeof(struct pmp_crash_module) == sizeof(pmp_crash_module_t), "module record sizes agree");

static struct pmp_crash *area(const struct pmp_heap *h)
{
	return (struct pmp_crash *)(void *)(h->base + PMP_OFF_CRASH);
}

void _pmp_crash_write(struct pmp_heap *h, const struct pmp_crash *rec)
{
	if (!_pmp_heap_writable(h))
		return; /* read-only, or sealed clean: the file stays as it was */
	struct pmp_crash *c = area(h);
	__atomic_store_n(&c->magic, 0, __ATOMIC_RELEASE);
	size_t n = offsetof(struct pmp_crash, modules) + rec->nmodules * sizeof rec->modules[0];
	if (rec->nmodules > PMP_CRASH_MODULES)
		n = sizeof *rec;
	memcpy((char *)c + sizeof c->magic, (const char *)rec + sizeof rec->magic, n - sizeof rec->magic);
	__atomic_store_n(&c->magic, PMP_CRASH_MAGIC, __ATOMIC_RELEASE);
}

int pmp_crash_get(pmp_heap_t *h, pmp_crash_info_t *ci)
{
	if (!h || !ci)
		return EINVAL;
	const struct pmp_crash *c = area(h);
	if (c->magic != PMP_CRASH_MAGIC)
		return ENOENT;
	memset(ci, 0, sizeof *ci);
	ci->signo = c->signo;
	ci->code = c->code;
	ci->fault_addr = (void *)(uintptr_t)c->fault_addr;
	ci->time_ns = c->time_ns;
	ci->pid = c->pid;
	ci->tid = c->tid;
	ci->nframes = c->nframes < PMP_CRASH_FRAMES ? c->nframes : PMP_CRASH_FRAMES;
	ci->nmodules = c->nmodules < PMP_CRASH_MODULES ? c->nmodules : PMP_CRASH_MODULES;
	memcpy(ci->frames, c->frames, ci->nframes * sizeof ci->frames[0]);
	for (unsigned i = 0; i < ci->nmodules; i++) {
		ci->modules[i].load_addr = c->modules[i].load_addr;
		memcpy(ci->modules[i].path, c->modules[i].path, sizeof ci->modules[i].path);
		ci->modules[i].path[sizeof ci->modules[i].path - 1] = 0;
	}
	return 0;
}
