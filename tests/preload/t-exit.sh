#!/bin/bash
# t-exit.sh: the exit matrix: every way a program ends (exit, _exit, _Exit, return from main, exec success by
# execv/execvp/execl/fexecve, exec failure, abort, kill -9, SIGTERM with and without a handler) under KEEP=crash,
# always and never, with what each leaves asserted: a clean end leaves no file (crash, never) or a clean heap that
# says how it ended (always); a death leaves a dirty heap (crash, always) or nothing (never); every kept heap passes
# pmp_check, and no end is ever reported as a crash unless the program died.
. "$(dirname "$0")/lib.sh"

# expect HOW KEEP WANT: WANT is "none", or a list of NAME:STATE (STATE clean-exit, clean-exec or dirty) for the
# heap files that must be left, and nothing else
expect() {
	local how=$1 keep=$2 want=$3 got= f
	rm -f "$HEAPS"/*
	env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" PMEMPRELOAD_KEEP="$keep" PMEMPRELOAD_LOG=0 \
		"$ENDER" "$how" >"$T/out" 2>"$T/err" || true
	grep -q ready "$T/out" || { cat "$T/err"; fail "$how/$keep: ender did not run"; }
	for f in "$HEAPS"/*; do
		[ -e "$f" ] || continue
		"$HEAPCHECK" "$f" >"$T/c" 2>&1 || { cat "$T/c"; fail "$how/$keep: $(basename "$f") fails pmp_check"; }
		local name clean end state
		name=$(basename "$f" | cut -d. -f1)
		clean=$(awk -F= '$1 == "clean" {print $2}' "$T/c")
		end=$(awk -F= '$1 == "end" {print $2}' "$T/c")
		if [ "$clean" = 1 ]; then state=clean-$end; else state=dirty; [ "$end" = none ] || fail "$how/$keep: dirty heap with end=$end"; fi
		got="$got $name:$state"
	done
	got=${got# }
	[ -n "$got" ] || got=none
	[ "$(echo "$got" | tr ' ' '\n' | sort | xargs)" = "$(echo "$want" | tr ' ' '\n' | sort | xargs)" ] ||
		fail "$how under KEEP=$keep left [$got], expected [$want]"
	printf '%-16s %-7s %s\n' "$how" "$keep" "$got"
}

for how in exit _exit _Exit return sigterm-handler exec-fail; do
	expect "$how" crash none
	expect "$how" always "ender:clean-exit"
	expect "$how" never none
done
for how in exec execvp execl fexecve; do
	expect "$how" crash none
	expect "$how" always "ender:clean-exec true:clean-exit"
	expect "$how" never none
done
for how in abort kill9 sigterm; do
	expect "$how" crash "ender:dirty"
	expect "$how" always "ender:dirty"
	expect "$how" never none
done

# shells: every exec of a pipeline and every _exit leaves nothing behind under the default KEEP=crash
rm -f "$HEAPS"/*
env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" bash -c 'env /bin/true; sh -c "exit 0"; echo a | cat >/dev/null'
[ -z "$(ls "$HEAPS")" ] || { ls -l "$HEAPS"; fail "shell pipeline with exec and _exit left heap files"; }
echo "bash -c 'env /bin/true; sh -c \"exit 0\"; echo a | cat': no heap file left"
# the abort's crash record is there
rm -f "$HEAPS"/*
env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/%e.%p.heap" PMEMPRELOAD_LOG=0 "$ENDER" abort >/dev/null 2>&1 || true
"$HEAPCHECK" "$HEAPS"/ender.*.heap --crash | grep -q '^crash_signo=6$' || fail "abort: no SIGABRT crash record"
echo "abort: crash record SIGABRT kept"
