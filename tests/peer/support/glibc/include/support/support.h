/* support/support.h (peer shim): allocation and process helpers of glibc's test support library.
 *
 * Holds: the x* allocation wrappers (exit 1 on failure), shared memory for tests that fork, ignore_stderr,
 * write_message (async-signal-safe), support_record_failure.
 * Must never: hide an allocation failure (xmalloc exits with a message), or allocate in write_message.
 * Our own implementation of the documented interface.
 */
#ifndef PEER_SUPPORT_SUPPORT_H
#define PEER_SUPPORT_SUPPORT_H

#include <stddef.h>
#include <support/check.h>

#ifdef __cplusplus
extern "C" {
#endif

void *xmalloc(size_t n) __attribute__((malloc));
void *xcalloc(size_t nmemb, size_t size) __attribute__((malloc));
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s) __attribute__((malloc));

/* MAP_SHARED anonymous memory that survives fork (for barriers between a test and its children) */
void *support_shared_allocate(size_t size);
void support_shared_free(void *p);

/* stderr of the rest of the test goes to /dev/null (tests that expect a crash message) */
void ignore_stderr(void);
/* writes a string to standard output with write(2): usable in a signal handler */
void write_message(const char *message);

#ifdef __cplusplus
}
#endif
#endif
