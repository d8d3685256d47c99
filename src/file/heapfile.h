/* heapfile.h: hidden accessors of the file layer for the shim (which must manage the descriptor across fork).
 * Must never: expose the descriptor through the public API.
 */
#ifndef PMP_HEAPFILE_H
#define PMP_HEAPFILE_H

#include "../core/heap.h"

/* the descriptor of a heap opened by pmp_file_open (it holds the owner lock), or -1 for other heaps */
PMP_HIDDEN int _pmp_file_fd(const struct pmp_heap *h);

#endif
