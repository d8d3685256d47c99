/* open.c: opening a heap file for the command (read-only, private, moved when its address is taken), reporting
 * why it cannot be opened, and the block and root tables every inspecting verb works from.
 *
 * Must never: write to the heap file, trust a pointer read from it without translating and bounds-checking it, or
 * print an in-heap address other than the original (writer's) one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int cli_open(const char *path, struct cli_heap *ch)
{
	memset(ch, 0, sizeof *ch);
	ch->path = path;
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = PMP_OPEN_READONLY;
	o.flags = PMP_FILE_ANYADDR | PMP_FILE_SALVAGE; /* a truncated file shows what it still holds */
	int e = pmp_file_open(path, &o, &ch->h);
	if (e) {
		struct stat st;
		if (e == PMP_ESHORT && !stat(path, &st) && st.st_size == 0)
			cli_errorf("%s: empty file, not a heap", path);
		else
			cli_errorf("%s: %s", path, pmp_strerror(e));
		ch->h = NULL;
		return CLI_ERR;
	}
	if ((e = pmp_info(ch->h, &ch->info)) != 0) {
		cli_errorf("%s: %s", path, pmp_strerror(e));
		cli_close(ch);
		return CLI_ERR;
	}
	/* the strings come from the file: terminate them whatever it holds */
	ch->info.writer_exe[sizeof ch->info.writer_exe - 1] = 0;
	ch->info.writer_boot_id[sizeof ch->info.writer_boot_id - 1] = 0;
	ch->base = (uint64_t)(uintptr_t)ch->info.base;
	ch->mapped = ch->info.mapped;
	ch->local = ch->info.mapped_at;
	struct stat st;
	if (!stat(path, &st) && (uint64_t)st.st_size < ch->mapped) {
		ch->truncated_at = (uint64_t)st.st_size;
		cli_errorf("%s: warning: truncated: the file holds %" PRIu64 " of the %" PRIu64
			   " bytes of its heap; from 0x%" PRIx64 " on it reads as zeros (a damaged stretch)",
			   path, ch->truncated_at, ch->mapped, ch->base + ch->truncated_at);
	}
	return 0;
}

void cli_close(struct cli_heap *ch)
{
	if (ch->h)
		pmp_close(ch->h);
	free(ch->blocks);
	free(ch->roots);
	free(ch->ext);
	memset(ch, 0, sizeof *ch);
}

struct collect {
	pmp_block_t *v;
	size_t n, cap;
};

static int collect_block(const pmp_block_t *b, void *user)
{
	struct collect *c = user;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		pmp_block_t *v = realloc(c->v, cap * sizeof *v);
		if (!v)
			return ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = *b;
	return 0;
}

int cli_walk(struct cli_heap *ch)
{
	struct collect c = {0};
	free(ch->blocks);
	int e = pmp_walk(ch->h, collect_block, &c);
	ch->blocks = c.v;
	ch->nblocks = c.n;
	return e;
}

int cli_load_blocks(struct cli_heap *ch)
{
	int e = cli_walk(ch);
	if (e == PMP_ECORRUPT) {
		size_t n = 0;
		uint64_t bytes = 0;
		for (size_t i = 0; i < ch->nblocks; i++)
			if (ch->blocks[i].state == PMP_BLOCK_DAMAGED) {
				n++;
				bytes += ch->blocks[i].size;
			}
		cli_errorf("%s: warning: block chain damaged: %zu stretch%s of %" PRIu64
			   " bytes shown as damaged, the blocks around them as they are (run 'pmempreload check')",
			   ch->path, n, n == 1 ? "" : "es", bytes);
		return CLI_FAIL;
	}
	if (e) {
		cli_errorf("%s: %s", ch->path, pmp_strerror(e));
		return CLI_ERR;
	}
	return CLI_OK;
}

struct root_collect {
	struct cli_heap *ch;
	size_t cap;
	int err;
};

static int collect_root(const char *name, void *p, void *user)
{
	struct root_collect *rc = user;
	struct cli_heap *ch = rc->ch;
	if (ch->nroots == rc->cap) {
		size_t cap = rc->cap ? rc->cap * 2 : 16;
		struct cli_root *v = realloc(ch->roots, cap * sizeof *v);
		if (!v) {
			rc->err = ENOMEM;
			return 1;
		}
		ch->roots = v;
		rc->cap = cap;
	}
	struct cli_root *r = &ch->roots[ch->nroots++];
	snprintf(r->name, sizeof r->name, "%s", name);
	r->addr = p ? cli_orig(ch, p) : 0;
	return 0;
}

int cli_load_roots(struct cli_heap *ch)
{
	struct root_collect rc = {ch, 0, 0};
	int e = pmp_root_list(ch->h, collect_root, &rc);
	if (rc.err || (e && e != 1)) {
		cli_errorf("%s: reading the roots: %s", ch->path, pmp_strerror(rc.err ? rc.err : e));
		return CLI_ERR;
	}
	return CLI_OK;
}

uint64_t cli_block_start(const pmp_block_t *b)
{
	return (uint64_t)(uintptr_t)b->addr - (b->block_size - b->size);
}

size_t cli_blocks_upto(const struct cli_heap *ch, uint64_t a)
{
	size_t lo = 0, hi = ch->nblocks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cli_block_start(&ch->blocks[mid]) <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const pmp_block_t *cli_block_at(const struct cli_heap *ch, uint64_t a)
{
	size_t k = cli_blocks_upto(ch, a); /* the last block that starts at or before a is the only candidate */
	if (!k)
		return NULL;
	const pmp_block_t *b = &ch->blocks[k - 1];
	return a - cli_block_start(b) < b->block_size ? b : NULL;
}

const uint8_t *cli_local(const struct cli_heap *ch, uint64_t a, uint64_t len)
{
	if (a < ch->base || a - ch->base > ch->mapped || len > ch->mapped - (a - ch->base))
		return NULL;
	return ch->local + (a - ch->base);
}

uint64_t cli_orig(const struct cli_heap *ch, const void *p)
{
	return ch->base + (uint64_t)((const uint8_t *)p - ch->local);
}

const char *cli_state_name(int state)
{
	switch (state) {
	case PMP_BLOCK_USED: return "used";
	case PMP_BLOCK_FREE: return "free";
	case PMP_BLOCK_CACHED: return "cached";
	case PMP_BLOCK_LOST: return "lost";
	case PMP_BLOCK_DAMAGED: return "damaged";
	default: return "?";
	}
}

int cli_open_args(int argc, char **argv, const struct cli_opt *opts, struct cli_heap *ch)
{
	const char *pos[1];
	int n;
	if (cli_args(argc, argv, opts, pos, 1, 1, &n))
		return CLI_ERR;
	return cli_open(pos[0], ch) ? CLI_ERR : 0;
}

int cli_load(struct cli_heap *ch, int roots, int *brc)
{
	*brc = cli_load_blocks(ch);
	if (*brc == CLI_ERR || (roots && cli_load_roots(ch))) {
		cli_close(ch);
		return CLI_ERR;
	}
	return 0;
}

int cli_open_blocks(const char *path, struct cli_heap *ch, int *brc)
{
	return cli_open(path, ch) ? CLI_ERR : cli_load(ch, 0, brc);
}
