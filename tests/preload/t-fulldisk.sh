#!/bin/bash
# t-fulldisk.sh: the heap file's file system fills up under a real program (perl, python3) whose reserve is larger
# than the disk. ON_FULL=fallback: same output as without the preload, exit 0 (no SIGBUS), the fallback really
# served allocations; ON_FULL=enomem: the program's own clean out-of-memory failure, not a signal. Every kept heap
# passes pmp_check.
# Must never: run without root's own 4 MiB tmpfs (skip instead), or leave the mount behind.
. "$(dirname "$0")/lib.sh"

DISK_KB=4096
# the heap directory itself becomes a small tmpfs; unmounted before lib.sh's cleanup removes $T
mount -t tmpfs -o size=${DISK_KB}k,mode=0700 tmpfs "$HEAPS" 2>"$T/mount.err" || {
	echo "SKIP: cannot mount a tmpfs (need root and mount permission): $(cat "$T/mount.err")"
	exit 77
}
trap 'umount "$HEAPS" 2>/dev/null || umount -l "$HEAPS"; rm -rf "$T"' EXIT

# run under the preload on the small disk (NAME=VALUE words may lead CMD); the 256M reserve is far larger than the disk
run_pre() {
	env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" PMEMPRELOAD_KEEP=always PMEMPRELOAD_LOG=3 \
		PMEMPRELOAD_SIZE=256M "$@"
}

# the one heap file on the disk
only_heap() {
	local files=("$HEAPS"/*)
	[ "${#files[@]}" -eq 1 ] && [ -e "${files[0]}" ] || { ls -la "$HEAPS" >&2; fail "expected exactly one heap file"; }
	echo "${files[0]}"
}

# LOG=3 exit line: "pmempreload: exit: heap mallocs N, fallback allocations M" -> "N M"
exit_counts() {
	sed -n 's/^pmempreload: exit: heap mallocs \([0-9]*\), fallback allocations \([0-9]*\)$/\1 \2/p' "$1" | tail -1
}

# full NAME EXPECT_OOM_RE CMD...: the fallback and the enomem runs of one program on the full disk
full() {
	local name=$1 oom=$2 rc n m f
	shift 2
	rm -f "$HEAPS"/*
	"$@" >"$T/$name.plain" 2>"$T/$name.plain.err" || fail "$name: failed without the preload"

	# ON_FULL=fallback (the default, not set): must behave as without the preload
	rc=0
	run_pre "$@" >"$T/$name.fb" 2>"$T/$name.fb.err" || rc=$?
	[ "$rc" -eq 0 ] || { tail -5 "$T/$name.fb.err" >&2; fail "$name: ON_FULL=fallback: exit status $rc (>128: signal)"; }
	cmp -s "$T/$name.plain" "$T/$name.fb" || fail "$name: ON_FULL=fallback: output differs"
	read -r n m <<<"$(exit_counts "$T/$name.fb.err")" || true
	[ -n "$n" ] || { cat "$T/$name.fb.err" >&2; fail "$name: no exit statistics line"; }
	[ "$n" -gt 0 ] || fail "$name: no allocation landed in the heap"
	[ "$m" -gt 0 ] || fail "$name: the disk never filled up: no fallback allocation"
	f=$(only_heap)
	# the heap grew until the disk was full: its size (holes included: the close gives the disk blocks of large
	# free blocks back) reaches the disk's, less one growth step
	local used avail size_kb
	read -r used avail <<<"$(df -k --output=used,avail "$HEAPS" | tail -1)"
	size_kb=$(($(stat -c %s "$f") / 1024))
	[ $((size_kb + 1024 + 256)) -ge "$DISK_KB" ] || fail "$name: the disk did not fill (heap $size_kb KiB, $avail KiB free)"
	echo "$name fallback: exit 0, output identical ($(cat "$T/$name.fb"));" \
		"heap mallocs $n, fallback allocations $m; heap size $size_kb KiB; at exit disk used ${used} KiB, free ${avail} KiB;" \
		"heap file $(du -k "$f" | cut -f1) KiB"
	check_heaps 1
	rm -f "$HEAPS"/*

	# ON_FULL=enomem: malloc fails; the program reports it and exits, no signal
	rc=0
	run_pre PMEMPRELOAD_ON_FULL=enomem "$@" >"$T/$name.en" 2>"$T/$name.en.err" || rc=$?
	[ "$rc" -ne 0 ] || fail "$name: ON_FULL=enomem: succeeded although its data cannot fit the disk"
	[ "$rc" -le 128 ] || { tail -5 "$T/$name.en.err" >&2; fail "$name: ON_FULL=enomem: killed by signal $((rc - 128))"; }
	grep -Eq "$oom" "$T/$name.en.err" || { tail -5 "$T/$name.en.err" >&2; fail "$name: ON_FULL=enomem: no '$oom'"; }
	read -r n m <<<"$(exit_counts "$T/$name.en.err")" || true
	[ "${n:-0}" -gt 0 ] || fail "$name: ON_FULL=enomem: no allocation landed in the heap"
	echo "$name enomem: exit $rc with '$(grep -Eo "$oom" "$T/$name.en.err" | head -1)';" \
		"heap mallocs $n, fallback allocations $m"
	f=$(only_heap)
	check_heaps 1
	rm -f "$HEAPS"/*
}

# ~30 MiB in 30000 strings, then one joined string: much more than the 4 MiB disk, far less than the 256M reserve
full perl 'Out of memory' perl -e 'my @l; push @l, ("x" x 1000) . $_ for 1 .. 30000; my $s = join("", @l);
	print length($s), " ", scalar(@l), " ", unpack("%32C*", $s), "\n";'

# the real interpreter, not a pyenv shell shim (the shim would get heaps of its own)
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || PY=
if [ -n "$PY" ] && [ -x "$PY" ]; then
	full "$(basename "$PY")" 'MemoryError' "$PY" -c 'import zlib
l = ["x" * 1000 + str(i) for i in range(30000)]; s = "".join(l)
print(len(s), len(l), zlib.crc32(s.encode()))'
else
	echo "python3 not found: perl only"
fi
