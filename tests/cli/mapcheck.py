#!/usr/bin/env python3
# mapcheck.py: reads the picture `pmempreload map` embeds (an SVG, or report's HTML holding it): decodes the PNG of
# the data: URI and prints, for each address given, the pixel that covers it as "ADDR RRGGBB", after a line
# "size W H BPP START" (image size, bytes per pixel, first address).
# mapcheck.py --shot SCREENSHOT.png RRGGBB...: how many pixels of a screenshot have each colour (within 8 per channel).
#
# Must never: trust the SVG's layout beyond what it states in words (bytes per pixel, the first row's address label),
# or need anything outside the Python standard library.
import base64, re, struct, sys, zlib

def png_pixels(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        assert zlib.crc32(kind + body) == crc, "bad CRC in " + kind.decode()
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), "not 8-bit RGB or RGBA"
            ch = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, row, out = zlib.decompress(idat), ch * w, []
    prev = bytearray(row)
    for y in range(h):
        f, line = raw[y * (row + 1)], bytearray(raw[y * (row + 1) + 1:(y + 1) * (row + 1)])
        for i in range(row):
            a = line[i - ch] if i >= ch else 0
            b, c = prev[i], (prev[i - ch] if i >= ch else 0)
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.append(bytes(line) if ch == 3 else bytes(v for k, v in enumerate(line) if k % 4 != 3))
        prev = line
    return w, h, out

if sys.argv[1] == "--shot":
    w, h, rows = png_pixels(open(sys.argv[2], "rb").read())
    for want in sys.argv[3:]:
        t = bytes.fromhex(want)
        n = sum(1 for r in rows for x in range(0, 3 * w, 3) if all(abs(r[x + i] - t[i]) <= 8 for i in range(3)))
        print(want, n)
    sys.exit(0)

text = open(sys.argv[1], encoding="ascii").read()
uri = re.search(r'href="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
bpp = int(re.search(r"1 px = (\d+) bytes", text).group(1))
start = int(re.search(r'<text x="10" y="\d+">(0x[0-9a-f]+)</text>', text).group(1), 16)
w, h, rows = png_pixels(base64.b64decode(uri.group(1)))
print("size", w, h, bpp, hex(start))
for a in sys.argv[2:]:
    px = (int(a, 16) - start) // bpp
    y, x = divmod(px, w)
    print(a, rows[y][3 * x:3 * x + 3].hex())
