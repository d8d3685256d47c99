/* reopen_helper.c: a separate program the api suite runs (fork + exec) to prove a heap file reopens at the same
 * address in a new process: it verifies every root "obj-<id>" and its contents, checks the heap, adds root "helper"
 * and closes cleanly.
 * Usage: api-reopen-helper PATH ADDR NROOTS. Exit 0 when all is well; a distinct code per failure otherwise.
 * Must never: create the file (it must exist), or exit 0 after any mismatch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pmempreload.h>

/* the pattern of api.h, repeated here: this program does not link Criterion */
static inline uint64_t t_word(uint64_t id, uint64_t k)
{
	return (id + 1) * 0x9e3779b97f4a7c15ull ^ (k * 0xd6e8feb86659fd93ull + id);
}
static inline uint8_t t_byte(uint64_t id, size_t i) { return (uint8_t)(t_word(id, i / 8) >> (8 * (i % 8))); }
static void t_fill(void *p, uint64_t id, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		((uint8_t *)p)[i] = t_byte(id, i);
}
static size_t t_find_bad(const void *p, uint64_t id, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (((const uint8_t *)p)[i] != t_byte(id, i))
			return i;
	return to;
}
#define T_OBJ_MAGIC 0x4a424f504d50ull
struct t_obj {
	uint64_t magic, id, len;
};

struct seen {
	pmp_heap_t *h;
	unsigned n, bad;
};

static int root_cb(const char *name, void *p, void *user)
{
	struct seen *s = user;
	s->n++;
	unsigned long long id;
	if (sscanf(name, "obj-%llu", &id) != 1) {
		if (strcmp(name, "helper") == 0)
			return 0;
		fprintf(stderr, "helper: unexpected root %s\n", name);
		s->bad++;
		return 0;
	}
	const struct t_obj *o = p;
	if (!o || o->magic != T_OBJ_MAGIC || o->id != id || pmp_usable_size(s->h, p) < o->len ||
	    t_find_bad(p, id, sizeof *o, o->len) != o->len) {
		fprintf(stderr, "helper: root %s damaged\n", name);
		s->bad++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	void *addr = (void *)(uintptr_t)strtoull(argv[2], NULL, 0);
	unsigned nroots = (unsigned)strtoul(argv[3], NULL, 0);
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = PMP_OPEN_EXISTING;
	pmp_heap_t *h = NULL;
	int e = pmp_file_open(argv[1], &o, &h);
	if (e) {
		fprintf(stderr, "helper: open: %s\n", pmp_strerror(e));
		return 3;
	}
	pmp_info_t i;
	if (pmp_info(h, &i) || i.base != addr || i.mapped_at != addr)
		return 4;
	pmp_report_t r;
	if (pmp_check(h, &r)) {
		fprintf(stderr, "helper: check: %s\n", r.msg);
		return 5;
	}
	struct seen s = {h, 0, 0};
	if (pmp_root_list(h, root_cb, &s))
		return 6;
	if (s.bad)
		return 7;
	if (s.n != nroots) {
		fprintf(stderr, "helper: %u roots, expected %u\n", s.n, nroots);
		return 8;
	}
	struct t_obj *n = pmp_malloc(h, 5000);
	if (!n)
		return 9;
	n->magic = T_OBJ_MAGIC;
	n->id = 4242;
	n->len = 5000;
	t_fill(n, 4242, sizeof *n, 5000);
	if (pmp_root_set(h, "helper", n))
		return 10;
	if (pmp_check(h, NULL))
		return 11;
	return pmp_close(h) ? 12 : 0;
}
