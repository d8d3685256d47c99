#!/usr/bin/env bash
# bench.sh: the benchmark table of issue 8, from a fresh clone. Installs the Debian packages the benchmarks need (the
# list below; as root, when missing), builds pmempreload in release mode (build-bench/), prepares the inputs
# (build-bench/work/), then runs tests/bench/bench_driver.py, which runs every benchmark under glibc, jemalloc,
# mimalloc, tcmalloc and pmempreload, interleaved, and prints one table per section plus the targets of issue 8.
# Results: build-bench/results/<date>/<section>.txt, the exact command lines in <section>.log, raw outputs in raw/.
#
#   scripts/bench.sh [--quick] [--runs N] [--sections LIST] [--only REGEX] [--out DIR]
#     --quick      1 run of each on small inputs: proves the set-up works (its figures are not results)
#     --runs N     runs per benchmark and allocator (default 3; the medians need at least 3)
#     --sections   comma list of mimalloc-bench,programs,persist,callgrind,micro (default: all)
#     --only RE    only the benchmarks whose name matches RE (mimalloc-bench and programs)
#   MIMALLOC_BENCH=/path/to/mimalloc-bench/out/bench   the directory of an already built mimalloc-bench (its bench/
#                folder built with its own CMake, see its README); without it that section is skipped and says so.
#   MIMALLOC_BENCH_SRC=/path/to/mimalloc-bench/bench   its sources, for the input files (default: $MIMALLOC_BENCH/../../bench)
#
# Not part of CI: machines are shared and noisy, and the full campaign takes 30 to 60 minutes on 2 cores.
# Must never: download or build mimalloc-bench (or any other benchmark from outside Debian's packages), report a
# single run as a result, put a heap file on tmpfs without saying so, or install into scripts/setup.sh's list.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0 runs="" sections="" only="" out=""
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --runs) runs=$2; shift ;;
    --sections) sections=$2; shift ;;
    --only) only=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    [0-9]*) runs=$1 ;;   # the old form: bench.sh RUNS
    *) echo "bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$runs" ] || { ((quick)) && runs=1 || runs=3; }

# The packages the benchmarks need, beyond what scripts/setup.sh installs for building and testing. Installed here,
# not there: CI must not install them.
BENCH_PACKAGES=(
  time valgrind make gcc g++ dpkg-dev    # measuring, callgrind, the lua build, apt-get source
  libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4   # the peers
  python3 perl sqlite3 z3 rocksdb-tools  # the real programs (rocksdb-tools has db_bench)
  libpmemobj-dev libboost-dev            # the persistent peers of tests/bench/persist_peers.cc
)
missing=()
for p in "${BENCH_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench: not root, so not installing: ${missing[*]} (what needs them is skipped)" >&2
  else
    echo "bench: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
      for p in "${missing[@]}"; do   # one by one, so that one absent package skips only what needs it
        apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 || echo "bench: could not install $p" >&2
      done
    fi
  fi
fi

# pmempreload in release mode, with the benchmark programs of tests/bench (persist_peers only if pmemobj/Boost exist)
build=build-bench
scripts/setup.sh "$build" --buildtype=release -Db_ndebug=if-release -Dtests=true >/dev/null
work=$PWD/$build/work
mkdir -p "$work"
fstype=$(stat -f -c %T "$work")
case $fstype in
  tmpfs|ramfs) echo "bench: WARNING: $work is on $fstype: heap files are meant to be on a disk" >&2 ;;
esac

# lua 5.4's upstream sources from Debian's source package, for the `make -j` benchmark: fetched once into the work
# directory with apt-get source (through a private deb-src list made from the system's own sources, so the
# system's apt configuration is untouched), then reused offline.
lua_src=$(ls -d "$work"/src/lua-5.4*/ 2>/dev/null | head -1 || true)
if [ -z "$lua_src" ] && command -v apt-get >/dev/null && command -v dpkg-source >/dev/null; then
  apt=$work/apt
  mkdir -p "$apt/parts" "$apt/lists/partial" "$work/src"
  : > "$apt/parts/src.list"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && sed -n 's/^deb \(.*\)$/deb-src \1/p' "$f" >> "$apt/parts/src.list"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && sed 's/^Types: .*$/Types: deb-src/' "$f" > "$apt/parts/$(basename "$f")"
  done
  opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/parts" -o "Dir::State::Lists=$apt/lists")
  if apt-get "${opts[@]}" update -qq >"$apt/log" 2>&1 &&
     (cd "$work/src" && apt-get "${opts[@]}" source --download-only lua5.4 >>"$apt/log" 2>&1); then
    orig=$(ls "$work"/src/lua5.4_*.orig.tar.* | head -1)
    tar -C "$work/src" -xf "$orig"   # upstream sources as released (Debian's patches switch the build to libtool)
    lua_src=$(ls -d "$work"/src/lua-5.4*/ | head -1)
    echo "bench: lua sources from $(basename "$orig") in $lua_src" >&2
  else
    echo "bench: could not get lua5.4's source package (see $apt/log): lua-make is skipped" >&2
  fi
fi

lib=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
found() { for f in "$@"; do [ -e "$f" ] && { echo "$f"; return; }; done; echo "${1}"; }
stamp=$(date +%Y%m%d-%H%M%S)
suffix=""; ((quick)) && suffix=-quick
out=${out:-$PWD/$build/results/$stamp$suffix}
mkdir -p "$out"
mkdir -p "$PWD/$build/results"
ln -sfn "$out" "$PWD/$build/results/latest"
args=(--runs "$runs" --out "$out" --work "$work" --build "$PWD/$build" --procs "$(nproc 2>/dev/null || echo 2)"
      --alloc glibc=
      --alloc "jemalloc=$(found "$lib/libjemalloc.so.2")"
      --alloc "mimalloc=$(found "$lib/libmimalloc.so.2" "$lib/libmimalloc.so.2.0")"
      --alloc "tcmalloc=$(found "$lib/libtcmalloc_minimal.so.4")"
      --alloc "pmempreload=$PWD/$build/preload/libpmempreload.so"
      --mimalloc-bench "${MIMALLOC_BENCH:-}" --mimalloc-bench-src "${MIMALLOC_BENCH_SRC:-}" --lua-src "${lua_src:-}")
((quick)) && args+=(--quick --timeout 300)
[ -n "$sections" ] && args+=(--sections "$sections")
[ -n "$only" ] && args+=(--only "$only")
# Debian's python3 runs the driver (a pyenv shim would start more processes); the driver never runs under a preload
/usr/bin/python3 -I tests/bench/bench_driver.py "${args[@]}" 2>&1 | tee "$out/console.txt"
