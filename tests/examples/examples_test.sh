#!/usr/bin/env bash
# examples_test.sh: the examples suite: runs one example (examples_test.sh NAME) the way its header comment says and
# checks what it prints, so an example that stops working, or stops showing what it claims, fails here.
#
# Must never: leave a heap file or a shm object behind, or depend on an address the example did not choose.
set -u
NAME=$1
: "${EXAMPLES:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/pmp-examples-$NAME.XXXXXX")
SHM=/pmp-example-$$
trap 'rm -rf "$T"; rm -f /dev/shm"$SHM"' EXIT
FAILS=0

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
# ex OUT ARGS...: run the example with ARGS, output in $T/OUT; it must exit 0
ex() {
	local out=$1
	shift
	timeout 30 "$EXAMPLES/example-$NAME" "$@" >"$T/$out" 2>&1
	local rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "example-$NAME $*: exit $rc"
		sed 's/^/    | /' "$T/$out" >&2
	fi
}
# has OUT REGEX [COUNT]: OUT has a line matching REGEX (exactly COUNT of them when given)
has() {
	local n
	n=$(grep -Ec -- "$2" "$T/$1")
	if [ "${3:-}" ]; then [ "$n" -eq "$3" ] || fail "$1: $n lines match /$2/, wanted $3"; return; fi
	[ "$n" -gt 0 ] || { fail "$1: no line matches /$2/"; sed 's/^/    | /' "$T/$1" >&2; }
}

case $NAME in
shm-handoff)
	ex produce produce "$SHM" 50
	has produce '^produced 50 messages$'
	ex consume consume "$SHM" # a new process attaches what the producer left
	has consume '^message [0-9]+$' 50
	has consume '^message 49$'
	has consume '^consumed 50 messages; heap consistent, 0 used blocks left$'
	[ ! -e "/dev/shm$SHM" ] || fail "the consumer did not remove $SHM"
	;;
commit-msync)
	ex run1 "$T/log.heap"
	has run1 '^new heap, run 1, commit_msync called for [1-9][0-9]* ranges$'
	ex run2 "$T/log.heap"
	ex run3 "$T/log.heap"
	has run3 '^reopened heap, run 3, commit_msync called for [1-9][0-9]* ranges$'
	has run3 '^  entry of run [123]$' 3
	;;
archaeology)
	ex bury bury "$T/old.heap"
	has bury '^buried 4 layers at 0x614'
	ex dig dig "$T/old.heap"
	has dig '^heap made at 0x614000000000, read at 0x[0-9a-f]+ \(moved\)$'
	has dig '^depth [0-3]: ' 4
	has dig '^depth 3: the stone age +stored below=\(nil\)$'
	has dig '^depth 0: last week +stored below=0x614' # the stored pointer is the old address, read translated
	;;
coalesce)
	ex out
	has out '^  after free\(b[0-3]\):$' 4
	has out '^24 of 24 orders left one free block spanning all four$'
	# the walk after the last free shows the four as one free block
	[ "$(tail -2 "$T/out" | head -1 | grep -Ec '^ +\+0 +free +[0-9]+ bytes$')" -eq 1 ] || fail "out: last walk is not one free block"
	;;
static-heap)
	ex out
	has out '^  offset [0-9]+ +used ' 3
	has out '^  offset [0-9]+ +free ' 0
	has out '^free: [0-9]+ blocks'
	has out '^check: consistent: [0-9]+ blocks, 3 used'
	has out '^check: CORRUPT at offset [0-9]+: .*free slot was written at its byte 8 '
	;;
pools)
	ex out
	has out '^  [1-9][0-9]* records in [ABC]$' 3
	has out '^  [0-9]+ records in A$' 1
	has out '^  [0-9]+ records in C$' 1
	has out '^removed B: ok$'
	has out '^removing C: device or resource busy$'
	has out '^after removing B: consistent, [1-9][0-9]* used blocks, 1048576 bytes in its buffers$'
	has out '^reset: ok$'
	has out '^after the reset: consistent, 0 used blocks'
	;;
*)
	fail "no checks for example $NAME"
	;;
esac

if [ "$FAILS" -gt 0 ]; then
	echo "$NAME: $FAILS checks failed"
	exit 1
fi
echo "$NAME: ok"
