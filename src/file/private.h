/* private.h: the private layer: a heap on private anonymous memory, what a forked child's copy of the process heap
 * becomes (PMEMPRELOAD_FORK=snapshot).
 * Must never: be given a heap whose memory another process can still see.
 */
#ifndef PMP_PRIVATE_H
#define PMP_PRIVATE_H

#include "../core/heap.h"

/* Put the snapshot [snap, snap+len) of a heap's first len bytes (page-aligned, from _pmp_os_pages_alloc) at base,
 * replacing whatever is mapped there (or nothing: a forked child may not have inherited the range). One system
 * call, async-signal-safe: a forked child may do it from a fault handler. 0 or an errno value. */
PMP_HIDDEN int _pmp_private_place(uint8_t *base, void *snap, size_t len);
/* Make h, whose first len bytes _pmp_private_place replaced (nothing else of it is mapped), a private heap: the
 * layer that provided it lets go of what it owns (disown), then the private layer's hooks replace the old layer's,
 * all of them at once. */
PMP_HIDDEN void _pmp_private_adopt(struct pmp_heap *h, size_t len);

#endif
