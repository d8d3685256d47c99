#!/bin/bash
# t-cxxnew.sh: the preload's C++ allocation functions (cxx.c): with libstdc++ (and libc++ when clang++ has it) a huge
# new runs the new_handler loop and throws std::bad_alloc, nothrow new returns nullptr, aligned new honours its
# alignment, every delete form frees into the heap, and under PMEMPRELOAD_TRACK=callsite the blocks name their call
# sites in cxxnew.cc, not the runtime's operator new.
# Must never: pass a run whose C++ semantics differ from the run without the preload.
. "$(dirname "$0")/lib.sh"
: "${PMPCLI:?PMPCLI not set}"
g++ -O0 -g -std=c++17 -o "$T/cxxnew" "$SRCDIR/cxxnew.cc" -ldl
compare cxxnew "$T/cxxnew"
grep -q '^inheap obj=1 arr=1 page=1 a256=1 nothrow=1$' "$T/cxxnew.pre.err" || { cat "$T/cxxnew.pre.err" >&2; fail "C++ blocks not in the heap"; }
nm -D "$PRELOAD" >"$T/nm"
grep -q ' T _ZnwmSt11align_val_tRKSt9nothrow_t$' "$T/nm" || fail "the preload does not export aligned nothrow new"

env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/t-%e.heap" PMEMPRELOAD_KEEP=always PMEMPRELOAD_TRACK=callsite \
	"$T/cxxnew" >"$T/t.out" || fail "cxxnew failed under the tracked preload"
"$PMPCLI" blocks --by-site --used "$HEAPS/t-cxxnew.heap" >"$T/sites" || fail "blocks --by-site failed"
cat "$T/sites"
objs=$(awk '$1 == "objs" {print $2}' "$T/t.out") arrs=$(awk '$1 == "arrs" {print $2}' "$T/t.out")
# "bytes blocks alloc by make_obj() (cxxnew.cc:N) cxxnew+0x..": one row per function, with the program's count
awk -v n="$objs" '$5 == "make_obj()" && $6 ~ /^\(cxxnew\.cc:[0-9]+\)$/ && $2 == n {k++} END {exit k != 1}' "$T/sites" ||
	fail "no make_obj() row of $objs blocks in cxxnew.cc"
awk -v n="$arrs" '$5 == "make_arr()" && $6 ~ /^\(cxxnew\.cc:[0-9]+\)$/ && $2 == n {k++} END {exit k != 1}' "$T/sites" ||
	fail "no make_arr() row of $arrs blocks in cxxnew.cc"
grep -q 'operator new' "$T/sites" && fail "a block's site is the runtime's operator new"

# libc++ (LLVM's runtime) defines the same mangled forms: the hand-over of a failed request works with it too
if command -v clang++ >/dev/null && clang++ -stdlib=libc++ -O0 -std=c++17 -o "$T/cxxnew-libcxx" "$SRCDIR/cxxnew.cc" \
	-ldl 2>"$T/clang.err"; then
	compare cxxnew-libcxx "$T/cxxnew-libcxx"
	grep -q '^inheap obj=1 arr=1 page=1 a256=1 nothrow=1$' "$T/cxxnew-libcxx.pre.err" || fail "libc++: blocks not in the heap"
else
	echo "note: clang++ with libc++ unavailable: libc++ not tried"
fi
check_heaps 2
echo "C++: bad_alloc after 3 new_handler calls, nothrow nullptr, aligned new, sites make_obj() x $objs, make_arr() x $arrs"
