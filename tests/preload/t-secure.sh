#!/bin/bash
# t-secure.sh: under secure execution (a setuid-root program run by an unprivileged user) every PMEMPRELOAD_*
# option and TMPDIR is ignored (secure_getenv): the heap takes the default address and the default path
# /tmp/pmempreload-<euid>/<exe>.<pid>.heap, the directory of the user the files are created as (root for a
# setuid-root program; the default KEEP=crash removes the file at exit), or the shim stays inert when that directory
# exists but is not the effective user's own 0700 one. The same binary without the setuid bit, run by
# the same user, honours the options (the control).
# Must never: leave the setuid copy, the writable directories or a default directory it caused to exist behind.
. "$(dirname "$0")/lib.sh"
: "${SECUREINFO:?SECUREINFO not set}"

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root to make a setuid-root copy"
command -v setpriv >/dev/null || skip "setpriv not found"
U=$(id -u nobody 2>/dev/null) || U=65534
G=$(id -g nobody 2>/dev/null) || G=65534
DEF_ADDR=0x600000000000
ALT_ADDR=0x500000000000
DEFDIR=/tmp/pmempreload-0 # %u is the effective uid: the setuid-root copy writes root's files in root's directory

# a directory for the setuid copy on a file system that honours setuid
S=
for cand in /var/tmp "$(dirname "$SECUREINFO")" "${TMPDIR:-/tmp}"; do
	[ -d "$cand" ] || continue
	opts=$(findmnt -no OPTIONS -T "$cand" 2>/dev/null) || continue
	case ",$opts," in *,nosuid,*) echo "$cand: nosuid, not usable"; continue ;; esac
	S=$(mktemp -d "$cand/pmp-secure.XXXXXX") && break
done
[ -n "$S" ] || skip "every candidate directory is on a nosuid file system"
# the default directory is ours to remove only if this test made it appear
defdir_before=absent
[ -e "$DEFDIR" ] || [ -L "$DEFDIR" ] && defdir_before=present
cleanup() {
	rm -rf "$S" "$T"
	if [ "$defdir_before" = absent ] && [ -d "$DEFDIR" ]; then rmdir "$DEFDIR" || ls -la "$DEFDIR" >&2; fi
}
trap cleanup EXIT
chmod 755 "$S"
W=$S/w # writable by the unprivileged user: where the options point
mkdir -m 700 "$W" "$W/tmp"
chown "$U:$G" "$W" "$W/tmp"
B=$S/secureinfo
cp "$SECUREINFO" "$B"
chown 0:0 "$B"

# probe OUT EXTRA_ENV...: run the copy as the unprivileged user with the options pointing elsewhere
probe() {
	local out=$1 rc=0
	shift
	env -u LD_PRELOAD -u LD_LIBRARY_PATH PMEMPRELOAD_ADDR=$ALT_ADDR PMEMPRELOAD_KEEP=always PMEMPRELOAD_LOG=2 \
		TMPDIR="$W/tmp" "$@" setpriv --reuid="$U" --regid="$G" --clear-groups -- "$B" >"$out" 2>"$out.err" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$out" "$out.err" >&2; fail "secureinfo exited $rc"; }
}
val() { awk -F= -v k="$2" '$1 == k {print substr($0, length(k) + 2)}' "$1"; }

# what the code does with the defaults in secure mode (path.c _pmp_path_mkdir with vet): a missing directory is
# made 0700 by the effective user (root); an existing one must be a directory owned by root and closed to others
expect=active
if [ "$defdir_before" = present ]; then
	if [ -L "$DEFDIR" ] || [ ! -d "$DEFDIR" ] || [ "$(stat -c %u "$DEFDIR")" != 0 ] ||
		[ $((0$(stat -c %a "$DEFDIR") & 077)) -ne 0 ]; then
		expect=inert
	fi
fi

# 1. setuid root, run by the unprivileged user: secure execution, options ignored
chmod 4755 "$B"
probe "$T/suid" PMEMPRELOAD_PATH="$W/given.%p.heap"
[ "$(val "$T/suid" secure)" = 1 ] && [ "$(val "$T/suid" euid)" = 0 ] ||
	skip "the setuid bit is not honoured here (no_new_privs or a user namespace): $(tr '\n' ' ' <"$T/suid")"
[ "$(val "$T/suid" uid)" = "$U" ] || fail "setuid run: real uid $(val "$T/suid" uid), expected $U"
[ -z "$(ls -A "$W" | grep -v '^tmp$')" ] || fail "setuid run wrote into PMEMPRELOAD_PATH's directory"
[ -z "$(ls -A "$W/tmp")" ] || fail "setuid run used TMPDIR"
if [ "$expect" = active ]; then
	[ "$(val "$T/suid" heap)" = active ] || { cat "$T/suid" "$T/suid.err" >&2; fail "setuid run: no heap at the defaults"; }
	base=$(val "$T/suid" base) path=$(val "$T/suid" path)
	[ "$base" = "$DEF_ADDR" ] || fail "setuid run: heap at $base, expected the default $DEF_ADDR"
	[ "$(val "$T/suid" mapped_at)" = "$DEF_ADDR" ] || fail "setuid run: mapped at $(val "$T/suid" mapped_at)"
	[[ $path == "$DEFDIR"/secureinfo.[0-9]*.heap ]] || fail "setuid run: heap file $path, expected $DEFDIR/secureinfo.<pid>.heap"
	[ "$(val "$T/suid" check)" = ok ] || fail "setuid run: pmp_check of the live heap failed"
	# KEEP=always was ignored too: the default KEEP=crash removed the file at the clean exit
	[ ! -e "$path" ] || fail "setuid run: $path kept although KEEP must have been ignored"
	echo "setuid (secure=1, uid $U, euid 0): base=$base mapped_at=$(val "$T/suid" mapped_at) path=$path" \
		"(removed at exit: KEEP default), pmp_check ok"
else
	[ "$(val "$T/suid" heap)" = inert ] || { cat "$T/suid" >&2; fail "setuid run: $DEFDIR is not root's 0700 directory, expected inert"; }
	echo "setuid (secure=1): inert, as expected with an existing $DEFDIR that is not root's own"
fi

# 2. the same binary without the setuid bit, same user: the options are honoured
chmod 0755 "$B"
probe "$T/plain" PMEMPRELOAD_PATH="$W/given.%p.heap"
[ "$(val "$T/plain" secure)" = 0 ] && [ "$(val "$T/plain" euid)" = "$U" ] || fail "control run: not a plain run"
[ "$(val "$T/plain" heap)" = active ] || { cat "$T/plain" "$T/plain.err" >&2; fail "control run: inert"; }
base=$(val "$T/plain" base) path=$(val "$T/plain" path)
[ "$base" = "$ALT_ADDR" ] || fail "control run: heap at $base, expected PMEMPRELOAD_ADDR=$ALT_ADDR"
[[ $path == "$W"/given.[0-9]*.heap ]] || fail "control run: heap file $path, expected $W/given.<pid>.heap"
[ -f "$path" ] || fail "control run: PMEMPRELOAD_KEEP=always not honoured, $path is gone"
"$HEAPCHECK" "$path" >"$T/plain.check" || { cat "$T/plain.check" >&2; fail "control heap fails pmp_check"; }
echo "no setuid (secure=0, uid $U): base=$base path=$path kept, pmp_check ok" \
	"(n_malloc=$(val "$T/plain.check" n_malloc))"

# 3. control for TMPDIR: without PMEMPRELOAD_PATH the default directory is under TMPDIR when it is honoured
probe "$T/tmpdir"
path=$(val "$T/tmpdir" path)
[[ $path == "$W"/tmp/pmempreload-$U/secureinfo.[0-9]*.heap ]] || fail "control run: TMPDIR not honoured ($path)"
"$HEAPCHECK" "$path" >"$T/tmpdir.check" || { cat "$T/tmpdir.check" >&2; fail "TMPDIR heap fails pmp_check"; }
echo "no setuid, TMPDIR only: path=$path base=$(val "$T/tmpdir" base), pmp_check ok"
