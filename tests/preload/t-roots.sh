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
# A clean heap damaged from outside where the seal record does not look (the bitmap of a page no root points into,
# past its capacity).
# PMEMPRELOAD_CHECK=2 walks it whole at open and refuses it untouched (the program runs on the fallback); the
# default open trusts the record, and the page's first use (or else the exit's check) finds the damage: one message,
# and the heap is left dirty; the
# next open salvages it and the roots are there.
D=$HEAPS/damaged.heap
rund() { env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$D" PMEMPRELOAD_MODE=open "$ROOTS" "$@"; }
rund set "damaged later" >/dev/null
python3 - "$D" <<'PY'
import struct, sys
M = (1 << 64) - 1
d = bytearray(open(sys.argv[1], 'rb').read())
salt = struct.unpack_from('<Q', d, 440)[0]
roots = [struct.unpack_from('<Q', d, 0x5000 + 128 * i + 64)[0] for i in range(128)]
for off in range(0x20000, len(d), 0x10000):
    magic = 0x45474150534c4150 ^ (((salt ^ (off * 0x9e3779b97f4a7c15 & M)) * 0xbf58476d1ce4e5b9) & M)
    if struct.unpack_from('<Q', d, off)[0] == magic and all(r & ~0xffff != off for r in roots):
        d[off + 128 + 63 * 8 + 7] |= 0x80
        open(sys.argv[1], 'r+b').write(d)
        sys.exit(0)
sys.exit('no page found')
PY
cp "$D" "$T/damaged.copy"
PMEMPRELOAD_CHECK=2 rund get >"$T/d1.out" 2>&1 || true
grep -q '^no heap$' "$T/d1.out" || { cat "$T/d1.out" >&2; fail "PMEMPRELOAD_CHECK=2 accepted a damaged clean heap"; }
cmp -s "$D" "$T/damaged.copy" || fail "the refused heap was modified"
if rund get >"$T/d2.out" 2>&1; then fail "the damage went unseen by the default open and its exit"; fi
grep -Eq "^pmempreload: (page check\(0x[0-9a-f]+\): page bitmap marks slots beyond its capacity since the heap's clean close|heap inconsistent at its end: .*beyond its capacity)" "$T/d2.out" ||
	{ cat "$T/d2.out" >&2; fail "no one-line message for the damage"; }
rund get | grep -q '^get: greeting=damaged later' || fail "the salvaged heap lost its roots"
"$HEAPCHECK" "$D" >/dev/null || fail "the salvaged heap fails pmp_check"
echo "damaged clean heap: refused untouched at PMEMPRELOAD_CHECK=2, found at its use by the default open, salvaged"
# A thread whose first allocator call is the API's (at depth 0) learns its stack as a malloc's thread does: what
# pthread_getattr_np allocates for it comes from the heap, so 50 such threads leave the fallback's count as it is.
A=$HEAPS/apithreads.heap
runa() { env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$A.$1" PMEMPRELOAD_KEEP=always PMEMPRELOAD_STATS=1 "$ROOTS" threads "$1" 2>&1; }
fb() { fallback_allocs <<<"$1"; }
o0=$(runa 0) && o50=$(runa 50) || fail "roots threads failed: $o0 $o50"
grep -q '^threads: ok$' <<<"$o50" || fail "roots threads: $o50"
[ -n "$(fb "$o50")" ] && [ "$(fb "$o50")" = "$(fb "$o0")" ] ||
	fail "50 threads first in the API made $(fb "$o50") fallback allocations, against $(fb "$o0") without them"
for f in "$A.0" "$A.50"; do "$HEAPCHECK" "$f" >/dev/null || fail "pmp_check failed on $f"; done
echo "50 threads first in the API: $(fb "$o50") fallback allocations, as without them (heaps pass pmp_check)"
