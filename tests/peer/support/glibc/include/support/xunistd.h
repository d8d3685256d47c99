/* support/xunistd.h (peer shim): system call wrappers of glibc's test support library; each exits 1 with a
 * message when the call fails.
 * Must never: return after a failed call.
 */
#ifndef PEER_SUPPORT_XUNISTD_H
#define PEER_SUPPORT_XUNISTD_H

#include <sys/types.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

pid_t xfork(void);
long xsysconf(int name);
int xopen(const char *path, int flags, mode_t mode);
void *xmmap(void *addr, size_t length, int prot, int flags, int fd);

#ifdef __cplusplus
}
#endif
#endif
