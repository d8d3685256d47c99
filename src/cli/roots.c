/* roots.c: the `roots` verb: every named root with the original address it holds and the size of the block there,
 * or one root by name.
 *
 * Must never: call a root fine when it does not point to the start of a live block; say so on its line.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

int cli_roots(int argc, char **argv)
{
	int json = 0, n;
	const char *pos[2];
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {NULL, NULL, NULL}};
	if (cli_args(argc, argv, opts, pos, 1, 2, &n))
		return CLI_ERR;
	const char *want = n > 1 ? pos[1] : NULL;
	struct cli_heap ch;
	if (cli_open(pos[0], &ch))
		return CLI_ERR;
	int rc = cli_load_roots(&ch);
	int brc = rc ? rc : cli_load_blocks(&ch);
	if (rc || brc == CLI_ERR) {
		cli_close(&ch);
		return CLI_ERR;
	}
	struct cli_json j;
	if (json) {
		json_begin_list(&j, "roots", ch.path, "roots");
	}
	size_t shown = 0;
	for (size_t i = 0; i < ch.nroots; i++) {
		const struct cli_root *r = &ch.roots[i];
		if (want && strcmp(want, r->name))
			continue;
		shown++;
		const pmp_block_t *b = cli_block_at(&ch, r->addr);
		int at_start = b && (uint64_t)(uintptr_t)b->addr == r->addr;
		const char *why = !r->addr ? "outside the heap" : !b ? "not in any block"
				  : !at_start ? "not the start of a block" : b->state != PMP_BLOCK_USED ? "block is not in use" : NULL;
		if (json) {
			json_obj(&j, NULL);
			json_str(&j, "name", r->name);
			json_addr(&j, "address", r->addr);
			if (at_start)
				json_u64(&j, "size", b->size);
			else
				json_null(&j, "size");
			json_bool(&j, "valid", !why);
			if (why)
				json_str(&j, "problem", why);
			json_obj_end(&j);
		} else {
			cli_print_escaped(stdout, (const uint8_t *)r->name, strlen(r->name));
			printf(" -> 0x%" PRIx64, r->addr);
			if (at_start)
				printf(" (size %zu)", b->size);
			if (why)
				printf("  [%s]", why);
			putchar('\n');
		}
	}
	if (json) {
		json_arr_end(&j);
		json_u64(&j, "count", shown);
		json_end(&j);
	} else if (!shown && !want) {
		printf("no roots\n");
	}
	cli_close(&ch);
	if (want && !shown) {
		cli_errorf("%s: no root named '%s'", pos[0], want);
		return CLI_FAIL;
	}
	return brc;
}
