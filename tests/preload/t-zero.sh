#!/bin/bash
# t-zero.sh: PMEMPRELOAD_ZERO=1: secrets written into heap blocks and freed do not linger in the heap file; the
# control run without it shows they would. The program leaves with the exit_group system call (no seal, no cleanup, as if killed); both heaps pass
# pmp_check and hold the block that is still live.
# Must never: count the secret anywhere but in the heap files of this test.
. "$(dirname "$0")/lib.sh"
: "${ZEROSECRET:?ZEROSECRET not set}"

# count NEEDLE FILE: occurrences of a byte string in a binary file
count() { { LC_ALL=C grep -aoF -- "$1" "$2" || true; } | wc -l; }

# zrun LABEL ENV...: run zerosecret under the preload with extra environment; prints the kept heap file
zrun() {
	local label=$1 rc=0
	shift
	mkdir -m 700 "$HEAPS/$label"
	env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/$label/%e.%p.heap" PMEMPRELOAD_KEEP=always "$@" \
		"$ZEROSECRET" 2>"$T/$label.err" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$T/$label.err" >&2; fail "$label: zerosecret exited $rc"; }
	local files=("$HEAPS/$label"/zerosecret.*.heap)
	[ "${#files[@]}" -eq 1 ] && [ -f "${files[0]}" ] || fail "$label: expected one kept heap file"
	"$HEAPCHECK" "${files[0]}" >"$T/$label.check" 2>&1 || { cat "$T/$label.check" >&2; fail "$label: pmp_check failed"; }
	echo "${files[0]}"
}

declare -A file secrets zval=([control]=unset [zero]=1)
file[control]=$(zrun control)          # PMEMPRELOAD_ZERO unset: freed memory keeps its bytes
file[zero]=$(zrun zero PMEMPRELOAD_ZERO=1)

for label in control zero; do
	f=${file[$label]}
	m=$(awk -F= '$1 == "n_malloc" {print $2}' "$T/$label.check")
	fr=$(awk -F= '$1 == "n_free" {print $2}' "$T/$label.check")
	cl=$(awk -F= '$1 == "clean" {print $2}' "$T/$label.check")
	# 64 blocks + 2 (shrink) + 2 (move) + 1 (calloc) + the realloc's new block + the live one went through the
	# heap, and every secret block was freed; a heap left without an exit counts each thread's operations up to
	# its last page change or batch of 256 (what came after is in no file): the blocks took pages, so all are counted
	[ "$m" -ge 64 ] || fail "$label: only $m allocations in the heap (did the preload run?)"
	[ "$fr" -ge 64 ] || fail "$label: only $fr frees in the heap"
	[ "$cl" = 0 ] || fail "$label: exit_group must leave the heap not clean (got clean=$cl)"
	live=$(count LIVE-MARKER-7- "$f") # 4096 bytes of 14-byte tokens: 292
	[ "$live" -ge 290 ] || fail "$label: the live block is not in the heap file ($live markers)"
	secrets[$label]=$(count SECRET- "$f")
	echo "$label (PMEMPRELOAD_ZERO=${zval[$label]}): ${secrets[$label]} SECRET tokens in the heap file," \
		"$live live markers, n_malloc=$m n_free=$fr, pmp_check ok"
done

[ "${secrets[control]}" -ge 1000 ] || fail "control: freed secrets not found (${secrets[control]}): the test cannot see them"
[ "${secrets[zero]}" -eq 0 ] || {
	LC_ALL=C grep -aobF SECRET- "${file[zero]}" | head -5 >&2
	fail "PMEMPRELOAD_ZERO=1: ${secrets[zero]} freed SECRET tokens still in the heap file"
}
