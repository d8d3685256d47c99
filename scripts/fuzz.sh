#!/usr/bin/env bash
# fuzz.sh: builds the fuzz targets (tests/fuzz) with clang -fsanitize=fuzzer,address,undefined straight from the
# library's sources and runs them.
#   scripts/fuzz.sh build                 build into ${FUZZ_BUILD:-build-fuzz}
#   scripts/fuzz.sh run SECONDS [TARGET]  fuzz each target (ops, file) for SECONDS; new inputs kept in
#                                         build-fuzz/corpus-TARGET, crashes in build-fuzz/crash-TARGET-*
#   scripts/fuzz.sh replay SECONDS        CI: the checked-in corpus, then fuzzing seeded by it, SECONDS per target
#   scripts/fuzz.sh repro TARGET FILE     run one input (a crash file) through the sanitized target
# Exit 77 when clang or its libFuzzer runtime is missing (meson counts it as skipped), 1 on a finding.
# Must never: write into tests/fuzz/corpus (the checked-in seeds change only through gen_corpus.py), or outside
# the build directory and $TMPDIR.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${FUZZ_BUILD:-$root/build-fuzz}
cc=${CLANG:-clang}
targets=(ops file open)

build() {
  if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz.sh: SKIP: $cc not installed (apt-get install clang)" >&2
    exit 77
  fi
  mkdir -p "$out"
  local probe="$out/probe.c"
  printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}\n' > "$probe"
  if ! "$cc" -fsanitize=fuzzer "$probe" -o "$out/probe" 2>/dev/null; then
    echo "fuzz.sh: SKIP: $cc has no libFuzzer runtime" >&2
    exit 77
  fi
  local srcs=("$root"/src/core/*.c "$root"/src/file/*.c "$root"/src/os/*.c)
  for t in "${targets[@]}"; do
    # only rebuild when a source or a header (the core's inline fast paths live in headers) is newer than the binary
    if [ -x "$out/fuzz_$t" ] && [ -z "$(find "${srcs[@]}" "$root"/src/*/*.h "$root/tests/fuzz/fuzz_$t.c" "$root/include" -newer "$out/fuzz_$t" 2>/dev/null | head -1)" ]; then
      continue
    fi
    "$cc" -g -O1 -std=c11 -D_GNU_SOURCE -fvisibility=hidden -fno-omit-frame-pointer \
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -I"$root/include" -I"$root/src" "${srcs[@]}" "$root/tests/fuzz/fuzz_$t.c" -pthread -o "$out/fuzz_$t" || {
      echo "fuzz.sh: build of fuzz_$t failed" >&2
      exit 2
    }
  done
}

fuzz() { # target seconds corpus-dirs...
  local t=$1 secs=$2
  shift 2
  local work="$out/corpus-$t"
  mkdir -p "$work"
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -max_len=4096 \
      -artifact_prefix="$out/crash-$t-" -print_final_stats=1 "$work" "$@" 2>"$out/fuzz-$t.log"
  local rc=$?
  grep -E "^stat::number_of_executed_units|^stat::peak_rss" "$out/fuzz-$t.log" | sed "s/^/fuzz_$t: /"
  if [ $rc -ne 0 ]; then
    echo "fuzz.sh: fuzz_$t found a problem (exit $rc); log: $out/fuzz-$t.log" >&2
    tail -40 "$out/fuzz-$t.log" >&2
    return 1
  fi
}

cmd=${1:-}
case "$cmd" in
  build) build ;;
  run|replay)
    secs=${2:-60}
    build
    status=0
    for t in "${targets[@]}"; do
      [ -n "${3:-}" ] && [ "$3" != "$t" ] && continue
      if [ "$cmd" = replay ]; then
        # every checked-in seed once, under the sanitizers
        ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
          "$out/fuzz_$t" -runs=0 -artifact_prefix="$out/crash-$t-" "$root/tests/fuzz/corpus/$t" 2>"$out/replay-$t.log" || {
          echo "fuzz.sh: fuzz_$t fails on the checked-in corpus" >&2
          tail -40 "$out/replay-$t.log" >&2
          status=1
          continue
        }
        echo "fuzz_$t: $(ls "$root/tests/fuzz/corpus/$t" | wc -l) checked-in seeds replayed"
      fi
      fuzz "$t" "$secs" "$root/tests/fuzz/corpus/$t" || status=1
    done
    exit $status ;;
  repro)
    build
    ASAN_OPTIONS=detect_leaks=0 "$out/fuzz_$2" "$3" ;;
  *)
    sed -n '2,10p' "$0" >&2
    exit 2 ;;
esac
