/* probe.c (peer suite): linked into every peer test program; proves that the program's malloc lands in the
 * preload's heap, so that a peer test can never pass on another allocator (plain glibc, or the preload gone
 * inert and serving everything from its jemalloc fallback).
 *
 * When $PEER_PROBE names a file, a constructor (which runs after the preload's own constructor: preloaded
 * libraries are initialised first) mallocs one block, asks the preload whether the process heap owns it, and
 * appends one line to the file: "heap", "fallback" (the preload is active but this block is not in its heap) or
 * "no-preload". The runner (run.sh) requires "heap" from every process image of the test.
 * Must never: use stdio or keep the block (the test starts on the heap it would have had), or write anything when
 * $PEER_PROBE is unset.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct pmp_heap pmp_heap_t;

__attribute__((constructor)) static void peer_probe(void)
{
	const char *path = getenv("PEER_PROBE");
	if (!path || !*path)
		return;
	const char *verdict = "no-preload\n";
	pmp_heap_t *(*heap_of_process)(void);
	int (*owns)(const pmp_heap_t *, const void *);
	/* dlsym gives an object pointer; ISO C has no cast to a function pointer, a copy of the bits is POSIX's way */
	void *sym = dlsym(RTLD_DEFAULT, "pmp_default");
	memcpy(&heap_of_process, &sym, sizeof sym);
	sym = dlsym(RTLD_DEFAULT, "pmp_owns");
	memcpy(&owns, &sym, sizeof sym);
	if (heap_of_process && owns) {
		void *p = malloc(64);
		pmp_heap_t *h = heap_of_process();
		verdict = h && p && owns(h, p) ? "heap\n" : "fallback\n";
		free(p);
	}
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	ssize_t w = write(fd, verdict, strlen(verdict));
	(void)w;
	close(fd);
}
