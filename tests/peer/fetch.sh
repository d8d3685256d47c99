#!/usr/bin/env bash
# fetch.sh: get the peer suite's third-party test sources from Debian's archive, at pinned versions, into a
# directory of the build tree; meson runs it at configure time (tests/peer/meson.build).
# Usage: fetch.sh OUTDIR
#
# Downloads the bookworm source packages glibc, mimalloc and jemalloc with apt-get (a private sources list and
# state directory under OUTDIR/cache: the system's apt configuration is neither read nor changed), checks each
# tarball against the sha256 pinned below, extracts only the test files the suite builds plus each package's
# licence, applies Debian's own update of the glibc tests and our documented adaptations (tests/peer/README.md),
# and writes OUTDIR/.complete last. A second run with the same pins does nothing.
# PMEMPRELOAD_PEER_MIRROR: another Debian mirror (default http://deb.debian.org/debian); the pins still apply.
# Exit: 0 sources ready; 1 download, checksum or adaptation failed (the reason on stderr);
#       3 download failed and PMEMPRELOAD_PEER_OFFLINE=1 asked to skip the peer suite instead (local runs only).
# Must never: write outside OUTDIR, use a tarball whose checksum differs from its pin, or finish (.complete) with
# an adaptation that did not apply exactly as written.
set -euo pipefail

out=${1:?usage: fetch.sh OUTDIR}

# ---- pins: change a version and its checksums together (the orig tarball of glibc is common to every 2.36-N) ----
GLIBC_VERSION=2.36-9+deb12u14
GLIBC_ORIG=glibc_2.36.orig.tar.xz
GLIBC_ORIG_SHA256=a543c02070d46ccaf866957efd13f10c924daa74c86a90a0254db09a92a708ee
GLIBC_DEBIAN=glibc_2.36-9+deb12u14.debian.tar.xz
GLIBC_DEBIAN_SHA256=cf4ac9cd98185452cae3ef34e2e4ee12753e3d93fd0c62c61396d4a47eec902f
MIMALLOC_VERSION=2.0.9+ds-2
MIMALLOC_ORIG=mimalloc_2.0.9+ds.orig.tar.xz
MIMALLOC_ORIG_SHA256=cbc9d207ff105ad1f0cb739c378076143a6452b8d0624309cea0abfb040e972b
JEMALLOC_VERSION=5.3.0-1
JEMALLOC_ORIG=jemalloc_5.3.0.orig.tar.bz2
JEMALLOC_ORIG_SHA256=2db82d1e7119df3e71b7640219b6dfe84789bc0537983c3b7ac4f7189aecfeaa

# the glibc tests the suite builds (tests/peer/meson.build holds the same list; README.md says why each is in)
GLIBC_TESTS=(mallocbug tst-malloc tst-calloc tst-realloc tst-reallocarray tst-memalign tst-posix_memalign
	tst-valloc tst-pvalloc tst-pvalloc-fortify tst-malloc-usable tst-malloc-too-large tst-malloc-check
	tst-mallocfork tst-mallocfork2 tst-mallocfork3 tst-malloc-fork-deadlock tst-malloc-thread-exit
	tst-malloc-thread-fail tst-malloc-backtrace tst-malloc-stats-cancellation tst-malloc-tcache-leak
	tst-mallinfo2 tst-malloc_info tst-mallopt tst-trim1 tst-mallocalign1 tst-obstack tst-tcfree1 tst-tcfree2
	tst-tcfree3 tst-free-errno)
JEMALLOC_TESTS=(integration/malloc.c integration/aligned_alloc.c integration/posix_memalign.c
	integration/overflow.c integration/cpp/basic.cpp integration/cpp/infallible_new_false.cpp)

pins="glibc=$GLIBC_VERSION mimalloc=$MIMALLOC_VERSION jemalloc=$JEMALLOC_VERSION $(sha256sum "$0" | cut -c1-16)"
if [ -f "$out/.complete" ] && [ "$(cat "$out/.complete")" = "$pins" ]; then
	echo "peer fetch: glibc $GLIBC_VERSION, mimalloc $MIMALLOC_VERSION, jemalloc $JEMALLOC_VERSION in $out" >&2
	exit 0
fi

die() {
	echo "peer fetch: $*" >&2
	exit 1
}

cache=$out/cache
rm -rf "$out/glibc" "$out/mimalloc" "$out/jemalloc" "$out/.complete"
mkdir -p "$cache/lists/partial" "$cache/apt-cache/archives/partial" "$cache/dl"

# ---- download: apt-get with a sources list of its own (deb-src of bookworm main), signed by Debian's keyring ----
cat >"$cache/sources.sources" <<EOF
Types: deb-src
URIs: ${PMEMPRELOAD_PEER_MIRROR:-http://deb.debian.org/debian}
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_opts=(-o "Dir::Etc::SourceList=$cache/sources.sources" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$cache/lists" -o "Dir::Cache=$cache/apt-cache" -o Acquire::Retries=2
	-o Acquire::http::Timeout=30 -o APT::Sandbox::User=root -q)

have_all() {
	local f
	for f in "$GLIBC_ORIG" "$GLIBC_DEBIAN" "$MIMALLOC_ORIG" "$JEMALLOC_ORIG"; do
		[ -s "$cache/dl/$f" ] || return 1
	done
}

if ! have_all; then
	if ! { apt-get "${apt_opts[@]}" update >"$cache/apt.log" 2>&1 &&
		(cd "$cache/dl" && apt-get "${apt_opts[@]}" source --download-only "glibc=$GLIBC_VERSION" \
			"mimalloc=$MIMALLOC_VERSION" "jemalloc=$JEMALLOC_VERSION") >>"$cache/apt.log" 2>&1; }; then
		tail -n 15 "$cache/apt.log" >&2
		echo "peer fetch: could not download the pinned source packages from ${PMEMPRELOAD_PEER_MIRROR:-deb.debian.org} (log: $cache/apt.log)" >&2
		if [ "${PMEMPRELOAD_PEER_OFFLINE:-0}" = 1 ]; then
			echo "peer fetch: PMEMPRELOAD_PEER_OFFLINE=1: the peer suite is skipped" >&2
			exit 3
		fi
		exit 1
	fi
fi

check_sha() {
	local got
	got=$(sha256sum "$cache/dl/$1" | cut -d' ' -f1)
	[ "$got" = "$2" ] || die "$1: sha256 $got, pinned $2"
}
check_sha "$GLIBC_ORIG" "$GLIBC_ORIG_SHA256"
check_sha "$GLIBC_DEBIAN" "$GLIBC_DEBIAN_SHA256"
check_sha "$MIMALLOC_ORIG" "$MIMALLOC_ORIG_SHA256"
check_sha "$JEMALLOC_ORIG" "$JEMALLOC_ORIG_SHA256"

# ---- extract only what is built, plus the licences ----
x=$cache/extract
rm -rf "$x"
mkdir -p "$x" "$out/glibc/malloc" "$out/mimalloc/test" "$out/jemalloc/test/integration/cpp"

members=(glibc-2.36/COPYING.LIB glibc-2.36/LICENSES)
for t in "${GLIBC_TESTS[@]}"; do members+=("glibc-2.36/malloc/$t.c"); done
tar -xJf "$cache/dl/$GLIBC_ORIG" -C "$x" "${members[@]}"
tar -xJf "$cache/dl/$GLIBC_DEBIAN" -C "$x" debian/patches/git-updates.diff debian/copyright
for t in "${GLIBC_TESTS[@]}"; do cp "$x/glibc-2.36/malloc/$t.c" "$out/glibc/malloc/"; done
cp "$x/glibc-2.36/COPYING.LIB" "$x/glibc-2.36/LICENSES" "$out/glibc/"
cp "$x/debian/copyright" "$out/glibc/debian-copyright"

tar -xJf "$cache/dl/$MIMALLOC_ORIG" -C "$x" mimalloc-2.0.9+ds/LICENSE mimalloc-2.0.9+ds/test/test-api.c \
	mimalloc-2.0.9+ds/test/test-stress.c mimalloc-2.0.9+ds/test/testhelper.h
cp "$x"/mimalloc-2.0.9+ds/test/{test-api.c,test-stress.c,testhelper.h} "$out/mimalloc/test/"
cp "$x/mimalloc-2.0.9+ds/LICENSE" "$out/mimalloc/"

members=(jemalloc-5.3.0/COPYING)
for t in "${JEMALLOC_TESTS[@]}"; do members+=("jemalloc-5.3.0/test/$t"); done
tar -xjf "$cache/dl/$JEMALLOC_ORIG" -C "$x" "${members[@]}"
for t in "${JEMALLOC_TESTS[@]}"; do cp "$x/jemalloc-5.3.0/test/$t" "$out/jemalloc/test/$t"; done
cp "$x/jemalloc-5.3.0/COPYING" "$out/jemalloc/"

# ---- Debian's update of the glibc tests: the hunks of debian/patches/git-updates.diff (the 2.36 release branch)
# that touch the tests we build, applied as Debian applies them ----
diff=$x/debian/patches/git-updates.diff
n=0
for t in "${GLIBC_TESTS[@]}"; do
	awk -v f="malloc/$t.c" '$0 == "diff --git a/" f " b/" f {p = 1; print; next} /^diff --git / {p = 0} p' \
		"$diff" >"$x/$t.diff"
	if [ -s "$x/$t.diff" ]; then
		patch -s -p1 -d "$out/glibc" --no-backup-if-mismatch <"$x/$t.diff" || die "Debian's hunk for $t.c does not apply"
		n=$((n + 1))
	fi
done
[ "$n" -eq 1 ] || die "expected Debian to update 1 of the glibc tests (tst-malloc-too-large), found $n"

# ---- our adaptations (each listed in README.md); each must match exactly what it expects ----

# replace_once FILE OLD NEW: OLD (a whole line) must occur exactly once
replace_once() {
	local c
	c=$(grep -cxF -- "$2" "$1" || true)
	[ "$c" -eq 1 ] || die "$(basename "$1"): expected one line '$2', found $c"
	OLD=$2 NEW=$3 awk '$0 == ENVIRON["OLD"] {print ENVIRON["NEW"]; next} {print}' "$1" >"$1.new"
	mv "$1.new" "$1"
}

# drop_blocks FILE TEXT COUNT: remove COUNT blocks, each from a line containing TEXT to the line where its braces
# balance (or to its ';' when it opens none)
drop_blocks() {
	local got
	got=$(TEXT=$2 awk -v newfile="$1.new" '
		!drop && index($0, ENVIRON["TEXT"]) { drop = 1; depth = 0; opened = 0; n++ }
		drop {
			o = gsub(/\{/, "{"); c = gsub(/\}/, "}"); depth += o - c; if (o) opened = 1
			if ((opened && depth <= 0) || (!opened && $0 ~ /;[ \t]*$/)) drop = 0
			next
		}
		{ print > newfile }
		END { print n + 0 }' "$1")
	[ "$got" -eq "$3" ] || die "$(basename "$1"): expected $3 block(s) with '$2', found $got"
	mv "$1.new" "$1"
}

# glibc tst-free-errno: its third part MAP_FIXEDs anonymous pages over a page on each side of a 16 MiB malloc
# block, which is only harmless when that block is a private mmap of its own (glibc's large chunks)
replace_once "$out/glibc/malloc/tst-free-errno.c" "  #if defined __linux__" \
	"  #if 0 /* peer adaptation: maps over the heap around a malloc block (tests/peer/README.md) */"

# glibc tst-mallocfork2: each of its 10,000 iterations forks from a signal handler once per signal sender (some
# 40,000 forks); a snapshot fork copies the used heap (about 25 MiB here), so a tenth of the iterations keeps every
# path it tests (a fork interrupting malloc, free and fork itself) within the suite's time
replace_once "$out/glibc/malloc/tst-mallocfork2.c" "enum { iterations = 10000 };" \
	"enum { iterations = 1000 }; /* peer adaptation: 10000 (tests/peer/README.md) */"

# mimalloc test-api: heaps, offset alignment and options are mimalloc's own API, with no standard counterpart
api=$out/mimalloc/test/test-api.c
drop_blocks "$api" "mi_option_disable(mi_option_verbose);" 1
drop_blocks "$api" 'CHECK_BODY("malloc_aligned11")' 1
drop_blocks "$api" 'CHECK_BODY("malloc-aligned-at' 2
drop_blocks "$api" 'CHECK("heap_' 2
drop_blocks "$api" "bool test_heap" 4
! grep -n 'mi_heap\|mi_option\|_aligned_at' "$api" >&2 || die "test-api.c: mimalloc-only calls left after the adaptation"

rm -rf "$x"
echo "$pins" >"$out/.complete"
echo "peer fetch: glibc $GLIBC_VERSION, mimalloc $MIMALLOC_VERSION, jemalloc $JEMALLOC_VERSION ready in $out" >&2
