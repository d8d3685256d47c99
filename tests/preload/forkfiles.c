/* forkfiles.c: a fork child's own files must be its own (issue 7, item 1): the parent allocates and touches a large
 * block and forks; the child opens and writes a file, frees the large block (which gives heap pages back to the file
 * system), writes again and exits; the parent then compares the file with what the child wrote.
 *
 * Usage: forkfiles DIR   Prints "changed=N" (bytes of the child's file that differ from what it wrote) and exits 0
 * when N is 0, 1 otherwise.
 * Must never: compare against anything but the bytes the child itself wrote.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIG (8u << 20)
#define FILE_LEN (10u << 20)

static unsigned char pattern(size_t i) { return (unsigned char)(i * 131 + (i >> 12) + 1); }

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	char path[4096];
	snprintf(path, sizeof path, "%s/child.data", argv[1]);
	unsigned char *big = malloc(BIG);
	if (!big)
		return 2;
	memset(big, 0x5a, BIG);
	pid_t pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		unsigned char *buf = malloc(FILE_LEN);
		for (size_t i = 0; i < FILE_LEN; i++)
			buf[i] = pattern(i);
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, buf, FILE_LEN) != (ssize_t)FILE_LEN || fsync(fd) != 0)
			_exit(3);
		free(big); /* a large free: its pages are given back (or not) in the child's heap, never in this file */
		free(buf);
		void *again = malloc(BIG); /* and taken again */
		memset(again, 1, BIG);
		free(again);
		if (fsync(fd) != 0 || close(fd) != 0)
			_exit(4);
		exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "forkfiles: child failed (status %d)\n", st);
		return 1;
	}
	FILE *f = fopen(path, "rb");
	if (!f)
		return 1;
	size_t changed = 0, n = 0;
	int c;
	while ((c = fgetc(f)) != EOF) {
		if ((unsigned char)c != pattern(n))
			changed++;
		n++;
	}
	fclose(f);
	if (n != FILE_LEN)
		changed += FILE_LEN > n ? FILE_LEN - n : n - FILE_LEN;
	for (size_t i = 0; i < BIG; i++) /* and the parent's block is untouched by the child */
		if (big[i] != 0x5a) {
			fprintf(stderr, "forkfiles: the child wrote into the parent's block\n");
			return 1;
		}
	printf("changed=%zu\n", changed);
	return changed != 0;
}
