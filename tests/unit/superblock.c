/* superblock.c: unit tests of page 0: _pmp_sb_read's choice between the two copies (newer valid generation wins,
 * a torn or garbled newest copy falls back to the older one), its distinct errors, and _pmp_sb_validate.
 *
 * Holds: tests on a private page image written with _pmp_sb_publish, the writer the heap itself uses.
 * Must never: hand-compute checksums (a copy is made valid only by publishing it) or touch a live heap.
 */
#include "unit.h"

#define BASE 0x7a0000000000ull

struct img {
	_Alignas(4096) uint8_t page[PMP_PAGE];
	struct pmp_heap h;
};

/* a page 0 with generations 1 and 2 published; the next publish goes to slot 1 */
static void img_init(struct img *m, uint64_t mapped, uint64_t reserved)
{
	memset(m, 0, sizeof *m);
	memset(m->page, 0xee, sizeof m->page);
	m->h.base = m->page;
	_pmp_sb_init(&m->h.sb, BASE, reserved, mapped, 0);
	_pmp_sb_publish(&m->h);
	_pmp_sb_publish(&m->h);
}

static struct pmp_sb *slot(struct img *m, unsigned i)
{
	return (struct pmp_sb *)(void *)(m->page + i * PMP_SB_SLOT);
}

Test(superblock, newer_generation_wins)
{
	static struct img m;
	img_init(&m, 1u << 20, 1u << 24);
	struct pmp_sb out;
	cr_assert_eq(_pmp_sb_read(m.page, PMP_PAGE, &out), 0);
	cr_assert_eq(out.generation, 2);
	cr_assert_eq(slot(&m, 0)->generation, 2, "generation g lives in slot g & 1");
	cr_assert_eq(slot(&m, 1)->generation, 1);
	/* publish generation 3 with a new mapped size: slot 1, and it wins */
	m.h.sb.mapped = 2u << 20;
	uint8_t before[sizeof(struct pmp_sb)];
	memcpy(before, slot(&m, 0), sizeof before);
	_pmp_sb_publish(&m.h);
	cr_assert_eq(memcmp(before, slot(&m, 0), sizeof before), 0, "publish wrote the copy holding the current generation");
	cr_assert_eq(_pmp_sb_read(m.page, PMP_PAGE, &out), 0);
	cr_assert_eq(out.generation, 3);
	cr_assert_eq(out.mapped, 2u << 20);
	/* and 4 goes back to slot 0 */
	m.h.sb.mapped = 3u << 20;
	_pmp_sb_publish(&m.h);
	cr_assert_eq(_pmp_sb_read(m.page, PMP_PAGE, &out), 0);
	cr_assert_eq(out.generation, 4);
	cr_assert_eq(out.mapped, 3u << 20);
	cr_assert_eq(slot(&m, 1)->generation, 3);
}

Test(superblock, torn_newest_falls_back)
{
	static struct img m;
	img_init(&m, 1u << 20, 1u << 24);
	m.h.sb.mapped = 2u << 20;
	_pmp_sb_publish(&m.h); /* generation 3 in slot 1 */
	struct pmp_sb out;
	/* torn: the second half of the newest copy still holds old bytes */
	memset((uint8_t *)slot(&m, 1) + sizeof(struct pmp_sb) / 2, 0x5a, sizeof(struct pmp_sb) / 2);
	cr_assert_eq(_pmp_sb_read(m.page, PMP_PAGE, &out), 0);
	cr_assert_eq(out.generation, 2, "torn generation 3 must lose to generation 2");
	cr_assert_eq(out.mapped, 1u << 20);

	/* garbled: one flipped bit in a field */
	img_init(&m, 1u << 20, 1u << 24);
	m.h.sb.mapped = 2u << 20;
	_pmp_sb_publish(&m.h);
	slot(&m, 1)->mapped ^= 0x1000;
	cr_assert_eq(_pmp_sb_read(m.page, PMP_PAGE, &out), 0);
	cr_assert_eq(out.generation, 2);
	/* a flipped bit in the checksum itself */
	img_init(&m, 1u << 20, 1u << 24);
	slot(&m, 0)->checksum ^= 1;
	cr_assert_eq(_pmp_sb_read(m.page, PMP_PAGE, &out), 0);
	cr_assert_eq(out.generation, 1);
	/* the older copy damaged, the newer one intact */
	img_init(&m, 1u << 20, 1u << 24);
	slot(&m, 1)->writer_exe[3] ^= 0x40;
	cr_assert_eq(_pmp_sb_read(m.page, PMP_PAGE, &out), 0);
	cr_assert_eq(out.generation, 2);
}

Test(superblock, both_bad_is_checksum)
{
	static struct img m;
	img_init(&m, 1u << 20, 1u << 24);
	slot(&m, 0)->reserved ^= 0x10000;
	slot(&m, 1)->_reserved[17] ^= 0xff;
	struct pmp_sb out;
	cr_assert_eq(_pmp_sb_read(m.page, PMP_PAGE, &out), PMP_ECHECKSUM);
	/* only copy 0 readable and it is bad */
	img_init(&m, 1u << 20, 1u << 24);
	slot(&m, 0)->generation ^= 0x100;
	cr_assert_eq(_pmp_sb_read(m.page, PMP_SB_SLOT, &out), PMP_ECHECKSUM);
}

Test(superblock, bad_magic)
{
	static struct img m;
	struct pmp_sb out;
	img_init(&m, 1u << 20, 1u << 24);
	slot(&m, 0)->magic[0] = 'X';
	slot(&m, 1)->magic[7] = 0;
	cr_assert_eq(_pmp_sb_read(m.page, PMP_PAGE, &out), PMP_EMAGIC);
	static uint8_t zero[PMP_PAGE];
	cr_assert_eq(_pmp_sb_read(zero, sizeof zero, &out), PMP_EMAGIC);
	/* one copy with a bad magic, the other valid: the valid one is used */
	img_init(&m, 1u << 20, 1u << 24);
	memset(slot(&m, 0)->magic, 0, 8);
	cr_assert_eq(_pmp_sb_read(m.page, PMP_PAGE, &out), 0);
	cr_assert_eq(out.generation, 1);
	/* too short for a superblock: magic decides between "not a heap" and "truncated" */
	img_init(&m, 1u << 20, 1u << 24);
	cr_assert_eq(_pmp_sb_read(m.page, 100, &out), PMP_ESHORT);
	cr_assert_eq(_pmp_sb_read(zero, 100, &out), PMP_EMAGIC);
	cr_assert_eq(_pmp_sb_read(m.page, 4, &out), PMP_EMAGIC);
	/* only the first copy readable: it is used */
	cr_assert_eq(_pmp_sb_read(m.page, PMP_SB_SLOT, &out), 0);
	cr_assert_eq(out.generation, 2);
}

Test(superblock, wrong_version)
{
	static struct img m;
	struct pmp_sb out;
	img_init(&m, 1u << 20, 1u << 24);
	m.h.sb.version = PMP_FORMAT_VERSION + 1;
	_pmp_sb_publish(&m.h);
	_pmp_sb_publish(&m.h); /* both copies validly checksummed, version from the future */
	cr_assert_eq(_pmp_sb_read(m.page, PMP_PAGE, &out), PMP_EVERSION);
	/* a different superblock size is another format too */
	img_init(&m, 1u << 20, 1u << 24);
	m.h.sb.sb_size = 2048;
	_pmp_sb_publish(&m.h);
	_pmp_sb_publish(&m.h);
	cr_assert_eq(_pmp_sb_read(m.page, PMP_PAGE, &out), PMP_EVERSION);
	/* the newer copy from the future, the older one valid: the older one is used */
	img_init(&m, 1u << 20, 1u << 24);
	m.h.sb.version = PMP_FORMAT_VERSION + 1;
	_pmp_sb_publish(&m.h);
	cr_assert_eq(_pmp_sb_read(m.page, PMP_PAGE, &out), 0);
	cr_assert_eq(out.generation, 2);
	cr_assert_eq(out.version, PMP_FORMAT_VERSION);
}

static struct pmp_sb good_sb(void)
{
	struct pmp_sb sb;
	_pmp_sb_init(&sb, BASE, 1u << 30, 4u << 20, PMP_LAYOUT_FILE);
	return sb;
}

#define REJECT(field_stmt, expect)                                                                             \
	do {                                                                                                   \
		struct pmp_sb sb_ = good_sb();                                                                 \
		struct pmp_sb *sb = &sb_;                                                                      \
		field_stmt;                                                                                    \
		cr_assert_eq(_pmp_sb_validate(sb, 1u << 30), expect, "validate accepted: %s", #field_stmt); \
	} while (0)

Test(superblock, validate_rejects_implausible)
{
	struct pmp_sb fresh = good_sb();
	cr_assert_eq(_pmp_sb_validate(&fresh, 4u << 20), 0, "a fresh superblock must validate");
	cr_assert_eq(_pmp_sb_validate(&fresh, 1u << 30), 0);
	fresh.state = PMP_STATE_CLEAN;
	cr_assert_eq(_pmp_sb_validate(&fresh, 4u << 20), 0);
	REJECT(sb->page_size = 8192, PMP_ELAYOUT);
	REJECT(sb->off_ctl = 0, PMP_ELAYOUT);
	REJECT(sb->off_roots += 8, PMP_ELAYOUT);
	REJECT(sb->off_crash = 0x8000, PMP_ELAYOUT);
	REJECT(sb->off_arena = 0x1000, PMP_ELAYOUT);
	REJECT(sb->root_count = 1000, PMP_ELAYOUT);
	REJECT(sb->crash_size = 0, PMP_ELAYOUT);
	REJECT(sb->state = 0, PMP_ELAYOUT);
	REJECT(sb->state = 12345, PMP_ELAYOUT);
	REJECT(sb->base += 8, PMP_ELAYOUT);
	REJECT(sb->mapped += 8, PMP_ELAYOUT);
	REJECT(sb->reserved += 16, PMP_ELAYOUT);
	REJECT(sb->mapped = PMP_OFF_ARENA, PMP_ELAYOUT);
	REJECT(sb->mapped = 0, PMP_ELAYOUT);
	REJECT(sb->mapped = sb->reserved + PMP_PAGE, PMP_ELAYOUT);
	REJECT((sb->reserved = (uint64_t)1 << 50, sb->mapped = 4096 * 16 + 4096), PMP_ELAYOUT);
	REJECT(sb->base = ((uint64_t)1 << 48) - PMP_PAGE, PMP_ELAYOUT);
	REJECT(sb->base = UINT64_MAX & ~(uint64_t)(PMP_PAGE - 1), PMP_ELAYOUT);
}

Test(superblock, validate_short)
{
	struct pmp_sb sb = good_sb();
	cr_assert_eq(_pmp_sb_validate(&sb, sb.mapped - 1), PMP_ESHORT);
	cr_assert_eq(_pmp_sb_validate(&sb, PMP_PAGE), PMP_ESHORT);
	cr_assert_eq(_pmp_sb_validate(&sb, 0), PMP_ESHORT);
	cr_assert_eq(_pmp_sb_validate(&sb, sb.mapped), 0);
}
