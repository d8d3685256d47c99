#!/usr/bin/env bash
# setup.sh: install what building and testing pmempreload needs, then configure and build a tree.
# Usage: scripts/setup.sh [BUILD_DIR [meson options...]]   (default build dir: build)
# Holds the one list of system packages; test.sh and demo.sh call it. Must never change files outside the tree
# except through apt-get, and never wipe a build directory it did not configure.
set -euo pipefail
cd "$(dirname "$0")/.."

# build tools, the fallback allocator, the test framework, zlib (the map's PNG), the real programs the preload tests
# run, the peers the benchmarks compare against, the fuzzing compiler, libc++ (the cxx suite's second standard
# library), the man page generator, cmake (the install suite builds a program with the CMake package), the
# browser the cli suite renders report.html in, and what tests/peer/fetch.sh needs to get the peer suite's
# sources from Debian's archive (apt-get source: the keyring, the xz/bzip2 tarballs, patch)
PACKAGES=(meson ninja-build pkg-config gcc g++ binutils libjemalloc-dev libcriterion-dev zlib1g-dev
          python3 perl git sqlite3 bash coreutils procps file valgrind clang
          libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4
          libc++-dev libc++abi-dev scdoc cmake chromium
          apt debian-archive-keyring xz-utils bzip2 patch)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${missing[*]} (run as root or install them)" >&2
    exit 2
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

dir=${1:-build}
shift || true
if [ -f "$dir/build.ninja" ]; then
  meson configure "$dir" "$@" >/dev/null
else
  meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
echo "setup: built $dir" >&2
