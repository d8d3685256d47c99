#!/bin/bash
# t-signal.sh: a signal handler that mallocs and frees, sent without pause while the program mallocs, reallocs
# and frees: the handlers that interrupted an allocator call got fallback blocks (the program tells by address),
# the others heap blocks, every block kept its bytes, and the heap file passes pmp_check.
# Must never: pass when no handler ran inside an allocator call (then the guard was not exercised).
. "$(dirname "$0")/lib.sh"
: "${SIGMALLOC:?SIGMALLOC not set}"

pre "$SIGMALLOC" 2 >"$T/sig.pre" 2>"$T/sig.pre.err" || { cat "$T/sig.pre.err" >&2; fail "sigmalloc failed under the preload"; }
cat "$T/sig.pre"
read -r runs inside outside < <(awk '/^handler runs/ {gsub(",", ""); print $3, $7, $11}' "$T/sig.pre")
[ "${runs:-0}" -ge 1000 ] || fail "only ${runs:-0} handler runs"
[ "${outside:-0}" -ge 1 ] || fail "no handler interrupted an allocator call (none went to the fallback): the guard was not exercised"
[ "${inside:-0}" -ge 1 ] || fail "no handler block came from the heap: the handlers outside allocator calls must use it"
check_heaps 1
