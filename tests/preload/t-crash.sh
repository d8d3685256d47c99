#!/bin/bash
# t-crash.sh: a program dies of SIGSEGV: its heap file is kept (KEEP=crash), validates, holds the data and the
# crash record; a clean exit under KEEP=crash leaves no file.
. "$(dirname "$0")/lib.sh"
set +e
env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" "$CRASHER" "precious data 123" >"$T/out" 2>"$T/err"
rc=$?
set -e
[ "$rc" -eq 139 ] || { cat "$T/err"; fail "expected death by SIGSEGV (139), got $rc"; }
f=$(heap_of crasher)
[ -n "$f" ] || fail "no heap file kept after the crash"
"$HEAPCHECK" "$f" --roots --crash >"$T/check" || { cat "$T/check"; fail "crashed heap fails pmp_check"; }
grep -E '^(check|clean|n_malloc|root|crash_signo|crash_addr|crash_frames|crash_modules)' "$T/check"
grep -q '^root victim=precious data 123$' "$T/check" || fail "data not found in the crashed heap"
grep -q '^crash_signo=11$' "$T/check" || fail "no SIGSEGV crash record"
grep -q '^crash_addr=(nil)$' "$T/check" || fail "fault address not recorded"
[ "$(awk -F= '/^crash_frames=/ {print $2}' "$T/check")" -ge 3 ] || fail "backtrace too short"
grep -q '^crash_module=.*crasher$' "$T/check" || fail "executable missing from the module list"
[ "$(stat_of "$f" n_malloc)" -ge 5001 ] || fail "allocations missing from the crashed heap"
rm -f "$HEAPS"/*
env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" "$ROOTS" set x >/dev/null
[ -z "$(ls "$HEAPS")" ] || fail "KEEP=crash left a file after a clean exit"
echo "clean exit under KEEP=crash: heap file removed"
