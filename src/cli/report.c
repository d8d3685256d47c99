/* report.c: the `report` verb: one self-contained HTML page about a heap file: a summary line, then the answers of
 * info, check, stats, the map (the SVG of map.c, inline), leaks (the first LEAK_LINES), dangling and crash, each as
 * the verb itself prints it, and on a heap that tracks call sites the heaviest SITE_LINES allocating sites as a
 * table (sites.c's, the one blocks --by-site --used prints). No script, no external resource: the page opens anywhere, offline.
 *
 * With --json, one record holding each verb's own --json record instead.
 * Must never: compute an answer a second way (each section is the verb's own output, captured), put a byte of its
 * sections into the page unescaped, or create the output before the heap has opened (a bad file leaves nothing).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define LEAK_LINES "50"
#define SITE_LINES "20"

/* What a verb prints, both streams in order, and its exit code. glibc's stdout and stderr are assignable
 * variables (its manual says so), so a verb writes into a memory stream exactly what it would print. */
static char *capture(int (*fn)(int, char **), char **argv, int *rc, int with_stderr)
{
	char *buf = NULL;
	size_t n = 0;
	int argc = 0;
	while (argv[argc])
		argc++;
	fflush(stdout);
	fflush(stderr);
	FILE *m = open_memstream(&buf, &n), *so = stdout, *se = stderr;
	if (!m)
		return NULL;
	stdout = m;
	if (with_stderr)
		stderr = m;
	*rc = fn(argc, argv);
	stdout = so;
	stderr = se;
	if (fclose(m)) {
		free(buf);
		return NULL;
	}
	return buf;
}

struct section {
	const char *id, *title;
	int (*fn)(int, char **);
	const char *opt[3]; /* options for the verb, NULL-terminated */
	char *text;
	int rc;
};

/* the last non-empty line of a section: the verb's summary */
static void last_line(FILE *f, const char *text)
{
	const char *end = text + strlen(text);
	while (end > text && end[-1] == '\n')
		end--;
	const char *start = end;
	while (start > text && start[-1] != '\n')
		start--;
	char *line = strndup(start, (size_t)(end - start));
	if (line)
		cli_html_text(f, line);
	free(line);
}

/* the rest of the line of a section that starts with key ("signal:  SIGSEGV (11)" gives "SIGSEGV (11)") */
static void field(FILE *f, const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *l = text; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != 0)) {
		if (strncmp(l, key, kl))
			continue;
		const char *v = l + kl + strspn(l + kl, " ");
		char *line = strndup(v, strcspn(v, "\n"));
		if (line)
			cli_html_text(f, line);
		free(line);
		return;
	}
	fputs("?", f);
}

static const char style[] =
	"body{font-family:sans-serif;margin:24px;color:#222;max-width:1250px}"
	"h1{font-size:20px;margin:0 0 6px}h2{font-size:16px;margin:22px 0 6px;border-bottom:1px solid #ccc}"
	"pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:12px;line-height:1.35}"
	".ok{color:#1a7f37;font-weight:bold}.bad{color:#c0392b;font-weight:bold}"
	"table.sum td{padding:2px 14px 2px 0}table.sites{border-collapse:collapse;font-size:12px}"
	"table.sites td,table.sites th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}"
	"nav a{margin-right:12px}svg{max-width:100%;height:auto}";

static void page(FILE *f, struct cli_heap *ch, struct section *sec, size_t nsec, int brc)
{
	int tracked = cli_sites_tracked(ch);
	char now[40], t[40];
	cli_time((uint64_t)time(NULL) * 1000000000u, now, sizeof now);
	const struct section *check = &sec[1], *leaks = &sec[3], *dangling = &sec[4], *crash = &sec[5];
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>pmempreload report: ");
	cli_html_text(f, ch->path);
	fprintf(f, "</title><style>%s</style></head>\n<body>\n<h1>Heap report: ", style);
	cli_html_text(f, ch->path);
	fprintf(f, "</h1>\n<p>generated %s by pmempreload %d.%d (JSON schema %d); addresses are the writer's</p>\n", now,
		PMP_VERSION_MAJOR, PMP_VERSION_MINOR, CLI_JSON_SCHEMA);
	fprintf(f, "<table class=\"sum\">\n<tr><td>heap</td><td>0x%" PRIx64 ", %" PRIu64 " bytes mapped, %s</td></tr>\n",
		ch->base, ch->mapped, ch->info.clean ? "closed cleanly" : "not closed cleanly");
	fputs("<tr><td>writer</td><td>", f);
	cli_html_text(f, ch->info.writer_exe[0] ? ch->info.writer_exe : "-");
	fprintf(f, ", pid %" PRIu64 ", last opened %s</td></tr>\n", ch->info.writer_pid,
		cli_time(ch->info.opened_ns, t, sizeof t));
	fprintf(f, "<tr><td>check</td><td class=\"%s\">%s</td></tr>\n", check->rc == CLI_OK ? "ok" : "bad",
		check->rc == CLI_OK ? "consistent" : check->rc == CLI_FAIL ? "INCONSISTENT" : "could not run");
	fputs("<tr><td>leaks</td><td>", f);
	last_line(f, leaks->text);
	fputs("</td></tr>\n<tr><td>dangling</td><td>", f);
	last_line(f, dangling->text);
	fprintf(f, "</td></tr>\n<tr><td>crash</td><td class=\"%s\">", crash->rc == CLI_OK ? "bad" : "ok");
	if (crash->rc == CLI_OK) {
		fputs("crash record: ", f);
		field(f, crash->text, "signal:");
		fputs(" at ", f);
		field(f, crash->text, "address:");
	} else {
		fputs("no crash record", f);
	}
	fputs("</td></tr>\n</table>\n<nav>", f);
	for (size_t i = 0; i < nsec; i++)
		if (sec[i].fn != cli_blocks || tracked)
			fprintf(f, "<a href=\"#%s\">%s</a>", sec[i].id, sec[i].title);
	fputs("<a href=\"#map\">map</a></nav>\n", f);
	for (size_t i = 0; i < nsec; i++) {
		if (sec[i].fn == cli_blocks) { /* the sites: a table from the report's own view, the same rows */
			if (!tracked)
				continue;
			fprintf(f, "<section id=\"%s\"><h2>%s</h2>\n", sec[i].id, sec[i].title);
			if (cli_sites_html(f, ch, (uint64_t)atoi(SITE_LINES)))
				fputs("<p class=\"bad\">no table: out of memory</p>", f);
			fputs("</section>\n", f);
			continue;
		}
		fprintf(f, "<section id=\"%s\"><h2>%s</h2><pre>", sec[i].id, sec[i].title);
		cli_html_text(f, sec[i].text);
		fputs("</pre></section>\n", f);
		if (i == 2) { /* the map after stats: the picture of the numbers above it */
			fputs("<section id=\"map\"><h2>map</h2>\n", f);
			int e = cli_map_svg(f, ch, brc);
			if (e)
				fprintf(f, "<p class=\"bad\">no picture: %s</p>", strerror(e));
			fputs("</section>\n", f);
		}
	}
	fputs("</body></html>\n", f);
}

/* --json: the verbs' own records, one member each (null for a verb that printed none) */
static void record(FILE *f, const struct section *sec, size_t nsec)
{
	struct cli_json j;
	json_begin(&j, f, "report");
	for (size_t i = 0; i < nsec; i++) {
		if (sec[i].text[0] == '{')
			json_raw(&j, sec[i].id, sec[i].text);
		else
			json_null(&j, sec[i].id);
	}
	json_end(&j);
}

int cli_report(int argc, char **argv)
{
	int n, json = 0;
	const char *out = NULL, *pos[1];
	const struct cli_opt opts[] = {{"-o", &out, NULL}, {"--output", &out, NULL}, {"--json", NULL, &json},
				       {NULL, NULL, NULL}};
	if (cli_args(argc, argv, opts, pos, 1, 1, &n))
		return CLI_ERR;
	if (json && !out)
		out = "-";
	if (!out) {
		cli_errorf("report: -o OUT.html is required (- for standard output)");
		cli_usage_verb("report");
		return CLI_ERR;
	}
	struct section sec[] = {
		{"info", "info", cli_info, {NULL}, NULL, 0},
		{"check", "check", cli_check, {NULL}, NULL, 0},
		{"stats", "stats", cli_stats, {NULL}, NULL, 0},
		{"leaks", "leaks (the first " LEAK_LINES ")", cli_leaks, {"--limit=" LEAK_LINES}, NULL, 0},
		{"dangling", "dangling pointers", cli_dangling, {NULL}, NULL, 0},
		{"crash", "crash record", cli_crash, {NULL}, NULL, 0},
		{"sites", "heaviest call sites (the first " SITE_LINES ")", cli_blocks,
		 {"--by-site", "--used", "--limit=" SITE_LINES}, NULL, 0},
	};
	size_t nsec = sizeof sec / sizeof sec[0];
	int rc = CLI_OK;
	for (size_t i = 0; i < nsec && rc == CLI_OK; i++) {
		char *args[8], **a = args;
		*a++ = (char *)sec[i].id;
		if (json)
			*a++ = "--json";
		for (int o = 0; o < 3 && sec[i].opt[o]; o++)
			*a++ = (char *)sec[i].opt[o];
		*a++ = (char *)pos[0];
		*a = NULL;
		/* in JSON, a warning on stderr would break the record: it goes to this process's stderr instead */
		if (!(sec[i].text = capture(sec[i].fn, args, &sec[i].rc, !json))) {
			cli_errorf("report: %s", strerror(errno ? errno : ENOMEM));
			rc = CLI_ERR;
		} else if (i == 0 && sec[i].rc == CLI_ERR) {
			fputs(sec[i].text, stderr); /* the file is no heap: info's one error line says why */
			rc = CLI_ERR;
		}
	}
	/* the report's own view, for the map, opens after the sections': each of them saw the heap at its own address */
	struct cli_heap ch;
	int brc = CLI_OK;
	memset(&ch, 0, sizeof ch);
	if (rc == CLI_OK && (cli_open(pos[0], &ch) || cli_load(&ch, 1, &brc)))
		rc = CLI_ERR;
	int to_stdout = !strcmp(out, "-"), fd = -1;
	FILE *f = NULL;
	if (rc == CLI_OK) {
		fd = to_stdout ? -1 : open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		f = to_stdout ? stdout : fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f) {
			cli_errorf("%s: %s", out, strerror(errno));
			if (fd >= 0)
				close(fd);
			rc = CLI_ERR;
		}
	}
	if (f) {
		if (json)
			record(f, sec, nsec);
		else
			page(f, &ch, sec, nsec, brc);
		int werr = ferror(f);
		if (!to_stdout && fclose(f))
			werr = 1;
		if (werr) {
			cli_errorf("%s: write error", out);
			rc = CLI_ERR;
		} else if (!to_stdout) {
			fprintf(stderr, "pmempreload: wrote %s\n", out);
		}
	}
	if (rc == CLI_OK && (sec[1].rc != CLI_OK || brc != CLI_OK))
		rc = CLI_FAIL; /* the page is written; the heap is inconsistent */
	for (size_t i = 0; i < nsec; i++)
		free(sec[i].text);
	cli_close(&ch);
	return rc;
}
