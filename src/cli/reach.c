/* reach.c: what holds each used block, the way chap sorts a crashed heap: the crash-time root set (registers, thread
 * stacks, the modules' writable segments, read with pmp_crash_roots), a conservative mark from it and the named
 * roots (every aligned word that points into a used block's payload, interior pointers included), and for every
 * marked block the anchor or block it was first reached from, so a chain from an anchor can be shown.
 * Shared by leaks (counts per class), refs (which anchors hold a block) and path (one chain to a block).
 *
 * Must never: recurse (a long list would overflow the stack: the mark is a breadth-first queue, so chains are
 * short), count a word that points into a block's header or outside the heap, or read a region past its saved
 * bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int keep_region(const pmp_crash_root_t *r, void *user)
{
	struct cli_rootset *rs = user;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;
		struct cli_region *v = realloc(rs->r, cap * sizeof *v);
		if (!v)
			return ENOMEM;
		rs->r = v;
		rs->cap = cap;
	}
	struct cli_region *g = &rs->r[rs->n];
	g->kind = r->kind;
	g->crashing = r->crashing;
	g->addr = r->addr;
	g->len = r->len & ~(size_t)7;
	g->full_len = r->full_len;
	g->tid = r->tid;
	g->module = r->module;
	g->data = malloc(g->len ? g->len : 1);
	if (!g->data)
		return ENOMEM;
	memcpy(g->data, r->data, g->len);
	rs->n++;
	return 0;
}

int cli_rootset_load(struct cli_heap *ch, struct cli_rootset *rs)
{
	memset(rs, 0, sizeof *rs);
	rs->ci = calloc(1, sizeof *rs->ci);
	if (!rs->ci) {
		cli_errorf("out of memory");
		return CLI_ERR;
	}
	rs->record = pmp_crash_get(ch->h, rs->ci) == 0;
	rs->err = pmp_crash_roots(ch->h, keep_region, rs);
	if (rs->err == ENOMEM) {
		cli_errorf("%s: reading the crash's root set: %s", ch->path, pmp_strerror(rs->err));
		cli_rootset_free(rs);
		return CLI_ERR;
	}
	return 0;
}

void cli_rootset_free(struct cli_rootset *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->r[i].data);
	free(rs->r);
	free(rs->ci);
	memset(rs, 0, sizeof *rs);
}

const char *cli_rootset_missing(const struct cli_rootset *rs, char *buf, size_t len)
{
	if (!rs->record)
		return "no crash record (the process was killed with SIGKILL, is still running, or ran with "
		       "PMEMPRELOAD_CRASH=0): only the named roots were available";
	if (!rs->err)
		return NULL;
	if (rs->err == ENODATA && !rs->n)
		return "the crash record has no root set (written by an older writer or on a heap without a file): only "
		       "the named roots were available";
	if (rs->err == PMP_ECORRUPT)
		snprintf(buf, len, "the crash's root set is damaged and was not used: only the named roots%s were available",
			 rs->n ? " and the registers" : "");
	else
		snprintf(buf, len, "the crash's root set was lost (%s): only the named roots%s were available",
			 pmp_strerror(rs->err), rs->n ? " and the registers" : "");
	return buf;
}

static const char *const x86_64_regs[] = {"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rdi", "rsi", "rbp",
					   "rbx", "rdx", "rax", "rcx", "rsp", "rip", "eflags", "csgsfs", "err",
					   "trapno", "oldmask", "cr2"};

const char *cli_anchor_name(int a)
{
	switch (a) {
	case CLI_A_ROOT: return "named roots";
	case CLI_A_GLOBAL: return "globals";
	case CLI_A_STACK: return "stacks";
	case CLI_A_REGISTER: return "registers";
	case CLI_A_REACHABLE: return "reachable";
	default: return "leaked";
	}
}

static const char *module_name(const struct cli_heap *ch, const struct cli_rootset *rs, int m)
{
	if (m < 0 || (unsigned)m >= rs->ci->nmodules)
		return "?";
	const char *p = rs->ci->modules[m].path[0] ? rs->ci->modules[m].path : ch->info.writer_exe;
	const char *slash = strrchr(p, '/');
	return slash ? slash + 1 : p;
}

void cli_anchor_where(const struct cli_heap *ch, const struct cli_rootset *rs, int region, size_t off, char *buf,
		      size_t len)
{
	if (region < 0) {
		snprintf(buf, len, "root '%s'", ch->roots[off].name);
		return;
	}
	const struct cli_region *g = &rs->r[region];
	uint64_t at = g->addr + off;
	switch (g->kind) {
	case PMP_CRASH_ROOT_REGISTERS:
		if (off / 8 < sizeof x86_64_regs / sizeof x86_64_regs[0])
			snprintf(buf, len, "register %s of thread %" PRIu64 " (the crashing thread)", x86_64_regs[off / 8],
				 g->tid);
		else
			snprintf(buf, len, "register #%zu of thread %" PRIu64, off / 8, g->tid);
		break;
	case PMP_CRASH_ROOT_STACK:
		if (g->crashing)
			snprintf(buf, len, "stack slot 0x%" PRIx64 " of thread %" PRIu64 " (the crashing thread; sp%+" PRId64
				 ")", at, g->tid, (int64_t)off - 128);
		else
			snprintf(buf, len, "stack slot 0x%" PRIx64 " of thread %" PRIu64, at, g->tid);
		break;
	default:
		/* module+offset as a symbol table gives it (the offset from the load address) */
		snprintf(buf, len, "global 0x%" PRIx64 " in %s+0x%" PRIx64, at, module_name(ch, rs, g->module),
			 at - (g->module >= 0 ? rs->ci->modules[g->module].load_addr : 0));
		break;
	}
}

const char *cli_anchor_kind(const struct cli_rootset *rs, int region)
{
	if (region < 0)
		return "root";
	switch (rs->r[region].kind) {
	case PMP_CRASH_ROOT_REGISTERS: return "register";
	case PMP_CRASH_ROOT_STACK: return "stack";
	default: return "global";
	}
}

/* the used block whose payload holds a, or -1 */
static long payload_at(const struct cli_heap *ch, uint64_t a)
{
	if (a - ch->base >= ch->mapped)
		return -1;
	const pmp_block_t *b = cli_block_at(ch, a);
	if (!b || b->state != PMP_BLOCK_USED || (uint64_t)(uintptr_t)b->addr > a)
		return -1;
	return (long)(b - ch->blocks);
}

struct mark {
	const struct cli_heap *ch;
	struct cli_reach *r;
	uint8_t cls;
	long from;      /* the holding block's index, or -1 - the region index for an anchor (-1 - -1 for a root) */
	size_t *queue, *tail;
};

static void reach(struct mark *m, uint64_t w, size_t off)
{
	long k = payload_at(m->ch, w);
	if (k < 0 || m->r->cls[k])
		return;
	m->r->cls[k] = m->cls;
	m->r->from[k] = m->from;
	m->r->from_off[k] = off;
	m->queue[(*m->tail)++] = (size_t)k;
}

static int block_word(const pmp_block_t *b, size_t off, uint64_t w, void *user)
{
	(void)b;
	reach(user, w, off);
	return 0;
}

int cli_reach_run(struct cli_heap *ch, const struct cli_rootset *rs, struct cli_reach *r)
{
	size_t n = ch->nblocks ? ch->nblocks : 1;
	r->cls = calloc(n, 1);
	r->from = malloc(n * sizeof *r->from);
	r->from_off = malloc(n * sizeof *r->from_off);
	size_t *queue = malloc(n * sizeof *queue), head = 0, tail = 0;
	if (!r->cls || !r->from || !r->from_off || !queue) {
		free(queue);
		cli_reach_free(r);
		cli_errorf("out of memory");
		return CLI_ERR;
	}
	struct mark m = {ch, r, CLI_A_ROOT, 0, queue, &tail};
	/* the strongest anchor names a block's class: a named root, then globals, stacks and registers */
	for (size_t i = 0; i < ch->nroots; i++) {
		m.from = CLI_FROM_ROOT;
		reach(&m, ch->roots[i].addr, i);
	}
	static const int order[] = {PMP_CRASH_ROOT_DATA, PMP_CRASH_ROOT_STACK, PMP_CRASH_ROOT_REGISTERS};
	static const uint8_t cls[] = {CLI_A_GLOBAL, CLI_A_STACK, CLI_A_REGISTER};
	for (int o = 0; o < 3; o++) {
		m.cls = cls[o];
		for (size_t i = 0; i < rs->n; i++) {
			const struct cli_region *g = &rs->r[i];
			if (g->kind != order[o])
				continue;
			m.from = -2 - (long)i;
			for (size_t off = 0; off + 8 <= g->len; off += 8) {
				uint64_t w;
				memcpy(&w, g->data + off, 8);
				reach(&m, w, off);
			}
		}
	}
	m.cls = CLI_A_REACHABLE;
	while (head < tail) {
		size_t k = queue[head++];
		m.from = (long)k;
		cli_block_words(ch, &ch->blocks[k], block_word, &m);
	}
	free(queue);
	return 0;
}

void cli_reach_free(struct cli_reach *r)
{
	free(r->cls);
	free(r->from);
	free(r->from_off);
	memset(r, 0, sizeof *r);
}
