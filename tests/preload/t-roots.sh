#!/bin/bash
# t-roots.sh: a program sets named roots and exits; a second run with PMEMPRELOAD_MODE=open finds them (the
# process heap refused pmp_heap_reset and pmp_heap_add_pool in between).
. "$(dirname "$0")/lib.sh"
H=$HEAPS/roots.heap
run() { env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$H" PMEMPRELOAD_MODE=open "$ROOTS" "$@"; }
run set "hello from run 1" | tee "$T/1.out"
grep -q '^set: ok$' "$T/1.out" || fail "set failed"
grep -q '^process heap: reset busy, add_pool busy$' "$T/1.out" || fail "the process heap must refuse reset and pools"
[ "$(stat_of "$H" clean)" = 1 ] || fail "heap not marked clean at exit"
run get | tee "$T/2.out"
grep -q '^get: greeting=hello from run 1 list.n=1000 sum=332833500$' "$T/2.out" || fail "roots not found in run 2"
"$HEAPCHECK" "$H" --roots | grep '^root '
check_heaps 1
# without the preload there is no process heap
{ "$ROOTS" get || true; } | grep -q '^no heap$' || fail "pmp_default() must be NULL without the preload"
# a fresh-mode run at the same path must not reuse the existing heap
env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$H" PMEMPRELOAD_KEEP=always "$ROOTS" get >"$T/3.out" || true
grep -q 'roots missing' "$T/3.out" || fail "fresh mode reused an existing heap file"
[ -e "$H.1" ] || fail "fresh mode did not pick a new name"
echo "fresh mode picked $(basename "$H.1") instead of reusing $(basename "$H")"
