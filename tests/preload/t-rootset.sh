#!/bin/bash
# t-rootset.sh: the crash-time root set. rootset (a real program under the preload) holds blocks through a named
# root, a global table, a stack array and a register, reaches more through blocks, leaks some, and dies of SIGSEGV:
# `leaks` must sort every block into its class exactly as the program made them; `refs` and `path` name the global,
# the stack slot and the register. Then: a kill -9 of the same program (only the named root is known); a double free
# (the abort's backtrace holds free and main, and the sender instead of an address); a module whose file changed
# after the crash (crash warns); a full disk at crash time (the root set is lost, the heap and the record are not,
# and no SIGBUS).
# Must never: pass on counts it did not get from the program itself.
. "$(dirname "$0")/lib.sh"
: "${ROOTSET:?}" "${CLI:?}"

# crash_run NAME HOW [ARG]: run rootset under the preload (its heap in $HEAPS/NAME.heap), record its exit status
crash_run() {
	local name=$1
	shift
	set +e
	env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/$name.heap" PMEMPRELOAD_KEEP=always "${PROG:-$ROOTSET}" "$@" \
		>"$T/$name.out" 2>"$T/$name.err"
	echo $? >"$T/$name.rc"
	set -e
}
# json FILE PYTHON-EXPR: the expression over d (the record) must hold
json() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" ||
		{ cat "$1" >&2; fail "$1: not true: $2"; }
}
# made NAME KIND: what the program said it made of KIND (count), or where the first one is (at)
made() { grep -o "\b$2=[0-9a-fx]*" "$T/$1.out" | head -1 | cut -d= -f2; }
at() { sed -n 's/^at .*\b'"$2"'=\(0x[0-9a-f]*\).*/\1/p' "$T/$1.out"; }

# ---- the crash: every class counted exactly ----
crash_run segv segv
[ "$(cat "$T/segv.rc")" -eq 139 ] || { cat "$T/segv.err"; fail "expected death by SIGSEGV (139), got $(cat "$T/segv.rc")"; }
H=$HEAPS/segv.heap
"$HEAPCHECK" "$H" >/dev/null || fail "the crashed heap fails pmp_check"
"$CLI" leaks --json "$H" >"$T/leaks.json"
"$CLI" leaks "$H" >"$T/leaks.txt"
cat "$T/leaks.txt"
for k in root:roots global:globals stack:stacks register:registers reachable:reachable leaked:leaked; do
	n=$(made segv "${k%%:*}")
	[ -n "$n" ] || fail "the program did not say how many ${k%%:*} blocks it made"
	json "$T/leaks.json" "d['classes']['${k#*:}']['blocks'] == $n"
done
json "$T/leaks.json" "d['root_set']['complete'] and d['root_set']['registers'] and d['root_set']['stacks'] >= 1 and d['root_set']['segments'] >= 1"
json "$T/leaks.json" "sum(c['blocks'] for c in d['classes'].values()) == d['used_blocks'] and sum(c['bytes'] for c in d['classes'].values()) == d['used_bytes']"
json "$T/leaks.json" "len(d['leaks']) == d['leaked_blocks'] and '$(at segv leaked)' in [l['address'] for l in d['leaks']]"
grep -q "^$(made segv leaked) of [0-9]* used blocks unreachable from 1 roots and the crash's root set" "$T/leaks.txt" ||
	fail "leaks: summary line"

# refs and path name the anchor of each kind
"$CLI" refs "$H" "$(at segv register)" >"$T/refs.reg" || fail "refs: register-held block has no holder"
grep -q "register r12 of thread" "$T/refs.reg" || { cat "$T/refs.reg"; fail "refs: r12 not named"; }
"$CLI" refs --json "$H" "$(at segv global)" >"$T/refs.json"
json "$T/refs.json" "[a['kind'] for a in d['anchors']] == ['global'] and 'rootset+0x' in d['anchors'][0]['where']"
"$CLI" path --json "$H" "$(at segv reachable)" >"$T/path.json"
json "$T/path.json" "d['class'] == 'reachable' and d['anchor']['kind'] == 'global' and [c['block'] for c in d['chain']] == ['$(at segv global)', '$(at segv reachable)'] and d['chain'][0]['offset'] == 0"
"$CLI" path "$H" "$(at segv stack)" >"$T/path.stack"
grep -q "anchored by stack" "$T/path.stack" && grep -q "stack slot 0x[0-9a-f]* of thread [0-9]* (the crashing thread" \
	"$T/path.stack" || { cat "$T/path.stack"; fail "path: the stack slot"; }
"$CLI" path --json "$H" "$(at segv named)" >"$T/path.root"
json "$T/path.root" "d['anchor']['kind'] == 'root' and d['anchor']['where'] == \"root 'named'\""
set +e
"$CLI" path "$H" "$(at segv leaked)" >"$T/path.leak"
rc=$?
set -e
[ "$rc" -eq 1 ] && grep -q "leaked" "$T/path.leak" || fail "path: a leaked block (exit $rc)"
"$CLI" crash "$H" >"$T/crash.segv"
grep -q "^root set: 1 stack\|^root set: [0-9]* stacks" "$T/crash.segv" || { cat "$T/crash.segv"; fail "crash: root set line"; }
grep -q "from the unwind tables" "$T/crash.segv" || fail "crash: backtrace not from the unwind tables"
echo "segv: every class counted as made; refs and path name the register, the global and the stack slot"

# a later writable open that grows the heap leaves the root set as it was (it lies past the reservation)
cp --sparse=always "$H" "$T/reopened.heap"
"$ROOTSET" reopen "$T/reopened.heap" || fail "reopen: the crashed heap did not open for writing"
"$CLI" leaks --json "$T/reopened.heap" >"$T/reopened.json"
json "$T/reopened.json" "d['root_set']['complete'] and all(d['classes'][k]['blocks'] == v['blocks'] for k, v in json.load(open('$T/leaks.json'))['classes'].items())"
# a damaged root set is said to be damaged, never followed: the annex's table, then its header, overwritten
annex=$(python3 -c 'import json,sys; print(int(json.load(sys.stdin)["reserved"]))' < <("$CLI" info --json "$H"))
for at in 64 0; do
	cp --sparse=always "$H" "$T/bad.heap"
	head -c 4096 /dev/urandom | dd of="$T/bad.heap" bs=1 seek=$((annex + at)) conv=notrunc status=none
	"$CLI" leaks "$T/bad.heap" >"$T/bad.txt" || fail "leaks on a damaged root set: exit $?"
	grep -q "^the crash's root set is damaged and was not used: only the named roots and the registers were available" "$T/bad.txt" ||
		{ head -3 "$T/bad.txt"; fail "leaks: a damaged root set (at +$at) not said"; }
	"$CLI" path "$T/bad.heap" "$(at segv register)" >/dev/null || fail "path: the registers of a damaged root set"
done
echo "reopen keeps the root set; a damaged one is refused: $(head -1 "$T/bad.txt" | cut -c1-60)..."

# ---- a plugin dlopen'd after start: its global is the only anchor of a block, and it crashes inside the plugin ----
: "${DLROOT:?}" "${DLPLUG:?}"
PROG=$DLROOT crash_run plugin "$DLPLUG"
[ "$(cat "$T/plugin.rc")" -eq 139 ] || { cat "$T/plugin.err"; fail "dlroot: expected death by SIGSEGV, got $(cat "$T/plugin.rc")"; }
H=$HEAPS/plugin.heap
"$HEAPCHECK" "$H" >/dev/null || fail "the plugin's crashed heap fails pmp_check"
kept=$(sed -n 's/^kept=//p' "$T/plugin.out")
"$CLI" leaks --json "$H" >"$T/plugin.json"
json "$T/plugin.json" "d['root_set']['complete'] and d['classes']['leaked']['blocks'] == 0 and '$kept' not in [l['address'] for l in d['leaks']]"
"$CLI" refs --json "$H" "$kept" >"$T/plugin.refs"
json "$T/plugin.refs" "[a['kind'] for a in d['anchors']] == ['global'] and 'libdlplug.so+0x' in d['anchors'][0]['where']"
"$CLI" crash "$H" >"$T/crash.plugin"
grep -q '^  #0  0x[0-9a-f]*  libdlplug.so+0x[0-9a-f]*  plugin_crash ' "$T/crash.plugin" ||
	{ cat "$T/crash.plugin"; fail "crash: the frame in the plugin is not named"; }
echo "plugin: the block only the dlopen'd plugin's global holds is anchored by it; the crash frame names plugin_crash"

# ---- a second thread holds a block on its own stack while main crashes ----
crash_run thread thread
[ "$(cat "$T/thread.rc")" -eq 139 ] || fail "thread: expected death by SIGSEGV (139), got $(cat "$T/thread.rc")"
"$CLI" leaks --json "$HEAPS/thread.heap" >"$T/thread.json"
# the other thread's stack also holds what glibc allocated for the thread (its DTV): more than the program's own
json "$T/thread.json" "d['root_set']['stacks'] == 2 and d['classes']['stacks']['blocks'] > $(made thread stack) and d['classes']['leaked']['blocks'] == $(made thread leaked) and d['classes']['globals']['blocks'] == $(made thread global) and d['classes']['registers']['blocks'] == 1"
tb=$(sed -n 's/^thread=\(0x[0-9a-f]*\)$/\1/p' "$T/thread.out")
[ -n "$tb" ] || fail "thread: the program did not say where its thread's block is"
"$CLI" path --json "$HEAPS/thread.heap" "$tb" >"$T/thread.path"
json "$T/thread.path" "d['class'] == 'stacks' and d['anchor']['kind'] == 'stack' and 'crashing' not in d['anchor']['where'] and len(d['chain']) == 1"
echo "thread: two stacks saved, the other thread's block anchored by its own stack"

# ---- kill -9: no record, only the named root ----
crash_run kill kill
[ "$(cat "$T/kill.rc")" -eq 137 ] || fail "expected death by SIGKILL (137), got $(cat "$T/kill.rc")"
"$CLI" leaks "$HEAPS/kill.heap" >"$T/kill.txt"
grep -q "^no crash record .*only the named roots were available" "$T/kill.txt" || { cat "$T/kill.txt"; fail "kill: not said"; }
"$CLI" leaks --json "$HEAPS/kill.heap" >"$T/kill.json"
json "$T/kill.json" "not d['root_set']['crash_record'] and d['classes']['roots']['blocks'] == 1 and d['classes']['leaked']['blocks'] == d['used_blocks'] - 1"
echo "kill -9: $(head -1 "$T/kill.txt" | cut -c1-60)..."

# ---- double free: a real backtrace through free into main; the sender, not the pid as an address ----
crash_run df doublefree
[ "$(cat "$T/df.rc")" -eq 134 ] || fail "expected death by SIGABRT (134), got $(cat "$T/df.rc")"
"$CLI" crash "$HEAPS/df.heap" >"$T/crash.df"
cat "$T/crash.df"
# free's decisions off its fast path (a double free among them) run in free_released, which free enters by a
# jump (so that the fast path needs no stack frame): that frame stands where free's would, right above main
grep -Eq '^  #[0-9]+ .*[ (]free(_released)?[) ]|^  #[0-9]+ .*\(inlined into free\)' "$T/crash.df" || fail "double free: no free in the backtrace"
grep -Eq '^  #[0-9]+ .*  main  ' "$T/crash.df" || fail "double free: no main in the backtrace"
grep -q "^sender:  pid [0-9]* (this process)" "$T/crash.df" || fail "double free: the sender is not shown"
! grep -q "^address:" "$T/crash.df" || fail "double free: an address printed for a sent signal"
"$CLI" crash --json "$HEAPS/df.heap" >"$T/df.json"
json "$T/df.json" "d['fault_address'] is None and d['sender_pid'] == d['pid'] and d['unwinder'] == 'unwind tables'"

# ---- a module whose file changed since the crash ----
mkdir "$T/bin"
cp "$ROOTSET" "$T/bin/rootset"
PROG=$T/bin/rootset crash_run moved segv
"$CLI" crash "$HEAPS/moved.heap" >"$T/crash.same"
! grep -q "^warning: " "$T/crash.same" || { cat "$T/crash.same"; fail "crash: a warning for an unchanged file"; }
cp "$HEAPCHECK" "$T/bin/rootset"
"$CLI" crash "$HEAPS/moved.heap" >"$T/crash.changed"
grep -q "^warning: $T/bin/rootset now has build-id [0-9a-f]*, the crashed process had [0-9a-f]*" "$T/crash.changed" ||
	{ cat "$T/crash.changed"; fail "crash: no warning for the changed executable"; }
"$CLI" crash --json "$HEAPS/moved.heap" >"$T/moved.json"
json "$T/moved.json" "[m['changed'] for m in d['modules'] if m['path'] == '$T/bin/rootset'] == [True]"
echo "changed module: $(grep '^warning' "$T/crash.changed" | cut -c1-80)..."

# ---- a full disk at crash time: the root set is lost, never the heap; no SIGBUS ----
DISK=$T/disk
mkdir -m 700 "$DISK"
if mount -t tmpfs -o size=8m,mode=0700 tmpfs "$DISK" 2>"$T/mount.err"; then
	trap 'umount "$DISK" 2>/dev/null || umount -l "$DISK"; rm -rf "$T"' EXIT
	set +e
	env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$DISK/full.heap" PMEMPRELOAD_KEEP=always PMEMPRELOAD_SIZE=64M \
		"$ROOTSET" fill "$DISK" >"$T/full.out" 2>"$T/full.err"
	rc=$?
	set -e
	[ "$rc" -eq 139 ] || { cat "$T/full.err"; fail "full disk: expected SIGSEGV (139), got $rc (135 is SIGBUS)"; }
	grep -q "root set .* could not be saved: the disk is full" "$T/full.err" || { cat "$T/full.err"; fail "full disk: not said"; }
	"$HEAPCHECK" "$DISK/full.heap" >/dev/null || fail "full disk: the heap fails pmp_check"
	"$CLI" crash "$DISK/full.heap" >"$T/crash.full"
	grep -q "^signal:  SIGSEGV" "$T/crash.full" && grep -qi "^root set: .*lost (no space left on device)" "$T/crash.full" ||
		{ cat "$T/crash.full"; fail "full disk: the record or its loss"; }
	"$CLI" leaks --json "$DISK/full.heap" >"$T/full.json"
	json "$T/full.json" "d['root_set']['crash_record'] and not d['root_set']['complete'] and d['classes']['roots']['blocks'] == 1 and d['classes']['registers']['blocks'] == 1"
	echo "full disk: SIGSEGV, heap intact, $(grep '^root set' "$T/crash.full")"
else
	echo "full disk: skipped (cannot mount a tmpfs: $(cat "$T/mount.err"))"
fi
