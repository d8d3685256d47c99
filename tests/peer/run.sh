#!/usr/bin/env bash
# run.sh: runs one peer test program under LD_PRELOAD=libpmempreload.so and judges it (meson's test command for
# the peer suites).
# Usage: run.sh [--check2] [--timeout SECONDS] [--expect-fail TEXT]... -- PROGRAM [ARGS...]
# Env: PRELOAD = path of libpmempreload.so.
#
# Each run gets a directory of its own, which is also $TMPDIR: the heap file goes to the default path under it
# (every PMEMPRELOAD_* option at its default; --check2 sets PMEMPRELOAD_CHECK=2) and so do the test's own
# temporary files; the directory is removed at the end. The verdict:
#   - a run that outlives --timeout is killed (TERM, then KILL) and fails;
#   - every process image of the test must report through the probe (support/probe.c) that its malloc lands in
#     the preload's heap, and the preload must not have fallen back at start ("no heap"): otherwise it fails,
#     whatever the test said, because it did not test pmempreload;
#   - without --expect-fail the program must exit 0;
#   - with --expect-fail (an expected difference, see README.md) it must exit non-zero and its output must
#     contain every TEXT, so that any other failure still fails.
# Must never: pass a run that timed out, ran without the preload's heap, or failed in an unexpected way; leave a
# file outside its directory.
set -uo pipefail
: "${PRELOAD:?PRELOAD (libpmempreload.so) not set}"

check=1 timeout=60 expect=()
while [ $# -gt 0 ]; do
	case $1 in
	--check2) check=2 ;;
	--timeout) timeout=$2; shift ;;
	--expect-fail) expect+=("$2"); shift ;;
	--) shift; break ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ $# -gt 0 ] || { echo "usage: run.sh [--check2] [--timeout S] [--expect-fail TEXT]... -- PROGRAM [ARGS]" >&2; exit 2; }

# every option at its default: nothing inherited from the caller's environment
for v in $(compgen -e); do
	case $v in PMEMPRELOAD_*) unset "$v" ;; esac
done

prog=$(realpath -- "$1") || exit 2 # the run happens in its own directory
shift
set -- "$prog" "$@"
T=$(mktemp -d "${TMPDIR:-/tmp}/pmp-peer.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
mkdir -m 700 "$T/tmp"

fail() {
	echo "FAIL: $*"
	exit 1
}

start=$EPOCHREALTIME
# glibc's test harness kills its own child after 20 s times TIMEOUTFACTOR: the factor makes --timeout the one limit
(cd "$T" && TMPDIR=$T/tmp timeout -k 5 "$timeout" env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_CHECK="$check" \
	TIMEOUTFACTOR=$(((timeout + 19) / 20)) PEER_PROBE="$T/probe" "$@") >"$T/out" 2>&1
rc=$?
secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')

# the output, bounded (tst-mallocfork2 prints a warning a second when it is stuck)
if [ "$(wc -c <"$T/out")" -gt 65536 ]; then
	head -c 32768 "$T/out"
	printf '\n[... %s bytes left out ...]\n' "$(($(wc -c <"$T/out") - 65536))"
	tail -c 32768 "$T/out"
else
	cat "$T/out"
fi
echo "--- exit status $rc after ${secs}s (PMEMPRELOAD_CHECK=$check)"

if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	fail "timed out after ${timeout}s (killed)"
fi
[ -s "$T/probe" ] || fail "no probe report: the program did not run under the preload"
if grep -qv '^heap$' "$T/probe"; then
	fail "malloc did not land in the preload's heap in every process image: $(sort "$T/probe" | uniq -c | tr '\n' ' ')"
fi
if grep -q 'pmempreload: no heap' "$T/out"; then
	fail "the preload fell back to its jemalloc at start (see above)"
fi
[ "$rc" -ne 77 ] || fail "the test says unsupported (exit 77): every peer test must run here"

if [ ${#expect[@]} -eq 0 ]; then
	[ "$rc" -eq 0 ] || fail "exit status $rc"
	echo "PASS ($(wc -l <"$T/probe") process image(s), malloc in the heap)"
	exit 0
fi
[ "$rc" -ne 0 ] || fail "expected difference no longer seen: the test passed (remove it from expected_differences)"
for t in "${expect[@]}"; do
	grep -qF -- "$t" "$T/out" || fail "failed, but not as the expected difference says (missing: '$t')"
done
echo "PASS: expected difference (exit $rc, output has: ${expect[*]})"
