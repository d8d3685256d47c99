/* crash.c: the crash record area and the crash annex: written once by the shim's fatal-signal handler, read by
 * pmp_crash_get, pmp_crash_ext and pmp_crash_roots.
 *
 * Holds: the copy in (async-signal-safe: no locks, no allocation; the magic is stored last so a stop mid-write leaves
 * no record rather than a torn one), the annex writer (sections through the layer's annex_write, table and header
 * last) and the bounds-checked copies out.
 * Must never: take the heap lock (the crashing thread may hold it), write the annex through the heap's mapping (an
 * unbacked page would be SIGBUS on a full disk), or trust counts, offsets or lengths read from the file.
 */
#include <errno.h>
#include <string.h>

#include "heap.h"
#include "../os/os.h"

_Static_assert(PMP_CRASH_FRAMES == PMP_CRASH_MAX_FRAMES, "public and on-disk frame counts agree");
_Static_assert(PMP_CRASH_MODULES == PMP_CRASH_MAX_MODULES, "public and on-disk module counts agree");
_Static_assert(PMP_CRASH_REGS == PMP_CRASH_MAX_REGS, "public and on-disk register counts agree");
_Static_assert(sizeof(struct pmp_crash_module) == sizeof(pmp_crash_module_t), "module record sizes agree");
_Static_assert(PMP_ANNEX_STACK == PMP_CRASH_ROOT_STACK - 1 && PMP_ANNEX_DATA == PMP_CRASH_ROOT_DATA - 1,
	       "annex kinds are the public root kinds less one");

static struct pmp_crash *area(const struct pmp_heap *h)
{
	return (struct pmp_crash *)(void *)(h->base + PMP_OFF_CRASH);
}

void _pmp_crash_write(struct pmp_heap *h, const struct pmp_crash *rec)
{
	if (!_pmp_heap_writable(h))
		return; /* read-only, or sealed clean: the file stays as it was */
	struct pmp_crash *c = area(h);
	PMP_CRASHPOINT();
	__atomic_store_n(&c->magic, 0, __ATOMIC_RELEASE);
	PMP_CRASHPOINT();
	memcpy((char *)c + sizeof c->magic, (const char *)rec + sizeof rec->magic, sizeof *rec - sizeof rec->magic);
	PMP_CRASHPOINT();
	__atomic_store_n(&c->magic, PMP_CRASH_MAGIC, __ATOMIC_RELEASE);
}

/* ---- the annex ---- */

int _pmp_annex_begin(struct pmp_heap *h, struct pmp_annex_writer *w)
{
	w->nsect = 0;
	w->threads_dropped = 0;
	w->cut = 0;
	w->limit = PMP_ANNEX_LIMIT;
	/* header and table first in the file, the sections' bytes after them */
	w->pos = sizeof(struct pmp_annex) + sizeof w->sect;
	/* past the reservation: the heap never grows there, so no later open of the heap writes over it */
	w->off = (h->reserved + PMP_PAGE - 1) & ~(uint64_t)(PMP_PAGE - 1);
	w->err = h->ops->annex_write && _pmp_heap_writable(h) ? 0 : ENODATA;
	return w->err;
}

int _pmp_annex_put(struct pmp_heap *h, struct pmp_annex_writer *w, uint32_t kind, uint32_t flags, uint64_t addr,
		   uint64_t len, uint64_t full_len, uint64_t tid, int32_t module)
{
	if (w->err)
		return w->err;
	if (w->nsect == PMP_ANNEX_SECTIONS || w->pos - sizeof(struct pmp_annex) - sizeof w->sect >= w->limit) {
		w->cut += full_len;
		return E2BIG;
	}
	uint64_t room = w->limit - (w->pos - sizeof(struct pmp_annex) - sizeof w->sect);
	if (len > room)
		len = room;
	w->cut += full_len - len;
	PMP_CRASHPOINT(); /* not a store into the heap: a stop here, before any, shows the record names no annex yet */
	int e = h->ops->annex_write(h, (const void *)(uintptr_t)addr, (size_t)len, w->off + w->pos);
	if (e) {
		if (e != EFAULT) /* a disk that is full (or failing) takes nothing more */
			w->err = e;
		return e;
	}
	struct pmp_annex_sect *s = &w->sect[w->nsect++];
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->flags = flags;
	s->addr = addr;
	s->len = len;
	s->full_len = full_len;
	s->off = w->pos;
	s->tid = tid;
	s->module = module;
	w->pos += (len + 15) & ~(uint64_t)15;
	return 0;
}

int _pmp_annex_end(struct pmp_heap *h, struct pmp_annex_writer *w, uint64_t time_ns)
{
	if (w->err)
		return w->err;
	struct pmp_annex a;
	memset(&a, 0, sizeof a);
	a.time_ns = time_ns;
	a.nsect = w->nsect;
	a.threads_dropped = w->threads_dropped;
	a.cut_bytes = w->cut;
	PMP_CRASHPOINT();
	int e = h->ops->annex_write(h, w->sect, w->nsect * sizeof w->sect[0], w->off + sizeof a);
	PMP_CRASHPOINT();
	if (!e)
		e = h->ops->annex_write(h, &a, sizeof a, w->off);
	a.magic = PMP_ANNEX_MAGIC;
	PMP_CRASHPOINT();
	if (!e)
		e = h->ops->annex_write(h, &a.magic, sizeof a.magic, w->off);
	w->err = e;
	return e;
}

/* ---- reading ---- */

static int has_ext(const struct pmp_crash *c)
{
	return c->ext_magic == PMP_CRASH_EXT_MAGIC;
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

int pmp_crash_ext(pmp_heap_t *h, pmp_crash_ext_t *x)
{
	if (!h || !x)
		return EINVAL;
	const struct pmp_crash *c = area(h);
	if (c->magic != PMP_CRASH_MAGIC)
		return ENOENT;
	memset(x, 0, sizeof *x);
	x->roots_err = ENODATA;
	if (!has_ext(c))
		return 0;
	x->sender_pid = c->sender_pid;
	x->sender_uid = c->sender_uid;
	x->unwinder = (int)c->unwinder;
	x->nregs = c->nregs < PMP_CRASH_REGS ? c->nregs : PMP_CRASH_REGS;
	memcpy(x->regs, c->regs, x->nregs * sizeof x->regs[0]);
	unsigned nmodules = c->nmodules < PMP_CRASH_MODULES ? c->nmodules : PMP_CRASH_MODULES;
	for (unsigned i = 0; i < nmodules; i++) {
		pmp_crash_module_ext_t *m = &x->modules[i];
		m->start = c->modx[i].start;
		m->end = c->modx[i].end;
		m->build_id_len = c->modx[i].build_id_len <= PMP_BUILD_ID_MAX ? c->modx[i].build_id_len : 0;
		memcpy(m->build_id, c->modx[i].build_id, m->build_id_len);
	}
	x->roots_err = c->annex_err ? c->annex_err : c->annex_off ? 0 : ENODATA;
	return 0;
}

static int annex_read(struct pmp_heap *h, void *buf, uint64_t len, uint64_t off)
{
	size_t got = 0;
	int e = h->ops->annex_read(h, buf, (size_t)len, off, &got);
	return e ? e : got == len ? 0 : PMP_ECORRUPT;
}

int pmp_crash_roots(pmp_heap_t *h, pmp_crash_root_cb cb, void *user)
{
	if (!h || !cb)
		return EINVAL;
	const struct pmp_crash *c = area(h);
	if (c->magic != PMP_CRASH_MAGIC)
		return ENOENT;
	if (!has_ext(c))
		return ENODATA;
	pmp_crash_root_t r;
	memset(&r, 0, sizeof r);
	uint64_t regs[PMP_CRASH_REGS];
	unsigned nregs = c->nregs < PMP_CRASH_REGS ? c->nregs : PMP_CRASH_REGS;
	memcpy(regs, c->regs, nregs * sizeof regs[0]);
	int rc;
	if (nregs) {
		r.kind = PMP_CRASH_ROOT_REGISTERS;
		r.crashing = 1;
		r.len = r.full_len = nregs * sizeof regs[0];
		r.data = regs;
		r.tid = c->tid;
		r.module = -1;
		if ((rc = cb(&r, user)) != 0)
			return rc;
	}
	if (c->annex_err)
		return c->annex_err;
	uint64_t off = c->annex_off, total = c->annex_len;
	if (!off)
		return ENODATA;
	if (!h->ops->annex_read)
		return ENODATA;
	struct pmp_annex a;
	const uint64_t table = sizeof a + PMP_ANNEX_SECTIONS * sizeof(struct pmp_annex_sect);
	if (total < table || total > table + PMP_ANNEX_LIMIT + 16 * PMP_ANNEX_SECTIONS || annex_read(h, &a, sizeof a, off))
		return PMP_ECORRUPT;
	if (a.magic != PMP_ANNEX_MAGIC || a.time_ns != c->time_ns || a.nsect > PMP_ANNEX_SECTIONS)
		return PMP_ECORRUPT;
	/* the table and the largest section fit in a few MiB: pages of their own, not the malloc family (the caller
	 * may be the process heap's own program) */
	void *mem;
	size_t cap = (size_t)(PMP_ANNEX_SEGMENT > PMP_ANNEX_STACK_CRASHING ? PMP_ANNEX_SEGMENT : PMP_ANNEX_STACK_CRASHING);
	size_t tbytes = a.nsect * sizeof(struct pmp_annex_sect);
	if (_pmp_os_pages_alloc(cap + tbytes, &mem))
		return ENOMEM;
	struct pmp_annex_sect *st = (struct pmp_annex_sect *)((char *)mem + cap);
	rc = annex_read(h, st, tbytes, off + sizeof a);
	for (uint32_t i = 0; !rc && i < a.nsect; i++) {
		const struct pmp_annex_sect *s = &st[i];
		if (s->kind != PMP_ANNEX_STACK && s->kind != PMP_ANNEX_DATA) {
			rc = PMP_ECORRUPT;
			break;
		}
		if (s->len > cap || s->off < table || s->off > total || s->len > total - s->off || s->full_len < s->len ||
		    s->addr + s->len < s->addr) {
			rc = PMP_ECORRUPT;
			break;
		}
		if ((rc = annex_read(h, mem, s->len, off + s->off)) != 0)
			break;
		r.kind = (int)s->kind + 1;
		r.crashing = (s->flags & PMP_ANNEX_CRASHING) != 0;
		r.addr = s->addr;
		r.len = (size_t)s->len;
		r.full_len = s->full_len;
		r.data = mem;
		r.tid = s->kind == PMP_ANNEX_STACK ? s->tid : 0;
		r.module = s->kind == PMP_ANNEX_DATA && s->module >= 0 && (uint32_t)s->module < c->nmodules ? s->module : -1;
		rc = cb(&r, user);
	}
	_pmp_os_pages_free(mem, cap + tbytes);
	return rc;
}
