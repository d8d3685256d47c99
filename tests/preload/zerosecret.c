/* zerosecret.c: the preload suite's PMEMPRELOAD_ZERO helper: fill heap blocks with a secret, free them, leave.
 *
 * Usage: zerosecret   (run under LD_PRELOAD=libpmempreload.so; plain malloc/free, no link to the heap library)
 * Fills blocks of many sizes (small, medium, > 1 MiB, a realloc shrink, a realloc that moves) with repeated
 * "SECRET-<n>-" tokens, frees every one, then allocates one live block holding "LIVE-MARKER-<n>" tokens (so the
 * test can tell the file really holds this run's heap) and ends with the exit_group system call: no destructor and
 * no _exit wrapper, as if killed, so the file is the heap exactly as it was, neither sealed nor deleted.
 * Must never: print or otherwise copy a secret into memory that stays allocated (a stdio buffer is heap memory),
 * or free the live block.
 */
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#define NBLOCKS 64

/* fill [p, p+n) with "SECRET-<id>-" repeated; the token is built in a stack buffer, not on the heap */
static void fill(char *p, size_t n, const char *word, unsigned id)
{
	char tok[48];
	int t = snprintf(tok, sizeof tok, "%s-%u-", word, id);
	for (size_t i = 0; i < n; i++)
		p[i] = tok[i % (size_t)t];
}

int main(void)
{
	char *b[NBLOCKS];
	size_t sizes[NBLOCKS];
	for (unsigned i = 0; i < NBLOCKS; i++) {
		/* 24 B .. ~200 KiB, plus a few blocks over the 1 MiB punch threshold */
		sizes[i] = i % 16 == 15 ? ((size_t)3 << 20) + i : (size_t)24 << (i % 14);
		b[i] = malloc(sizes[i]);
		if (!b[i])
			return 2;
		fill(b[i], sizes[i], "SECRET", i);
	}
	/* realloc that shrinks in place: the cut-off tail held secrets */
	char *s = malloc(8192);
	if (!s)
		return 2;
	fill(s, 8192, "SECRET", 1000);
	char *s2 = realloc(s, 64);
	if (!s2)
		return 2;
	fill(s2, 64, "SECRET", 1001);
	/* realloc that must move (a neighbour blocks growth): the old copy is freed */
	char *m = malloc(300);
	char *wall = malloc(32);
	if (!m || !wall)
		return 2;
	fill(m, 300, "SECRET", 1002);
	char *m2 = realloc(m, 200000);
	if (!m2)
		return 2;
	fill(m2, 200000, "SECRET", 1003);
	/* calloc'd then written */
	char *c = calloc(100, 50);
	if (!c)
		return 2;
	fill(c, 5000, "SECRET", 1004);

	for (unsigned i = 0; i < NBLOCKS; i++)
		free(b[i]);
	free(s2);
	free(m2);
	free(wall);
	free(c);

	/* something unrelated that stays: it may reuse freed blocks, which is fine */
	size_t ln = 4096;
	char *live = malloc(ln);
	if (!live)
		return 2;
	fill(live, ln, "LIVE-MARKER", 7);
	syscall(SYS_exit_group, 0);
	return 0;
}
