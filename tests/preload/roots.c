/* roots.c: named roots across runs under the preload (PMEMPRELOAD_MODE=open).
 * Usage: roots set TEXT | roots get. set: stores TEXT in a heap block under root "greeting" and a list of 1000
 * numbers under "list"; get: prints them back. Under the preload pmp_default() is the process heap; without it the
 * program says "no heap" and exits 2. set also asks for a reset and a pool of the process heap, which the preload
 * refuses (EBUSY: the program's own pointers live in it, and the shim routes by its one range).
 * Must never: print anything that does not come from the heap in `get`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmempreload.h"

struct list {
	long n;
	long v[];
};

int main(int argc, char **argv)
{
	pmp_heap_t *h = pmp_default();
	if (!h) {
		printf("no heap\n");
		return 2;
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
