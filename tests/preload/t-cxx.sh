#!/bin/bash
# t-cxx.sh: a C++ program with aligned new and a dlopened C++ plugin: every new (main and plugin) lands in the heap.
. "$(dirname "$0")/lib.sh"
g++ -O1 -std=c++17 -fPIC -shared -o "$T/plugin.so" "$SRCDIR/cxxplugin.cc"
g++ -O1 -std=c++17 -o "$T/cxxmain" "$SRCDIR/cxxmain.cc" -ldl
compare cxx "$T/cxxmain" "$T/plugin.so"
grep -q '^inheap new=1 aligned=1 plugin_obj=1 plugin_new=1$' "$T/cxx.pre.err" || { cat "$T/cxx.pre.err" >&2; fail "C++ allocations not in the heap"; }
grep '^inheap' "$T/cxx.pre.err"
check_heaps 1
landed cxxmain 2000
