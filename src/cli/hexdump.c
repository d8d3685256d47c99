/* hexdump.c: the `hexdump` verb (bytes at an original address, hexdump -C style) and the `dump` verb (the bytes of
 * one block to a file, sparse where the heap file is).
 *
 * Must never: read outside the heap's mapped bytes, or write to anything but the named output (created 0600: heap
 * contents may be secret).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_hexdump(int argc, char **argv)
{
	int json = 0, n;
	const char *pos[3];
	const struct cli_opt opts[] = {{"--json", NULL, &json}, {NULL, NULL, NULL}};
	if (cli_args(argc, argv, opts, pos, 2, 3, &n))
		return CLI_ERR;
	uint64_t a, len = 256;
	if (cli_parse_addr(pos[1], &a) || (n > 2 && cli_parse_size(pos[2], &len)))
		return CLI_ERR;
	struct cli_heap ch;
	if (cli_open(pos[0], &ch))
		return CLI_ERR;
	if (!cli_local(&ch, a, 1)) {
		cli_errorf("%s: 0x%" PRIx64 " is not in the heap (0x%" PRIx64 "-0x%" PRIx64 ")", ch.path, a, ch.base,
			   ch.base + ch.mapped);
		cli_close(&ch);
		return CLI_FAIL;
	}
	int rc = CLI_OK;
	uint64_t avail = ch.base + ch.mapped - a;
	if (len > avail) {
		cli_errorf("%s: warning: only %" PRIu64 " bytes up to the heap's end", ch.path, avail);
		len = avail;
	}
	const uint8_t *p = cli_local(&ch, a, len);
	if (json) {
		struct cli_json j;
		json_begin(&j, stdout, "hexdump");
		json_str(&j, "file", ch.path);
		json_addr(&j, "address", a);
		json_u64(&j, "length", len);
		json_hex(&j, "hex", p, len);
		json_end(&j);
	} else {
		for (uint64_t off = 0; off < len; off += 16) {
			uint64_t row = len - off < 16 ? len - off : 16;
			printf("0x%012" PRIx64 "  ", a + off);
			for (uint64_t i = 0; i < 16; i++) {
				if (i < row)
					printf("%02x ", p[off + i]);
				else
					fputs("   ", stdout);
				if (i == 7)
					putchar(' ');
			}
			fputs(" |", stdout);
			for (uint64_t i = 0; i < row; i++)
				putchar(p[off + i] >= 0x20 && p[off + i] < 0x7f ? p[off + i] : '.');
			puts("|");
		}
	}
	cli_close(&ch);
	return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The block goes out piece by piece, where the heap file holds data: into a file of ours, the holes stay holes
 * (pwrite at the offset, ftruncate to the size at the end); into a stream, they are written as zeros. */
struct out {
	int fd, seekable, err;
	uint64_t done; /* bytes of the block written (streams) */
};

static int zeros_to(struct out *o, uint64_t upto)
{
	static const uint8_t zeros[65536];
	while (!o->err && o->done < upto) {
		size_t n = upto - o->done < sizeof zeros ? (size_t)(upto - o->done) : sizeof zeros;
		o->err = write_all(o->fd, zeros, n);
		o->done += n;
	}
	return o->err;
}

static int dump_piece(const pmp_block_t *b, size_t off, const uint8_t *p, size_t len, void *user)
{
	struct out *o = user;
	if (!o->seekable) {
		if (!zeros_to(o, off))
			o->err = write_all(o->fd, p, len);
		o->done = off + len;
		return o->err;
	}
	while (len) {
		ssize_t w = pwrite(o->fd, p, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return o->err = w < 0 ? errno : EIO;
		p += w;
		off += (size_t)w;
		len -= (size_t)w;
	}
	return 0;
}

int cli_dump(int argc, char **argv)
{
	int n;
	const char *out = NULL, *pos[2];
	const struct cli_opt opts[] = {{"-o", &out, NULL}, {"--output", &out, NULL}, {NULL, NULL, NULL}};
	if (cli_args(argc, argv, opts, pos, 2, 2, &n))
		return CLI_ERR;
	uint64_t a;
	if (cli_parse_addr(pos[1], &a))
		return CLI_ERR;
	if (!out) {
		cli_errorf("dump: -o OUT is required (- for standard output)");
		cli_usage_verb("dump");
		return CLI_ERR;
	}
	struct cli_heap ch;
	int brc;
	if (cli_open_blocks(pos[0], &ch, &brc))
		return CLI_ERR;
	const pmp_block_t *b = cli_block_at(&ch, a);
	if (!b) {
		cli_errorf("%s: 0x%" PRIx64 " is not in any block", ch.path, a);
		cli_close(&ch);
		return CLI_FAIL;
	}
	int to_stdout = !strcmp(out, "-");
	int fd = to_stdout ? STDOUT_FILENO : open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		cli_errorf("%s: %s", out, strerror(errno));
		cli_close(&ch);
		return CLI_ERR;
	}
	if (to_stdout)
		fflush(stdout);
	struct out o = {fd, !to_stdout, 0, 0};
	cli_block_pieces(&ch, b, 0, dump_piece, &o);
	int e = o.err;
	if (!e && o.seekable && ftruncate(fd, (off_t)b->size))
		e = errno;
	if (!e && !o.seekable)
		e = zeros_to(&o, b->size);
	if (!to_stdout && close(fd) && !e)
		e = errno;
	if (e) {
		cli_errorf("%s: %s", out, strerror(e));
		cli_close(&ch);
		return CLI_ERR;
	}
	fprintf(stderr, "pmempreload: wrote %zu bytes of the %s block 0x%" PRIx64 " to %s\n", b->size,
		cli_state_name(b->state), (uint64_t)(uintptr_t)b->addr, to_stdout ? "standard output" : out);
	cli_close(&ch);
	return brc;
}
