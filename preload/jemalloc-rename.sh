#!/bin/sh
# jemalloc-rename.sh: make the fallback archive: libjemalloc_pic.a without its C++ operators, public names renamed.
# Usage: jemalloc-rename.sh IN.a SYMS OUT.a
# Must never: let an unrenamed public jemalloc symbol through (checked below: the build fails instead).
set -eu
in=$1 syms=$2 out=$3
tmp=$out.tmp
rm -f "$tmp" "$out"
cp "$in" "$tmp"
# operator new/delete of jemalloc would capture C++ allocations and need libstdc++: drop that member
ar d "$tmp" jemalloc_cpp.pic.o 2>/dev/null || true
objcopy --redefine-syms="$syms" "$tmp"
left=$(nm -g --defined-only "$tmp" 2>/dev/null | awk 'NF==3 && $3 !~ /^(je_|jefb_)/ {print $3}' | sort -u)
if [ -n "$left" ]; then
	echo "jemalloc-rename.sh: public symbols not renamed:" $left >&2
	rm -f "$tmp"
	exit 1
fi
mv "$tmp" "$out"
