/* scan.c: reading the contents of blocks for the verbs that search them (grep, strings, refs, dangling, leaks,
 * diff, dump): which blocks a search covers, the pieces of a payload that hold data, its aligned words, and the one
 * way a hit in a block is shown.
 *
 * Must never: read a payload through its original address (the view may be moved), read outside a payload, or
 * walk the holes of a sparse file byte by byte (they are zeros: work must follow the data, see extent.c).
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

unsigned cli_scan_mask(int used, int freed)
{
	unsigned m = (used ? CLI_IN_LIVE : 0) | (freed ? CLI_IN_FREED : 0);
	return m ? m : CLI_IN_LIVE | CLI_IN_FREED;
}

int cli_scan_wants(unsigned mask, const pmp_block_t *b)
{
	int freed = b->state == PMP_BLOCK_FREE || b->state == PMP_BLOCK_CACHED;
	return (mask & (freed ? CLI_IN_FREED : CLI_IN_LIVE)) != 0;
}

const char *cli_life(int state)
{
	switch (state) {
	case PMP_BLOCK_USED: return "live";
	case PMP_BLOCK_FREE: return "freed";
	case PMP_BLOCK_CACHED: return "freed (cached)";
	case PMP_BLOCK_LOST: return "lost";
	case PMP_BLOCK_DAMAGED: return "damaged";
	default: return "?";
	}
}

int cli_block_pieces(struct cli_heap *ch, const pmp_block_t *b, size_t pad, cli_piece_fn fn, void *user)
{
	uint64_t lo = (uint64_t)(uintptr_t)b->addr - ch->base, hi = lo + b->size, dlo, dhi, wlo = 0, whi = 0;
	int have = 0, rc;
	for (uint64_t pos = lo; pos < hi && cli_data_next(ch, pos, hi, &dlo, &dhi); pos = dhi) {
		uint64_t a = dlo - lo > pad ? dlo - pad : lo, z = hi - dhi > pad ? dhi + pad : hi;
		if (have && a <= whi) {
			whi = z;
			continue;
		}
		if (have && (rc = fn(b, (size_t)(wlo - lo), (const uint8_t *)b->data + (wlo - lo), (size_t)(whi - wlo), user)))
			return rc;
		wlo = a;
		whi = z;
		have = 1;
	}
	return have ? fn(b, (size_t)(wlo - lo), (const uint8_t *)b->data + (wlo - lo), (size_t)(whi - wlo), user) : 0;
}

struct words {
	cli_word_fn fn;
	void *user;
};

static int piece_words(const pmp_block_t *b, size_t off, const uint8_t *p, size_t len, void *user)
{
	const struct words *w = user;
	/* the payload address is 16-aligned in the writer's space, so word k is 8-aligned there too */
	size_t k = (off + 7) & ~(size_t)7;
	for (; k + 8 <= off + len; k += 8) {
		uint64_t v;
		memcpy(&v, p + (k - off), 8);
		int rc;
		if (v && (rc = w->fn(b, k, v, w->user)) != 0)
			return rc;
	}
	return 0;
}

int cli_block_words(struct cli_heap *ch, const pmp_block_t *b, cli_word_fn fn, void *user)
{
	struct words w = {fn, user};
	/* pad 7: a word that straddles the edge of a data stretch is read whole */
	return cli_block_pieces(ch, b, 7, piece_words, &w);
}

void cli_hit_print(const pmp_block_t *b, size_t off)
{
	printf("0x%" PRIx64 "+%zu (%s, size %zu)", (uint64_t)(uintptr_t)b->addr, off, cli_life(b->state), b->size);
}

void cli_hit_json(struct cli_json *j, const pmp_block_t *b, size_t off)
{
	uint64_t a = (uint64_t)(uintptr_t)b->addr;
	json_addr(j, "block", a);
	json_u64(j, "offset", off);
	json_addr(j, "address", a + off);
	json_u64(j, "block_size", b->size);
	json_str(j, "state", cli_state_name(b->state));
	json_bool(j, "live", b->state == PMP_BLOCK_USED || b->state == PMP_BLOCK_LOST);
}

void cli_word_hit(struct cli_json *j, const pmp_block_t *b, size_t off, uint64_t w)
{
	if (j) {
		json_obj(j, NULL);
		cli_hit_json(j, b, off);
		json_addr(j, "value", w);
		return;
	}
	cli_hit_print(b, off);
	printf(" holds 0x%" PRIx64, w);
}
