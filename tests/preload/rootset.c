/* rootset.c: a program whose blocks are held in each way a crash-time root set can see, so the test can check that
 * `pmempreload leaks` sorts every one of them into its class.
 * Usage: rootset segv|thread|kill|doublefree|fill DIR
 *   segv        makes the blocks, then dies of SIGSEGV with one block's only pointer in a register (r12)
 *   thread      the same, and a second thread holds one more block on its own stack while main crashes (it prints
 *               "thread=ADDR"; glibc's own blocks for the thread, its DTV, are held by that stack too)
 *   kill        the same, then SIGKILL (no crash record: only the named root is known)
 *   fill DIR    the same as segv, after filling the file system of DIR (the root set cannot be saved)
 *   doublefree  frees a block twice (the heap aborts)
 *   reopen FILE (not under the preload) opens the heap file FILE for writing, grows it by 8 MiB and closes it
 * Before dying it prints what it made: "root=1 global=G stack=S register=1 reachable=C leaked=L" and the address
 * of each kind's first block, with write(2): nothing of stdio's buffers lands in the heap.
 * Must never: leave a pointer to a block of another class where the root set would see it (the stale copies
 * below the stack pointer and in scratch registers are wiped before the crash), or exit normally.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pmempreload.h"

#define GLOBALS 5
#define STACKS 4
#define LEAKED 3

void *global_table[GLOBALS]; /* .bss: each block here anchors one child, reachable through it */

static void say(const char *s)
{
	if (write(1, s, strlen(s)) < 0)
		_exit(3);
}

/* blocks whose last pointer dies with this frame: leaked */
__attribute__((noinline)) static void *make_leaks(void)
{
	void *first = NULL;
	for (int i = 0; i < LEAKED; i++) {
		char *p = malloc(600);
		memset(p, 'L', 600);
		if (!first)
			first = p;
	}
	/* the caller gets the first leaked block's address as a number it cannot follow (bits flipped) */
	return (void *)((uintptr_t)first ^ 0x5a5a000000000000ull);
}

static pthread_barrier_t started;
static void say(const char *s);

/* a thread whose block is held by its own stack alone; it waits there while main crashes */
static void *holder(void *arg)
{
	(void)arg;
	void *volatile mine[2] = {memset(malloc(200), 'T', 200), NULL};
	char line[64];
	snprintf(line, sizeof line, "thread=%p\n", mine[0]);
	say(line);
	pthread_barrier_wait(&started);
	for (;;)
		pause();
	return mine[0];
}

__attribute__((noinline)) static void fill_disk(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/filler", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	static char chunk[1 << 16];
	memset(chunk, 'f', sizeof chunk);
	while (fd >= 0 && write(fd, chunk, sizeof chunk) > 0)
		;
	while (fd >= 0 && write(fd, chunk, 1) > 0) /* the last partial page too */
		;
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "segv";
	if (!strcmp(how, "reopen") && argc > 2) {
		pmp_file_opts_t o;
		memset(&o, 0, sizeof o);
		o.mode = PMP_OPEN_EXISTING;
		pmp_heap_t *h;
		int e = pmp_file_open(argv[2], &o, &h);
		if (e) {
			fprintf(stderr, "rootset: %s: %s\n", argv[2], pmp_strerror(e));
			return 2;
		}
		void *big = pmp_malloc(h, 8u << 20);
		if (!big)
			return 2;
		memset(big, 'G', 8u << 20);
		pmp_free(h, big);
		return pmp_close(h) ? 2 : 0;
	}
	if (!strcmp(how, "doublefree")) {
		char *p = malloc(100);
		free(p);
		free(p);
		return 0;
	}
	void *volatile stack_table[STACKS];
	char line[512];
	pmp_heap_t *h = pmp_default();
	void *named = malloc(64);
	if (h)
		pmp_root_set(h, "named", named);
	for (int i = 0; i < GLOBALS; i++) {
		void **g = malloc(100);
		g[0] = malloc(400); /* reachable from a global-anchored block */
		memset(g[0], 'C', 400);
		global_table[i] = g;
	}
	for (int i = 0; i < STACKS; i++)
		stack_table[i] = memset(malloc(200), 'S', 200);
	int threads = !strcmp(how, "thread");
	if (threads) {
		pthread_t t;
		pthread_barrier_init(&started, NULL, 2);
		pthread_create(&t, NULL, holder, NULL);
		pthread_barrier_wait(&started);
	}
	uintptr_t leak = (uintptr_t)make_leaks() ^ 0x5a5a000000000000ull;
	void *in_register = memset(malloc(300), 'R', 300);
	snprintf(line, sizeof line, "root=1 global=%d stack=%d register=1 reachable=%d leaked=%d\n", GLOBALS, STACKS,
		 GLOBALS, LEAKED);
	say(line);
	snprintf(line, sizeof line, "at named=%p global=%p stack=%p register=%p reachable=%p leaked=%p\n", named,
		 global_table[0], stack_table[0], in_register, ((void **)global_table[0])[0], (void *)leak);
	say(line);
	leak = 0;
	if (!strcmp(how, "fill") && argc > 2)
		fill_disk(argv[2]);
	if (!strcmp(how, "kill"))
		kill(getpid(), SIGKILL);
#if defined(__x86_64__)
	/* the block's only pointer goes to r12; every scratch register and 4 KiB below the stack pointer (where the
	 * calls above left copies of pointers) are wiped; then a store through NULL */
	__asm__ volatile("mov %0, %%r12\n\t"
			 "lea -4096(%%rsp), %%rdi\n\t"
			 "xor %%eax, %%eax\n\t"
			 "mov $512, %%ecx\n\t"
			 "rep stosq\n\t"
			 "xor %%ecx, %%ecx\n\t"
			 "xor %%edx, %%edx\n\t"
			 "xor %%esi, %%esi\n\t"
			 "xor %%edi, %%edi\n\t"
			 "xor %%r8d, %%r8d\n\t"
			 "xor %%r9d, %%r9d\n\t"
			 "xor %%r10d, %%r10d\n\t"
			 "xor %%r11d, %%r11d\n\t"
			 "xor %%ebx, %%ebx\n\t"
			 "xor %%r13d, %%r13d\n\t"
			 "xor %%r14d, %%r14d\n\t"
			 "xor %%r15d, %%r15d\n\t"
			 "movl $1, (%%rax)\n\t"
			 :
			 : "r"(in_register), "m"(stack_table)
			 : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
			   "memory");
#else
	*(volatile int *)(uintptr_t)(argc - argc) = (int)(uintptr_t)in_register;
#endif
	return 0;
}
