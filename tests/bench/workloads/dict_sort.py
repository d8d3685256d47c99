# dict_sort.py N: a python3 workload for scripts/bench.sh: fill a dict with N records (str keys, tuple and list
# values), sort it two ways, group it, then drop and rebuild part of it; prints a checksum that is the same under
# every allocator. Holds only the workload. Must never: read the clock, print anything that varies between runs
# (bench.sh compares the output with glibc's), or touch files.
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 300000
s = 12345


def rnd():
    global s
    s = (s * 1103515245 + 12345) & 0x7FFFFFFF
    return s


d = {}
for i in range(n):
    r = rnd()
    d[f"key-{r:010d}-{i}"] = (r % 1000, [str(r), i * 3, f"v{i % 97}"])
by_value = sorted(d.items(), key=lambda kv: (kv[1][0], kv[0]))
by_key = sorted(d)
groups = {}
for k, (g, v) in d.items():
    groups.setdefault(g, []).append(v[2] + k[-3:])
for i, k in enumerate(by_key):
    if i % 3 == 0:
        del d[k]
for i in range(n // 3):
    d[f"new-{i}"] = {"a": i, "b": [i] * (i % 7), "c": str(i) * 2}
h = 0
for k, v in by_value[:: max(1, n // 1000)]:
    h = (h * 31 + sum(map(ord, k[-6:])) + v[0]) % (1 << 61)  # not hash(): salted per process
print(len(d), len(groups), sum(len(x) for x in groups.values()), by_key[0], by_value[-1][0], h)
