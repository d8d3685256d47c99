#!/usr/bin/env bash
# install_test.sh: the install suite: `meson install --destdir` of this build into a temporary tree, then, using only
# that tree: the command starts (libpmpheap found through its relative rpath, not the loader path) and reports the
# full version; programs built with the installed pkg-config file and with the installed CMake package link and run;
# one runs under the installed preload through the installed `pmempreload run`, and the installed command checks
# its heap; man pages and the bash completion are in place.
#
# Must never: let anything from the build tree or the system leak in (LD_LIBRARY_PATH is cleared, each tool is given
# the installed tree only), or leave the temporary tree behind.
set -u
: "${BUILD_ROOT:?}" "${SRC:?}" "${PREFIX:?}" "${LIBDIR:?}" "${BINDIR:?}" "${DATADIR:?}" "${MANDIR:?}" "${VERSION:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/pmp-install.XXXXXX")
trap 'rm -rf "$T"' EXIT
unset LD_LIBRARY_PATH LD_PRELOAD PMEMPRELOAD_LIB
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
# quiet NAME cmd...: run cmd with output in $T/NAME.log, shown only when it fails
quiet() {
	local name=$1
	shift
	"$@" >"$T/$name.log" 2>&1 || { fail "$name: $* (exit $?)"; sed 's/^/    | /' "$T/$name.log" | tail -30 >&2; return 1; }
}

ROOT=$T/dest$PREFIX
prefixed() { case $1 in /*) echo "$T/dest$1" ;; *) echo "$ROOT/$1" ;; esac; }
LIB=$(prefixed "$LIBDIR")
BIN=$(prefixed "$BINDIR")/pmempreload
quiet install meson install -C "$BUILD_ROOT" --destdir "$T/dest" --no-rebuild || exit 1

# the command: starts from a prefix off the loader path, and takes libpmpheap from its own tree
out=$("$BIN" --version 2>&1)
[ "$out" = "pmempreload $VERSION" ] || fail "--version printed '$out', wanted 'pmempreload $VERSION'"
# loaded_from PROG: where the loader finds PROG's libpmpheap.so.0 (resolved: the rpath reads bin/../lib)
loaded_from() { realpath -m "$(ldd "$1" | awk '$1 == "libpmpheap.so.0" {print $3}')"; }
[ "$(loaded_from "$BIN")" = "$(realpath "$LIB/libpmpheap.so.0")" ] || { fail "the command does not load its own libpmpheap"; ldd "$BIN" >&2; }

# a program built with the installed pkg-config file (prefix redirected into the temporary tree)
PC="pkg-config --define-variable=prefix=$ROOT"
export PKG_CONFIG_PATH=$LIB/pkgconfig PKG_CONFIG_LIBDIR=$LIB/pkgconfig
if quiet pkgconfig-build sh -c "cc -o '$T/probe-pc' '$SRC/probe.c' \$($PC --cflags --libs libpmpheap) -Wl,-rpath,'$LIB'"; then
	quiet pkgconfig-run "$T/probe-pc" api "$T/api.heap"
	quiet pkgconfig-run2 "$T/probe-pc" api "$T/api.heap"
	grep -qx "runs 2" "$T/pkgconfig-run2.log" || fail "the pkg-config probe did not reopen its heap"
	[ "$(loaded_from "$T/probe-pc")" = "$(realpath "$LIB/libpmpheap.so.0")" ] || fail "the pkg-config probe does not load the installed library"
fi
# the C++ header installs beside the C one and compiles from there
echo '#include <pmempreload.hpp>
int main() { return 0; }' >"$T/hpp.cc"
quiet hpp sh -c "c++ -std=c++17 -fsyntax-only \$($PC --cflags libpmpheap) '$T/hpp.cc'"

# a program built with the installed CMake package (found through CMAKE_PREFIX_PATH only)
if quiet cmake-configure cmake -S "$SRC/cmake" -B "$T/cmake-build" -G Ninja -DCMAKE_PREFIX_PATH="$ROOT" \
	-DPROBE_SOURCE="$SRC/probe.c" -DCMAKE_BUILD_RPATH="$LIB" &&
	quiet cmake-build cmake --build "$T/cmake-build"; then
	quiet cmake-run "$T/cmake-build/probe" api "$T/cmake.heap"
	grep -qx "runs 1" "$T/cmake-run.log" || fail "the CMake probe did not run"
fi
if [ -e "$LIB/libpmempreload.so" ] && ! grep -qx -- "-- pmempreload preload: $LIB/libpmempreload.so" "$T/cmake-configure.log"; then
	fail "the CMake package does not name the installed preload"
fi

# the installed command runs the probe under the installed preload. Until `run` finds the installed preload by
# itself it is told with PMEMPRELOAD_LIB; either way, the probe must report the installed library as loaded.
if [ -x "$T/probe-pc" ] && [ -e "$LIB/libpmempreload.so" ]; then
	H=$T/run.heap
	if ! "$BIN" run --heap "$H" --keep always -- "$T/probe-pc" preload installed-canary >"$T/run.log" 2>&1; then
		echo "note: run did not find the installed preload alone; using PMEMPRELOAD_LIB" >&2
		rm -f "$H"
		PMEMPRELOAD_LIB=$LIB/libpmempreload.so quiet run "$BIN" run --heap "$H" --keep always -- \
			"$T/probe-pc" preload installed-canary
	fi
	grep -qx "preload $LIB/libpmempreload.so" "$T/run.log" || { fail "the probe did not run under the installed preload"; cat "$T/run.log" >&2; }
	quiet check "$BIN" check "$H"
	quiet grep "$BIN" grep "$H" installed-canary-999
fi

# documentation and completion
if [ "${MAN_PAGES:-0}" -eq 0 ]; then
	echo "note: man pages were not built (no scdoc); not checked" >&2
else
	for page in man1/pmempreload.1 man3/pmempreload.3 man7/pmempreload.7; do
		[ -s "$(prefixed "$MANDIR")/$page" ] || fail "man page $page not installed"
	done
fi
[ -s "$(prefixed "$DATADIR")/bash-completion/completions/pmempreload" ] || fail "bash completion not installed"

if [ "$FAILS" -gt 0 ]; then
	echo "install: $FAILS checks failed"
	exit 1
fi
echo "install: ok"
