/* common.h: helpers shared by the crash suite: scratch directories, derivable payloads, child processes with
 * captured stderr, whole-file snapshots and comparisons.
 *
 * Holds: only test scaffolding; every oracle of heap validity is pmp_check, never something here.
 * Must never: map a heap, call into the library beyond the public API, or leave mounts, FIFOs or files behind on
 * the success path.
 */
#ifndef PMP_CRASH_COMMON_H
#define PMP_CRASH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pmempreload.h"

/* ---- randomness: splitmix64, one state per user ---- */
static inline uint64_t cr_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
static inline uint64_t cr_below(uint64_t *s, uint64_t n) { return n ? cr_rand(s) % n : 0; }

/* ---- payloads: content derivable from (seed, name id, sequence number) ---- */
#define CR_PAYLOAD_MAGIC 0x44414f4c59415043ull /* "CPAYLOAD" */
struct cr_payload_hdr {
	uint64_t magic;
	uint64_t name_id;
	uint64_t seq;
	uint64_t len; /* bytes of the whole payload, header included */
};
/* length a payload for (seed, id, seq) has: between 32 and max_len bytes */
size_t cr_payload_len(uint64_t seed, uint64_t id, uint64_t seq, size_t max_len);
/* write the payload for (seed, id, seq) of length len into p */
void cr_payload_fill(void *p, uint64_t seed, uint64_t id, uint64_t seq, size_t len);
/* 0 when p holds an intact payload for (seed, id, *any* seq); *seq gets its seq. -1 torn/foreign, with why. */
int cr_payload_verify(const void *p, size_t avail, uint64_t seed, uint64_t id, uint64_t *seq, const char **why);

/* ---- scratch directory, removed by cr_rmtree ---- */
/* mkdtemp under $TMPDIR (or /tmp) with the given tag; aborts the test program on failure */
char *cr_tmpdir(const char *tag);
void cr_rmtree(const char *dir);
char *cr_path(const char *dir, const char *name); /* malloc'd dir/name */

/* ---- files ---- */
/* whole file into malloc'd memory; NULL on error */
unsigned char *cr_read_file(const char *path, size_t *len);
int cr_write_file(const char *path, const void *data, size_t len, unsigned mode);
/* snapshot of bytes + mtime + size, to prove a victim was untouched */
struct cr_snap {
	unsigned char *data;
	size_t len;
	int64_t mtime_s, mtime_ns;
	uint64_t ino;
};
int cr_snap_take(const char *path, struct cr_snap *s);
int cr_snap_same(const char *path, const struct cr_snap *s); /* 1 when bytes, size, mtime and inode agree */
void cr_snap_free(struct cr_snap *s);

/* ---- children ---- */
/* Run fn(arg) in a child with stderr captured; wait at most timeout_s. Returns the wait status (or -1 on a timeout,
 * the child then being killed); *err gets the malloc'd NUL-terminated stderr text. */
typedef void (*cr_child_fn)(void *arg);
int cr_run_child(cr_child_fn fn, void *arg, unsigned timeout_s, char **err);

/* number of open descriptors of this process (leak checks) */
int cr_count_fds(void);
/* 1 when nothing is mapped in [addr, addr+len) */
int cr_range_free(void *addr, size_t len);

uint64_t cr_now_us(void);
/* environment knob: integer value of name, or def when unset/invalid */
long cr_env_long(const char *name, long def);

#endif
