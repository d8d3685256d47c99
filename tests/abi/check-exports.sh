#!/usr/bin/env bash
# check-exports.sh LIB MAP HEADER: the dynamic symbols LIB defines are exactly the globals of the version script
# MAP, and (when HEADER is given) every PMP_API function of the public header is among them.
# Must never pass on an empty list: a library that exports nothing is a failure too.
set -euo pipefail
lib=$1 map=$2 header=${3:-}
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TWiDBRV]$/ {print $3}' | sed 's/@.*//' | sort -u)
declared=$(sed -n '/global:/,/local:/p' "$map" | sed 's#/\*.*\*/##' | tr ' ;' '\n\n' | grep -E '^[A-Za-z_][A-Za-z0-9_]*$' \
           | grep -v -x -e global -e local | sort -u)
[ -n "$exported" ] || { echo "FAIL: $lib exports nothing"; exit 1; }
[ -n "$declared" ] || { echo "FAIL: no globals in $map"; exit 1; }
if [ "$exported" != "$declared" ]; then
  echo "FAIL: exports of $lib differ from $map"
  diff <(echo "$declared") <(echo "$exported") | sed 's/^</  missing:/; s/^>/  extra:  /' | grep -E 'missing|extra'
  exit 1
fi
if [ -n "$header" ]; then
  api=$(grep -oE '^PMP_API [^(]*\bpmp_[a-z_0-9]+\(' "$header" | grep -oE 'pmp_[a-z_0-9]+\($' | tr -d '(' | sort -u)
  notexp=$(comm -23 <(echo "$api") <(echo "$exported"))
  [ -z "$notexp" ] || { echo "FAIL: declared in $header but not exported: $notexp"; exit 1; }
fi
echo "OK: $(echo "$exported" | wc -l) symbols exported by $(basename "$lib") match $(basename "$map")"
