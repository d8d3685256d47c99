#!/bin/bash
# t-sites.sh: PMEMPRELOAD_TRACK=callsite: a program allocates from two known functions and frees from a third;
# `blocks --by-site` names each function with the blocks and bytes the program says it made, `stats --by-site` and
# `leaks --by-site` name the live ones, `whatis` names who allocated and who freed a freed block, and the --json
# forms agree. A run without tracking gets "no call sites".
# Must never: accept a row it cannot tie to the program's own counts.
. "$(dirname "$0")/lib.sh"
: "${SITES:?SITES not set}" "${PMPCLI:?PMPCLI not set}"

env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/t-%e.heap" PMEMPRELOAD_KEEP=always PMEMPRELOAD_TRACK=callsite \
	"$SITES" >"$T/t.out" || fail "sites failed under the preload"
H=$HEAPS/t-sites.heap
"$HEAPCHECK" "$H" >/dev/null || fail "pmp_check failed on the tracked heap"
val() { awk -v k="$1" -v f="$2" '$1 == k {print $f}' "$T/t.out"; }
na=$(val alpha 2) ua=$(val alpha 3) nb=$(val beta 2) ub=$(val beta 3) ng=$(val gamma 2) freed=$(val freed 2)

# row SITE_FN ROLE FILE: "bytes blocks" of the one row naming SITE_FN with ROLE ("alloc by" / "freed by")
row() { awk -v fn="$1" -v role="$2" '$3 " " $4 == role && $5 == fn {print $1, $2; n++} END {exit n != 1}' "$3"; }

"$PMPCLI" blocks --by-site "$H" >"$T/blocks" || fail "blocks --by-site failed"
cat "$T/blocks"
[ "$(row alpha_alloc "alloc by" "$T/blocks")" = "$((na * ua)) $na" ] || fail "alpha_alloc: want $((na * ua)) bytes in $na blocks"
[ "$(row beta_alloc "alloc by" "$T/blocks")" = "$((nb * ub)) $nb" ] || fail "beta_alloc: want $((nb * ub)) bytes in $nb blocks"
[ "$(row gamma_free "freed by" "$T/blocks")" = "$((ng * ua)) $ng" ] || fail "gamma_free: want $((ng * ua)) bytes in $ng blocks"
# heaviest first: the rows' bytes never grow down the table
awk '$3 == "alloc" || $3 == "freed" {if (seen && $1 > last) exit 1; last = $1; seen = 1}' "$T/blocks" || fail "rows not heaviest first"

"$PMPCLI" stats --by-site "$H" >"$T/stats" || fail "stats --by-site failed"
[ "$(row alpha_alloc "alloc by" "$T/stats")" = "$((na * ua)) $na" ] || fail "stats --by-site: alpha_alloc"
"$PMPCLI" leaks --by-site "$H" >"$T/leaks" || fail "leaks --by-site failed"
[ "$(row beta_alloc "alloc by" "$T/leaks")" = "$((nb * ub)) $nb" ] || fail "leaks --by-site: beta_alloc (no roots: all unreachable)"

"$PMPCLI" whatis "$H" "$freed" >"$T/whatis" || fail "whatis $freed failed"
cat "$T/whatis"
grep -q '^allocated by: alpha_alloc ' "$T/whatis" || fail "whatis: the freed block's allocating function"
grep -q '^freed by: *gamma_free ' "$T/whatis" || fail "whatis: the freeing function"
grep -q '^sequence: *[0-9]' "$T/whatis" || fail "whatis: no sequence number"

"$PMPCLI" blocks --by-site --json "$H" >"$T/blocks.json" || fail "blocks --by-site --json failed"
python3 - "$T/blocks.json" "$na" "$ua" "$ng" <<'PY' || fail "blocks --by-site --json disagrees"
import json, sys
d = json.load(open(sys.argv[1]))
na, ua, ng = map(int, sys.argv[2:])
rows = {(r["role"], r.get("function")): r for r in d["sites"]}
a = rows[("allocated", "alpha_alloc")]
assert (a["blocks"], a["bytes"]) == (na, na * ua), a
g = rows[("freed", "gamma_free")]
assert g["blocks"] == ng and g["module"].endswith("/sites"), g
assert d["tracked"] is True
PY
"$PMPCLI" whatis --json "$H" "$freed" | python3 -c '
import json, sys
s = json.load(sys.stdin)["sites"]
assert s["freed"]["function"] == "gamma_free" and s["allocated"]["function"] == "alpha_alloc", s
assert s["seq"] > 0' || fail "whatis --json: sites"

# without tracking the verbs say there are no sites
env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$HEAPS/u-%e.heap" PMEMPRELOAD_KEEP=always "$SITES" >"$T/u.out"
"$PMPCLI" blocks --by-site "$HEAPS/u-sites.heap" | grep -q 'no call sites' || fail "untracked: blocks --by-site"
check_heaps 2
echo "tracked: alpha_alloc $na x $ua, beta_alloc $nb x $ub, gamma_free $ng; whatis names both sites"
