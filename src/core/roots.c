/* roots.c: the named root table: set, get, list.
 *
 * An entry is live iff its offset is non-zero; the offset store is the single 8-byte store that commits a set, a
 * replace or a removal, so a stop leaves each root either old or new. A new name is written into an entry whose
 * offset is still zero, before that store.
 * Holds: the only code that writes the root table.
 * Must never: write the name of a live entry, or accept a pointer that is not the start of a live block.
 */
#include <errno.h>
#include <string.h>

#include "../os/os.h"
#include "block.h"

static int name_ok(const char *name, size_t *len)
{
	if (!name || !name[0])
		return EINVAL;
	size_t n = strnlen(name, PMP_ROOT_NAME_MAX + 1);
	if (n > PMP_ROOT_NAME_MAX)
		return ENAMETOOLONG;
	*len = n;
	return 0;
}

static struct pmp_root *find(struct pmp_heap *h, const char *name, size_t len)
{
	for (unsigned i = 0; i < PMP_ROOT_COUNT; i++) {
		struct pmp_root *e = &h->roots[i];
		if (e->off && memcmp(e->name, name, len) == 0 && e->name[len] == 0)
			return e;
	}
	return NULL;
}

int pmp_root_set(pmp_heap_t *h, const char *name, void *p)
{
	if (!h)
		return EINVAL;
	size_t len;
	int e = name_ok(name, &len);
	if (e)
		return e;
	if (h->readonly)
		return PMP_ERDONLY;
	_pmp_lock(h);
	if (h->sealed) {
		_pmp_unlock(h);
		return PMP_ERDONLY;
	}
	uint64_t off = 0;
	if (p) {
		const char *why;
		uint64_t size;
		if (!_pmp_user_block(h, p, &size, &why)) {
			_pmp_unlock(h);
			return EINVAL;
		}
		off = (uint64_t)((const uint8_t *)p - h->base);
	}
	struct pmp_root *r = find(h, name, len);
	if (!r && !p) {
		_pmp_unlock(h);
		return ENOENT;
	}
	if (!r) {
		for (unsigned i = 0; i < PMP_ROOT_COUNT && !r; i++)
			if (__atomic_load_n(&h->roots[i].off, __ATOMIC_RELAXED) == 0)
				r = &h->roots[i];
		if (!r) {
			_pmp_unlock(h);
			return PMP_EROOTFULL;
		}
		memset(r->name, 0, sizeof r->name);
		PMP_CRASHPOINT();
		memcpy(r->name, name, len);
	}
	PMP_CRASHPOINT();
	r->generation++;
	r->set_ns = _pmp_os_now_ns();
	PMP_CRASHPOINT();
	__atomic_store_n(&r->off, off, __ATOMIC_RELEASE);
	_pmp_unlock(h);
	return 0;
}

void *pmp_root_get(pmp_heap_t *h, const char *name)
{
	size_t len;
	if (!h || name_ok(name, &len)) {
		errno = EINVAL;
		return NULL;
	}
	_pmp_lock(h);
	struct pmp_root *r = find(h, name, len);
	uint64_t off = r ? r->off : 0;
	_pmp_unlock(h);
	if (!off || off >= h->end) {
		errno = ENOENT;
		return NULL;
	}
	return h->base + off;
}

int pmp_root_list(pmp_heap_t *h, pmp_root_cb cb, void *user)
{
	if (!h || !cb)
		return EINVAL;
	/* copy under the lock, call back without it: the callback may use the heap */
	struct { char name[64]; uint64_t off; } copy[PMP_ROOT_COUNT];
	unsigned n = 0;
	_pmp_lock(h);
	for (unsigned i = 0; i < PMP_ROOT_COUNT; i++) {
		const struct pmp_root *e = &h->roots[i];
		if (!e->off || !memchr(e->name, 0, sizeof e->name))
			continue;
		memcpy(copy[n].name, e->name, sizeof copy[n].name);
		copy[n].off = e->off;
		n++;
	}
	_pmp_unlock(h);
	for (unsigned i = 0; i < n; i++) {
		void *p = copy[i].off < h->end ? h->base + copy[i].off : NULL;
		int r = cb(copy[i].name, p, user);
		if (r)
			return r;
	}
	return 0;
}
