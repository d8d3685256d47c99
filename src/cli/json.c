/* json.c: a tiny streaming JSON writer for --json output: objects, arrays, strings with full escaping, integers;
 * indented, or one record per line (json_begin_line, for verbs that stream records).
 *
 * Must never: emit invalid JSON whatever bytes it is given (heap contents are hostile: every byte outside printable
 * ASCII is escaped, so the output is valid ASCII), or allocate.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static void indent(struct cli_json *j, int levels)
{
	if (j->line)
		return;
	fputc('\n', j->f);
	for (int i = 0; i < levels; i++)
		fputs("  ", j->f);
}

static void sep(struct cli_json *j, const char *key)
{
	if (j->count[j->depth]++)
		fputc(',', j->f);
	indent(j, j->depth + 1);
	if (key) {
		fputc('"', j->f);
		for (const char *k = key; *k; k++)
			fputc(*k, j->f); /* keys are our own identifiers */
		fputs("\": ", j->f);
	}
}

static void push(struct cli_json *j, char open)
{
	fputc(open, j->f);
	if (j->depth + 1 < CLI_JSON_DEPTH)
		j->depth++;
	j->count[j->depth] = 0;
}

static void pop(struct cli_json *j, char close)
{
	int had = j->count[j->depth];
	if (j->depth > 0)
		j->depth--;
	if (had)
		indent(j, j->depth + 1);
	fputc(close, j->f);
}

static void begin(struct cli_json *j, FILE *f, const char *verb, int line)
{
	j->f = f;
	j->depth = 0;
	j->count[0] = 0;
	j->line = line;
	fputc('{', f);
	json_u64(j, "schema", CLI_JSON_SCHEMA);
	json_str(j, "verb", verb);
}

void json_begin(struct cli_json *j, FILE *f, const char *verb)
{
	begin(j, f, verb, 0);
}

void json_begin_line(struct cli_json *j, FILE *f, const char *verb)
{
	begin(j, f, verb, 1);
}

void json_begin_list(struct cli_json *j, const char *verb, const char *file, const char *list)
{
	begin(j, stdout, verb, 0);
	json_str(j, "file", file);
	json_arr(j, list);
}

void json_end(struct cli_json *j)
{
	indent(j, 0);
	fputs("}\n", j->f);
}

void json_obj(struct cli_json *j, const char *key)
{
	sep(j, key);
	push(j, '{');
}

void json_obj_end(struct cli_json *j)
{
	pop(j, '}');
}

void json_arr(struct cli_json *j, const char *key)
{
	sep(j, key);
	push(j, '[');
}

void json_arr_end(struct cli_json *j)
{
	pop(j, ']');
}

static void put_escaped(FILE *f, const unsigned char *p, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned c = p[i];
		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		default:
			/* bytes >= 0x80 become U+0080..U+00FF: the output stays ASCII and every byte survives */
			if (c < 0x20 || c >= 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc((int)c, f);
		}
	}
	fputc('"', f);
}

void json_str(struct cli_json *j, const char *key, const char *s)
{
	sep(j, key);
	put_escaped(j->f, (const unsigned char *)s, strlen(s));
}

void json_bytes(struct cli_json *j, const char *key, const void *p, size_t n)
{
	if (!j)
		return;
	sep(j, key);
	put_escaped(j->f, p, n);
}

void json_u64(struct cli_json *j, const char *key, uint64_t v)
{
	sep(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void json_i64(struct cli_json *j, const char *key, int64_t v)
{
	sep(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void json_bool(struct cli_json *j, const char *key, int v)
{
	sep(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct cli_json *j, const char *key)
{
	sep(j, key);
	fputs("null", j->f);
}

void json_addr(struct cli_json *j, const char *key, uint64_t a)
{
	sep(j, key);
	fprintf(j->f, "\"0x%" PRIx64 "\"", a);
}

void json_hex(struct cli_json *j, const char *key, const void *p, size_t n)
{
	sep(j, key);
	fputc('"', j->f);
	for (size_t i = 0; i < n; i++)
		fprintf(j->f, "%02x", ((const unsigned char *)p)[i]);
	fputc('"', j->f);
}

void json_raw(struct cli_json *j, const char *key, const char *value)
{
	sep(j, key);
	size_t n = strlen(value);
	while (n && value[n - 1] == '\n')
		n--;
	fwrite(value, 1, n, j->f);
}
