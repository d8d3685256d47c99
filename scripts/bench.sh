#!/usr/bin/env bash
# bench.sh [RUNS]: run tests/bench/mallocbench under glibc, jemalloc, mimalloc, tcmalloc and pmempreload (the
# preload, and the explicit API on a file heap) in the same session, RUNS times each (default 5), and print the
# median Mops/s per workload and pmempreload's ratios against the peers. Not part of CI: machines are noisy.
# Must never: report a single run or an absolute time as a result.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
scripts/setup.sh build-bench --buildtype=release -Dtests=true >/dev/null
bench=build-bench/tests/bench/mallocbench
lib=/usr/lib/x86_64-linux-gnu
declare -A pre=(
  [glibc]=""
  [jemalloc]="$lib/libjemalloc.so.2"
  [mimalloc]="$(ls $lib/libmimalloc.so.2* 2>/dev/null | head -1)"
  [tcmalloc]="$(ls $lib/libtcmalloc_minimal.so.4* 2>/dev/null | head -1)"
  [pmempreload]="$PWD/build-bench/preload/libpmempreload.so"
)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for name in glibc jemalloc mimalloc tcmalloc pmempreload pmp-api; do
  for ((r = 1; r <= runs; r++)); do
    case $name in
      pmp-api) "$bench" --api ;;
      pmempreload) [ -f "${pre[$name]}" ] || break
        PMEMPRELOAD_PATH="$tmp/bench.%p.heap" PMEMPRELOAD_KEEP=never LD_PRELOAD="${pre[$name]}" "$bench" ;;
      *) [ -z "${pre[$name]}" ] && [ "$name" != glibc ] && break
        LD_PRELOAD="${pre[$name]}" "$bench" ;;
    esac
  done | awk -v a="$name" '{print a, $1, $6}' >> "$tmp/all"
done
python3 - "$tmp/all" <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    a, w, v = line.split(); d[(a, w)].append(float(v))
allocs = [a for a in ["glibc", "jemalloc", "mimalloc", "tcmalloc", "pmempreload", "pmp-api"] if any(k[0] == a for k in d)]
works = [w for w in ["pairs", "churn", "mixed", "threads"] if any(k[1] == w for k in d)]
med = {k: statistics.median(v) for k, v in d.items()}
runs = max(len(v) for v in d.values())
print(f"median Mops/s over {runs} runs")
print("workload  " + "".join(f"{a:>12}" for a in allocs))
for w in works:
    print(f"{w:<10}" + "".join(f"{med.get((a, w), float('nan')):>12.2f}" for a in allocs))
for mine in ["pmempreload", "pmp-api"]:
    if mine not in allocs: continue
    print(f"\nratio {mine} / peer (above 1 = faster than the peer)")
    peers = [a for a in ["glibc", "jemalloc", "mimalloc"] if a in allocs]
    print("workload  " + "".join(f"{p:>12}" for p in peers))
    for w in works:
        print(f"{w:<10}" + "".join(f"{med[(mine, w)] / med[(p, w)]:>12.2f}" for p in peers))
PY
