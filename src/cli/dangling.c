/* dangling.c: the `dangling` verb: the aligned words of live blocks that point into the payload of a freed (free or
 * cached) block: use-after-free candidates, each with the holder as block+offset and the freed block it points into.
 *
 * Must never: call a word dangling because it points into a block's header or outside the heap (neither is a use of
 * freed memory), or read a holder's holes (scan.c).
 */
#include <inttypes.h>

#include "cli.h"

struct dangle {
	const struct cli_heap *ch;
	struct cli_json *j; /* NULL for text */
	uint64_t found;
};

static int word(const pmp_block_t *b, size_t off, uint64_t w, void *user)
{
	struct dangle *d = user;
	if (w - d->ch->base >= d->ch->mapped)
		return 0;
	const pmp_block_t *t = cli_block_at(d->ch, w);
	uint64_t ta = t ? (uint64_t)(uintptr_t)t->addr : 0;
	if (!t || (t->state != PMP_BLOCK_FREE && t->state != PMP_BLOCK_CACHED) || w < ta)
		return 0;
	d->found++;
	cli_word_hit(d->j, b, off, w);
	if (d->j) {
		json_obj(d->j, "target");
		json_addr(d->j, "block", ta);
		json_u64(d->j, "offset", w - ta);
		json_u64(d->j, "block_size", t->size);
		json_str(d->j, "state", cli_state_name(t->state));
		json_obj_end(d->j);
		json_obj_end(d->j);
	} else {
		printf(" -> %s block 0x%" PRIx64 "+%" PRIu64 " (size %zu)\n", cli_life(t->state), ta, w - ta, t->size);
	}
	return 0;
}

int cli_dangling(int argc, char **argv)
{
	int json = 0;
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {NULL, NULL, NULL}};
	struct cli_heap ch;
	int brc;
	if (cli_open_args(argc, argv, opts, &ch) || cli_load(&ch, 0, &brc))
		return CLI_ERR;
	struct cli_json j;
	if (json) {
		json_begin_list(&j, "dangling", ch.path, "dangling");
	}
	struct dangle d = {&ch, json ? &j : NULL, 0};
	for (size_t i = 0; i < ch.nblocks; i++)
		if (ch.blocks[i].state == PMP_BLOCK_USED)
			cli_block_words(&ch, &ch.blocks[i], word, &d);
	if (json) {
		json_arr_end(&j);
		json_u64(&j, "count", d.found);
		json_end(&j);
	} else {
		printf("%" PRIu64 " word%s in live blocks point%s into freed blocks (use-after-free candidates)\n", d.found,
		       d.found == 1 ? "" : "s", d.found == 1 ? "s" : "");
	}
	cli_close(&ch);
	return brc;
}
