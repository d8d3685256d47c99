/* pages.c: slab pages as the command sees them through the public walk: which blocks are slots, the page a slot or
 * an address belongs to, and where a page's own bytes (chain header, page header, slack) lie.
 *
 * Must never: read a page's header from the file (its layout is the core's, not the public API's: everything here
 * follows from the addresses and sizes the walk gives), or look at more than one page's slots to answer for a page.
 */
#include "cli.h"

int cli_is_slot(const pmp_block_t *b)
{
	/* a slot's offset is its own, a chain block's is its header's, 16 bytes before the user pointer (the base is
	 * page-aligned); sizes cannot tell them apart: a tracked heap's slot holds 16 bytes the program does not see */
	return (((uint64_t)(uintptr_t)b->addr - b->offset) & (CLI_PAGE - 1)) == 0;
}

uint64_t cli_page_start(const struct cli_heap *ch, uint64_t a)
{
	return ch->base + ((a - ch->base) & ~(CLI_PAGE - 1));
}

/* The page starting at p, if the blocks show one there. The first block that starts in [p, page end) decides: a
 * slot means the whole stretch is that page's payload, so every block starting in it is one of its slots. */
static int page_from(const struct cli_heap *ch, uint64_t p, struct cli_page *pg)
{
	size_t first = cli_blocks_upto(ch, p - 1), end = cli_blocks_upto(ch, p + CLI_PAGE - CLI_HDR - 1);
	if (first >= end || !cli_is_slot(&ch->blocks[first]))
		return 0;
	pg->addr = p;
	pg->first = first;
	pg->n = end - first;
	pg->slot = ch->blocks[first].block_size;
	pg->used = 0;
	for (size_t i = first; i < end; i++)
		pg->used += ch->blocks[i].state == PMP_BLOCK_USED;
	return 1;
}

void cli_page_of_slot(const struct cli_heap *ch, size_t i, struct cli_page *pg)
{
	page_from(ch, cli_page_start(ch, (uint64_t)(uintptr_t)ch->blocks[i].addr), pg);
}

int cli_page_at(const struct cli_heap *ch, uint64_t a, struct cli_page *pg)
{
	if (a < ch->base || a - ch->base >= ch->mapped)
		return 0;
	/* a page's bytes start CLI_HDR before it (its chain header) and end CLI_HDR before the next region */
	return page_from(ch, cli_page_start(ch, a + CLI_HDR), pg);
}

uint64_t cli_page_end(const struct cli_page *pg)
{
	return pg->addr + CLI_PAGE - CLI_HDR;
}

uint64_t cli_page_slots(const struct cli_heap *ch, const struct cli_page *pg, uint64_t *end)
{
	const pmp_block_t *last = &ch->blocks[pg->first + pg->n - 1];
	*end = (uint64_t)(uintptr_t)last->addr + last->block_size;
	return (uint64_t)(uintptr_t)ch->blocks[pg->first].addr;
}
