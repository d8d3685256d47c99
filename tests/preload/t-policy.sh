#!/bin/bash
# t-policy.sh: options and ownership: bad values warn and default, PMEMPRELOAD_EXE, exec without fork never reuses
# the previous program's heap, a locked heap is left alone, readonly mode writes nothing, ON_FULL fallback/enomem.
. "$(dirname "$0")/lib.sh"
base() { env -u LD_LIBRARY_PATH LD_PRELOAD="$PRELOAD" "$@"; }

# a bad value: one clear warning, the default, and the heap still works
base PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" PMEMPRELOAD_KEEP=always PMEMPRELOAD_SIZE=12X PMEMPRELOAD_FORK=sometimes \
	cat /etc/hostname >/dev/null 2>"$T/warn"
grep -q 'PMEMPRELOAD_SIZE=12X is not valid' "$T/warn" || { cat "$T/warn"; fail "no warning for a bad size"; }
grep -q 'PMEMPRELOAD_FORK=sometimes is not valid' "$T/warn" || fail "no warning for a bad fork mode"
[ -n "$(heap_of cat)" ] || fail "bad option values must not disable the heap"
echo "bad values: warned, defaults used: $(head -1 "$T/warn")"
rm -f "$HEAPS"/*

# PMEMPRELOAD_DECAY: the disk blocks of a freed 8 MiB buffer stay under the default and go at once with 0; each
# heap passes pmp_check afterwards
decay_kib() {
	base PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" PMEMPRELOAD_KEEP=always "$@" python3 -c '
import os, sys
heaps = sys.argv[1]
me = [f for f in os.listdir(heaps) if f.startswith("python") and f.endswith(".%d.heap" % os.getpid())][0]
kib = lambda: os.stat(os.path.join(heaps, me)).st_blocks // 2
b = bytearray(8 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1
before = kib()
del b
print(before - kib())' "$HEAPS" || return 1
	local f
	for f in "$HEAPS"/*.heap; do
		"$HEAPCHECK" "$f" >"$T/c" 2>&1 || { cat "$T/c" >&2; return 1; }
	done
	rm -f "$HEAPS"/*
}
kept=$(decay_kib) || fail "python3 under the default decay"
[ "$kept" -lt 1024 ] || fail "a freed 8 MiB buffer gave back $kept KiB at once under the default decay time"
given=$(decay_kib PMEMPRELOAD_DECAY=0) || fail "python3 under PMEMPRELOAD_DECAY=0"
[ "$given" -ge 7168 ] || fail "PMEMPRELOAD_DECAY=0: a freed 8 MiB buffer gave back only $given KiB"
base PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" PMEMPRELOAD_KEEP=never PMEMPRELOAD_DECAY=soon true 2>"$T/warn"
grep -q 'PMEMPRELOAD_DECAY=soon is not valid (expected milliseconds' "$T/warn" || { cat "$T/warn"; fail "no warning for a bad decay"; }
echo "decay: a freed 8 MiB buffer gave back $kept KiB under the default, $given KiB with PMEMPRELOAD_DECAY=0"
rm -f "$HEAPS"/*
# the end of a program whose heap file is kept gives back what waits for its decay time (a removed file keeps it:
# nobody reads it again)
base PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" PMEMPRELOAD_KEEP=always python3 -c '
b = bytearray(8 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1
del b' || fail "python3 freeing 8 MiB"
f=$(heap_of python3)
[ -n "$f" ] || fail "no heap file kept"
"$HEAPCHECK" "$f" >"$T/c" 2>&1 || { cat "$T/c"; fail "the kept heap fails its check"; }
left=$(du -k "$f" | cut -f1)
[ "$left" -lt 8192 ] || fail "the kept heap file holds $left KiB: the freed 8 MiB buffer was not given back at the end"
echo "decay: the kept heap of a program that freed 8 MiB holds $left KiB on disk"
rm -f "$HEAPS"/*

# PMEMPRELOAD_EXE: only matching executables get a heap
base PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" PMEMPRELOAD_KEEP=always PMEMPRELOAD_EXE='ca[st],nothing*' \
	bash -c 'cat /etc/hostname | wc -l' >/dev/null
[ -n "$(heap_of cat)" ] && [ -z "$(heap_of bash)" ] && [ -z "$(heap_of wc)" ] || { ls "$HEAPS"; fail "EXE filter"; }
echo "EXE filter: only $(ls "$HEAPS")"
rm -f "$HEAPS"/*

# exec without fork keeps the pid: with a name pattern without %e the new program finds the old file.
# KEEP=always: it takes a new name; the old heap is untouched and both validate.
base PMEMPRELOAD_PATH="$HEAPS/x.%p.heap" PMEMPRELOAD_KEEP=always bash -c 'echo a >/dev/null; exec bash -c "echo b >/dev/null"'
ls "$HEAPS"
[ "$(ls "$HEAPS" | wc -l)" -eq 2 ] || fail "exec: expected the old heap kept and a new one"
check_heaps 2
rm -f "$HEAPS"/*
# default KEEP=crash: the dead predecessor's heap is removed, the new one at clean exit: nothing left
base PMEMPRELOAD_PATH="$HEAPS/x.%p.heap" bash -c 'echo a >/dev/null; exec bash -c "echo b >/dev/null"'
[ -z "$(ls "$HEAPS")" ] || { ls "$HEAPS"; fail "exec with KEEP=crash left files"; }
echo "exec without fork: old heap never reused (kept + new name, or removed with KEEP=crash)"

# a heap file in use is not touched by a second process (open mode, same path)
H=$HEAPS/shared.heap
base PMEMPRELOAD_PATH="$H" PMEMPRELOAD_MODE=open sleep 3 &
holder=$!
for i in $(seq 50); do [ -e "$H" ] && break; sleep 0.1; done
sleep 0.3
base PMEMPRELOAD_PATH="$H" PMEMPRELOAD_MODE=open sleep 0 2>"$T/locked"
grep -q 'in use by another process' "$T/locked" || { cat "$T/locked"; fail "second process did not see the lock"; }
wait $holder
"$HEAPCHECK" "$H" >"$T/c" || fail "shared heap corrupt"
grep -q "writer_exe=.*sleep" "$T/c" || fail "writer identity"
echo "locked heap: second process used the fallback: $(tail -1 "$T/locked")"
# open mode refuses another program's heap
base PMEMPRELOAD_PATH="$H" PMEMPRELOAD_MODE=open true 2>"$T/foreign"
grep -q 'another program' "$T/foreign" || { cat "$T/foreign"; fail "foreign heap not refused"; }

# readonly mode: the program runs, the file is not written
sum1=$(md5sum <"$H")
base PMEMPRELOAD_PATH="$H" PMEMPRELOAD_MODE=readonly bash -c 'echo x | cat' >/dev/null
[ "$sum1" = "$(md5sum <"$H")" ] || fail "readonly mode wrote to the heap file"
echo "readonly: file unchanged"

# heap full: fallback keeps the program working; enomem makes malloc fail
out=$(base PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" PMEMPRELOAD_SIZE=256K perl -e '$x = "a" x 3000000; print length($x)')
[ "$out" = 3000000 ] || fail "ON_FULL=fallback: got '$out'"
if base PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" PMEMPRELOAD_SIZE=256K PMEMPRELOAD_ON_FULL=enomem \
	perl -e '$x = "a" x 3000000; print length($x)' >/dev/null 2>&1; then
	fail "ON_FULL=enomem: a 3 MB string fitted a 256K heap"
fi
echo "heap full: fallback served the program; enomem failed it as asked"
