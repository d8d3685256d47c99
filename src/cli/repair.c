/* repair.c: the `repair` verb: rebuilds a damaged heap file the way a writable open salvages it (PMP_FILE_SALVAGE),
 * and says what that changes. By default a dry run: the salvage runs on a copy beside the file, which is then
 * deleted. With --yes the repaired copy replaces the file in one rename (a stop at any point leaves the old file or
 * the repaired one, never a half-repaired heap); --backup FILE keeps a copy of the original first.
 *
 * Must never: write to FILE itself (only rename a complete repaired copy over it), overwrite an existing backup,
 * replace a heap whose writer still runs, or call a heap repaired that fails pmp_check afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* a sparse copy of src at dst (created, never replaced): only the data extents are written */
static int copy_sparse(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1, e = 0;
	struct stat st;
	char *buf = malloc(1 << 20);
	if (in < 0 || fstat(in, &st) || !buf) {
		e = in < 0 ? errno : buf ? errno : ENOMEM;
		goto out;
	}
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		e = errno;
		goto out;
	}
	for (off_t pos = 0; pos < st.st_size;) {
		off_t d = lseek(in, pos, SEEK_DATA), z;
		if (d < 0) {
			if (errno != ENXIO)
				e = errno;
			break;
		}
		if ((z = lseek(in, d, SEEK_HOLE)) < 0) {
			e = errno;
			break;
		}
		for (off_t at = d; at < z;) {
			size_t want = (size_t)(z - at) < ((size_t)1 << 20) ? (size_t)(z - at) : (size_t)1 << 20;
			ssize_t got = pread(in, buf, want, at);
			if (got <= 0) {
				e = got < 0 ? errno : EIO;
				goto out;
			}
			for (ssize_t put = 0; put < got;) {
				ssize_t w = pwrite(out, buf + put, (size_t)(got - put), at + put);
				if (w < 0) {
					e = errno;
					goto out;
				}
				put += w;
			}
			at += got;
		}
		pos = z;
	}
	if (!e && (ftruncate(out, st.st_size) || fsync(out)))
		e = errno;
out:
	free(buf);
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) && !e)
		e = errno;
	if (e && out >= 0)
		unlink(dst);
	return e;
}

struct verdict {
	int clean, consistent;
	int writer_alive;       /* the writer still runs (writer.c): its heap is not replaced under it */
	uint64_t file_size, mapped, damaged, damaged_bytes;
	size_t roots;
	char exe[256];          /* the writer's executable, kept as the repaired heap's writer */
};

/* what the read-only view says before the repair */
static int look(const char *path, struct verdict *v)
{
	struct cli_heap ch;
	int brc;
	memset(v, 0, sizeof *v);
	if (cli_open(path, &ch) || cli_load(&ch, 1, &brc))
		return CLI_ERR;
	v->clean = ch.info.clean;
	char why[160];
	v->writer_alive = !ch.info.clean && cli_writer_alive(&ch.info, why, sizeof why) == 1;
	v->consistent = pmp_check(ch.h, NULL) == 0;
	v->mapped = ch.mapped;
	v->file_size = ch.truncated_at ? ch.truncated_at : ch.mapped;
	v->roots = ch.nroots;
	snprintf(v->exe, sizeof v->exe, "%s", ch.info.writer_exe);
	for (size_t i = 0; i < ch.nblocks; i++)
		if (ch.blocks[i].state == PMP_BLOCK_DAMAGED) {
			v->damaged++;
			v->damaged_bytes += ch.blocks[i].block_size;
		}
	cli_close(&ch);
	return CLI_OK;
}

/* the salvage itself, on the copy at path: what it kept and dropped */
static int salvage(const char *path, const char *exe, pmp_info_t *in)
{
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = PMP_OPEN_EXISTING;
	o.flags = PMP_FILE_SALVAGE;
	o.exe = exe; /* the heap keeps its program's name as its writer */
	pmp_heap_t *h;
	int e = pmp_file_open(path, &o, &h);
	if (e)
		return e;
	pmp_report_t r;
	if ((e = pmp_info(h, in)) == 0 && pmp_check(h, &r) != 0)
		e = PMP_ECORRUPT;
	int e2 = pmp_close(h);
	return e ? e : e2;
}

int cli_repair(int argc, char **argv)
{
	int json = 0, yes = 0;
	const char *backup = NULL, *pos[1];
	const struct cli_opt opts[] = {
		{"--json", NULL, &json}, {"--yes", NULL, &yes}, {"--backup", &backup, NULL}, {NULL, NULL, NULL}};
	int n;
	if (cli_args(argc, argv, opts, pos, 1, 1, &n))
		return CLI_ERR;
	const char *path = pos[0];
	struct verdict v;
	if (look(path, &v))
		return CLI_ERR;
	int needed = !v.clean || !v.consistent;
	pmp_info_t in;
	memset(&in, 0, sizeof in);
	int e = 0, applied = 0;
	char tmp[4096];
	if (needed) {
		if (snprintf(tmp, sizeof tmp, "%s.repair.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
			cli_errorf("%s: path too long", path);
			return CLI_ERR;
		}
		if ((e = copy_sparse(path, tmp)) != 0) {
			cli_errorf("%s: copy to %s: %s", path, tmp, strerror(e));
			return CLI_ERR;
		}
		if ((e = salvage(tmp, v.exe, &in)) != 0) {
			unlink(tmp);
			cli_errorf("%s: cannot be repaired: %s", path, pmp_strerror(e));
			return CLI_ERR;
		}
		if (yes) {
			/* a writer that still runs holds the heap: its mapping would still be of the old file */
			if (v.writer_alive) {
				unlink(tmp);
				cli_errorf("%s: %s", path, pmp_strerror(PMP_ELOCKED));
				return CLI_ERR;
			}
			if (backup && (e = copy_sparse(path, backup)) != 0) {
				unlink(tmp);
				cli_errorf("%s: backup to %s: %s", path, backup, strerror(e));
				return CLI_ERR;
			}
			if (rename(tmp, path)) {
				e = errno;
				unlink(tmp);
				cli_errorf("%s: rename of the repaired copy: %s", path, strerror(e));
				return CLI_ERR;
			}
			applied = 1;
		} else {
			unlink(tmp);
		}
	}
	if (json) {
		struct cli_json j;
		json_begin(&j, stdout, "repair");
		json_str(&j, "file", path);
		json_bool(&j, "needed", needed);
		json_bool(&j, "applied", applied);
		json_bool(&j, "clean", v.clean);
		json_bool(&j, "consistent", v.consistent);
		json_bool(&j, "truncated", v.file_size < v.mapped);
		json_u64(&j, "damaged_stretches", v.damaged);
		json_u64(&j, "damaged_bytes", v.damaged_bytes);
		json_u64(&j, "lost_regions", in.last_lost_regions);
		json_u64(&j, "lost_bytes", in.last_lost_bytes);
		json_u64(&j, "dropped_roots", in.last_dropped_roots);
		if (applied && backup)
			json_str(&j, "backup", backup);
		json_end(&j);
	} else if (!needed) {
		printf("%s: closed cleanly and consistent: nothing to repair\n", path);
	} else {
		const char *verb = applied ? "repaired" : "would be repaired (dry run; --yes to apply)";
		printf("%s: %s\n", path, verb);
		if (!v.clean)
			printf("  not closed cleanly: cached blocks freed, the free index rebuilt from the chain\n");
		if (v.file_size < v.mapped)
			printf("  truncated: %" PRIu64 " of %" PRIu64 " bytes; extended, the missing tail kept as lost\n",
			       v.file_size, v.mapped);
		if (v.damaged)
			printf("  %" PRIu64 " damaged stretch%s (%" PRIu64 " bytes) seen by the read-only walk\n", v.damaged,
			       v.damaged == 1 ? "" : "es", v.damaged_bytes);
		printf("  %s %" PRIu32 " lost block%s (%" PRIu64 " bytes, kept as used, never reused) and %s %" PRIu32
		       " root%s of the %zu (no longer pointing at a block)\n", applied ? "kept" : "keeps",
		       in.last_lost_regions, in.last_lost_regions == 1 ? "" : "s", in.last_lost_bytes,
		       applied ? "dropped" : "drops", in.last_dropped_roots, in.last_dropped_roots == 1 ? "" : "s",
		       v.roots);
		printf("  afterwards the heap passes pmp_check and is closed cleanly%s%s\n", applied && backup ? "; the "
		       "original is kept as " : "", applied && backup ? backup : "");
	}
	return needed && !applied ? CLI_FAIL : CLI_OK;
}
