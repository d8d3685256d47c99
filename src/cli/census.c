/* census.c: counting a heap's blocks by state and by size class, with one meaning of "bytes" for every verb:
 * a block's bytes are its usable payload (pmp_block_t.size); the header and any other overhead of the block
 * (block_size - size) are counted apart, as overhead. Size classes are powers of two of the usable size. Slots of
 * slab pages are blocks like the others (without a header); the pages they make up are counted apart, with the
 * page bytes that no slot holds.
 *
 * Must never: mix payload and overhead in one number, or read a block's contents (counting works from the walk).
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

int cli_state_index(int state)
{
	switch (state) {
	case PMP_BLOCK_FREE: return CLI_ST_FREE;
	case PMP_BLOCK_CACHED: return CLI_ST_CACHED;
	case PMP_BLOCK_LOST: return CLI_ST_LOST;
	case PMP_BLOCK_DAMAGED: return CLI_ST_DAMAGED;
	default: return CLI_ST_USED;
	}
}

unsigned cli_class(uint64_t size)
{
	unsigned k = 0;
	while (size >>= 1)
		k++;
	return k;
}

uint64_t cli_class_min(unsigned k)
{
	return k ? (uint64_t)1 << k : 0; /* class 0 holds sizes 0 and 1 */
}

uint64_t cli_class_max(unsigned k)
{
	return k >= 63 ? UINT64_MAX : ((uint64_t)1 << (k + 1)) - 1;
}

/* 65536 -> "64K": only exact multiples take a unit, so a label never rounds */
static void human(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	unsigned u = 0;
	while (v >= 1024 && !(v % 1024) && u < 6) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 "%c", v, units[u]);
}

const char *cli_class_label(unsigned k, char *buf, size_t len)
{
	char lo[24], hi[24];
	human(cli_class_min(k), lo, sizeof lo);
	if (k >= 63)
		snprintf(hi, sizeof hi, "inf");
	else
		human((uint64_t)1 << (k + 1), hi, sizeof hi);
	snprintf(buf, len, "[%s, %s)", lo, hi);
	return buf;
}

static void add(struct cli_census *c, const pmp_block_t *b)
{
	int s = cli_state_index(b->state);
	unsigned k = cli_class(b->size);
	uint64_t over = b->block_size > b->size ? b->block_size - b->size : 0;
	c->total[s].blocks++;
	c->total[s].bytes += b->size;
	c->total[s].overhead += over;
	c->cls[k][s].blocks++;
	c->cls[k][s].bytes += b->size;
	c->cls[k][s].overhead += over;
	if (cli_is_slot(b)) {
		c->slots[s].blocks++;
		c->slots[s].bytes += b->size;
	} else if (s == CLI_ST_FREE && b->size > c->largest_free) {
		c->largest_free = b->size;
	}
}

void cli_census(const struct cli_heap *ch, struct cli_census *c)
{
	memset(c, 0, sizeof *c);
	uint64_t page = 0, slot_bytes = 0; /* the walk gives a page's slots one after the other */
	for (size_t i = 0; i < ch->nblocks; i++) {
		const pmp_block_t *b = &ch->blocks[i];
		add(c, b);
		if (!cli_is_slot(b))
			continue;
		uint64_t p = cli_page_start(ch, (uint64_t)(uintptr_t)b->addr);
		if (p != page) {
			c->pages++;
			page = p;
		}
		slot_bytes += b->block_size;
	}
	c->page_overhead = c->pages * CLI_PAGE - slot_bytes;
}

int cli_class_empty(const struct cli_census *c, unsigned k)
{
	for (int s = 0; s < CLI_NSTATES; s++)
		if (c->cls[k][s].blocks)
			return 0;
	return 1;
}
