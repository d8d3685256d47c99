# sparse_buffers.py N: a python3 workload for scripts/bench.sh: N large zeroed buffers (bytes(n): calloc of 1-32 MiB)
# of which only a few bytes per 256 KiB are touched, with up to 8 alive at once: an allocator that must zero or map
# the whole buffer pays for every byte, one that hands out fresh zero pages pays only for what is touched.
# Must never: read the clock, print anything that varies between runs, or touch files.
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
live = []
total = 0
for i in range(n):
    size = (1 + (i * 7919) % 32) << 20
    b = bytearray(bytes(size))  # bytes(size) is a calloc; the bytearray copy is a malloc + memcpy of it
    for off in range(0, size, 256 << 10):
        b[off] = (i + off) & 0xFF
        total += b[off]
    live.append(b)
    if len(live) > 8:
        live.pop(0)
print(n, total)
