/* format.h: the on-disk (on-memory) format of a pmempreload heap, field by field.
 *
 * Holds: the layout constants, the superblock, the control area (free index + derived counters), the root table,
 * the crash record, and the block header. Everything here is position-independent: links are heap offsets, never
 * pointers, so a heap can be read at any address.
 * Must never: hold a file descriptor, mutex, function pointer or other process-local state; change a field's offset
 * without bumping PMP_FORMAT_VERSION.
 *
 * Heap layout (offsets from the base):
 *   0x00000  page 0: superblock copy 0 at 0, copy 1 at 2048 (LMDB-style: the newer valid generation wins)
 *   0x01000  control area (16 KiB): TLSF bitmaps and list heads, counters. Derived: rebuilt after an unclean stop.
 *            It ends with the seal record: what lets the next clean open trust the derived state without a walk.
 *   0x05000  root table (16 KiB): 128 entries of 128 bytes, never straddling a page
 *   0x09000  crash record (28 KiB)
 *   ...
 *   reserved  (file offset, past all the heap may ever use) the crash annex: the root set of the last crash
 *   0x10000  arena: blocks with boundary tags up to `mapped`; the last 16 bytes are the end sentinel. Some used
 *            blocks are slab pages (64 KiB, aligned) holding the small blocks in slots. A heap made with call-site
 *            tracking (PMP_LAYOUT_TRACK) has one more used block, the site table (struct pmp_sites, at sb.sites),
 *            and every block of it ends in a 16-byte trailer (struct pmp_trailer) that the program never sees.
 */
#ifndef PMP_FORMAT_H
#define PMP_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define PMP_FORMAT_VERSION 2u /* 2: slab pages */
#define PMP_MAGIC "PMPHEAP\x01"

#define PMP_PAGE 4096u
#define PMP_SB_SLOT 2048u
#define PMP_OFF_CTL 0x1000u
#define PMP_CTL_SIZE 0x4000u
#define PMP_OFF_ROOTS 0x5000u
#define PMP_ROOTS_SIZE 0x4000u
#define PMP_OFF_CRASH 0x9000u
#define PMP_CRASH_SIZE 0x7000u
#define PMP_OFF_ARENA 0x10000u
#define PMP_MIN_BASE 0x10000u /* vm.mmap_min_addr's default: nothing is mapped below */

#define PMP_STATE_CLEAN 0x434c45414eu /* "CLEAN" */
#define PMP_STATE_DIRTY 0x4449525459u /* "DIRTY" */
/* end_reason values: PMP_END_* of pmempreload.h (0 none: open, or the writer died) */

/* superblock layout flags */
#define PMP_LAYOUT_FILE 0x1u       /* heap lives in a file (else caller memory) */
#define PMP_LAYOUT_TRACK 0x2u      /* call sites tracked: a site table at sb.sites, a trailer in every block */
#define PMP_LAYOUT_KNOWN (PMP_LAYOUT_FILE | PMP_LAYOUT_TRACK) /* a reader refuses other bits */

/* ---- superblock: 1024 bytes, two copies in page 0 ---- */
struct pmp_sb {
	char magic[8];            /* PMP_MAGIC */
	uint32_t version;         /* PMP_FORMAT_VERSION */
	uint32_t sb_size;         /* sizeof(struct pmp_sb): a reader refuses other sizes */
	uint64_t generation;      /* incremented on every publish; copy (generation & 1) holds it */
	uint64_t base;            /* fixed base address the heap was created at */
	uint64_t reserved;        /* address space reserved at base (>= mapped) */
	uint64_t mapped;          /* bytes in use from base: the arena ends here; a file is at least this long */
	uint64_t state;           /* PMP_STATE_CLEAN or PMP_STATE_DIRTY (open for writing, or died while open) */
	uint32_t layout_flags;    /* PMP_LAYOUT_* */
	uint32_t page_size;       /* PMP_PAGE */
	uint64_t off_ctl;         /* PMP_OFF_CTL */
	uint64_t off_roots;       /* PMP_OFF_ROOTS */
	uint64_t off_crash;       /* PMP_OFF_CRASH */
	uint64_t off_arena;       /* PMP_OFF_ARENA */
	uint32_t root_count;      /* PMP_ROOT_COUNT */
	uint32_t crash_size;      /* PMP_CRASH_SIZE */
	uint64_t created_ns;      /* CLOCK_REALTIME when formatted */
	uint64_t opened_ns;       /* CLOCK_REALTIME when last opened for writing */
	uint64_t writer_pid;      /* pid of the last writer */
	uint64_t writer_start;    /* its start time, clock ticks after boot (/proc/PID/stat field 22) */
	uint32_t writer_uid;      /* its real uid */
	uint32_t open_count;      /* times opened for writing */
	char writer_boot_id[40];  /* boot id of the machine it ran on, NUL-terminated */
	char writer_exe[256];     /* its executable path, NUL-terminated, truncated */
	uint64_t salt;            /* random at format: keys the check bits of every block header word */
	uint64_t salvage_lost;    /* bytes recovery kept as LOST blocks, summed over every salvage */
	uint32_t salvage_count;   /* times recovery had to salvage a damaged chain (power loss, outside damage) */
	uint32_t salvage_roots;   /* roots recovery dropped because they no longer pointed at a block */
	uint32_t end_reason;      /* PMP_END_*: how the last writer let go (0 while open, or when it died) */
	uint32_t _pad0;
	uint64_t grow_from;       /* the arena's end before the last growth (where an interrupted growth left its end
				   * header); 0 in heaps from before this field, or never grown */
	uint64_t sites;           /* PMP_LAYOUT_TRACK: heap offset of the site table's chain block, set at format; else 0 */
	uint8_t _reserved[528];
	uint64_t checksum;        /* _pmp_hash64 of bytes [0, 1016) */
};
_Static_assert(sizeof(struct pmp_sb) == 1024, "superblock is 1024 bytes");
_Static_assert(offsetof(struct pmp_sb, generation) == 16, "sb layout");
_Static_assert(offsetof(struct pmp_sb, base) == 24, "sb layout");
_Static_assert(offsetof(struct pmp_sb, mapped) == 40, "sb layout");
_Static_assert(offsetof(struct pmp_sb, state) == 48, "sb layout");
_Static_assert(offsetof(struct pmp_sb, off_arena) == 88, "sb layout");
_Static_assert(offsetof(struct pmp_sb, writer_boot_id) == 144, "sb layout");
_Static_assert(offsetof(struct pmp_sb, writer_exe) == 184, "sb layout");
_Static_assert(offsetof(struct pmp_sb, salt) == 440, "sb layout");
_Static_assert(offsetof(struct pmp_sb, end_reason) == 464, "sb layout");
_Static_assert(offsetof(struct pmp_sb, grow_from) == 472, "sb layout");
_Static_assert(offsetof(struct pmp_sb, sites) == 480, "sb layout");
_Static_assert(offsetof(struct pmp_sb, checksum) == 1016, "sb layout");

/* ---- TLSF parameters ---- */
#define PMP_ALIGN 16u
#define PMP_ALIGN_LOG2 4u
#define PMP_SL_LOG2 5u
#define PMP_SL_COUNT (1u << PMP_SL_LOG2)
#define PMP_FL_SHIFT (PMP_SL_LOG2 + PMP_ALIGN_LOG2)   /* sizes below 512 share first level 0 */
#define PMP_SMALL_BLOCK (1u << PMP_FL_SHIFT)
#define PMP_FL_COUNT 40u                              /* block sizes below 2^48 */
#define PMP_MAX_BLOCK ((uint64_t)1 << 47)

/* ---- seal record: written by the close sequence of a heap it checked, read by the next clean open ----
 * It vouches for the heap as the seal left it: the control area before it and the root table (hashes), the first and the
 * last header of the chain (copies), and the slab pages (a directory of page offsets | class, ascending, kept in
 * the payload of a free block, past its links and holes marker). An open trusts it only when the superblock is
 * clean at exactly `generation` (the first write after an open publishes a dirty superblock of a later one, so a
 * record is never trusted twice) and every hash and the checksum agree; anything else takes the full walk. Added
 * in format version 2 without a bump: zeros (heaps from before it) are no record, and older code ignores it. */
#define PMP_SEAL_MAGIC 0x4c41455350504d50ull /* "PMPPSEAL" */
struct pmp_seal {
	uint64_t magic;          /* PMP_SEAL_MAGIC */
	uint64_t generation;     /* the clean superblock generation the seal published */
	uint64_t mapped;         /* the heap's end then */
	uint64_t dir_off;        /* heap offset of the page directory's first entry (0 when there are no pages) */
	uint64_t dir_count;      /* its entries: page offset | class */
	uint64_t ctl_hash;       /* _pmp_hash64 of the control area before this record */
	uint64_t roots_hash;     /* of the root table */
	uint64_t dir_hash;       /* of the directory's entries */
	uint64_t first_hdr[2];   /* the words of the first block's header */
	uint64_t end_hdr[2];     /* the words of the end sentinel's header */
	uint64_t _reserved[3];
	uint64_t checksum;       /* _pmp_hash64 of the words above, seeded by the salt */
};
_Static_assert(sizeof(struct pmp_seal) == 128, "seal record is 128 bytes");

/* ---- control area: 16 KiB, derived from the block chain ---- */
struct pmp_ctl {
	uint64_t fl_bitmap;                         /* bit f set iff sl_bitmap[f] != 0 */
	uint32_t sl_bitmap[PMP_FL_COUNT];           /* bit s of [f] set iff heads[f][s] != 0 */
	uint64_t heads[PMP_FL_COUNT][PMP_SL_COUNT]; /* offset of the first free block of each list, 0 = empty */
	uint64_t used_bytes;   /* bytes of used blocks, headers included */
	uint64_t used_blocks;
	uint64_t free_bytes;   /* bytes of indexed free blocks, headers included */
	uint64_t free_blocks;
	uint64_t peak_used;    /* highest used_bytes seen */
	uint64_t n_malloc;     /* lifetime operation counters (informational) */
	uint64_t n_free;
	uint64_t n_realloc;
	uint64_t n_grow;
	uint64_t seq;          /* call-site tracking: the next sequence number a thread may take a batch from (atomic
				* add); kept by recovery (the one field of this area that is not derived) */
	uint8_t _reserved[PMP_CTL_SIZE - 8 - 4 * PMP_FL_COUNT - 8 * PMP_FL_COUNT * PMP_SL_COUNT - 80 - 128];
	struct pmp_seal seal;  /* the area's last 128 bytes; written at seal, after everything before it is final */
};
_Static_assert(sizeof(struct pmp_ctl) == PMP_CTL_SIZE, "control area size");
_Static_assert(offsetof(struct pmp_ctl, heads) == 168, "ctl layout");
_Static_assert(offsetof(struct pmp_ctl, seal) == PMP_CTL_SIZE - 128, "the seal record ends the control area");

/* ---- root table: 128 entries of 128 bytes ---- */
struct pmp_root {
	char name[64];        /* NUL-terminated; meaningful only while off != 0 */
	uint64_t off;         /* heap offset of the user pointer; 0 = entry unused. The one store that commits. */
	uint64_t generation;  /* times this entry was set (written before off) */
	uint64_t set_ns;      /* CLOCK_REALTIME of the last set (written before off) */
	uint8_t _reserved[40];
};
_Static_assert(sizeof(struct pmp_root) == 128, "root entry is 128 bytes");
_Static_assert(offsetof(struct pmp_root, off) == 64, "root layout");
_Static_assert(PMP_ROOTS_SIZE == 128 * sizeof(struct pmp_root), "root table size");
_Static_assert(PMP_PAGE % sizeof(struct pmp_root) == 0, "root entries never straddle a page");

/* ---- block header: 16 bytes before every user pointer ----
 * prev_size: bits 0-47 the size of the physically previous block (0 for the first). Derived: rebuilt by recovery.
 * head:      bits 0-3 flags, bits 4-47 the size (a multiple of 16, >= PMP_MIN_BLOCK): the ground truth of the chain.
 * Both words: bits 48-63 a check of (salt, offset, word kind, bits 0-47), so that a word torn by a power loss,
 * left stale by out-of-order writeback, or overwritten by a stray store is told from a real header, and recovery
 * can find the next real block after a damaged one. Every word is written whole (one 8-byte store).
 * A free block stores next/prev free-list offsets in its first 16 payload bytes.
 * The end sentinel (last 16 bytes of the arena) has flags PMP_B_END and size 0.
 */
struct pmp_block_hdr {
	uint64_t prev_size;
	uint64_t head;
};
_Static_assert(sizeof(struct pmp_block_hdr) == 16, "block header is 16 bytes");

struct pmp_free_links {
	uint64_t next; /* heap offset of the next block in the same list, 0 = none */
	uint64_t prev; /* heap offset of the previous block, 0 = this is the head */
	/* then, in free blocks of at least 48 bytes: PMP_HOLES ^ offset when pages of the block may have been given
	 * back to the file system (punched); they are fallocated again before any byte of them is reused */
};
#define PMP_HOLES 0x484f4c45535f5f5full     /* "HOLES___" */
#define PMP_PUNCH_MIN ((uint64_t)1 << 20)  /* freed blocks this big give their interior pages back */

#define PMP_B_FREE   0x1u  /* block is free */
#define PMP_B_CACHED 0x2u  /* block is held by a cache or the quarantine (free for recovery, used for the index) */
#define PMP_B_LOST   0x4u  /* used block made by recovery over a damaged stretch of the chain (kept, never reused) */
#define PMP_B_END    0x8u  /* end sentinel (size 0) */
#define PMP_B_FLAGS  0xfu
#define PMP_W_VALUE  0x0000ffffffffffffull /* the value bits of a header word */
#define PMP_W_SIZE   0x0000fffffffffff0ull /* the size bits of a head word */
#define PMP_HDR 16u
#define PMP_MIN_BLOCK 32u

/* ---- slab pages: small blocks (up to PMP_SMALL_MAX bytes) live in slots of pages of one size class ----
 * A page is one used block of the chain of exactly PMP_SLAB bytes whose payload starts at a PMP_SLAB-aligned heap
 * offset (so the region a pointer falls in names its page; consecutive pages tile the arena exactly, the chain
 * header of the next block sitting in the last 16 bytes of the region), with this header at the payload's start.
 * The live bitmap is the ground truth of the slots, as the head word is for a block: bit i set = slot i was handed
 * to the program. Slots freed by another thread than the page's owner wait on the remote list (linked through
 * their first 8 bytes, as heap offsets) with their bit still set; recovery and the check count them as free.
 * Everything else about a page (its free list, its owner, its count of live slots) is process-local and derived:
 * rebuilt from the bitmap when a process first uses the page. A page is a page only while its chain block is used
 * and its magic passes its check; the magic is written last when a page is made. */
#define PMP_SLAB_SHIFT 16u
#define PMP_SLAB (1u << PMP_SLAB_SHIFT)          /* 64 KiB */
#define PMP_SMALL_MAX 16208u                     /* larger requests are chain blocks */
/* 16..128 step 16, four per power of two up to 8 KiB, then four that fill a page with 7, 6, 5 and 4 slots
 * (9264, 10800, 12976, 16208 bytes: page.h) */
#define PMP_CLASSES 36u
#define PMP_PAGE_MAGIC 0x45474150534c4150ull     /* "PLSPAGE" keyed by salt and offset (see page.h) */
#define PMP_PAGE_WORDS 64u                       /* bitmap words: 4,096 slots at most */
struct pmp_page {
	uint64_t magic;         /* keyed check of (salt, page offset): this region is a page */
	union {
		struct {
			uint16_t cls;       /* size class, < PMP_CLASSES */
			uint16_t capacity;  /* slots; fixed by the class */
			uint32_t slot_size; /* bytes per slot; fixed by the class */
		};
		uint64_t shape; /* the three in one word: an empty page changes class with one store (page.h) */
	};
	uint32_t first_slot;    /* offset of slot 0 from the page start (sizeof(struct pmp_page)) */
	uint32_t owner_tag;     /* thread id of the process thread that last owned the page (forensics); 0 none */
	uint64_t acquired_ns;   /* CLOCK_REALTIME when the page was made (forensics) */
	uint8_t _r0[32];
	uint64_t remote;        /* heap offset of the first slot freed from another thread, 0 none (CAS, own line) */
	uint8_t _r1[56];
	uint64_t live[PMP_PAGE_WORDS]; /* bit i of word i/64: slot i is live. Ground truth. */
};
_Static_assert(sizeof(struct pmp_page) == 640, "page header is 640 bytes");
_Static_assert(offsetof(struct pmp_page, shape) == 8 && offsetof(struct pmp_page, slot_size) == 12, "page shape");
_Static_assert(offsetof(struct pmp_page, remote) == 64, "the remote list has a cache line of its own");
_Static_assert(offsetof(struct pmp_page, live) == 128, "page layout");
_Static_assert((PMP_SLAB - 16 - sizeof(struct pmp_page)) / 16 <= PMP_PAGE_WORDS * 64, "bitmap covers the slots");

/* ---- call-site tracking (PMP_LAYOUT_TRACK) ----
 * Every block's last 16 bytes (a slot's last 16, a chain block's last 16 before the next header) hold a trailer: the
 * usable size the program sees is 16 bytes less. A live block's trailer names its allocating site and the sequence
 * number of its allocation; free rewrites it with the freeing site and the free's sequence number (one counter
 * orders both). Sites are ids into the site table (0: unknown). The check bits make a torn, stale or overwritten
 * trailer (an overrun of the block) read as no record: they key (salt, trailer offset, both words). Freed slots keep
 * their trailer; a freed chain block's stays at the end of the free block it merges into, or is lost inside one. */
#define PMP_TRAIL 16u
struct pmp_trailer {
	uint32_t alloc_site;   /* site id of the allocation (malloc, calloc, realloc, memalign...) */
	uint32_t free_site;    /* site id of the free (or of the realloc that moved the block); 0 while live */
	uint64_t seq;          /* bits 0-47: sequence number of the allocation (live) or of the free (freed);
				* bits 48-63: check (see _pmp_trailer_check) */
};
_Static_assert(sizeof(struct pmp_trailer) == PMP_TRAIL, "trailer is 16 bytes");

/* The site table: one used chain block, made at format, never freed, not shown as a block by the walk.
 * pc[] is an open-addressed hash table of return addresses (the call into the malloc family): an entry is claimed
 * by one CAS from 0 and never changes, site id = index + 1. modules[] is a snapshot of the loaded objects taken by
 * the preload outside any allocator lock (at start and when a new site lies in no recorded module), so a site can be
 * symbolised after the program is gone: an entry is written whole, then nmodules is raised past it. */
#define PMP_SITES_MAGIC 0x5345544953504d50ull /* "PMPSITES" keyed by salt and offset */
#define PMP_SITE_SLOTS 16384u
#define PMP_SITE_MODULES 256u
struct pmp_site_module {
	uint64_t load_addr;    /* dlpi_addr */
	uint64_t lo, hi;       /* the range of its loaded segments [lo, hi) */
	uint8_t build_id[20];  /* NT_GNU_BUILD_ID, build_id_len bytes of it (0: none) */
	uint32_t build_id_len;
	char path[208];        /* NUL-terminated, truncated */
};
_Static_assert(sizeof(struct pmp_site_module) == 256, "site module is 256 bytes");
struct pmp_sites {
	uint64_t magic;        /* keyed check of (salt, offset): written last at format */
	uint32_t slots;        /* PMP_SITE_SLOTS */
	uint32_t max_modules;  /* PMP_SITE_MODULES */
	uint32_t nmodules;     /* entries of modules[] complete */
	uint32_t _pad;
	uint64_t overflow;     /* operations whose site found no free entry (recorded as site 0) */
	uint8_t _r[32];
	struct pmp_site_module modules[PMP_SITE_MODULES];
	uint64_t pc[PMP_SITE_SLOTS];
};
_Static_assert(offsetof(struct pmp_sites, modules) == 64, "site table layout");

/* ---- crash record: written by the shim's signal handler ---- */
#define PMP_CRASH_MAGIC 0x48534152435050ull /* "PPCRASH" */
#define PMP_CRASH_EXT_MAGIC 0x3158524353504d50ull /* "PMPSCRX1": the fields after modules[] are present */
#define PMP_CRASH_FRAMES 64
#define PMP_CRASH_MODULES 160
#define PMP_CRASH_REGS 32
#define PMP_BUILD_ID_MAX 20 /* a GNU build-id note of sha1 size; longer ones keep their first 20 bytes */
struct pmp_crash_module {
	uint64_t load_addr;    /* dlpi_addr */
	char path[120];        /* truncated, NUL-terminated */
};
/* what the extension adds to each module (a record from before it has ext_magic 0 and none of this) */
struct pmp_crash_modx {
	uint64_t start, end;   /* the module's extent in memory: its lowest and highest PT_LOAD byte, [start, end) */
	uint8_t build_id[PMP_BUILD_ID_MAX]; /* its NT_GNU_BUILD_ID note */
	uint32_t build_id_len; /* bytes of build_id used, 0 when the module has none */
};
_Static_assert(sizeof(struct pmp_crash_modx) == 40, "module extension is 40 bytes");
#define PMP_UNWIND_FP 1       /* frames found by following frame pointers */
#define PMP_UNWIND_TABLES 2   /* frames found with the unwind tables (.eh_frame), from the interrupted context */
struct pmp_crash {
	uint64_t magic;        /* PMP_CRASH_MAGIC when a record is present (written last) */
	int32_t signo, code;   /* signal number and si_code */
	uint64_t fault_addr;   /* si_addr */
	uint64_t time_ns;      /* CLOCK_REALTIME */
	uint64_t pid, tid;
	uint32_t nframes, nmodules;
	uint64_t frames[PMP_CRASH_FRAMES];  /* return addresses, innermost first */
	struct pmp_crash_module modules[PMP_CRASH_MODULES];
	/* ---- extension (ext_magic == PMP_CRASH_EXT_MAGIC) ---- */
	uint64_t ext_magic;
	int32_t sender_pid;    /* si_pid of a signal that was sent (si_code <= 0: kill, tkill, abort), else 0 */
	uint32_t sender_uid;   /* its si_uid */
	uint32_t unwinder;     /* PMP_UNWIND_*: how frames[] was found */
	uint32_t nregs;        /* registers saved in regs[] */
	uint64_t regs[PMP_CRASH_REGS]; /* the crashing thread's general registers (x86-64: the ucontext gregs order) */
	uint64_t annex_off;    /* file offset of the root set's annex (struct pmp_annex), 0 = none */
	uint64_t annex_len;    /* its bytes */
	int32_t annex_err;     /* 0, or the errno value that lost the root set (ENOSPC: the disk was full) */
	uint32_t annex_sections;
	struct pmp_crash_modx modx[PMP_CRASH_MODULES];
};
_Static_assert(sizeof(struct pmp_crash) <= PMP_CRASH_SIZE, "crash record fits its area");
_Static_assert(offsetof(struct pmp_crash, ext_magic) == 21048, "crash record layout (extension after the modules)");

/* ---- crash annex: the root set of a crash (stacks, data segments), in the file past the reservation ----
 * Written by the signal handler with pwrite (never through the mapping: a full disk is then ENOSPC, not SIGBUS) at
 * file offset `reserved` (page-aligned), where the heap never grows, so no later writable open clobbers it; a new
 * crash replaces it. Order: the sections' bytes, then the table, then the header with its magic; the crash record
 * names it (annex_off) only after that. A reader bounds every count and length by annex_len. */
#define PMP_ANNEX_MAGIC 0x31544f4f52504d50ull /* "PMPROOT1" */
#define PMP_ANNEX_SECTIONS 1024
#define PMP_ANNEX_LIMIT ((uint64_t)64 << 20)        /* bytes of stacks and data segments in all */
#define PMP_ANNEX_STACK_CRASHING ((uint64_t)1 << 20) /* the crashing thread: from its SP - 128 up, at most this */
#define PMP_ANNEX_STACK_OTHER ((uint64_t)256 << 10)  /* every other thread: the top of its stack, at most this */
#define PMP_ANNEX_SEGMENT ((uint64_t)16 << 20)       /* one writable segment of a module: at most this */
enum { PMP_ANNEX_STACK = 1, PMP_ANNEX_DATA = 2 };
#define PMP_ANNEX_CRASHING 0x1u /* the crashing thread's stack */
struct pmp_annex_sect {
	uint32_t kind;         /* PMP_ANNEX_STACK or PMP_ANNEX_DATA */
	uint32_t flags;        /* PMP_ANNEX_CRASHING */
	uint64_t addr;         /* where the saved bytes were in the crashed process */
	uint64_t len;          /* bytes saved */
	uint64_t full_len;     /* bytes the region had from addr (len < full_len: cut by a limit) */
	uint64_t off;          /* where the bytes are, from the annex's start */
	uint64_t tid;          /* stacks: the thread */
	int32_t module;        /* data: index into the crash record's modules, else -1 */
	uint32_t _pad;
	uint64_t _reserved;
};
_Static_assert(sizeof(struct pmp_annex_sect) == 64, "annex section is 64 bytes");
struct pmp_annex {
	uint64_t magic;        /* PMP_ANNEX_MAGIC (written last) */
	uint64_t time_ns;      /* the crash record's time_ns: an annex of another crash is not this one's */
	uint32_t nsect;        /* sections in the table that follows this header */
	uint32_t threads_dropped; /* threads known to the shim whose stacks did not fit the limits */
	uint64_t cut_bytes;    /* bytes of regions left out by the limits */
	uint8_t _reserved[32];
	/* then struct pmp_annex_sect[nsect], then the sections' bytes */
};
_Static_assert(sizeof(struct pmp_annex) == 64, "annex header is 64 bytes");

#endif
