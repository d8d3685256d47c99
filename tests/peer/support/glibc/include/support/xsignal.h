/* support/xsignal.h (peer shim): signal(2) wrapper of glibc's test support library (exits 1 on failure).
 * Must never: return after a failed call.
 */
#ifndef PEER_SUPPORT_XSIGNAL_H
#define PEER_SUPPORT_XSIGNAL_H

#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

sighandler_t xsignal(int sig, sighandler_t handler);

#ifdef __cplusplus
}
#endif
#endif
