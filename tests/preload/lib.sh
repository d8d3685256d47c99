# lib.sh: shared helpers of the preload suite (sourced by every t-*.sh).
# Env from meson: PRELOAD (libpmempreload.so), HEAPCHECK, and the helper programs' paths.
# Must never: pass a test whose heap files were not checked, or leave heap files outside the test's own directory.
set -euo pipefail
: "${PRELOAD:?PRELOAD not set}" "${HEAPCHECK:?HEAPCHECK not set}"
T=$(mktemp -d "${TMPDIR:-/tmp}/pmp-preload-test.XXXXXX")
HEAPS=$T/heaps
mkdir -m 700 "$HEAPS"
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# run under the preload: heap files kept in $HEAPS, per-process exit statistics on $T/err
pre() {
	env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" PMEMPRELOAD_KEEP=always PMEMPRELOAD_LOG=3 "$@"
}

# compare NAME CMD...: stdout of CMD with and without the preload must be identical
compare() {
	local name=$1
	shift
	"$@" >"$T/$name.plain" 2>"$T/$name.plain.err" || fail "$name: failed without the preload (see $T/$name.plain.err)"
	pre "$@" >"$T/$name.pre" 2>"$T/$name.pre.err" || { cat "$T/$name.pre.err" >&2; fail "$name: failed under the preload"; }
	cmp -s "$T/$name.plain" "$T/$name.pre" || { diff "$T/$name.plain" "$T/$name.pre" | head -20 >&2; fail "$name: output differs"; }
	echo "$name: output identical with and without the preload ($(wc -l <"$T/$name.pre") lines)"
}

# check_heaps MIN_FILES: every heap file passes pmp_check; prints per-file statistics
check_heaps() {
	local min=$1 n=0 f
	for f in "$HEAPS"/*; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		"$HEAPCHECK" "$f" >"$T/check.out" 2>&1 || { cat "$T/check.out" >&2; fail "pmp_check failed on $f"; }
		awk -F= -v f="$(basename "$f")" '/^(n_malloc|n_free|used_blocks|index_checked|clean)=/ {s = s " " $1 "=" $2}
			END {print "  heap " f ":" s}' "$T/check.out"
	done
	[ "$n" -ge "$min" ] || fail "expected at least $min heap files, found $n"
	echo "heaps: $n file(s), all pass pmp_check"
}

# stat FILE KEY: one value of heapcheck's output
stat_of() { "$HEAPCHECK" "$1" | awk -F= -v k="$2" '$1 == k {print $2}'; }
# fallback_allocs <TEXT: the fallback's count in PMEMPRELOAD_STATS=1's summary (empty when there is none)
fallback_allocs() { sed -n 's/^pmempreload: fallback allocations \([0-9]*\)$/\1/p'; }

# heap_of EXE: the heap file of an executable name with the most allocations
heap_of() {
	local f best= max=-1 m
	for f in "$HEAPS"/"$1".*.heap*; do
		[ -e "$f" ] || continue
		m=$(stat_of "$f" n_malloc)
		if [ "$m" -gt "$max" ]; then max=$m best=$f; fi
	done
	echo "$best"
}

# landed NAME MIN_MALLOC: the process heap of NAME got >= MIN_MALLOC allocations, and at least 99% of all
# allocations of the run (heap + fallback, from the exit log lines) landed in heap files
landed() {
	local name=$1 min=$2 f m
	f=$(heap_of "$name")
	[ -n "$f" ] || fail "no heap file for $name"
	m=$(stat_of "$f" n_malloc)
	[ "$m" -ge "$min" ] || fail "$name: only $m allocations in the heap (expected >= $min)"
	awk '/pmempreload: exit: heap mallocs/ {gsub(",", ""); h += $5; fb += $8}
		END {printf "allocations: heap %d, fallback %d\n", h, fb; if (h == 0 || fb * 100 > h + fb) exit 1}' \
		"$T"/*.pre.err || fail "$name: too many allocations went to the fallback"
	echo "$name: $m allocations in $(basename "$f")"
}
