/* support/xthread.h (peer shim): pthread wrappers of glibc's test support library; each exits 1 with a message
 * when the call fails.
 * Must never: return after a failed call.
 */
#ifndef PEER_SUPPORT_XTHREAD_H
#define PEER_SUPPORT_XTHREAD_H

#include <pthread.h>
#include <signal.h>
#include <support/check.h>

#ifdef __cplusplus
extern "C" {
#endif

pthread_t xpthread_create(pthread_attr_t *attr, void *(*fn)(void *), void *arg);
void *xpthread_join(pthread_t thr);
void xpthread_barrier_init(pthread_barrier_t *barrier, pthread_barrierattr_t *attr, unsigned count);
int xpthread_barrier_wait(pthread_barrier_t *barrier); /* 0 or PTHREAD_BARRIER_SERIAL_THREAD */
void xpthread_barrier_destroy(pthread_barrier_t *barrier);
void xpthread_barrierattr_init(pthread_barrierattr_t *attr);
void xpthread_barrierattr_setpshared(pthread_barrierattr_t *attr, int pshared);
void xpthread_barrierattr_destroy(pthread_barrierattr_t *attr);
void xpthread_kill(pthread_t thr, int sig);
void xpthread_mutex_lock(pthread_mutex_t *m);
void xpthread_mutex_unlock(pthread_mutex_t *m);

#ifdef __cplusplus
}
#endif
#endif
