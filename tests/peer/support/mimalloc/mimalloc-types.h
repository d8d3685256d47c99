/* mimalloc-types.h (peer shim): the one constant of mimalloc's internal types header that test-api.c uses.
 * MI_ALIGNMENT_MAX is mimalloc 2.0.9's value on 64-bit targets (half its 32 MiB segment); test-api asks for
 * alignments up to 16 times that, which any allocator must give (or fail with NULL, which the test rejects).
 * Must never: differ from the pinned mimalloc version's value.
 */
#ifndef PEER_MIMALLOC_TYPES_H
#define PEER_MIMALLOC_TYPES_H

#define MI_ALIGNMENT_MAX ((size_t)16 << 20)

#endif
