/* libc-diag.h (peer shim): glibc's internal macros for pushing, ignoring and popping compiler diagnostics,
 * which glibc's tests use around deliberately bad calls (malloc (-1) and the like).
 * Must never: change code generation; these only silence warnings.
 */
#ifndef PEER_LIBC_DIAG_H
#define PEER_LIBC_DIAG_H

#include <features.h>

#define PEER_DIAG_PRAGMA(x) _Pragma(#x)
#define DIAG_PUSH_NEEDS_COMMENT _Pragma("GCC diagnostic push")
#define DIAG_POP_NEEDS_COMMENT _Pragma("GCC diagnostic pop")
/* glibc passes the compiler version that introduced the warning; any gcc we build with is newer */
#define DIAG_IGNORE_NEEDS_COMMENT(version, option) PEER_DIAG_PRAGMA(GCC diagnostic ignored option)
#define DIAG_IGNORE_Os_NEEDS_COMMENT(version, option) PEER_DIAG_PRAGMA(GCC diagnostic ignored option)
#define DIAG_PUSH_NEEDS_COMMENT_CLANG _Pragma("clang diagnostic push")
#define DIAG_POP_NEEDS_COMMENT_CLANG _Pragma("clang diagnostic pop")
#define DIAG_IGNORE_NEEDS_COMMENT_CLANG(version, option) PEER_DIAG_PRAGMA(clang diagnostic ignored option)

#endif
