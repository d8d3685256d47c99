/* shm-handoff.c: a heap on a POSIX shared memory object, handed from a producer process to a consumer process.
 *
 *   shm-handoff produce NAME N   create the object NAME, make a heap in it, queue N messages under the root
 *                                "queue", and detach
 *   shm-handoff consume NAME     attach the heap, print and free every message, check the heap, remove NAME
 *
 * Both processes map the object at the same fixed address: the heap holds plain pointers, and pmp_heap_attach
 * refuses any other address. One process uses the heap at a time, because a handle's lock belongs to its own
 * process: the producer detaches (pmp_close) before the consumer attaches.
 * Must never: attach while another process still has the heap attached.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MAP_FIXED_NOREPLACE */
#endif
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pmempreload.h>

#define HEAP_ADDR ((void *)0x610000000000ull)
#define HEAP_SIZE ((size_t)1 << 20)

struct msg {
	struct msg *next;
	char text[];
};
struct queue {
	struct msg *head, *tail;
	unsigned count;
};

static void *map_object(const char *name, int create)
{
	int fd = shm_open(name, O_RDWR | (create ? O_CREAT | O_EXCL : 0), 0600);
	if (fd < 0) {
		perror(name);
		return NULL;
	}
	if (create && ftruncate(fd, HEAP_SIZE)) {
		perror("ftruncate");
		close(fd);
		return NULL;
	}
	void *mem = mmap(HEAP_ADDR, HEAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	close(fd); /* the mapping keeps the object */
	if (mem != HEAP_ADDR) {
		fprintf(stderr, "cannot map %s at %p\n", name, HEAP_ADDR);
		return NULL;
	}
	return mem;
}

static int produce(const char *name, int n)
{
	void *mem = map_object(name, 1);
	pmp_heap_t *h;
	int e;
	if (!mem)
		return 1;
	if ((e = pmp_heap_create(mem, HEAP_SIZE, 0, &h))) {
		fprintf(stderr, "pmp_heap_create: %s\n", pmp_strerror(e));
		return 1;
	}
	struct queue *q = pmp_calloc(h, 1, sizeof *q);
	for (int i = 0; q && i < n; i++) {
		char text[64];
		int len = snprintf(text, sizeof text, "message %d", i);
		struct msg *m = pmp_malloc(h, sizeof *m + (size_t)len + 1);
		if (!m)
			break;
		memcpy(m->text, text, (size_t)len + 1);
		m->next = NULL;
		if (q->tail)
			q->tail->next = m;
		else
			q->head = m;
		q->tail = m;
		q->count++;
	}
	if (!q || (e = pmp_root_set(h, "queue", q))) {
		fprintf(stderr, "cannot queue: %s\n", q ? pmp_strerror(e) : "heap full");
		return 1;
	}
	printf("produced %u messages\n", q->count);
	pmp_close(h); /* detach: the heap is marked clean and stays in the object */
	munmap(mem, HEAP_SIZE);
	return 0;
}

static int consume(const char *name)
{
	void *mem = map_object(name, 0);
	pmp_heap_t *h;
	int e;
	if (!mem)
		return 1;
	if ((e = pmp_heap_attach(mem, &h))) {
		fprintf(stderr, "pmp_heap_attach: %s\n", pmp_strerror(e));
		return 1;
	}
	struct queue *q = pmp_root_get(h, "queue");
	unsigned got = 0;
	for (struct msg *m = q ? q->head : NULL, *next; m; m = next) {
		next = m->next;
		printf("%s\n", m->text);
		pmp_free(h, m);
		got++;
	}
	pmp_root_set(h, "queue", NULL);
	pmp_free(h, q);
	pmp_report_t r;
	e = pmp_check(h, &r);
	printf("consumed %u messages; heap %s, %llu used blocks left\n", got, e ? r.msg : "consistent",
	       (unsigned long long)r.used_blocks);
	pmp_close(h);
	munmap(mem, HEAP_SIZE);
	shm_unlink(name);
	return e != 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "produce"))
		return produce(argv[2], atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "consume"))
		return consume(argv[2]);
	fprintf(stderr, "usage: %s produce NAME N | consume NAME\n", argv[0]);
	return 2;
}
