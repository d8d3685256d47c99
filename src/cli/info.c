/* info.c: the `info` verb: the superblock (where the heap belongs, its size, generation, clean or not, who wrote it
 * last and whether that process still runs) and whether a crash record is present.
 *
 * Must never: walk the block chain (info must work on a heap whose arena is damaged) or modify the file.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_info(int argc, char **argv)
{
	int json = 0;
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {NULL, NULL, NULL}};
	struct cli_heap ch;
	if (cli_open_args(argc, argv, opts, &ch))
		return CLI_ERR;
	const pmp_info_t *i = &ch.info;
	pmp_crash_info_t *ci = calloc(1, sizeof *ci);
	int crash = ci && pmp_crash_get(ch.h, ci) == 0;
	char created[40], opened[40], crashed[40];
	cli_time(i->created_ns, created, sizeof created);
	cli_time(i->opened_ns, opened, sizeof opened);
	cli_time(crash ? ci->time_ns : 0, crashed, sizeof crashed);
	int moved = ch.local != (const uint8_t *)i->base;
	char why[160];
	int alive = cli_writer_alive(i, why, sizeof why);
	if (json) {
		struct cli_json j;
		json_begin(&j, stdout, "info");
		json_str(&j, "file", ch.path);
		json_u64(&j, "format_version", i->format_version);
		json_addr(&j, "base", ch.base);
		json_u64(&j, "mapped", i->mapped);
		json_u64(&j, "reserved", i->reserved);
		json_u64(&j, "generation", i->generation);
		json_bool(&j, "clean", i->clean);
		json_bool(&j, "moved", moved);
		json_obj(&j, "writer");
		json_str(&j, "exe", i->writer_exe);
		json_u64(&j, "pid", i->writer_pid);
		json_u64(&j, "uid", i->writer_uid);
		json_str(&j, "boot_id", i->writer_boot_id);
		json_u64(&j, "start_ticks", i->writer_start);
		if (alive < 0)
			json_null(&j, "alive");
		else
			json_bool(&j, "alive", alive);
		json_str(&j, "alive_reason", why);
		json_obj_end(&j);
		json_u64(&j, "created_ns", i->created_ns);
		json_u64(&j, "opened_ns", i->opened_ns);
		json_obj(&j, "salvage");
		json_u64(&j, "count", i->salvage_count);
		json_u64(&j, "lost_bytes", i->salvage_lost);
		json_u64(&j, "dropped_roots", i->salvage_roots);
		json_obj_end(&j);
		json_bool(&j, "crash_record", crash);
		if (crash) {
			char sn[32];
			json_str(&j, "crash_signal", cli_signame(ci->signo, sn, sizeof sn));
			json_u64(&j, "crash_time_ns", ci->time_ns);
		}
		json_end(&j);
	} else {
		printf("file:        %s\n", ch.path);
		printf("format:      version %" PRIu32 "\n", i->format_version);
		printf("base:        0x%" PRIx64 "%s\n", ch.base, moved ? "  (address taken here: viewed elsewhere, addresses shown are the original ones)" : "");
		printf("mapped:      %" PRIu64 " bytes (0x%" PRIx64 "-0x%" PRIx64 ")\n", i->mapped, ch.base, ch.base + i->mapped);
		printf("reserved:    %" PRIu64 " bytes\n", i->reserved);
		printf("generation:  %" PRIu64 "\n", i->generation);
		printf("state:       %s\n", i->clean ? "clean (closed by its last writer)"
				   : alive > 0 ? "dirty: open for writing by a process that is still running"
				   : alive == 0 ? "dirty: its last writer ended without closing it (crashed or killed)"
				   : "dirty (its last writer did not close it: crashed, killed or still running)");
		fputs("writer:      ", stdout);
		cli_print_str(stdout, i->writer_exe[0] ? i->writer_exe : "-");
		putchar('\n');
		printf("  pid:       %" PRIu64 "\n", i->writer_pid);
		printf("  uid:       %" PRIu32 "\n", i->writer_uid);
		fputs("  boot id:   ", stdout);
		cli_print_str(stdout, i->writer_boot_id[0] ? i->writer_boot_id : "-");
		putchar('\n');
		printf("  start:     %" PRIu64 " ticks after boot\n", i->writer_start);
		printf("  running:   %s: %s\n", alive > 0 ? "yes" : alive == 0 ? "no" : "unknown", why);
		printf("created:     %s\n", created);
		printf("last opened: %s\n", opened);
		if (i->salvage_count)
			printf("salvaged:    %" PRIu32 " time(s): %" PRIu64 " bytes kept as lost blocks, %" PRIu32
			       " root(s) dropped (a power loss damaged the chain)\n",
			       i->salvage_count, i->salvage_lost, i->salvage_roots);
		if (crash)
			{
			char sn[32];
			printf("crash:       %s at %s (run 'pmempreload crash %s')\n", cli_signame(ci->signo, sn, sizeof sn),
			       crashed, ch.path);
		}
		else
			printf("crash:       no crash record\n");
	}
	free(ci);
	cli_close(&ch);
	return CLI_OK;
}
