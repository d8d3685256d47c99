/* leaks.c: the `leaks` verb: a conservative mark from the named roots (every 8-byte aligned word of a reachable
 * used block that points into a used block, interior pointers included, marks it) and the used blocks left unmarked.
 *
 * Must never: recurse (a long list would overflow the stack: the mark uses an explicit work list), or call a block
 * reachable because of a word outside a used block's usable bytes.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "cli.h"

/* a block enters the work list once, when first marked, so the list never holds more than nblocks entries */
static void mark_at(const struct cli_heap *ch, uint64_t a, uint8_t *mark, size_t *work, size_t *nw)
{
	const pmp_block_t *b = cli_block_at(ch, a);
	if (!b || b->state != PMP_BLOCK_USED || (uint64_t)(uintptr_t)b->addr > a) /* a pointer into a header is none */
		return;
	size_t k = (size_t)(b - ch->blocks);
	if (!mark[k]) {
		mark[k] = 1;
		work[(*nw)++] = k;
	}
}

struct marker {
	const struct cli_heap *ch;
	uint8_t *mark;
	size_t *work, *nw;
};

static int mark_word(const pmp_block_t *b, size_t off, uint64_t w, void *user)
{
	const struct marker *m = user;
	if (w - m->ch->base < m->ch->mapped)
		mark_at(m->ch, w, m->mark, m->work, m->nw);
	return 0;
}

int cli_leaks(int argc, char **argv)
{
	int json = 0, by_site = 0, n;
	const char *limit_s = NULL, *pos[1];
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {"--limit", &limit_s, NULL}, {"--by-site", NULL, &by_site},
				       {NULL, NULL, NULL}};
	uint64_t limit = UINT64_MAX;
	if (cli_args(argc, argv, opts, pos, 1, 1, &n) || (limit_s && cli_parse_size(limit_s, &limit)))
		return CLI_ERR;
	struct cli_heap ch;
	if (cli_open(pos[0], &ch))
		return CLI_ERR;
	int brc;
	if (cli_load(&ch, 1, &brc))
		return CLI_ERR;
	uint8_t *mark = calloc(ch.nblocks ? ch.nblocks : 1, 1);
	size_t *work = malloc((ch.nblocks ? ch.nblocks : 1) * sizeof *work), nw = 0;
	if (!mark || !work) {
		cli_errorf("out of memory");
		free(mark);
		free(work);
		cli_close(&ch);
		return CLI_ERR;
	}
	for (size_t i = 0; i < ch.nroots; i++)
		mark_at(&ch, ch.roots[i].addr, mark, work, &nw);
	struct marker m = {&ch, mark, work, &nw};
	while (nw)
		cli_block_words(&ch, &ch.blocks[work[--nw]], mark_word, &m);
	uint64_t used = 0, used_bytes = 0, leaked = 0, leaked_bytes = 0;
	struct cli_json j;
	if (by_site) { /* the unmarked used blocks summed by the site that allocated them (sites.c) */
		int rc = cli_sites_leaks(&ch, mark, limit, json);
		free(mark);
		free(work);
		cli_close(&ch);
		return rc ? CLI_ERR : brc;
	}
	if (json) {
		json_begin_list(&j, "leaks", ch.path, "leaks");
	}
	for (size_t i = 0; i < ch.nblocks; i++) {
		const pmp_block_t *b = &ch.blocks[i];
		if (b->state != PMP_BLOCK_USED)
			continue;
		used++;
		used_bytes += b->size;
		if (mark[i])
			continue;
		leaked_bytes += b->size;
		if (leaked++ >= limit)
			continue;
		if (json) {
			json_obj(&j, NULL);
			json_addr(&j, "address", (uint64_t)(uintptr_t)b->addr);
			json_u64(&j, "size", b->size);
			json_obj_end(&j);
		} else {
			printf("0x%012" PRIx64 " %12zu  unreachable\n", (uint64_t)(uintptr_t)b->addr, b->size);
		}
	}
	if (json) {
		json_arr_end(&j);
		json_bool(&j, "truncated", leaked > limit);
		json_u64(&j, "leaked_blocks", leaked);
		json_u64(&j, "leaked_bytes", leaked_bytes);
		json_u64(&j, "used_blocks", used);
		json_u64(&j, "used_bytes", used_bytes);
		json_u64(&j, "roots", ch.nroots);
		json_end(&j);
	} else {
		if (leaked > limit)
			printf("... %" PRIu64 " more unreachable blocks\n", leaked - limit);
		printf("%" PRIu64 " of %" PRIu64 " used blocks unreachable from %zu roots: %" PRIu64 " of %" PRIu64
		       " bytes\n", leaked, used, ch.nroots, leaked_bytes, used_bytes);
	}
	free(mark);
	free(work);
	cli_close(&ch);
	return brc;
}
