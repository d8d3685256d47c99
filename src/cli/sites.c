/* sites.c: call sites of a tracked heap (PMEMPRELOAD_TRACK=callsite, PMP_HEAP_TRACK) as the verbs show them: blocks
 * summed by the site that allocated them (live blocks) or freed them (freed blocks), heaviest first by bytes with
 * counts, the way heaptrack and DHAT summarise, and one block's record for whatis. Sites are symbolised against the
 * modules the writer recorded (symbols.c).
 *
 * Must never: read a record but through pmp_block_site, attribute an address to a module whose recorded range does
 * not hold it, or run addr2line more than once per module per table.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_MODULES 256

struct mods {
	pmp_module_t m[MAX_MODULES];
	struct cli_module cm[MAX_MODULES];
	unsigned n;
};

static void load_modules(struct cli_heap *ch, struct mods *ms)
{
	ms->n = 0;
	if (pmp_site_modules(ch->h, ms->m, MAX_MODULES, &ms->n))
		ms->n = 0;
	for (unsigned i = 0; i < ms->n; i++) {
		ms->cm[i].load_addr = ms->m[i].load_addr;
		ms->cm[i].end = ms->m[i].hi; /* the recorded extent: an address past it is in no module */
		ms->cm[i].path = ms->m[i].path;
	}
}

int cli_sites_tracked(struct cli_heap *ch)
{
	unsigned n;
	return pmp_site_modules(ch->h, NULL, 0, &n) == 0;
}

/* the module of the writer whose loaded range holds pc, -1 when none */
static int module_of(const struct mods *ms, uint64_t pc)
{
	for (unsigned i = 0; i < ms->n; i++)
		if (pc >= ms->m[i].lo && pc < ms->m[i].hi)
			return (int)i;
	return -1;
}

/* symbolise n addresses (0 = no record): those outside every recorded module stay bare addresses */
static void symbolise(struct cli_sym *s, unsigned n, const struct mods *ms)
{
	struct cli_sym *in = calloc(n ? n : 1, sizeof *in);
	unsigned *back = calloc(n ? n : 1, sizeof *back), k = 0;
	for (unsigned i = 0; i < n; i++) {
		s[i].module = -1;
		s[i].offset = 0;
		s[i].func[0] = s[i].line[0] = 0;
		if (!in || !back || !s[i].pc || module_of(ms, s[i].pc) < 0)
			continue;
		in[k].pc = s[i].pc;
		in[k].is_return = 1;
		back[k++] = i;
	}
	if (in && back) {
		/* only the module that holds each address: the symboliser picks by load address alone */
		cli_symbolise(in, k, ms->cm, ms->n, 1);
		for (unsigned j = 0; j < k; j++) {
			struct cli_sym *t = &s[back[j]];
			int m = module_of(ms, in[j].pc);
			*t = in[j];
			if (t->module != m) { /* a module loaded above the right one: its own load address decides */
				t->module = m;
				t->offset = in[j].pc - ms->m[m].load_addr;
				t->func[0] = t->line[0] = 0;
			}
		}
	}
	free(in);
	free(back);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* "func (file:line) module+0xoff", "module+0xoff", "0xaddr" or "(no record)" */
static void site_text(const struct cli_sym *s, const struct mods *ms, char *buf, size_t len)
{
	if (!s->pc) {
		snprintf(buf, len, "(no record)");
		return;
	}
	char where[200];
	if (s->module >= 0)
		snprintf(where, sizeof where, "%s+0x%" PRIx64, base_name(ms->m[s->module].path), s->offset);
	else
		snprintf(where, sizeof where, "0x%" PRIx64, s->pc);
	if (s->func[0] && s->line[0])
		snprintf(buf, len, "%s (%s) %s", s->func, base_name(s->line), where);
	else if (s->func[0])
		snprintf(buf, len, "%s %s", s->func, where);
	else
		snprintf(buf, len, "%s", where);
}

static void site_json(struct cli_json *j, const struct cli_sym *s, const struct mods *ms)
{
	if (!s->pc) {
		json_null(j, "site");
		return;
	}
	json_addr(j, "site", s->pc);
	if (s->module >= 0) {
		json_str(j, "module", ms->m[s->module].path);
		json_addr(j, "module_offset", s->offset);
	}
	if (s->func[0])
		json_str(j, "function", s->func);
	if (s->line[0])
		json_str(j, "line", s->line);
}

/* ---- the table ---- */

enum { ROLE_ALLOC, ROLE_FREE };

struct row {
	uint64_t pc, blocks, bytes;
	int role;
};

static int by_key(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->role != y->role)
		return x->role - y->role;
	return x->pc < y->pc ? -1 : x->pc > y->pc;
}

static int by_weight(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	if (x->blocks != y->blocks)
		return x->blocks < y->blocks ? 1 : -1;
	return by_key(a, b);
}

static int freed_state(int state)
{
	return state == PMP_BLOCK_FREE || state == PMP_BLOCK_CACHED;
}

/* The picked blocks summed by (role, site), in by_key order: *m rows, *blocks and *bytes in all; NULL when out of
 * memory (message printed). */
static struct row *sum_rows(struct cli_heap *ch, cli_pick_fn pick, void *user, size_t *m, uint64_t *blocks,
			    uint64_t *bytes)
{
	struct row *rows = malloc((ch->nblocks ? ch->nblocks : 1) * sizeof *rows);
	if (!rows) {
		cli_errorf("out of memory");
		return NULL;
	}
	size_t n = 0;
	*blocks = *bytes = 0;
	for (size_t i = 0; i < ch->nblocks; i++) {
		const pmp_block_t *b = &ch->blocks[i];
		if (b->state == PMP_BLOCK_LOST || b->state == PMP_BLOCK_DAMAGED || !pick(ch, i, user))
			continue;
		pmp_site_record_t r;
		int rec = pmp_block_site(ch->h, b, &r) == 0;
		/* a freed block is counted at the site that freed it, a live one where it was allocated */
		int role = freed_state(b->state) ? ROLE_FREE : ROLE_ALLOC;
		if (rec && role == ROLE_ALLOC && r.freed)
			rec = 0; /* live, but the record is a free's: a stale trailer (it cannot be this block's) */
		rows[n].role = role;
		rows[n].pc = !rec ? 0 : role == ROLE_FREE ? (r.freed ? r.free_site : 0) : r.alloc_site;
		rows[n].blocks = 1;
		rows[n].bytes = b->size;
		*blocks += 1;
		*bytes += b->size;
		n++;
	}
	qsort(rows, n, sizeof *rows, by_key);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && rows[k - 1].role == rows[i].role && rows[k - 1].pc == rows[i].pc) {
			rows[k - 1].blocks++;
			rows[k - 1].bytes += rows[i].bytes;
		} else {
			rows[k++] = rows[i];
		}
	}
	*m = k;
	return rows;
}

/* the table as text on stdout, as members of j, or as an HTML table on html */
static int table(struct cli_heap *ch, cli_pick_fn pick, void *user, uint64_t limit, struct cli_json *j, FILE *html)
{
	if (!cli_sites_tracked(ch)) {
		if (j)
			json_bool(j, "tracked", 0);
		else
			fprintf(html ? html : stdout, "%sno call sites: the heap was made without tracking (run with "
				"PMEMPRELOAD_TRACK=callsite)%s\n", html ? "<p>" : "", html ? "</p>" : "");
		return 0;
	}
	size_t m;
	uint64_t blocks, bytes;
	struct row *rows = sum_rows(ch, pick, user, &m, &blocks, &bytes);
	if (!rows)
		return -1;
	qsort(rows, m, sizeof *rows, by_weight);
	size_t shown = m < limit ? m : (size_t)limit;
	struct cli_sym *syms = calloc(shown ? shown : 1, sizeof *syms);
	static struct mods ms;
	if (!syms) {
		free(rows);
		cli_errorf("out of memory");
		return -1;
	}
	load_modules(ch, &ms);
	for (size_t i = 0; i < shown; i++)
		syms[i].pc = rows[i].pc;
	symbolise(syms, (unsigned)shown, &ms);
	if (j) {
		json_bool(j, "tracked", 1);
		json_u64(j, "site_count", m);
		json_arr(j, "sites");
		for (size_t i = 0; i < shown; i++) {
			json_obj(j, NULL);
			json_str(j, "role", rows[i].role == ROLE_FREE ? "freed" : "allocated");
			site_json(j, &syms[i], &ms);
			json_u64(j, "blocks", rows[i].blocks);
			json_u64(j, "bytes", rows[i].bytes);
			json_obj_end(j);
		}
		json_arr_end(j);
	} else if (html) {
		fputs("<table class=\"sites\">\n<tr><th>bytes</th><th>blocks</th><th>role</th><th>call site</th></tr>\n", html);
		for (size_t i = 0; i < shown; i++) {
			char text[600];
			site_text(&syms[i], &ms, text, sizeof text);
			fprintf(html, "<tr><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%s</td><td>", rows[i].bytes,
				rows[i].blocks, rows[i].role == ROLE_FREE ? "freed by" : "alloc by");
			cli_html_text(html, text);
			fputs("</td></tr>\n", html);
		}
		fprintf(html, "</table>\n<p>%zu of %zu sites shown; %" PRIu64 " blocks, %" PRIu64 " bytes in all</p>\n", shown,
			m, blocks, bytes);
	} else {
		printf("%12s %9s  %s\n", "bytes", "blocks", "call site (heaviest first)");
		for (size_t i = 0; i < shown; i++) {
			char text[600];
			site_text(&syms[i], &ms, text, sizeof text);
			printf("%12" PRIu64 " %9" PRIu64 "  %-9s  %s\n", rows[i].bytes, rows[i].blocks,
			       rows[i].role == ROLE_FREE ? "freed by" : "alloc by", text);
		}
		if (shown < m)
			printf("... %zu more sites\n", m - shown);
		printf("%" PRIu64 " blocks, %" PRIu64 " bytes at %zu sites\n", blocks, bytes, m);
	}
	free(syms);
	free(rows);
	return 0;
}

int cli_sites_table(struct cli_heap *ch, cli_pick_fn pick, void *user, uint64_t limit, struct cli_json *j)
{
	return table(ch, pick, user, limit, j, NULL);
}

static int used_block(const struct cli_heap *ch, size_t i, void *user)
{
	(void)user;
	return ch->blocks[i].state == PMP_BLOCK_USED;
}

int cli_sites_html(FILE *f, struct cli_heap *ch, uint64_t limit)
{
	return table(ch, used_block, NULL, limit, NULL, f);
}

/* ---- growth between two images (diff, top) ---- */

struct cli_sites {
	struct row *rows; /* live bytes and blocks per allocating site, in by_key order */
	size_t n;
	struct mods *ms;  /* the writer's modules when the image was taken */
};

int cli_sites_take(struct cli_heap *ch, struct cli_sites **out)
{
	*out = NULL;
	if (!cli_sites_tracked(ch))
		return 0;
	struct cli_sites *s = calloc(1, sizeof *s);
	uint64_t blocks, bytes;
	if (s)
		s->ms = malloc(sizeof *s->ms);
	if (!s || !s->ms) {
		cli_errorf("out of memory");
		cli_sites_drop(s);
		return -1;
	}
	if (!(s->rows = sum_rows(ch, used_block, NULL, &s->n, &blocks, &bytes))) {
		cli_sites_drop(s);
		return -1;
	}
	load_modules(ch, s->ms);
	*out = s;
	return 0;
}

void cli_sites_drop(struct cli_sites *s)
{
	if (!s)
		return;
	free(s->rows);
	free(s->ms);
	free(s);
}

struct change {
	uint64_t pc, a_blocks, b_blocks, a_bytes, b_bytes;
};

static int64_t grown(uint64_t a, uint64_t b)
{
	return (int64_t)(b - a);
}

/* heaviest growth first: by bytes gained (a shrinking site last), then blocks, then address */
static int by_growth(const void *x, const void *y)
{
	const struct change *p = x, *q = y;
	int64_t gp = grown(p->a_bytes, p->b_bytes), gq = grown(q->a_bytes, q->b_bytes);
	if (gp != gq)
		return gp < gq ? 1 : -1;
	gp = grown(p->a_blocks, p->b_blocks), gq = grown(q->a_blocks, q->b_blocks);
	if (gp != gq)
		return gp < gq ? 1 : -1;
	return p->pc < q->pc ? -1 : p->pc > q->pc;
}

int cli_sites_growth(const struct cli_sites *a, const struct cli_sites *b, uint64_t limit, struct cli_json *j,
		     const char *a_label, const char *b_label)
{
	if (!a || !b) {
		if (j)
			json_bool(j, "tracked", 0);
		return 0;
	}
	struct change *c = calloc(a->n + b->n + 1, sizeof *c);
	if (!c) {
		cli_errorf("out of memory");
		return -1;
	}
	/* both in by_key order: the allocating rows of each, merged by site */
	size_t i = 0, k = 0, n = 0;
	for (;;) {
		while (i < a->n && a->rows[i].role != ROLE_ALLOC)
			i++;
		while (k < b->n && b->rows[k].role != ROLE_ALLOC)
			k++;
		if (i == a->n && k == b->n)
			break;
		const struct row *x = i < a->n ? &a->rows[i] : NULL, *y = k < b->n ? &b->rows[k] : NULL;
		struct change *t = &c[n];
		if (x && (!y || x->pc <= y->pc)) {
			t->pc = x->pc;
			t->a_blocks = x->blocks;
			t->a_bytes = x->bytes;
			i++;
		}
		if (y && (!x || y->pc <= x->pc)) {
			t->pc = y->pc;
			t->b_blocks = y->blocks;
			t->b_bytes = y->bytes;
			k++;
		}
		if (t->a_blocks != t->b_blocks || t->a_bytes != t->b_bytes)
			n++;
		else
			memset(t, 0, sizeof *t);
	}
	qsort(c, n, sizeof *c, by_growth);
	size_t shown = n < limit ? n : (size_t)limit;
	struct cli_sym *syms = calloc(shown ? shown : 1, sizeof *syms);
	if (!syms) {
		free(c);
		cli_errorf("out of memory");
		return -1;
	}
	for (size_t t = 0; t < shown; t++)
		syms[t].pc = c[t].pc;
	symbolise(syms, (unsigned)shown, b->ms); /* the later image's modules: they include every earlier one */
	if (j) {
		json_bool(j, "tracked", 1);
		json_u64(j, "site_count", n);
		json_arr(j, "sites");
		for (size_t t = 0; t < shown; t++) {
			json_obj(j, NULL);
			site_json(j, &syms[t], b->ms);
			json_u64(j, "a_blocks", c[t].a_blocks);
			json_u64(j, "b_blocks", c[t].b_blocks);
			json_u64(j, "a_bytes", c[t].a_bytes);
			json_u64(j, "b_bytes", c[t].b_bytes);
			json_i64(j, "growth_blocks", grown(c[t].a_blocks, c[t].b_blocks));
			json_i64(j, "growth_bytes", grown(c[t].a_bytes, c[t].b_bytes));
			json_obj_end(j);
		}
		json_arr_end(j);
	} else {
		printf("  %12s %9s  %10s    %-10s  %s\n", "bytes", "blocks", a_label, b_label, "call site");
		for (size_t t = 0; t < shown; t++) {
			char text[600];
			site_text(&syms[t], b->ms, text, sizeof text);
			printf("  %+12" PRId64 " %+9" PRId64 "  %10" PRIu64 " -> %-10" PRIu64 "  %s\n",
			       grown(c[t].a_bytes, c[t].b_bytes), grown(c[t].a_blocks, c[t].b_blocks), c[t].a_bytes, c[t].b_bytes,
			       text);
		}
		if (shown < n)
			printf("  ... %zu more sites\n", n - shown);
		if (!n)
			printf("  none\n");
	}
	free(syms);
	free(c);
	return 0;
}

/* ---- one block (whatis) ---- */

void cli_sites_block(struct cli_heap *ch, const pmp_block_t *b, struct cli_json *j)
{
	if (!cli_sites_tracked(ch))
		return;
	pmp_site_record_t r;
	int e = pmp_block_site(ch->h, b, &r);
	if (!e && !freed_state(b->state) && r.freed)
		e = ENOENT; /* a live block with a free's record: stale */
	static struct mods ms;
	load_modules(ch, &ms);
	struct cli_sym s[2];
	memset(s, 0, sizeof s);
	s[0].pc = e ? 0 : r.alloc_site;
	s[1].pc = e ? 0 : r.free_site;
	symbolise(s, 2, &ms);
	if (j) {
		json_obj(j, "sites");
		json_bool(j, "record", !e);
		if (!e) {
			json_obj(j, "allocated");
			site_json(j, &s[0], &ms);
			json_obj_end(j);
			if (r.freed) {
				json_obj(j, "freed");
				site_json(j, &s[1], &ms);
				json_obj_end(j);
			}
			json_u64(j, "seq", r.seq);
		}
		json_obj_end(j);
		return;
	}
	if (e) {
		printf("call sites: no record (never written, overwritten past the block's usable end, or reused)\n");
		return;
	}
	char text[600];
	site_text(&s[0], &ms, text, sizeof text);
	printf("allocated by: %s%s\n", text, r.freed ? "" : "");
	if (r.freed) {
		site_text(&s[1], &ms, text, sizeof text);
		printf("freed by:     %s\n", text);
		printf("sequence:     %" PRIu64 " (the free's; one counter numbers every allocation and free)\n", r.seq);
	} else {
		printf("sequence:     %" PRIu64 " (the allocation's; one counter numbers every allocation and free)\n", r.seq);
	}
}

/* ---- leaks --by-site ---- */

static int unmarked(const struct cli_heap *ch, size_t i, void *user)
{
	const uint8_t *mark = user;
	return ch->blocks[i].state == PMP_BLOCK_USED && !mark[i];
}

int cli_sites_leaks(struct cli_heap *ch, const uint8_t *mark, uint64_t limit, int json)
{
	struct cli_json j;
	if (json) {
		json_begin(&j, stdout, "leaks");
		json_str(&j, "file", ch->path);
		json_u64(&j, "roots", ch->nroots);
	} else {
		printf("used blocks unreachable from %zu roots, by the site that allocated them:\n", ch->nroots);
	}
	int e = cli_sites_table(ch, unmarked, (void *)mark, limit, json ? &j : NULL);
	if (json)
		json_end(&j);
	return e;
}
