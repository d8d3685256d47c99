/* png.c: an RGB image as a PNG file (zlib-compressed, one IDAT chunk), written out as a base64 data: URI so that a
 * picture can be embedded in one self-contained SVG or HTML file.
 *
 * Must never: write a partial URI without saying so (the caller gets an error), or hold more than the image and its
 * compressed form in memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cli.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* base64 of a stream of byte runs: three bytes in, four characters out, the tail padded at the end */
struct b64 {
	FILE *f;
	uint8_t carry[3];
	int n;
};

static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_group(struct b64 *b, int n)
{
	uint32_t v = (uint32_t)b->carry[0] << 16 | (uint32_t)(n > 1 ? b->carry[1] : 0) << 8 | (n > 2 ? b->carry[2] : 0);
	char out[4] = {abc[v >> 18], abc[(v >> 12) & 63], n > 1 ? abc[(v >> 6) & 63] : '=', n > 2 ? abc[v & 63] : '='};
	fwrite(out, 1, 4, b->f);
	b->n = 0;
}

static void b64_put(struct b64 *b, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		b->carry[b->n++] = p[i];
		if (b->n == 3)
			b64_group(b, 3);
	}
}

static void b64_end(struct b64 *b)
{
	if (b->n)
		b64_group(b, b->n);
}

/* one chunk: length, type, data, CRC of type and data */
static void chunk(struct b64 *b, const char *type, const uint8_t *data, size_t len)
{
	uint8_t hdr[8], crc[4];
	put32(hdr, (uint32_t)len);
	memcpy(hdr + 4, type, 4);
	uLong c = crc32(0, (const Bytef *)type, 4);
	if (len)
		c = crc32(c, data, (uInt)len);
	put32(crc, (uint32_t)c);
	b64_put(b, hdr, 8);
	if (len)
		b64_put(b, data, len);
	b64_put(b, crc, 4);
}

int cli_png_uri(FILE *f, const uint8_t *rgb, unsigned w, unsigned h)
{
	size_t row = 1 + (size_t)w * 3, raw_len = row * h;
	uint8_t *raw = malloc(raw_len);
	uLongf zlen = compressBound((uLong)raw_len);
	uint8_t *z = malloc(zlen);
	if (!raw || !z) {
		free(raw);
		free(z);
		return ENOMEM;
	}
	for (unsigned y = 0; y < h; y++) {
		raw[y * row] = 0; /* filter: none; zlib finds the runs of equal pixels by itself */
		memcpy(raw + y * row + 1, rgb + (size_t)y * w * 3, (size_t)w * 3);
	}
	int e = compress2(z, &zlen, raw, (uLong)raw_len, 9);
	free(raw);
	if (e != Z_OK) {
		free(z);
		return EIO;
	}
	static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	uint8_t ihdr[13];
	put32(ihdr, w);
	put32(ihdr + 4, h);
	ihdr[8] = 8;  /* bits per channel */
	ihdr[9] = 2;  /* truecolour RGB */
	ihdr[10] = ihdr[11] = ihdr[12] = 0;
	fputs("data:image/png;base64,", f);
	struct b64 b = {f, {0}, 0};
	b64_put(&b, sig, sizeof sig);
	chunk(&b, "IHDR", ihdr, sizeof ihdr);
	chunk(&b, "IDAT", z, zlen);
	chunk(&b, "IEND", NULL, 0);
	b64_end(&b);
	free(z);
	return 0;
}
