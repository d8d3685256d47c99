/* track.h: call-site tracking shared by the allocation paths (alloc.c, the preload) and the layout code.
 *
 * Holds: the bytes a tracked heap keeps at the end of every block, and the hidden entry points of track.c.
 * Must never: be reached from the small-block fast path of an untracked heap (tracking clears h->fast_id, so every
 * operation of a tracked heap takes the slow paths, and an untracked heap pays nothing).
 */
#ifndef PMP_TRACK_H
#define PMP_TRACK_H

#include "theap.h"

/* bytes at the end of each block that the program does not see: PMP_TRAIL on a tracked heap, else 0 */
static inline uint64_t _pmp_trail(const struct pmp_heap *h) { return h->track ? PMP_TRAIL : 0; }

/* the chain block size of the site table */
PMP_HIDDEN uint64_t _pmp_sites_block_size(void);
/* at format, under the lock: the site table is made and the heap marked tracked (h->sb, published by the caller);
 * 0 or PMP_ETOOSMALL */
PMP_HIDDEN int _pmp_sites_format_locked(struct pmp_heap *h);
/* h->track, h->sites and h->sites_block from h->sb (format, load, any view) */
PMP_HIDDEN void _pmp_sites_load(struct pmp_heap *h);
/* the id of return address pc in the table (interned on first sight), 0 when unknown or the table is full */
PMP_HIDDEN uint32_t _pmp_site_id(struct pmp_heap *h, uint64_t pc);
/* append a module to the snapshot unless it is there: 0, ENOSPC (full) or EINVAL (no table) */
PMP_HIDDEN int _pmp_sites_add_module(struct pmp_heap *h, const pmp_module_t *m);
/* the next sequence number (one counter orders allocations and frees) */
PMP_HIDDEN uint64_t _pmp_seq_next(struct pmp_heap *h);
/* p was just handed out with `usable` bytes for the program: its trailer names site pc */
PMP_HIDDEN void _pmp_track_alloc(struct pmp_heap *h, void *p, uint64_t usable, uint64_t pc);
/* p (usable bytes for the program) is about to be freed at site id free_site (0: unknown) */
PMP_HIDDEN void _pmp_track_free(struct pmp_heap *h, void *p, uint64_t usable, uint32_t free_site);

#endif
