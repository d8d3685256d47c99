#!/bin/bash
# t-forktorture.sh: 1,000 forks in all (snapshot 600, copy 250, unsafe 150) while threads allocate and free and
# other threads fork; children allocate, free large blocks, write files and exec (forktorture.c checks each child's
# file and every heap file it left). No hang (forktorture's watchdog and timeout), and the parent's kept heap passes
# pmp_check after each mode.
. "$(dirname "$0")/lib.sh"
run_mode() {
	local mode=$1 forks=$2 alloc=$3
	rm -f "$HEAPS"/*
	PMEMPRELOAD_FORK=$mode timeout 300 env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" \
		PMEMPRELOAD_KEEP=always PMEMPRELOAD_LOG=0 "$FORKTORTURE" "$HEAPS" "$forks" "$alloc" >"$T/$mode.out" \
		2>"$T/$mode.err" || { cat "$T/$mode.err" >&2; fail "$mode: forktorture failed or hung"; }
	echo "$mode: $(cat "$T/$mode.out")"
	grep -q 'failures=0' "$T/$mode.out" || fail "$mode: failures"
	check_heaps 1
	[ "$(ls "$HEAPS" | wc -l)" -eq 1 ] || { ls "$HEAPS"; fail "$mode: files left besides the parent's heap"; }
}
run_mode snapshot 600 1
run_mode copy 250 1
run_mode unsafe 150 0
