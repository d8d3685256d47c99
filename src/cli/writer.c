/* writer.c: whether the last writer of a heap is still running: its pid, its start time (clock ticks after boot)
 * and the boot id recorded in the superblock, compared with /proc of this machine.
 *
 * Must never: call a writer alive on the pid alone (pids are reused: the start time and the boot must agree too), or
 * signal, trace or otherwise touch the process it asks about.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* field 22 of /proc/PID/stat: 0 and *start, or the errno of opening it */
static int start_ticks(uint64_t pid, uint64_t *start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%" PRIu64 "/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return errno;
	size_t got = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[got] = 0;
	/* the command name may hold spaces and parentheses: fields count from the last ')' */
	char *p = strrchr(buf, ')');
	if (!p)
		return EIO;
	int field = 2;
	for (p++; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	char *end;
	*start = strtoull(p, &end, 10);
	return end == p ? EIO : 0;
}

static void boot_id(char *buf, size_t len)
{
	buf[0] = 0;
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n ")] = 0;
}

int cli_writer_alive(const pmp_info_t *i, char *why, size_t len)
{
	char boot[64];
	uint64_t start;
	if (!i->writer_pid) {
		snprintf(why, len, "no writer pid recorded");
		return -1;
	}
	boot_id(boot, sizeof boot);
	if (boot[0] && i->writer_boot_id[0] && strcmp(boot, i->writer_boot_id)) {
		snprintf(why, len, "pid %" PRIu64 " ran before this machine's last boot (boot id differs)", i->writer_pid);
		return 0;
	}
	int e = start_ticks(i->writer_pid, &start);
	if (e == ENOENT) {
		snprintf(why, len, "pid %" PRIu64 " is not running", i->writer_pid);
		return 0;
	}
	if (e) {
		snprintf(why, len, "pid %" PRIu64 ": cannot read its start time (%s)", i->writer_pid, strerror(e));
		return -1;
	}
	if (start != i->writer_start) {
		snprintf(why, len, "pid %" PRIu64 " now belongs to another process (started at tick %" PRIu64 ", not %" PRIu64 ")",
			 i->writer_pid, start, i->writer_start);
		return 0;
	}
	if (!boot[0] || !i->writer_boot_id[0]) {
		snprintf(why, len, "pid %" PRIu64 " runs with the recorded start time (boot id unknown)", i->writer_pid);
		return 1;
	}
	snprintf(why, len, "pid %" PRIu64 " is still running (same start time, same boot)", i->writer_pid);
	return 1;
}
