/* malloc-size.h (peer shim): the alignment that glibc's tst-mallocalign1 expects of every malloc result.
 * glibc's own header derives it from its chunk layout; what an allocator owes a program is the fundamental
 * alignment of C (alignof (max_align_t)), which is the same 16 bytes on x86-64.
 * Must never: be weaker than alignof (max_align_t).
 */
#ifndef PEER_MALLOC_SIZE_H
#define PEER_MALLOC_SIZE_H

#include <stddef.h>

#define MALLOC_ALIGNMENT _Alignof(max_align_t)
#define MALLOC_ALIGN_MASK (MALLOC_ALIGNMENT - 1)

#endif
