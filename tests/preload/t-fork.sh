#!/bin/bash
# t-fork.sh: fork 100 times while 4 threads allocate (snapshot), 30 times (copy): no deadlock, children isolated,
# the parent's heap (and in copy mode every child's file) passes pmp_check.
. "$(dirname "$0")/lib.sh"
PMEMPRELOAD_FORK=snapshot timeout 120 env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" \
	PMEMPRELOAD_KEEP=always "$FORKTHREADS" 100 >"$T/snap.out" || fail "snapshot: forkthreads failed or hung"
cat "$T/snap.out"
grep -q 'failures=0 isolated=1' "$T/snap.out" || fail "snapshot: children failed or wrote into the parent"
check_heaps 1
[ "$(ls "$HEAPS" | wc -l)" -eq 1 ] || fail "snapshot children must not create heap files"
rm -f "$HEAPS"/*
PMEMPRELOAD_FORK=copy timeout 120 env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" \
	PMEMPRELOAD_KEEP=always "$FORKTHREADS" 30 >"$T/copy.out" || fail "copy: forkthreads failed or hung"
cat "$T/copy.out"
grep -q 'failures=0 isolated=1' "$T/copy.out" || fail "copy: children failed or wrote into the parent"
check_heaps 31

# a child's own files are its own: a child that writes a file and frees a large heap block finds its file intact
# (the child's heap once kept the file layer's hole punching, aimed at a descriptor number its open() got back)
for mode in snapshot copy; do
	rm -f "$HEAPS"/* "$T/child.data"
	PMEMPRELOAD_FORK=$mode env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" PMEMPRELOAD_KEEP=always \
		"$FORKFILES" "$T" >"$T/ff.out" || { cat "$T/ff.out"; fail "$mode: the child's file was changed"; }
	echo "$mode: child's file $(cat "$T/ff.out") bytes"
	check_heaps 1
done
