#!/usr/bin/env bash
# demo.sh: the main job on a built-in default. Installs what is missing, builds, runs a real program (python3
# building and sorting 300,000 records, scripts/demo_workload.py) with its heap in a file, then opens that heap
# read-only and explains it: info, check, stats, roots, the record found by grep, whatis, and an SVG map.
# Usage: scripts/demo.sh [PROG ARGS...]   (another program instead of the default, e.g. scripts/demo.sh sqlite3 ...)
# Must never: write into the heap after the program ended (every verb opens it read-only).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
out=$PWD/demo
mkdir -p "$out"
heap=$out/program.heap
rm -f "$heap" "$heap".*
cli=build/src/cli/pmempreload
if [ $# -eq 0 ]; then
  # the interpreter itself, not a wrapper script (pyenv's python3 is a bash script that execs several programs)
  py=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')
  set -- "$py" scripts/demo_workload.py
  # only the interpreter gets a heap; PYTHONMALLOC=malloc sends every Python object through malloc
  export PMEMPRELOAD_EXE="$(basename "$py")" PYTHONMALLOC=malloc
fi
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step "$cli" run --heap "$heap" --keep always -- "$@"
step "$cli" info "$heap"
step "$cli" check "$heap"
step "$cli" stats "$heap"
if grep -q demo-marker <<<"$*" || [[ "$*" == *demo_workload.py* ]]; then
  step "$cli" grep "$heap" "pmempreload-demo-marker"
  addr=$("$cli" grep --json "$heap" "pmempreload-demo-marker" |
         python3 -c 'import json,sys; m=json.load(sys.stdin)["matches"]; print(m[0]["block"] if m else "")')
  [ -n "$addr" ] && step "$cli" whatis "$heap" "$addr"
fi
step "$cli" map "$heap" -o "$out/heap.svg"
echo
echo "demo: the heap file is $heap; its picture is $out/heap.svg"
