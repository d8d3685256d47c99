#!/bin/bash
# t-stats.sh: statistics on request. PMEMPRELOAD_STATS=1 prints pmp_stats_print's summary of the process heap at a
# normal exit (and not without it); malloc_stats() and malloc_info() of a plain program describe the heap, not
# glibc's arena: their in-use bytes hold the program's 100 live blocks of 1,000 bytes, and their system bytes are
# the heap's mapped size, as the kept heap file says.
# A new thread costs the fallback nothing: 200 threads that each malloc leave its count as it is without them (the
# crash recorder's look at each thread's stack allocates in the heap, not the fallback).
# Must never: accept figures that glibc's own malloc would print as well: the system bytes (glibc's arena is some
# 132 KiB, the heap's mapping megabytes) and malloc_info's version name which malloc answered.
. "$(dirname "$0")/lib.sh"
: "${STATSPROG:?STATSPROG not set}"

run() { # run LABEL [THREADS] ENV...: statsprog under the preload, stdout and stderr kept
	local label=$1 threads=
	shift
	[[ ${1:-} =~ ^[0-9]+$ ]] && { threads=$1; shift; }
	env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/$label.%p.heap" PMEMPRELOAD_KEEP=always "$@" "$STATSPROG" \
		$threads >"$T/$label.out" 2>"$T/$label.err" || { cat "$T/$label.err" >&2; fail "$label: statsprog failed"; }
}

run on PMEMPRELOAD_STATS=1
run off
grep -q '^pmempreload: used ' "$T/off.err" && fail "a summary without PMEMPRELOAD_STATS"
line=$(grep '^pmempreload: used ' "$T/on.err") || { cat "$T/on.err" >&2; fail "no summary at exit with PMEMPRELOAD_STATS=1"; }
read -r used blocks < <(sed -E 's/^pmempreload: used ([0-9]+) bytes in ([0-9]+) blocks.*/\1 \2/' <<<"$line")
[ "$used" -ge 100000 ] && [ "$blocks" -ge 100 ] || fail "summary shows $used bytes in $blocks blocks: $line"
grep -q '^pmempreload: [0-9]* mallocs, ' "$T/on.err" || fail "no operation counts in the summary"
grep -q '^pmempreload: fallback allocations [0-9]*$' "$T/on.err" || fail "no fallback count in the summary"
echo "PMEMPRELOAD_STATS=1: $line"

run threads 200 PMEMPRELOAD_STATS=1
fb() { fallback_allocs <"$T/$1.err"; }
[ -n "$(fb threads)" ] && [ "$(fb threads)" = "$(fb on)" ] ||
	fail "200 threads made $(fb threads) fallback allocations, against $(fb on) without them"
for f in "$HEAPS"/threads.*.heap; do
	"$HEAPCHECK" "$f" >"$T/check.threads" 2>&1 || { cat "$T/check.threads" >&2; fail "pmp_check failed on $f"; }
done
echo "200 threads: $(fb threads) fallback allocations, as without them (heap passes pmp_check)"

# malloc_stats: glibc's layout, the heap's figures; the same mapped size as the kept file's check
inuse=$(awk -F= '/in use bytes/ {gsub(/ /, "", $2); print $2; exit}' "$T/off.err")
system=$(awk -F= '/system bytes/ {gsub(/ /, "", $2); print $2; exit}' "$T/off.err")
[ -n "$inuse" ] && [ "$inuse" -ge 100000 ] || { cat "$T/off.err" >&2; fail "malloc_stats in-use bytes: '$inuse'"; }
files=("$HEAPS"/off.*.heap)
"$HEAPCHECK" "${files[0]}" >"$T/check.out" 2>&1 || { cat "$T/check.out" >&2; fail "pmp_check failed"; }
heap_used=$(awk -F= '$1 == "used_bytes" {print $2}' "$T/check.out")
mapped=$(awk -F= '$1 == "mapped" {print $2}' "$T/check.out")
[ "$system" = "$mapped" ] || fail "malloc_stats says $system system bytes, the heap file maps $mapped"
[ -n "$heap_used" ] && [ "$heap_used" -ge 100000 ] || fail "the heap file holds $heap_used used bytes"
grep -q '<malloc version="pmempreload-1">' "$T/off.out" || fail "malloc_info is not the heap's"
xml_used=$(sed -nE 's/.*<total type="used" count="([0-9]+)" size="([0-9]+)".*/\2/p' "$T/off.out")
[ "$xml_used" -ge 100000 ] || fail "malloc_info used size $xml_used"
echo "malloc_stats: $inuse bytes in use, malloc_info: $xml_used, heap file: $heap_used (pmp_check ok)"
