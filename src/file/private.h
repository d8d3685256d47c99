/* private.h: the private layer: a heap on private anonymous memory, what a forked child's copy of the process heap
 * becomes (PMEMPRELOAD_FORK=snapshot).
 * Must never: be given a heap whose memory another process can still see.
 */
#ifndef PMP_PRIVATE_H
#define PMP_PRIVATE_H

#include "../core/heap.h"

/* Make h a private heap: the layer that provided it lets go of what it owns (disown), the snapshot [snap,
 * snap+len) of the heap's first len bytes (page-aligned, from _pmp_os_pages_alloc) moves over the heap range and
 * the rest of the reservation becomes private anonymous memory; then the private layer's hooks replace the old
 * layer's, all of them at once. 0 or an errno value (the heap must then not be used: part of it may be replaced). */
PMP_HIDDEN int _pmp_private_adopt(struct pmp_heap *h, void *snap, size_t len);

#endif
