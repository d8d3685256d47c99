/* sb.c: the superblock: checksum, choice of the newer valid copy, validation of layout fields, publication.
 *
 * Holds: everything that reads or writes page 0 of a heap.
 * Must never: trust a field of a superblock before its checksum and range checks passed, or write the copy that
 * holds the current generation (a torn write must leave the other copy intact).
 */
#include <string.h>

#include "heap.h"

uint64_t _pmp_hash64(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *b = p;
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ull);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, b + i, 8);
		h ^= w;
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	for (; i < n; i++) {
		h ^= b[i];
		h *= 0xc4ceb9fe1a85ec53ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

uint64_t _pmp_sb_checksum(const struct pmp_sb *sb)
{
	return _pmp_hash64(sb, offsetof(struct pmp_sb, checksum), 0x706d70736231ull);
}

/* 0, or the reason this copy is unusable */
static int sb_copy_ok(const struct pmp_sb *sb)
{
	if (memcmp(sb->magic, PMP_MAGIC, 8) != 0)
		return PMP_EMAGIC;
	/* version 1 is version 2 without slab pages: read as it is, written as 2 from the next publish on */
	if ((sb->version != PMP_FORMAT_VERSION && sb->version != 1) || sb->sb_size != sizeof(struct pmp_sb))
		return PMP_EVERSION;
	if (sb->checksum != _pmp_sb_checksum(sb))
		return PMP_ECHECKSUM;
	return 0;
}

int _pmp_sb_read(const void *page0, size_t len, struct pmp_sb *out)
{
	if (len < sizeof(struct pmp_sb))
		return len >= 8 && memcmp(page0, PMP_MAGIC, 8) == 0 ? PMP_ESHORT : PMP_EMAGIC;
	struct pmp_sb a, b;
	memcpy(&a, page0, sizeof a);
	int ea = sb_copy_ok(&a), eb = PMP_ESHORT;
	if (len >= PMP_SB_SLOT + sizeof(struct pmp_sb)) {
		memcpy(&b, (const char *)page0 + PMP_SB_SLOT, sizeof b);
		eb = sb_copy_ok(&b);
	}
	if (ea == 0 && eb == 0)
		*out = b.generation > a.generation ? b : a;
	else if (ea == 0)
		*out = a;
	else if (eb == 0)
		*out = b;
	else if (ea == PMP_EMAGIC && (eb == PMP_EMAGIC || eb == PMP_ESHORT))
		return PMP_EMAGIC;
	else if (ea == PMP_EVERSION || eb == PMP_EVERSION)
		return PMP_EVERSION;
	else
		return PMP_ECHECKSUM;
	return 0;
}

int _pmp_sb_validate(const struct pmp_sb *sb, uint64_t avail)
{
	if (sb->page_size != PMP_PAGE || sb->off_ctl != PMP_OFF_CTL || sb->off_roots != PMP_OFF_ROOTS ||
	    sb->off_crash != PMP_OFF_CRASH || sb->off_arena != PMP_OFF_ARENA || sb->root_count != PMP_ROOT_COUNT ||
	    sb->crash_size != PMP_CRASH_SIZE)
		return PMP_ELAYOUT;
	if (sb->state != PMP_STATE_CLEAN && sb->state != PMP_STATE_DIRTY)
		return PMP_ELAYOUT;
	if (sb->layout_flags & ~PMP_LAYOUT_KNOWN)
		return PMP_ELAYOUT;
	if (sb->base % PMP_PAGE || sb->mapped % PMP_ALIGN || sb->reserved % PMP_PAGE)
		return PMP_ELAYOUT;
	/* no heap is made below the kernel's lowest mapping address: a base of 0 is damage, not "anywhere" */
	if (sb->base < PMP_MIN_BASE)
		return PMP_ELAYOUT;
	if (sb->grow_from && (sb->grow_from % PMP_ALIGN || sb->grow_from < PMP_OFF_ARENA + PMP_MIN_BLOCK ||
			      sb->grow_from >= sb->mapped))
		return PMP_ELAYOUT;
	if (sb->mapped < PMP_OFF_ARENA + 2 * PMP_MIN_BLOCK || sb->mapped > sb->reserved)
		return PMP_ELAYOUT;
	/* user space ends at 2^47 on x86-64 and at 2^48 on arm64 with 4-level tables */
	if (sb->reserved > ((uint64_t)1 << 48) || sb->base > ((uint64_t)1 << 48) - sb->reserved)
		return PMP_ELAYOUT;
	if (avail < sb->mapped)
		return PMP_ESHORT;
	return 0;
}

int _pmp_sb_of_memory(const void *mem, struct pmp_sb *out)
{
	int e = _pmp_sb_read(mem, PMP_PAGE, out);
	return e ? e : _pmp_sb_validate(out, out->reserved);
}

void _pmp_sb_publish(struct pmp_heap *h)
{
	h->sb.generation++;
	h->sb.checksum = _pmp_sb_checksum(&h->sb);
	struct pmp_sb *slot = (struct pmp_sb *)(void *)(h->base + (h->sb.generation & 1) * PMP_SB_SLOT);
	/* The checksum makes a torn copy invalid; the other copy still holds the previous generation. */
	PMP_CRASHPOINT();
	memcpy(slot, &h->sb, sizeof *slot / 2);
	PMP_CRASHPOINT(); /* a stop here leaves a torn copy */
	memcpy((char *)slot + sizeof *slot / 2, (const char *)&h->sb + sizeof *slot / 2, sizeof *slot / 2);
}

void _pmp_sb_init(struct pmp_sb *sb, uint64_t base, uint64_t reserved, uint64_t mapped, uint32_t layout)
{
	memset(sb, 0, sizeof *sb);
	memcpy(sb->magic, PMP_MAGIC, 8);
	sb->version = PMP_FORMAT_VERSION;
	sb->sb_size = sizeof *sb;
	sb->base = base;
	sb->reserved = reserved;
	sb->mapped = mapped;
	sb->state = PMP_STATE_DIRTY;
	sb->layout_flags = layout;
	sb->page_size = PMP_PAGE;
	sb->off_ctl = PMP_OFF_CTL;
	sb->off_roots = PMP_OFF_ROOTS;
	sb->off_crash = PMP_OFF_CRASH;
	sb->off_arena = PMP_OFF_ARENA;
	sb->root_count = PMP_ROOT_COUNT;
	sb->crash_size = PMP_CRASH_SIZE;
}

void _pmp_sb_set_writer(struct pmp_sb *sb, const struct pmp_identity *id, uint64_t now)
{
	sb->opened_ns = now;
	sb->open_count++;
	if (!id)
		return;
	sb->writer_pid = id->pid;
	sb->writer_start = id->start;
	sb->writer_uid = id->uid;
	memcpy(sb->writer_boot_id, id->boot_id, sizeof sb->writer_boot_id);
	sb->writer_boot_id[sizeof sb->writer_boot_id - 1] = 0;
	memcpy(sb->writer_exe, id->exe, sizeof sb->writer_exe);
	sb->writer_exe[sizeof sb->writer_exe - 1] = 0;
}
