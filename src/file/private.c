/* private.c: the private layer (see private.h): a heap on private anonymous memory, grown inside its reservation,
 * with nothing to persist and no disk to give back.
 *
 * Holds: the layer's hook table and the hand-over from another layer (a forked child's snapshot of the process
 * heap).
 * Must never: keep a hook or a descriptor of the layer it replaces, or write outside the heap's reservation.
 */
#include <errno.h>

#include "private.h"
#include "../os/os.h"

/* private anonymous memory is mapped as the heap grows, as the file layer maps its file */
static int private_grow(struct pmp_heap *h, uint64_t want, uint64_t *got)
{
	uint64_t t = (want + PMP_PAGE - 1) & ~(uint64_t)(PMP_PAGE - 1);
	if (t > h->reserved)
		return ENOMEM;
	if (t > h->map_len) {
		void *at;
		if (_pmp_os_map(h->base + h->map_len, (size_t)(t - h->map_len), -1, 0, 0, 1, &at))
			return ENOMEM;
		h->map_len = t;
	}
	*got = t > h->end ? t : h->end;
	return 0;
}

static int private_release(struct pmp_heap *h)
{
	int e = _pmp_os_unmap(h->base, h->map_len);
	_pmp_heap_handle_free(h);
	return e;
}

static const struct pmp_heap_ops private_ops = {
	.name = "private",
	.grow = private_grow,
	.release = private_release,
};

int _pmp_private_place(uint8_t *base, void *snap, size_t len)
{
	return _pmp_os_remap_fixed(snap, len, base);
}

void _pmp_private_adopt(struct pmp_heap *h, size_t len)
{
	if (h->ops->disown)
		h->ops->disown(h);
	h->ops = &private_ops;
	h->layer = NULL;
	h->map_len = len;
}
