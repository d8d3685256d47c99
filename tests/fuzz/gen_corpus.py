#!/usr/bin/env python3
# gen_corpus.py: writes the small seed corpus of the fuzz targets (tests/fuzz/corpus/{ops,file}); deterministic.
# Holds the recipe of the checked-in seeds, so they can be regenerated or extended on purpose.
# Must never: write outside tests/fuzz/corpus, or produce inputs bigger than a few KiB (CI replays them all).
import os, random, struct

here = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(4)

def put(kind, i, data):
    d = os.path.join(here, 'corpus', kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-%02d' % i), 'wb') as f:
        f.write(bytes(data))

# ops: (op, arg) byte pairs; see fuzz_ops.c for the decoding
for i in range(32):
    n = rng.choice([16, 64, 200, 600, 1500])
    ops = []
    for _ in range(n):
        op = rng.randrange(256)
        if i % 4 == 0:              # allocation-heavy
            op = rng.choice([0, 1, 2, 9, 10, 11]) + rng.choice([0, 0x10, 0x80, 0xf0]) // 9 * 9
        elif i % 4 == 1:            # free/realloc churn
            op = rng.choice([0, 3, 4, 5, 5, 6]) + 9 * rng.randrange(28)
        ops += [op & 0xff, rng.randrange(256)]
    put('ops', i, ops)

# file: flags byte + 12-byte edit records; see fuzz_file.c
fields = [0, 8, 12, 16, 24, 32, 40, 48, 56, 60, 64, 72, 80, 88, 96, 100, 1016,   # superblock copy 0
          2048 + 16, 2048 + 40, 2048 + 48, 2048 + 1016,                             # copy 1
          0x1000, 0x1008, 0x10a8, 0x10b0,                                            # control area
          0x5000 + 64, 0x5080 + 64, 0x5000,                                          # roots
          0x10000, 0x10008, 0x10018, 0x10028, 0x10040]                               # first blocks
for i in range(36):
    flags = i % 8
    recs = []
    for _ in range(rng.choice([1, 1, 2, 4, 8])):
        kind = rng.choice([0, 1, 2, 3, 3, 5]) | (0x80 if rng.random() < 0.3 else 0)
        off = rng.choice(fields) if rng.random() < 0.8 else rng.randrange(1 << 24)
        val = rng.randrange(1 << 64) if kind & 7 == 2 else rng.randrange(64)
        recs += [kind] + list(struct.pack('<I', off)[:3]) + list(struct.pack('<Q', val))
    if i == 35:                     # one truncation
        recs += [4] + list(struct.pack('<I', 0x10800)[:3]) + list(struct.pack('<Q', 16))
    put('file', i, [flags] + recs)

# open: template byte + 11-byte records (kind, 16-bit block index, 64-bit value); see fuzz_open.c
for i in range(48):
    recs = []
    for _ in range(rng.choice([1, 1, 2, 3, 6])):
        kind = i % 8 if rng.random() < 0.5 else rng.randrange(8)
        recs += [kind] + list(struct.pack('<H', rng.randrange(200))) + list(struct.pack('<Q', rng.randrange(1 << 64)))
    put('open', i, [i % 2] + recs)
