/* peer-glibc.h (peer shim): what the shim's support.c and driver.c share, and no test sees.
 * Must never: be included by a test source (the tests only see include/).
 */
#ifndef PEER_GLIBC_H
#define PEER_GLIBC_H

/* map the shared failure counter: fd >= 0 a descriptor from the driver, -1 a fresh anonymous page */
void _peer_failures_attach(int fd);
unsigned _peer_failures(void);

#endif
