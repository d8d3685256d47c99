#!/bin/bash
# t-bash.sh: a bash pipeline of several processes (each its own heap file); same output; every heap checked.
. "$(dirname "$0")/lib.sh"
compare pipeline bash -c 'seq 1 20000 | sort -r | awk "{s += \$1} END {print s}"; printf "%s\n" b a c b | tr a-z A-Z | sort | uniq -c; x=$(echo sub | rev); echo "$x"'
check_heaps 6
landed bash 100
landed sort 10
