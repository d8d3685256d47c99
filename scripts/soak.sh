#!/usr/bin/env bash
# soak.sh: the long crash-safety run, outside CI: the kill -9 campaign with 100,000 kills (and recovery kills), the
# power-loss simulation with many more crash points, then both fuzz targets for a longer time.
#   scripts/soak.sh [KILLS] [FUZZ_SECONDS_PER_TARGET]     defaults: 100000 and 1800
# Environment: PMP_CRASH_SEED / PMP_PL_SEED to replay a run, BUILD (default build-soak).
# Must never: run in CI (hours), or hide a failure: the exit status is non-zero when any part failed.
set -uo pipefail
cd "$(dirname "$0")/.."
kills=${1:-100000}
fuzz_secs=${2:-1800}
build=${BUILD:-build-soak}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dpreload=false -Dwerror_ci=true >/dev/null || exit 2
fi
ninja -C "$build" tests/crash/crash-campaign tests/crash/crash-powerloss >/dev/null || exit 2
status=0
echo "soak: kill -9 campaign, $kills kills"
PMP_CRASH_KILLS=$kills "$build/tests/crash/crash-campaign" || status=1
echo "soak: power-loss images, committed state (2000 crash points)"
PMP_PL_PAIRS=2000 PMP_PL_IMAGES=0 "$build/tests/crash/crash-powerloss" || status=1
echo "soak: power-loss images, arbitrary writeback order (2000 crash points x 16)"
PMP_PL_PAIRS=2000 PMP_PL_IMAGES=16 "$build/tests/crash/crash-powerloss" || status=1
echo "soak: fuzzing, $fuzz_secs s per target"
scripts/fuzz.sh run "$fuzz_secs"
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 77 ] && status=1
echo "soak: $([ $status -eq 0 ] && echo PASSED || echo FAILED)"
exit $status
