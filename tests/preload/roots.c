/* roots.c: named roots across runs under the preload (PMEMPRELOAD_MODE=open).
 * Usage: roots set TEXT | roots get | roots threads N. set: stores TEXT in a heap block under root "greeting" and a
 * list of 1000 numbers under "list"; get: prints them back; threads: N threads one after the other make their
 * first allocator call through the API (pmp_malloc and pmp_free on the process heap), then it prints "threads: ok".
 * Under the preload pmp_default() is the process heap; without it the program says "no heap" and exits 2. set
 * also asks for a reset and a pool of the process heap, which the preload refuses (EBUSY: the program's own
 * pointers live in it, and the shim routes by its one range).
 * Must never: print anything that does not come from the heap in `get`.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmempreload.h"

struct list {
	long n;
	long v[];
};

static void *api_first(void *arg)
{
	void *p = pmp_malloc(arg, 64);
	pmp_free(arg, p);
	return p;
}

int main(int argc, char **argv)
{
	pmp_heap_t *h = pmp_default();
	if (!h) {
		printf("no heap\n");
		return 2;
	}
	if (argc >= 3 && strcmp(argv[1], "threads") == 0) {
		for (int i = 0, n = atoi(argv[2]); i < n; i++) {
			pthread_t t;
			void *p;
			if (pthread_create(&t, NULL, api_first, h) || pthread_join(t, &p) || !p)
				return 1;
		}
		printf("threads: ok\n");
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "set") == 0) {
		char *s = strdup(argv[2]); /* plain malloc: lands in the heap */
		struct list *l = malloc(sizeof *l + 1000 * sizeof(long));
		l->n = 1000;
		for (long i = 0; i < 1000; i++)
			l->v[i] = i * i;
		int e = pmp_root_set(h, "greeting", s);
		if (!e)
			e = pmp_root_set(h, "list", l);
		printf("set: %s\n", e ? pmp_strerror(e) : "ok");
		static _Alignas(4096) char pool[PMP_HEAP_MIN];
		int er = pmp_heap_reset(h), ep = pmp_heap_add_pool(h, pool, sizeof pool, 0);
		printf("process heap: reset %s, add_pool %s\n", er == EBUSY ? "busy" : pmp_strerror(er),
		       ep == EBUSY ? "busy" : pmp_strerror(ep));
		return e || er != EBUSY || ep != EBUSY ? 1 : 0;
	}
	const char *s = pmp_root_get(h, "greeting");
	const struct list *l = pmp_root_get(h, "list");
	if (!s || !l) {
		printf("get: roots missing\n");
		return 1;
	}
	long sum = 0;
	for (long i = 0; i < l->n; i++)
		sum += l->v[i];
	printf("get: greeting=%s list.n=%ld sum=%ld\n", s, l->n, sum);
	return 0;
}
