#!/bin/bash
# t-symbols.sh: libpmempreload.so exports exactly the malloc family, operator new/delete and the pmp_ API (the version
# script), nothing of jemalloc, and depends on neither libstdc++ nor libjemalloc.
. "$(dirname "$0")/lib.sh"
want=$(tr -d ' \t' <"$MAPFILE" | sed -n '/global:/,/local:/p' | grep -v ':' | tr ';' '\n' | grep -v '^$' | sort)
have=$(nm -D --defined-only "$PRELOAD" | awk '{print $3}' | sed 's/@.*//' | grep -v '^$' | sort)
diff <(echo "$want") <(echo "$have") || fail "exported symbols differ from $MAPFILE"
echo "exports: $(echo "$have" | wc -l) symbols, exactly the version script"
! echo "$have" | grep -Eq '^(je_|jefb_|mallocx|mallctl)' || fail "jemalloc symbols exported"
# C++ names: only the allocation functions of cxx.c (operator new, new[], delete, delete[])
! echo "$have" | grep '^_Z' | grep -Evq '^_Z(nw|na|dl|da)' || fail "C++ symbols other than operator new/delete exported"
deps=$(ldd "$PRELOAD")
echo "$deps"
! echo "$deps" | grep -Eq 'libstdc\+\+|libjemalloc' || fail "unwanted dependency"
! nm -D --undefined-only "$PRELOAD" | grep -q '_Z' || fail "C++ symbols referenced"
