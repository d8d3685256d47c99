/* cli.h: what the files of the `pmempreload` command share: the opened heap view, argument parsing, address
 * translation, the JSON writer and one entry point per verb.
 *
 * Must never: include anything from src/core or other internal headers: the command sees a heap only through the
 * public API (include/pmempreload.h), exactly as a user's program would.
 */
#ifndef PMP_CLI_H
#define PMP_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "pmempreload.h"

/* exit codes of every verb */
#define CLI_OK 0
#define CLI_FAIL 1  /* inconsistent, or what was asked for is not there */
#define CLI_ERR 2   /* usage or I/O error, unreadable heap */

/* ---- a heap file opened read-only (open.c) ---- */
struct cli_root {
	char name[PMP_ROOT_NAME_MAX + 1];
	uint64_t addr;   /* original address */
};

struct cli_extent {
	uint64_t lo, hi; /* heap offsets [lo, hi) where the file holds data; the rest are holes and read as zeros */
};

struct cli_heap {
	const char *path;
	pmp_heap_t *h;
	pmp_info_t info;        /* writer strings NUL-terminated by cli_open */
	uint64_t base;          /* original base address */
	uint64_t mapped;        /* bytes of the heap from base */
	uint64_t truncated_at;  /* a truncated file's length (its view reads zeros from there on), else 0 */
	const uint8_t *local;   /* where this process reads offset 0 */
	pmp_block_t *blocks;    /* in address order, after cli_load_blocks */
	size_t nblocks;
	struct cli_root *roots; /* after cli_load_roots */
	size_t nroots;
	struct cli_extent *ext; /* the file's data extents, learnt on first use (extent.c) */
	struct cli_extent whole; /* the one extent used when they cannot be learnt: everything is data */
	size_t next;
	int ext_loaded;
};

/* Open read-only at the original address, elsewhere when it is taken. 0, or CLI_ERR with one line printed. */
int cli_open(const char *path, struct cli_heap *ch);
/* cli_load_blocks (and cli_load_roots when roots): *brc is what cli_load_blocks returned; on failure the heap is
 * closed and CLI_ERR returned */
int cli_load(struct cli_heap *ch, int roots, int *brc);
/* cli_open, then cli_load without roots */
int cli_open_blocks(const char *path, struct cli_heap *ch, int *brc);
void cli_close(struct cli_heap *ch);
/* CLI_OK; CLI_FAIL when the chain is damaged part way (a warning is printed, the blocks before it are kept);
 * CLI_ERR when nothing could be read. */
int cli_load_blocks(struct cli_heap *ch);
/* the same without a word: 0, PMP_ECORRUPT (blocks up to the damage kept) or an error */
int cli_walk(struct cli_heap *ch);
int cli_load_roots(struct cli_heap *ch);
/* the block whose bytes (header included) contain the original address a, or NULL */
const pmp_block_t *cli_block_at(const struct cli_heap *ch, uint64_t a);
/* where b's bytes start (original address): its chain header, or the slot itself */
uint64_t cli_block_start(const pmp_block_t *b);
/* how many of ch->blocks start at or before the original address a (the index of the first that starts after it) */
size_t cli_blocks_upto(const struct cli_heap *ch, uint64_t a);
/* readable pointer for [a, a+len) given as original addresses, or NULL when outside the heap */
const uint8_t *cli_local(const struct cli_heap *ch, uint64_t a, uint64_t len);
/* original address of a pointer into this process's view (roots come back as local pointers) */
uint64_t cli_orig(const struct cli_heap *ch, const void *p);
const char *cli_state_name(int state);
/* one error line: "pmempreload: <path>: <what>" */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the file's data (extent.c) ---- */
/* The first stretch of data in [off, end): 1 and [*lo, *hi) (clipped to [off, end)), or 0 when only holes remain. */
int cli_data_next(struct cli_heap *ch, uint64_t off, uint64_t end, uint64_t *lo, uint64_t *hi);
uint64_t cli_data_bytes(struct cli_heap *ch); /* bytes of data in the mapped heap */

/* ---- slab pages (pages.c) ----
 * Blocks of up to 16,208 bytes are slots of 64 KiB slab pages of one slot size. The walk reports every slot, used or free,
 * as a block without a header (its offset is its own; block_size == size but on a tracked heap, where the slot's last
 * 16 bytes are the call-site record); the page itself is no block. Its structure shows through the
 * slots' addresses: a slot's page starts at the slot's address rounded down to CLI_PAGE from the heap's base; the
 * page's bytes run from its chain header (the CLI_HDR bytes before its start) through its header (up to the first
 * slot), its slots and the slack after the last one, to the next block's chain header in its region's last CLI_HDR
 * bytes. Those bytes outside the slots are allocator overhead, in no block. */
#define CLI_PAGE ((uint64_t)64 << 10)
#define CLI_HDR 16u /* the header of a chain block */
struct cli_page {
	uint64_t addr;   /* original address of the page's start (its header) */
	size_t first, n; /* its slots: ch->blocks[first .. first + n), every slot of the page, used or free */
	uint64_t slot;   /* bytes of each slot */
	uint64_t used;   /* live slots */
};
int cli_is_slot(const pmp_block_t *b);
/* the start of the page a slot at original address a belongs to */
uint64_t cli_page_start(const struct cli_heap *ch, uint64_t a);
/* the page of the slot ch->blocks[i], which must be one */
void cli_page_of_slot(const struct cli_heap *ch, size_t i, struct cli_page *pg);
/* the page whose bytes (chain header to slack) hold the original address a: 1 and *pg filled, or 0 */
int cli_page_at(const struct cli_heap *ch, uint64_t a, struct cli_page *pg);
/* where the page's bytes end: the next block's chain header starts there */
uint64_t cli_page_end(const struct cli_page *pg);
/* where its slots start and end */
uint64_t cli_page_slots(const struct cli_heap *ch, const struct cli_page *pg, uint64_t *end);

/* ---- reading block contents (scan.c): only where the file holds data ---- */
struct cli_json;
/* which blocks a search covers: --used (live: used and lost), --free (freed: free and cached), by default both */
#define CLI_IN_LIVE 1u
#define CLI_IN_FREED 2u
unsigned cli_scan_mask(int used, int freed);
int cli_scan_wants(unsigned mask, const pmp_block_t *b);
/* "live", "freed", "freed (cached)", "lost" */
const char *cli_life(int state);
/* Payload pieces of b that hold data, each widened by pad bytes on both sides (within the payload) and merged, so a
 * match of up to pad+1 bytes that starts or ends in a hole is whole in one piece. fn's non-zero stops and is
 * returned. off is the piece's offset in the payload. */
typedef int (*cli_piece_fn)(const pmp_block_t *b, size_t off, const uint8_t *p, size_t len, void *user);
int cli_block_pieces(struct cli_heap *ch, const pmp_block_t *b, size_t pad, cli_piece_fn fn, void *user);
/* every 8-byte aligned word of b's payload that is not 0 (holes hold none) */
typedef int (*cli_word_fn)(const pmp_block_t *b, size_t off, uint64_t w, void *user);
int cli_block_words(struct cli_heap *ch, const pmp_block_t *b, cli_word_fn fn, void *user);
/* one hit in a block, the same in every verb: "0xBLOCK+OFF (live, size N)" / block, offset, address, size, state */
void cli_hit_print(const pmp_block_t *b, size_t off);
void cli_hit_json(struct cli_json *j, const pmp_block_t *b, size_t off);
/* a word w at b+off that points somewhere: text "0xBLOCK+OFF (live, size N) holds 0xW" (no newline); JSON: an object
 * with the hit and "value", left open for the caller's members */
void cli_word_hit(struct cli_json *j, const pmp_block_t *b, size_t off, uint64_t w);

/* ---- counting blocks (census.c) ----
 * One meaning of "bytes" in every verb: the usable payload of blocks (what malloc_usable_size would say). The
 * header and other overhead of each block are counted apart; so are the bytes of slab pages in no slot. */
enum { CLI_ST_USED, CLI_ST_FREE, CLI_ST_CACHED, CLI_ST_LOST, CLI_ST_DAMAGED, CLI_NSTATES };
#define CLI_NCLASSES 64 /* size classes: class k holds usable sizes [2^k, 2^(k+1)) */
struct cli_tally {
	uint64_t blocks, bytes, overhead;
};
struct cli_census {
	struct cli_tally total[CLI_NSTATES];
	struct cli_tally cls[CLI_NCLASSES][CLI_NSTATES];
	uint64_t largest_free; /* usable bytes of the largest free chain block (a free slot serves its class only) */
	struct cli_tally slots[CLI_NSTATES]; /* the part of total that is slots of slab pages */
	uint64_t pages;         /* slab pages */
	uint64_t page_overhead; /* bytes of the pages in no slot: chain header, page header, slack after the slots */
};
int cli_state_index(int state); /* PMP_BLOCK_* -> CLI_ST_* */
unsigned cli_class(uint64_t size);
uint64_t cli_class_min(unsigned k);
uint64_t cli_class_max(unsigned k);
const char *cli_class_label(unsigned k, char *buf, size_t len); /* "[64, 128)" */
void cli_census(const struct cli_heap *ch, struct cli_census *c); /* over ch->blocks */
int cli_class_empty(const struct cli_census *c, unsigned k);

/* ---- arguments (main.c) ---- */
struct cli_opt {
	const char *name;     /* "--json", "-o" */
	const char **value;   /* non-NULL: the option takes a value */
	int *flag;            /* set to 1 when the option is present (flags only) */
};
/* Parse argv[1..] (argv[0] is the verb). Options may appear anywhere; "--" ends them. Positionals go to pos.
 * Returns 0, or CLI_ERR after printing the problem and the verb's usage. */
int cli_args(int argc, char **argv, const struct cli_opt *opts, const char **pos, int min_pos, int max_pos,
	     int *npos);
/* the common front of a verb that takes options and one heap file: parse, then open; CLI_ERR on failure */
int cli_open_args(int argc, char **argv, const struct cli_opt *opts, struct cli_heap *ch);
/* numbers: decimal or 0x hex; sizes also take K/M/G/T. 0 or -1 (message printed) */
int cli_parse_addr(const char *s, uint64_t *out);
int cli_parse_size(const char *s, uint64_t *out);
void cli_usage_verb(const char *verb);

/* ---- JSON writer (json.c) ---- */
/* The version of every verb's --json output ("schema"). 2: every "*_bytes" is usable payload (headers are
 * "*_overhead_bytes"); stats' "walk" object became the top-level counts and "counters" the heap's own; refs,
 * grep and strings hits carry the block state; new verbs dangling, diff, top, report. Added since, without a new
 * version (members only added): slab pages: check and stats "pages", "page_overhead_bytes", stats "used_slots",
 * "free_slots", "free_slot_bytes" (and "largest_free" is the largest free chain block), whatis "page" and "slot",
 * top "pages" and "free_slots"; call sites: blocks --by-site, leaks --by-site and stats' "by_site" object hold
 * "tracked", "site_count" and "sites", whatis "sites"; diff's and top's "by_site" objects ("tracked", "site_count",
 * "sites" with a_/b_ blocks and bytes and growth_blocks/growth_bytes), report's "sites". */
#define CLI_JSON_SCHEMA 2
#define CLI_JSON_DEPTH 16
struct cli_json {
	FILE *f;
	int depth;
	int line;                  /* the whole record on one line (streams of records) */
	int count[CLI_JSON_DEPTH]; /* members written at each level: a comma before every one but the first */
};
/* opens the top-level object and writes "schema" and "verb"; json_begin_line writes the record on one line */
void json_begin(struct cli_json *j, FILE *f, const char *verb);
void json_begin_line(struct cli_json *j, FILE *f, const char *verb);
/* the record of a verb that lists things about one file, on stdout: "file", then the array named list, left open */
void json_begin_list(struct cli_json *j, const char *verb, const char *file, const char *list);
void json_end(struct cli_json *j); /* closes the top-level object, newline */
/* key is NULL inside an array */
void json_obj(struct cli_json *j, const char *key);
void json_obj_end(struct cli_json *j);
void json_arr(struct cli_json *j, const char *key);
void json_arr_end(struct cli_json *j);
void json_str(struct cli_json *j, const char *key, const char *s);
void json_bytes(struct cli_json *j, const char *key, const void *p, size_t n); /* any bytes, escaped */
void json_hex(struct cli_json *j, const char *key, const void *p, size_t n); /* "0a1b.." */
void json_u64(struct cli_json *j, const char *key, uint64_t v);
void json_i64(struct cli_json *j, const char *key, int64_t v);
void json_bool(struct cli_json *j, const char *key, int v);
void json_null(struct cli_json *j, const char *key);
void json_addr(struct cli_json *j, const char *key, uint64_t a); /* "0x..." string: 64-bit safe for every reader */
void json_raw(struct cli_json *j, const char *key, const char *value); /* a JSON value this program wrote */

/* ---- formatting helpers (main.c) ---- */
/* "2024-05-01T12:00:00.123Z" into buf (>= 32 bytes); "-" for 0 */
const char *cli_time(uint64_t ns, char *buf, size_t len);
/* printable rendering of bytes: \n, \t, \xNN */
void cli_print_escaped(FILE *f, const uint8_t *p, size_t n);
/* the same for a NUL-terminated string from the heap file (paths, names): no terminal control bytes get through */
void cli_print_str(FILE *f, const char *s);
/* s as HTML text: & < > " escaped */
void cli_html_text(FILE *f, const char *s);

/* whether the heap's last writer still runs (writer.c): 1 yes, 0 no, -1 cannot tell; why says how it was decided */
int cli_writer_alive(const pmp_info_t *i, char *why, size_t len);

/* ---- pictures ---- */
/* the heap as an SVG element (no XML prolog: it also goes inline into report's HTML); 0 or an errno value */
int cli_map_svg(FILE *f, const struct cli_heap *ch, int brc);
/* "data:image/png;base64,..." of a w x h RGB image (png.c); 0 or an errno value */
int cli_png_uri(FILE *f, const uint8_t *rgb, unsigned w, unsigned h);

/* ---- run's helpers ---- */
/* warn when PROG is a runtime that keeps most objects out of malloc (runtime.c) */
void cli_runtime_warn(const char *prog);
struct cli_run_end {
	const char *prog, *how; /* "exited with status 0", "killed by SIGSEGV" */
	const char *path;       /* heap file or pattern (absolute) */
	const char *keep;       /* the keep policy in force */
	long pid;               /* the program's */
	int signaled;
	struct timespec t0;     /* when it started (minus a second: file times are coarse) */
};
/* say which heap file the program used, which others the run wrote, and which hold crash records (runheaps.c) */
void cli_run_heaps(const struct cli_run_end *end);

/* ---- code addresses (symbols.c) ---- */
struct cli_module {
	uint64_t load_addr;
	uint64_t end;       /* where its extent ends (an address at or past it is not in it); 0 unknown */
	const char *path;   /* absolute; NULL or unreadable: shown as module+offset only */
};
struct cli_sym {
	uint64_t pc;        /* in: the address */
	int is_return;      /* in: a return address (the call is the byte before it) */
	int module;         /* out: index into the modules, -1 when none */
	uint64_t offset;    /* out: pc - the module's load address */
	char func[128];     /* out: from addr2line, empty when unknown */
	char line[256];
	char outer[128];    /* out: the function func was inlined into, empty when none */
};
/* the GNU build-id of the ELF file at path: 0 and id[0..*n), or -1 (no file, not ELF, no note) (buildid.c) */
int cli_file_build_id(const char *path, uint8_t *id, unsigned cap, unsigned *n);
/* attribute each address to a module and, when lookup_lines, look up function and line (one addr2line per module) */
void cli_symbolise(struct cli_sym *s, unsigned n, const struct cli_module *mods, unsigned nmods, int lookup_lines);

/* ---- call sites of a tracked heap (sites.c) ---- */
/* 1 when the heap records call sites */
int cli_sites_tracked(struct cli_heap *ch);
/* which of ch->blocks a table counts */
typedef int (*cli_pick_fn)(const struct cli_heap *ch, size_t i, void *user);
/* The picked blocks summed by call site, heaviest first by bytes, at most limit rows: a live block at the site that
 * allocated it, a freed one at the site that freed it; symbolised. Text, or members "tracked", "site_count" and
 * "sites" of the open JSON object j. 0, or -1 (message printed). */
int cli_sites_table(struct cli_heap *ch, cli_pick_fn pick, void *user, uint64_t limit, struct cli_json *j);
/* whatis: who allocated b, who freed it, its sequence number (text lines, or a "sites" member of j); nothing when
 * the heap is not tracked */
void cli_sites_block(struct cli_heap *ch, const pmp_block_t *b, struct cli_json *j);
/* report: the used blocks by allocating site, heaviest first, at most limit rows, as an HTML <table class="sites">
 * (text escaped) on f, or a paragraph saying the heap does not track them; 0 or -1 */
int cli_sites_html(FILE *f, struct cli_heap *ch, uint64_t limit);
/* The live (used) bytes and blocks per allocating site of one image, with the writer's modules as they were then:
 * 0 and *out (NULL when the heap is not tracked), or -1 (message printed). */
struct cli_sites;
int cli_sites_take(struct cli_heap *ch, struct cli_sites **out);
void cli_sites_drop(struct cli_sites *s);
/* The sites whose live bytes or blocks differ from a to b, heaviest growth first, at most limit rows, symbolised
 * with b's modules: text rows "  +BYTES +BLOCKS  A_BYTES -> B_BYTES  SITE" under a header naming the images
 * a_label and b_label, or members "tracked", "site_count" and
 * "sites" (a_/b_ blocks and bytes, growth_blocks, growth_bytes) of the open object j. Either NULL: not tracked
 * ("tracked": false, no text). 0 or -1. */
int cli_sites_growth(const struct cli_sites *a, const struct cli_sites *b, uint64_t limit, struct cli_json *j,
		     const char *a_label, const char *b_label);
/* leaks --by-site: the used blocks not marked (mark[i] for ch->blocks[i]) by allocating site; 0 or -1 */
int cli_sites_leaks(struct cli_heap *ch, const uint8_t *mark, uint64_t limit, int json);
/* ---- what holds each used block (reach.c) ---- */
/* one region of the crash-time root set, copied out of pmp_crash_roots */
struct cli_region {
	int kind;           /* PMP_CRASH_ROOT_* */
	int crashing;
	uint64_t addr;
	size_t len;         /* whole words */
	uint64_t full_len;
	uint64_t tid;
	int module;
	uint8_t *data;
};
struct cli_rootset {
	pmp_crash_info_t *ci;  /* the crash record (valid when record) */
	int record;            /* the heap holds a crash record */
	int err;               /* pmp_crash_roots' result: 0 the whole root set */
	struct cli_region *r;
	size_t n, cap;
};
/* 0, or CLI_ERR with a line printed (out of memory); a heap without a crash record is no error */
int cli_rootset_load(struct cli_heap *ch, struct cli_rootset *rs);
void cli_rootset_free(struct cli_rootset *rs);
/* NULL when the whole root set was saved, else one sentence saying what was available instead */
const char *cli_rootset_missing(const struct cli_rootset *rs, char *buf, size_t len);
/* classes of used blocks, strongest anchor first; 0 = leaked (reached from nothing) */
enum { CLI_A_LEAKED, CLI_A_ROOT, CLI_A_GLOBAL, CLI_A_STACK, CLI_A_REGISTER, CLI_A_REACHABLE, CLI_NANCHORS };
#define CLI_FROM_ROOT (-1L)
struct cli_reach {
	uint8_t *cls;       /* per block of ch->blocks: CLI_A_* */
	long *from;         /* the block it was first reached from (an index), CLI_FROM_ROOT, or -2 - region index */
	size_t *from_off;   /* where in that block or region the word is (for a root: its index in ch->roots) */
};
/* mark every used block from the named roots (ch->roots loaded) and the root set; 0 or CLI_ERR */
int cli_reach_run(struct cli_heap *ch, const struct cli_rootset *rs, struct cli_reach *r);
void cli_reach_free(struct cli_reach *r);
/* "named roots", "globals", "stacks", "registers", "reachable", "leaked" */
const char *cli_anchor_name(int cls);
/* the anchor as one phrase: "root 'x'", "register r12 of thread N", "stack slot 0x.. of thread N", "global 0x.. in
 * prog+0x..": region -1 is a root (off its index), else a region of rs and the word's offset in it */
void cli_anchor_where(const struct cli_heap *ch, const struct cli_rootset *rs, int region, size_t off, char *buf,
		      size_t len);
/* "root", "register", "stack", "global" */
const char *cli_anchor_kind(const struct cli_rootset *rs, int region);

/* "SIGSEGV" etc., or "signal N" (crash.c) */
const char *cli_signame(int sig, char *buf, size_t len);

/* ---- verbs: argc/argv start at the verb name; return the exit code ---- */
int cli_run(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_blocks(int argc, char **argv);
int cli_roots(int argc, char **argv);
int cli_whatis(int argc, char **argv);
int cli_refs(int argc, char **argv);
int cli_grep(int argc, char **argv);
int cli_strings(int argc, char **argv);
int cli_hexdump(int argc, char **argv);
int cli_dump(int argc, char **argv);
int cli_crash(int argc, char **argv);
int cli_map(int argc, char **argv);
int cli_leaks(int argc, char **argv);
int cli_dangling(int argc, char **argv);
int cli_diff(int argc, char **argv);
int cli_top(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_repair(int argc, char **argv);
int cli_path(int argc, char **argv);

#endif
