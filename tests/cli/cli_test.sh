#!/usr/bin/env bash
# cli_test.sh: the cli suite: runs every `pmempreload` verb on heap files built by mkheap/mkcrash and compares the
# output with what was planted; feeds it hostile files. One group per meson test: cli_test.sh GROUP.
#
# Must never: depend on another group's files (each group has its own temp dir and heap address), or leave
# processes behind (every command that could hang runs under timeout).
set -u
GROUP=$1
: "${CLI:?}" "${MKHEAP:?}" "${MKCRASH:?}" "${SQUAT:?}" "${BUILD_ROOT:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/pmp-cli-$GROUP.XXXXXX")
trap 'rm -rf "$T"' EXIT
FAILS=0
CHECKS=0

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
ok() { CHECKS=$((CHECKS + 1)); }

# run NAME EXPECTED_RC cmd...: output in $T/NAME.out / .err, asserts the exit code, never a signal or hang
run() {
	local name=$1 want=$2
	shift 2
	timeout 20 "$@" >"$T/$name.out" 2>"$T/$name.err"
	RC=$?
	if [ "$RC" -ne "$want" ]; then
		fail "$name: exit $RC, wanted $want: $*"
		sed 's/^/    | /' "$T/$name.err" >&2
		return 1
	fi
	ok
}
# bounded NAME EXPECTED_RC SECONDS MAX_KB cmd...: like run, and within SECONDS of time and MAX_KB of peak resident
# memory (ru_maxrss). Address-space limits (ulimit -v) cannot bound a reader that maps a 1 TiB heap: the resident
# memory is what must not follow the declared size.
bounded() {
	local name=$1 want=$2 secs=$3 kb=$4 got
	shift 4
	got=$(python3 -c '
import resource, subprocess, sys
secs, base = float(sys.argv[1]), sys.argv[2]
with open(base + ".out", "wb") as o, open(base + ".err", "wb") as e:
    try:
        rc = subprocess.run(sys.argv[3:], stdout=o, stderr=e, timeout=secs).returncode
    except subprocess.TimeoutExpired:
        rc = 124
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$secs" "$T/$name" "$@")
	RC=${got% *}
	if [ "$RC" -ne "$want" ]; then
		# said apart: an exit of 1 read as "over the time limit" once sent a hunt for slowness that was not there
		if [ "$RC" -eq 124 ]; then fail "$name: over ${secs}s: $*"; else fail "$name: exit $RC, wanted $want: $*"; fi
		sed 's/^/    | /' "$T/$name.err" | head -5 >&2
		return 1
	fi
	if [ "${got#* }" -gt "$kb" ]; then
		fail "$name: peak resident memory ${got#* } KB, more than $kb KB: $*"
		return 1
	fi
	ok
}
# has NAME FILE(out|err) EXTENDED-REGEX
has() {
	if grep -Eq -- "$3" "$T/$1.$2"; then ok; else
		fail "$1: $2 lacks /$3/"
		sed 's/^/    | /' "$T/$1.$2" | head -20 >&2
	fi
}
hasnt() {
	if grep -Eq -- "$3" "$T/$1.$2"; then fail "$1: $2 has /$3/"; else ok; fi
}
# json NAME PYTHON-EXPR: the output parses (json.tool) and the expression over d is true
json() {
	if ! python3 -m json.tool "$T/$1.out" >/dev/null 2>"$T/$1.jerr"; then
		fail "$1: output is not JSON: $(cat "$T/$1.jerr")"
		return
	fi
	if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$T/$1.out"; then ok; else
		fail "$1: JSON check failed: $2"
		head -40 "$T/$1.out" | sed 's/^/    | /' >&2
	fi
}
# one clean error line on stderr, nothing on stdout
one_error() {
	local n
	n=$(wc -l <"$T/$1.err")
	if [ "$n" -eq 1 ] && grep -q '^pmempreload: ' "$T/$1.err" && [ ! -s "$T/$1.out" ]; then ok; else
		fail "$1: wanted one 'pmempreload:' error line, got $n lines"
		sed 's/^/    | /' "$T/$1.err" >&2
	fi
}
eq() { if [ "$2" = "$3" ]; then ok; else fail "$1: '$2' != '$3'"; fi; }
hex() { printf '0x%x' "$(($1))"; }
# class_label SIZE: "1K, 2K" for 1024, as the command labels the power-of-two class [2^k, 2^(k+1)) of a usable size
class_label() {
	python3 -c '
import sys
def human(v):
    u = 0
    while v >= 1024 and v % 1024 == 0 and u < 6:
        v, u = v // 1024, u + 1
    return "%d%s" % (v, "BKMGTPE"[u])
k = int(sys.argv[1]).bit_length() - 1
print("%s, %s" % (human(1 << k if k else 0), human(2 << k)))' "$1"
}

# shoot OUT.png URL WIDTH HEIGHT [SCALE]: a headless Chromium screenshot (Debian's chromium; callers check it exists).
# All compositor stages run before the shot: under load a large image was caught half rastered.
shoot() {
	local d
	d=$(mktemp -d)
	timeout 60 /usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync --user-data-dir="$d" \
		--run-all-compositor-stages-before-draw --force-device-scale-factor="${5:-1}" --screenshot="$1" \
		--window-size="$3,$4" "$2" >/dev/null 2>&1
	rm -rf "$d"
}

mkheap() { # mkheap FILE ADDR [--unclean]: plants, and sources what was planted into the shell
	"$MKHEAP" "$@" >"$T/manifest" || { echo "mkheap failed" >&2; exit 1; }
	# shellcheck disable=SC1090
	. "$T/manifest"
}

group_verbs() {
	local H=$T/v.heap
	mkheap "$H" 0x620000000000
	run info 0 "$CLI" info "$H"
	has info out "^base: +0x620000000000"
	has info out "^state: +clean"
	has info out "^  running: +no: "
	has info out "writer: +.*mkheap"
	has info out "no crash record"
	run info_json 0 "$CLI" info --json "$H"
	json info_json "d['schema']==2 and d['base']=='0x620000000000' and d['clean'] and not d['moved'] and not d['crash_record'] and d['writer']['pid']>0"

	run check 0 "$CLI" check "$H"
	# every slot of a slab page is a block, used or free (the free ones are most of FREE_BLOCKS); pages apart
	has check out "^OK: .*\(${USED_BLOCKS} used, ${FREE_BLOCKS} free, 0 cached\), ${ROOTS} roots, ${PAGES} slab pages, "
	hasnt check out "not closed cleanly"
	run check_json 0 "$CLI" check "$H" --json
	json check_json "d['schema']==2 and d['consistent'] and d['index_checked'] and d['used_blocks']==$USED_BLOCKS and d['free_blocks']==$FREE_BLOCKS and d['roots']==$ROOTS and d['pages']==$PAGES and d['used_bytes']==$USED_BYTES"
	# one meaning of used bytes (usable payload) in check, stats, leaks and the histogram; headers and pages apart
	has check out " $USED_BYTES bytes used, [0-9]+ bytes free \(usable bytes; [0-9]+ bytes of block headers, [0-9]+ bytes of slab page overhead\)$"

	run stats 0 "$CLI" stats "$H"
	has stats out "^used: +${USED_BLOCKS} blocks, ${USED_BYTES} bytes \(\+$((USED_BYTES_WITH_HEADERS - USED_BYTES)) bytes of headers\)$"
	has stats out "^free: +${FREE_BLOCKS} blocks"
	# big is the one block above 16 KiB: every other used block is a slot
	has stats out "^slab pages: +${PAGES} of 64 KiB: $((USED_BLOCKS - 1)) slots used, "
	run stats_json 0 "$CLI" stats --json "$H"
	json stats_json "d['used_blocks']==$USED_BLOCKS and d['counters']['used_blocks']==$USED_BLOCKS and d['free_blocks']==$FREE_BLOCKS and d['counters']['free_blocks']==$FREE_BLOCKS and sum(b['used_blocks'] for b in d['histogram'])==$USED_BLOCKS and sum(b['free_blocks'] for b in d['histogram'])==$FREE_BLOCKS and d['used_bytes']==$USED_BYTES and sum(b['used_bytes'] for b in d['histogram'])==$USED_BYTES and d['used_bytes']+d['used_overhead_bytes']==$USED_BYTES_WITH_HEADERS and d['free_bytes']+d['free_overhead_bytes']==$FREE_BYTES_WITH_HEADERS and d['counters']['used_bytes']==$USED_BYTES_WITH_HEADERS and d['n_free']>=$FREED"
	# the 100000-byte block is in the [64K, 128K) bucket; the five freed 64-byte blocks in [64, 128)
	json stats_json "any(b['min_size']==65536 and b['used_blocks']==1 for b in d['histogram']) and any(b['min_size']==64 and b['free_blocks']>=$FREED for b in d['histogram'])"
	# the pages: the big block is the one used block that is no slot; every byte of the arena is a block's, a page's
	# own (header, slack) or the 16-byte end sentinel, and check counts the pages' bytes as stats does
	json stats_json "d['pages']==$PAGES and d['counters']['pages']==$PAGES and d['used_slots']==$USED_BLOCKS-1 and d['arena']==sum(d[k+'_bytes']+d[k+'_overhead_bytes'] for k in ('used','free','cached','lost'))+d['page_overhead_bytes']+16 and d['page_overhead_bytes']==$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['page_overhead_bytes'])" "$T/check_json.out")"

	run blocks 0 "$CLI" blocks "$H"
	eq blocks_count "$(wc -l <"$T/blocks.out")" "$((USED_BLOCKS + FREE_BLOCKS))"
	has blocks out "^$(printf '0x%012x' $((CONFIG))) +[0-9]+ used$"
	run blocks_used 0 "$CLI" blocks --used "$H"
	eq blocks_used "$(wc -l <"$T/blocks_used.out")" "$USED_BLOCKS"
	run blocks_free 0 "$CLI" blocks --free "$H"
	eq blocks_free "$(wc -l <"$T/blocks_free.out")" "$FREE_BLOCKS"
	run blocks_min 0 "$CLI" blocks --used --min 50000 "$H"
	eq blocks_min "$(awk '{print $1}' "$T/blocks_min.out")" "$(printf '0x%012x' $((BIG)))"
	run blocks_limit 0 "$CLI" blocks --limit 3 "$H"
	eq blocks_limit "$(wc -l <"$T/blocks_limit.out")" 3
	run blocks_json 0 "$CLI" blocks --json --used "$H"
	json blocks_json "d['count']==$USED_BLOCKS and all(b['state']=='used' for b in d['blocks']) and any(b['address']=='$CONFIG' and b['size']>=100 for b in d['blocks'])"
	run blocks_both 2 "$CLI" blocks --used --free "$H"

	run roots 0 "$CLI" roots "$H"
	has roots out "^config -> $CONFIG \(size [0-9]+\)$"
	has roots out "^holder -> $HOLDER "
	has roots out "^list -> $LIST "
	has roots out "^keep -> $KEEP "
	has roots out "^big -> $BIG \(size 10[0-9]{4}\)$"
	hasnt roots out "\["
	run roots_one 0 "$CLI" roots "$H" big
	eq roots_one "$(wc -l <"$T/roots_one.out")" 1
	run roots_missing 1 "$CLI" roots "$H" nosuchroot
	run roots_json 0 "$CLI" roots --json "$H"
	json roots_json "d['count']==$ROOTS and {r['name']:r['address'] for r in d['roots']}['config']=='$CONFIG' and 'we\"ird\\\\name\t\xff' in [r['name'] for r in d['roots']] and all(r['valid'] for r in d['roots'])"

	run whatis 0 "$CLI" whatis "$H" "$NEEDLE_ADDR"
	has whatis out "^$NEEDLE_ADDR is at offset $NEEDLE_OFF of the used block $CONFIG "
	has whatis out "^used slot [0-9]+ of [0-9]+ in the slab page $CONFIG_PAGE \("
	has whatis out "^root: config$"
	run whatis_inner 0 "$CLI" whatis "$H" "$TARGET_INNER"
	has whatis_inner out "at offset $TARGET_INNER_OFF of the used block $TARGET "
	hasnt whatis_inner out "^root:"
	# a chain block (the big one: above 16 KiB) has a header before its payload
	run whatis_hdr 0 "$CLI" whatis "$H" "$(hex "$BIG - 8")"
	has whatis_hdr out "in the header, offset -8 of the used block $BIG "
	hasnt whatis_hdr out "slot"
	# a slot has none: the bytes before config (the first slot of its page) are its page's header, in no block
	run whatis_pagehdr 1 "$CLI" whatis "$H" "$(hex "$CONFIG - 8")"
	has whatis_pagehdr out "^$(hex "$CONFIG - 8"): not in a block: the header of the slab page $CONFIG_PAGE \([0-9]+ slots of [0-9]+ bytes, [0-9]+ used\)$"
	run whatis_pagechain 1 "$CLI" whatis "$H" "$(hex "$CONFIG_PAGE - 8")"
	has whatis_pagechain out "not in a block: the chain header of the slab page $CONFIG_PAGE "
	run whatis_pagejson 1 "$CLI" whatis --json "$H" "$(hex "$CONFIG - 8")"
	json whatis_pagejson "not d['found'] and d['page']['address']=='$CONFIG_PAGE' and 'header of the slab page' in d['region']"
	run refs_pagehdr 1 "$CLI" refs "$H" "$(hex "$CONFIG - 8")"
	has refs_pagehdr err "is not in any block: the header of the slab page $CONFIG_PAGE "
	# a free slot: which slot of which page, its class and the page's used slots, as the program left them
	run whatis_slot 0 "$CLI" whatis "$H" "$FREED_SLOT"
	has whatis_slot out "^$FREED_SLOT is at offset 0 of the free block $FREED_SLOT \(size $FREED_SLOT_SIZE\)$"
	has whatis_slot out "^free slot $FREED_SLOT_INDEX of $FREED_SLOT_PAGE_SLOTS in the slab page $FREED_SLOT_PAGE \(size class $FREED_SLOT_SIZE bytes, $FREED_SLOT_PAGE_USED of its slots used; a slot has no header\)$"
	run whatis_slot_json 0 "$CLI" whatis --json "$H" "$FREED_SLOT"
	json whatis_slot_json "d['found'] and d['block']['state']=='free' and d['block']['block_size']==d['block']['size']==$FREED_SLOT_SIZE and d['page']=={'address':'$FREED_SLOT_PAGE','slot_size':$FREED_SLOT_SIZE,'slots':$FREED_SLOT_PAGE_SLOTS,'used_slots':$FREED_SLOT_PAGE_USED} and d['slot']==$FREED_SLOT_INDEX"
	run whatis_json 0 "$CLI" whatis --json "$H" "$NEEDLE_ADDR"
	json whatis_json "d['found'] and d['block']['address']=='$CONFIG' and d['offset']==$NEEDLE_OFF and d['roots']==['config'] and d['page']['address']=='$CONFIG_PAGE'"
	run whatis_meta 1 "$CLI" whatis "$H" "$(hex "$BASE + 0x100")"
	has whatis_meta out "metadata"
	run whatis_out 1 "$CLI" whatis "$H" 0x1000
	has whatis_out out "not in this heap"
	run whatis_bad 2 "$CLI" whatis "$H" nonsense
	# an address reads as hex with or without 0x, as every verb prints it (never as decimal)
	run whatis_no0x 0 "$CLI" whatis "$H" "${NEEDLE_ADDR#0x}"
	has whatis_no0x out "^$NEEDLE_ADDR is at offset $NEEDLE_OFF of the used block $CONFIG "
	run hexdump_no0x 0 "$CLI" hexdump "$H" "${NEEDLE_ADDR#0x}" 6
	has hexdump_no0x out "^$(printf '0x%012x' $((NEEDLE_ADDR)))  6e 65 65 64 6c 65 "
	run whatis_neg 2 "$CLI" whatis "$H" -- -10
	run usage_addr 0 "$CLI" --help
	has usage_addr out "ADDR is hexadecimal, with or without 0x"

	run refs 0 "$CLI" refs "$H" "$TARGET"
	has refs out "^  $HOLDER\+$HOLDER_OFF \(live, size [0-9]+\) holds $TARGET_INNER$"
	eq refs_count "$(grep -c holds "$T/refs.out")" 1
	run refs_json 0 "$CLI" refs --json "$H" "$TARGET_INNER"
	json refs_json "d['target']['address']=='$TARGET' and [(x['block'],x['offset'],x['value'],x['state'],x['live']) for x in d['holders']]==[('$HOLDER',$HOLDER_OFF,'$TARGET_INNER','used',True)] and d['roots']==[]"
	run refs_node 0 "$CLI" refs "$H" "$NODE2"
	has refs_node out "^  0x[0-9a-f]+\+0 \(live, size [0-9]+\) holds $NODE2$"
	run refs_keep 0 "$CLI" refs "$H" "$KEEP"
	has refs_keep out "^  root keep$"
	run refs_leak 1 "$CLI" refs "$H" "$LEAK0"
	# a freed block is still pointed at by the live session block
	run refs_secret 0 "$CLI" refs "$H" "$SECRET_BLOCK"
	has refs_secret out "^block $SECRET_BLOCK \(freed, size [0-9]+\) is referenced by:$"
	has refs_secret out "^  $SESSION\+$SESSION_OFF \(live, size [0-9]+\) holds $SECRET_ADDR$"
	run refs_free_only 1 "$CLI" refs --free "$H" "$TARGET"
	run refs_used_only 0 "$CLI" refs --used "$H" "$TARGET"

	# freed data is searched too, and every hit says live or freed
	run grep_secret 0 "$CLI" grep "$H" "$SECRET"
	local secret_size ctx
	secret_size=$("$CLI" blocks --json "$H" | python3 -c "import json,sys; print([b['size'] for b in json.load(sys.stdin)['blocks'] if b['address']=='$SECRET_BLOCK'][0])")
	ctx=$(printf '\\x00%.0s' $(seq 16))
	eq grep_secret "$(cat "$T/grep_secret.out")" "$SECRET_BLOCK+$SECRET_OFF (freed, size $secret_size): $ctx[[$SECRET]]$ctx"
	run grep_secret_used 1 "$CLI" grep --used "$H" "$SECRET"
	run grep_secret_free 0 "$CLI" grep --free "$H" "$SECRET"
	run grep_needle_free 1 "$CLI" grep --free "$H" "$NEEDLE"
	run grep_secret_json 0 "$CLI" grep --json "$H" "$SECRET"
	json grep_secret_json "d['count']==1 and d['matches'][0]['block']=='$SECRET_BLOCK' and d['matches'][0]['offset']==$SECRET_OFF and d['matches'][0]['state']=='free' and not d['matches'][0]['live'] and d['matches'][0]['address']=='$SECRET_ADDR'"
	run strings_secret 0 "$CLI" strings "$H"
	has strings_secret out "^$SECRET_ADDR $SECRET_BLOCK\+$SECRET_OFF \(freed, size [0-9]+\): $SECRET$"
	has strings_secret out "^$NEEDLE_ADDR $CONFIG\+$NEEDLE_OFF \(live, "
	run strings_used 0 "$CLI" strings --used "$H"
	hasnt strings_used out "$SECRET"
	run strings_free 0 "$CLI" strings --free "$H"
	hasnt strings_free out "$NEEDLE"
	has strings_free out ": $SECRET$"
	# --hex and --ptr
	run grep_hex 0 "$CLI" grep "$H" --hex "6e 65 65 64 6c 65 2d 69 6e"
	eq grep_hex "$(cut -d' ' -f1 "$T/grep_hex.out")" "$CONFIG+$NEEDLE_OFF"
	run grep_hex_packed 0 "$CLI" grep --json "$H" --hex "$(printf '%s' "$SECRET" | od -An -tx1 | tr -d ' \n')"
	json grep_hex_packed "d['count']==1 and d['matches'][0]['address']=='$SECRET_ADDR' and d['pattern_hex']=='$(printf '%s' "$SECRET" | od -An -tx1 | tr -d ' \n')'"
	run grep_ptr 0 "$CLI" grep "$H" --ptr "${TARGET_INNER#0x}"
	eq grep_ptr "$(cut -d' ' -f1-2 "$T/grep_ptr.out")" "$HOLDER+$HOLDER_OFF (live,"
	run grep_ptr_dangling 0 "$CLI" grep "$H" --ptr "$SECRET_ADDR"
	eq grep_ptr_dangling "$(cut -d' ' -f1 "$T/grep_ptr_dangling.out")" "$SESSION+$SESSION_OFF"
	run grep_zeros 2 "$CLI" grep "$H" --hex "00 00"
	one_error grep_zeros
	run grep_badhex 2 "$CLI" grep "$H" --hex "6e6"
	run grep_two 2 "$CLI" grep "$H" "$NEEDLE" --hex 6e
	run grep_nopat 2 "$CLI" grep "$H"

	# dangling: exactly the one planted stale pointer
	run dangling 0 "$CLI" dangling "$H"
	has dangling out "^$SESSION\+$SESSION_OFF \(live, size [0-9]+\) holds $SECRET_ADDR -> freed block $SECRET_BLOCK\+$SECRET_OFF \(size [0-9]+\)$"
	has dangling out "^1 word in live blocks points into freed blocks"
	eq dangling_lines "$(wc -l <"$T/dangling.out")" 2
	run dangling_json 0 "$CLI" dangling --json "$H"
	json dangling_json "d['count']==1 and d['dangling'][0]['block']=='$SESSION' and d['dangling'][0]['offset']==$SESSION_OFF and d['dangling'][0]['value']=='$SECRET_ADDR' and d['dangling'][0]['target']['block']=='$SECRET_BLOCK' and d['dangling'][0]['target']['offset']==$SECRET_OFF and d['dangling'][0]['target']['state']=='free'"

	run grep 0 "$CLI" grep "$H" "$NEEDLE"
	has grep out "^$CONFIG\+$NEEDLE_OFF \(live, size [0-9]+\): .*\[\[$NEEDLE\]\]"
	eq grep_count "$(wc -l <"$T/grep.out")" 1
	run grep_node 0 "$CLI" grep "$H" node-
	eq grep_node "$(wc -l <"$T/grep_node.out")" 5
	run grep_json 0 "$CLI" grep --json "$H" big-block-marker
	json grep_json "d['count']==1 and d['matches'][0]['block']=='$BIG' and d['matches'][0]['offset']==5000 and 'big-block-marker' in d['matches'][0]['context']"
	run grep_none 1 "$CLI" grep "$H" "no such string anywhere"

	run strings 0 "$CLI" strings "$H"
	has strings out "^$NEEDLE_ADDR $CONFIG\+$NEEDLE_OFF \(live, size [0-9]+\): $NEEDLE$"
	has strings out ": TARGETDATA$"
	has strings out ": node-3$"
	run strings_min 0 "$CLI" strings --min 100 "$H"
	eq strings_min "$(grep -c ': L\{200\}$' "$T/strings_min.out")" 3
	run strings_json 0 "$CLI" strings --json --min 6 "$H"
	json strings_json "any(s['string']=='$NEEDLE' and s['address']=='$NEEDLE_ADDR' for s in d['strings']) and all(len(s['string'])>=6 for s in d['strings'])"

	run hexdump 0 "$CLI" hexdump "$H" "$NEEDLE_ADDR" 32
	eq hexdump_lines "$(wc -l <"$T/hexdump.out")" 2
	has hexdump out "^$(printf '0x%012x' $((NEEDLE_ADDR)))  6e 65 65 64 6c 65 2d 69  6e 2d 74 68 65 2d 68 65  \|needle-in-the-he\|$"
	run hexdump_json 0 "$CLI" hexdump --json "$H" "$NEEDLE_ADDR" 6
	json hexdump_json "d['address']=='$NEEDLE_ADDR' and d['length']==6 and bytes.fromhex(d['hex'])==b'needle'"
	run hexdump_out 1 "$CLI" hexdump "$H" 0x10

	run dump 0 "$CLI" dump "$H" "$NEEDLE_ADDR" -o "$T/config.bin"
	eq dump_needle "$(dd if="$T/config.bin" bs=1 skip="$NEEDLE_OFF" count=${#NEEDLE} 2>/dev/null)" "$NEEDLE"
	eq dump_mode "$(stat -c %a "$T/config.bin")" 600
	run dump_noout 2 "$CLI" dump "$H" "$CONFIG"
	run dump_nowhere 1 "$CLI" dump "$H" 0x10 -o "$T/x.bin"

	run map 0 "$CLI" map "$H" -o "$T/map.svg"
	if python3 -c "import sys,xml.dom.minidom as m; m.parse(sys.argv[1])" "$T/map.svg"; then ok; else fail "map: SVG is not XML"; fi
	grep -q "root config -&gt; $CONFIG" "$T/map.svg" && ok || fail "map: root config not marked"
	grep -q "we&quot;ird" "$T/map.svg" && ok || fail "map: root name not escaped"
	# the pixels say what the program put there: the big block used, the freed secret free, the tail free, the end
	# sentinel no block; a handful of SVG elements, not one per block
	local last
	last=$(hex "$BASE + $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['mapped'])" "$T/info_json.out") - 4")
	# sentinel no block; config's page header is slab page overhead, config itself used and a freed slot free
	python3 "$MAPCHECK" "$T/map.svg" "$(hex "$BIG + 50000")" "$(hex "$SECRET_BLOCK + 100")" "$(hex "$BIG + 200000")" "$last" \
		"$(hex "$CONFIG_PAGE + 100")" "$(hex "$CONFIG + 50")" "$(hex "$FREED_SLOT + 20")" \
		>"$T/map.px" 2>"$T/map.pxerr" || fail "map: picture unreadable: $(tail -1 "$T/map.pxerr")"
	eq map_big "$(sed -n 2p "$T/map.px" | cut -d' ' -f2)" 3b7dd8
	eq map_secret "$(sed -n 3p "$T/map.px" | cut -d' ' -f2)" e6f2e6
	eq map_tail "$(sed -n 4p "$T/map.px" | cut -d' ' -f2)" e6f2e6
	eq map_end "$(sed -n 5p "$T/map.px" | cut -d' ' -f2)" b0b0b0
	eq map_pagehdr "$(sed -n 6p "$T/map.px" | cut -d' ' -f2)" 7a5c99
	eq map_slot "$(sed -n 7p "$T/map.px" | cut -d' ' -f2)" 3b7dd8
	eq map_freeslot "$(sed -n 8p "$T/map.px" | cut -d' ' -f2)" e6f2e6
	[ "$(grep -o '<[a-z]' "$T/map.svg" | wc -l)" -lt 200 ] && ok || fail "map: too many SVG elements"
	run map_stdout 0 "$CLI" map "$H"
	has map_stdout out "^<svg "

	run leaks 0 "$CLI" leaks "$H"
	# the three 200-byte leaks are slots of their size class: LEAK_SIZE usable bytes each
	has leaks out "^3 of $USED_BLOCKS used blocks unreachable from $ROOTS roots: $((3 * LEAK_SIZE)) of $USED_BYTES bytes$"
	for l in "$LEAK0" "$LEAK1" "$LEAK2"; do has leaks out "^$(printf '0x%012x' $((l))) +$LEAK_SIZE +unreachable$"; done
	run leaks_json 0 "$CLI" leaks --json "$H"
	json leaks_json "d['leaked_blocks']==3 and d['leaked_bytes']==3*$LEAK_SIZE and all(x['size']==$LEAK_SIZE for x in d['leaks']) and sorted(x['address'] for x in d['leaks'])==sorted(['$LEAK0','$LEAK1','$LEAK2'])"

	run leaks_limit 0 "$CLI" leaks --limit 1 "$H"
	eq leaks_limit "$(grep -c unreachable$ "$T/leaks_limit.out")" 1
	has leaks_limit out "^\.\.\. 2 more unreachable blocks$"
	run leaks_limit_json 0 "$CLI" leaks --json --limit 1 "$H"
	json leaks_limit_json "d['truncated'] and len(d['leaks'])==1 and d['leaked_blocks']==3"
	# no crash record: said, and the mark starts from the named roots alone
	has leaks out "^no crash record .*only the named roots were available"
	json leaks_json "not d['root_set']['crash_record'] and d['classes']['leaked']['blocks']==3 and d['classes']['roots']['blocks']+d['classes']['reachable']['blocks']+3==$USED_BLOCKS and d['classes']['globals']['blocks']==0"
	# path: the chain from the root "holder" through its block to the target
	run path 0 "$CLI" path "$H" "$TARGET_INNER"
	has path out "^block $TARGET \(size [0-9]+\) is reachable from root:$"
	has path out "^  root 'holder' holds $HOLDER$"
	has path out "^  -> block $HOLDER \(live, size [0-9]+\) holds $TARGET_INNER at \+$HOLDER_OFF$"
	run path_json 0 "$CLI" path --json "$H" "$TARGET"
	json path_json "d['class']=='reachable' and d['anchor']['kind']=='root' and d['anchor']['where']==\"root 'holder'\" and [c['block'] for c in d['chain']]==['$HOLDER','$TARGET'] and d['chain'][0]['offset']==$HOLDER_OFF and d['chain'][0]['holds']=='$TARGET_INNER'"
	run path_leak 1 "$CLI" path "$H" "$LEAK0"
	has path_leak out "is reachable from no anchor: leaked$"
	run path_free 1 "$CLI" path "$H" "$SECRET_BLOCK"

	run crash_none 1 "$CLI" crash "$H"
	has crash_none out "no crash record"
	run crash_none_json 1 "$CLI" crash --json "$H"
	json crash_none_json "d['present'] is False"

	# usage
	run usage_none 2 "$CLI"
	run usage_help 0 "$CLI" --help
	has usage_help out "whatis"
	run usage_verb 2 "$CLI" frobnicate "$H"
	run usage_opt 2 "$CLI" blocks --bogus "$H"
	run usage_extra 2 "$CLI" info "$H" extra
	run usage_missing 2 "$CLI" whatis "$H"
	run verb_help 0 "$CLI" grep --help
	run run_noprog 2 "$CLI" run --heap "$T/x.heap"
	run run_badkeep 2 "$CLI" run --keep sometimes -- /bin/true
	run run_badsize 2 "$CLI" run --size 12Q -- /bin/true
}

group_unclean() {
	local H=$T/u.heap
	mkheap "$H" 0x621000000000 --unclean
	run info 0 "$CLI" info "$H"
	has info out "^state: +dirty: its last writer ended without closing it"
	has info out "^  running: +no: pid [0-9]+ is not running$"
	run info_json 0 "$CLI" info --json "$H"
	json info_json "d['writer']['alive'] is False and not d['clean']"

	# a writer that still holds its heap open is alive; once killed, it is not
	local L=$T/live.heap pid i
	"$MKHEAP" "$L" 0x621800000000 --hold >"$T/hold.manifest" &
	pid=$!
	for i in $(seq 100); do grep -q READY "$T/hold.manifest" && break; sleep 0.05; done
	run hold_info 0 "$CLI" info "$L"
	has hold_info out "^state: +dirty: open for writing by a process that is still running$"
	has hold_info out "^  pid: +$pid$"
	has hold_info out "^  running: +yes: pid $pid is still running \(same start time, same boot\)$"
	run hold_json 0 "$CLI" info --json "$L"
	json hold_json "d['writer']['alive'] is True and d['writer']['pid']==$pid"
	# a heap its writer still holds is not replaced by a repair (a dry run may look at it)
	run hold_repair_dry 1 "$CLI" repair "$L"
	run hold_repair 2 "$CLI" repair --yes "$L"
	has hold_repair err "in use by another process"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	run killed_info 0 "$CLI" info "$L"
	has killed_info out "^  running: +no: pid $pid is not running$"
	has killed_info out "^state: +dirty: its last writer ended"
	run check 0 "$CLI" check "$H"
	has check out "^OK: .*\(${USED_BLOCKS} used, ${FREE_BLOCKS} free"
	has check out "not closed cleanly.*free index is stale"
	run check_json 0 "$CLI" check --json "$H"
	json check_json "d['consistent'] and not d['index_checked'] and not d['clean']"
	run stats_json 0 "$CLI" stats --json "$H"
	json stats_json "d['used_blocks']==$USED_BLOCKS and d['free_blocks']==$FREE_BLOCKS and d['largest_free']>0 and not d['clean']"
	run leaks 0 "$CLI" leaks "$H"
	has leaks out "^3 of $USED_BLOCKS used blocks"
	run roots 0 "$CLI" roots "$H"
	has roots out "^config -> $CONFIG "
	# the reader never writes: the file is byte-identical afterwards and still dirty
	cp "$H" "$T/copy"
	"$CLI" check "$H" >/dev/null 2>&1
	cmp -s "$H" "$T/copy" && ok || fail "unclean: the read-only view changed the file"
}

group_moved() {
	local H=$T/m.heap verb
	mkheap "$H" 0x622000000000
	# same answers whether the heap sits at its own address or, with that address taken, elsewhere
	for verb in "roots" "blocks" "whatis $TARGET_INNER" "refs $TARGET" "grep $NEEDLE" "strings" "leaks" "check" \
		"hexdump $HOLDER 64" "stats --json" "roots --json" "dangling" "grep --free $SECRET" "refs $SECRET_BLOCK" \
		"grep --ptr $TARGET_INNER"; do
		# shellcheck disable=SC2086
		"$CLI" ${verb%% *} "$H" $( [ "${verb#* }" != "$verb" ] && echo "${verb#* }") >"$T/plain.out" 2>&1
		# shellcheck disable=SC2086
		LD_PRELOAD=$SQUAT PMP_TEST_SQUAT=0x622000000000 "$CLI" ${verb%% *} "$H" \
			$( [ "${verb#* }" != "$verb" ] && echo "${verb#* }") >"$T/moved.out" 2>&1
		if cmp -s "$T/plain.out" "$T/moved.out"; then ok; else
			fail "moved: '$verb' differs on a moved view"
			diff "$T/plain.out" "$T/moved.out" | head -10 >&2
		fi
	done
	LD_PRELOAD=$SQUAT PMP_TEST_SQUAT=0x622000000000 run info_json 0 "$CLI" info --json "$H"
	json info_json "d['moved'] and d['base']=='0x622000000000'"
	LD_PRELOAD=$SQUAT PMP_TEST_SQUAT=0x622000000000 run whatis 0 "$CLI" whatis "$H" "$NEEDLE_ADDR"
	has whatis out "^$NEEDLE_ADDR is at offset $NEEDLE_OFF of the used block $CONFIG "
}

group_crash() {
	local H=$T/c.heap
	mkheap "$H" 0x623000000000
	"$MKCRASH" "$H" >"$T/crash.manifest" || { fail "mkcrash failed"; return; }
	. "$T/crash.manifest"
	run info 0 "$CLI" info "$H"
	has info out "^crash: +SIGSEGV at 2023-11-14T22:13:20.123Z"
	run crash 0 "$CLI" crash "$H"
	has crash out "^signal: +SIGSEGV \(11\)$"
	has crash out "^code: +1 SEGV_MAPERR"
	has crash out "^address: 0xdead0$"
	has crash out "^time: +2023-11-14T22:13:20.123Z$"
	has crash out "^pid: +$CRASH_PID "
	has crash out "^  #0  0x0*${FRAME0#0x}  mkcrash\+0x[0-9a-f]+"
	has crash out "^  #2 .* libc\.so[.0-9]*\+0x[0-9a-f]+"
	# a heap address lies above every module: with their extents recorded it is attributed to none
	has crash out "^  #3  0x0*${FRAME3#0x}  \?$"
	has crash out "^root set: the crash record has no root set"
	if command -v addr2line >/dev/null; then
		has crash out "^  #0 .*  crash_site  at .*mkcrash\.c:[0-9]+$"
		has crash out "^  #1 .*  main"
	fi
	run crash_raw 0 "$CLI" crash --raw "$H"
	hasnt crash_raw out "crash_site"
	# report: one page with every section, the map inline, the crash record in the summary
	run report 0 "$CLI" report "$H" -o "$T/report.html"
	has report err "^pmempreload: wrote $T/report.html$"
	local id
	for id in info check stats map leaks dangling crash; do
		grep -q "<section id=\"$id\">" "$T/report.html" && ok || fail "report: no $id section"
	done
	grep -q 'class="ok">consistent<' "$T/report.html" && ok || fail "report: check verdict"
	grep -q 'crash record: SIGSEGV (11) at 0xdead0<' "$T/report.html" && ok || fail "report: crash summary"
	grep -q "3 of $USED_BLOCKS used blocks unreachable from $ROOTS roots" "$T/report.html" && ok || fail "report: leaks"
	grep -q "^1 word in live blocks points into freed blocks" "$T/report.html" && ok || fail "report: dangling"
	grep -q "^base: *$BASE\$" "$T/report.html" && ok || fail "report: info saw a moved view"
	grep -Eq '<script|src="http|href="http' "$T/report.html" && fail "report: not self-contained" || ok
	grep -q 'id="sites"\|class="sites"\|href="#sites"' "$T/report.html" && fail "report: a sites table on an untracked heap" || ok
	python3 -c 'import html.parser,sys; html.parser.HTMLParser().feed(open(sys.argv[1]).read())' "$T/report.html" && ok ||
		fail "report: HTML does not parse"
	python3 "$MAPCHECK" "$T/report.html" "$(hex "$BIG + 50000")" >"$T/report.px" && has report px "^$(hex "$BIG + 50000") 3b7dd8$"
	run report_stdout 0 "$CLI" report "$H" -o -
	has report_stdout out "^<!DOCTYPE html>"
	run report_noout 2 "$CLI" report "$H"
	run report_json 0 "$CLI" report --json "$H"
	json report_json "d['verb']=='report' and d['info']['base']=='$BASE' and d['check']['consistent'] and d['stats']['used_bytes']==$USED_BYTES and d['leaks']['leaked_blocks']==3 and d['dangling']['count']==1 and d['crash']['signal']=='SIGSEGV' and d['crash']['fault_address']=='0xdead0' and d['sites']['tracked'] is False"
	if [ -x /usr/bin/chromium ]; then
		# rendered in a browser: the screenshot shows the map's used and free colours and the red crash summary
		shoot "$T/report-1.png" "file://$T/report.html" 1200 1600 # as a reader sees it
		shoot "$T/report-0.5.png" "file://$T/report.html" 1200 3000 0.5 # the whole page, for counting colours
		[ -s "$T/report-1.png" ] && ok || fail "chromium: no screenshot"
		if python3 "$MAPCHECK" --shot "$T/report-0.5.png" 3b7dd8 e6f2e6 c0392b >"$T/shot.out"; then
			awk '$1=="3b7dd8" && $2>5000 {u=1} $1=="e6f2e6" && $2>50000 {f=1} $1=="c0392b" && $2>20 {r=1} END {exit !(u&&f&&r)}' \
				"$T/shot.out" && ok || fail "chromium: the page lacks the map or the crash summary: $(tr '\n' ' ' <"$T/shot.out")"
		else
			fail "chromium: screenshot unreadable"
		fi
		[ -n "${PMP_KEEP_SHOTS:-}" ] && cp "$T/report-1.png" "$PMP_KEEP_SHOTS/report.png"
	else
		echo "note: chromium absent: report not rendered"
	fi

	run crash_json 0 "$CLI" crash --json "$H"
	json crash_json "d['present'] and d['signal']=='SIGSEGV' and d['fault_address']=='0xdead0' and d['pid']==$CRASH_PID and len(d['frames'])==4 and d['frames'][0]['pc']=='$FRAME0' and d['frames'][0]['module'].endswith('mkcrash') and d['frames'][3]['module'] is None and len(d['modules'])>=2 and all(int(m['start'],16) <= int(m['load_address'],16) + 0x1000000 and int(m['end'],16) > int(m['start'],16) for m in d['modules'] if 'end' in m) and not d['root_set']['complete']"
}

group_sparse() {
	local H=$T/s.heap v
	: "${MKSPARSE:?}"
	"$MKSPARSE" "$H" 0x625000000000 >"$T/sparse.manifest" || { fail "mksparse failed"; return; }
	. "$T/sparse.manifest"
	[ "$(stat -c %s "$H")" -eq "$SPARSE_DECLARED" ] && [ "$(du -k "$H" | cut -f1)" -lt 4096 ] && ok ||
		fail "sparse: the heap file is not a sparse 1 TiB file"
	# every verb's time and memory follow the few pages of data, not the declared terabyte
	local lim="10 65536"
	bounded s_grep 0 $lim "$CLI" grep "$H" "$SPARSE_DEEP_NEEDLE"
	has s_grep out "^$SPARSE_HUGE\+$SPARSE_DEEP_OFF \(live, size $SPARSE_HUGE_SIZE\): .*\[\[$SPARSE_DEEP_NEEDLE\]\]"
	bounded s_grep_near 0 $lim "$CLI" grep "$H" "$SPARSE_NEEDLE"
	has s_grep_near out "^$SPARSE_NEAR\+40 "
	bounded s_edge 0 $lim "$CLI" grep "$H" --hex "45 44 47 45 00 00 00 00"
	has s_edge out "^$SPARSE_HUGE\+$SPARSE_EDGE_OFF \(live, "
	bounded s_secret 0 $lim "$CLI" grep --free "$H" "$SPARSE_SECRET"
	has s_secret out "\(freed, size [0-9]+\): .*\[\[$SPARSE_SECRET\]\]"
	bounded s_dangling 0 $lim "$CLI" dangling "$H"
	has s_dangling out "^0 words in live blocks point into freed blocks"
	bounded s_strings 0 $lim "$CLI" strings --min 12 "$H"
	has s_strings out "^$(hex "$SPARSE_HUGE + $SPARSE_DEEP_OFF") $SPARSE_HUGE\+$SPARSE_DEEP_OFF .*: $SPARSE_DEEP_NEEDLE$"
	bounded s_refs 0 $lim "$CLI" refs "$H" "$SPARSE_DEEP"
	has s_refs out "^  $SPARSE_HUGE\+$SPARSE_DEEP_PTR_OFF \(live, size $SPARSE_HUGE_SIZE\) holds $SPARSE_DEEP$"
	# the deep block is reachable only through the word deep inside the huge block: one leak, the planted one
	bounded s_leaks 0 $lim "$CLI" leaks --json "$H"
	json s_leaks "d['leaked_blocks']==1 and d['leaks'][0]['address']=='$SPARSE_LEAK'"
	bounded s_dump 0 $lim "$CLI" dump "$H" "$SPARSE_HUGE" -o "$T/huge.bin"
	[ "$(stat -c %s "$T/huge.bin")" -eq "$SPARSE_HUGE_SIZE" ] && [ "$(du -k "$T/huge.bin" | cut -f1)" -lt 4096 ] && ok ||
		fail "sparse: dump of the huge block is not a sparse file of its size"
	eq s_dump_bytes "$(python3 -c 'import sys; f=open(sys.argv[1],"rb"); f.seek(int(sys.argv[2])); print(f.read(18).decode())' \
		"$T/huge.bin" "$SPARSE_DEEP_OFF")" "$SPARSE_DEEP_NEEDLE"
	rm -f "$T/huge.bin"
	for v in check stats blocks roots info map; do
		bounded "s_$v" 0 $lim "$CLI" "$v" "$H"
	done
	has s_check out "^OK: $((SPARSE_USED_BLOCKS + SPARSE_FREE_BLOCKS)) blocks \($SPARSE_USED_BLOCKS used, $SPARSE_FREE_BLOCKS free, 0 cached\), 2 roots, $SPARSE_PAGES slab pages, "
	cp --sparse=always "$H" "$T/s2.heap"
	bounded s_diff 0 $lim "$CLI" diff "$H" "$T/s2.heap"
	has s_diff out "^0 added .* 0 changed; used $SPARSE_USED_BLOCKS -> $SPARSE_USED_BLOCKS blocks"
	rm -f "$T/s2.heap"
	bounded s_whatis 0 $lim "$CLI" whatis "$H" "$(hex "$SPARSE_HUGE + $SPARSE_DEEP_OFF")"
	has s_whatis out "at offset $SPARSE_DEEP_OFF of the used block $SPARSE_HUGE "
	bounded s_hexdump 0 $lim "$CLI" hexdump "$H" "$(hex "$SPARSE_HUGE + $SPARSE_DEEP_OFF")" 16
	has s_hexdump out "\|sparse-needle-de\|$"
}

group_diff() {
	local A=$T/a.heap B=$T/b.heap
	mkheap "$A" 0x627000000000
	cp "$A" "$B"
	"$MKHEAP" "$B" 0x627000000000 --mutate >"$T/mutate.manifest" || { fail "mkheap --mutate failed"; return; }
	. "$T/mutate.manifest"
	run diff 1 "$CLI" diff "$A" "$B"
	has diff out "^~ $(printf '0x%012x' $((MUT_CONFIG))) +[0-9]+  changed \(first difference at \+$MUT_CONFIG_OFF\)$"
	has diff out "^~ $(printf '0x%012x' $((MUT_NODE1))) +[0-9]+  changed \(first difference at \+0\)$"
	has diff out "^- $(printf '0x%012x' $((MUT_REMOVED))) +$MUT_REMOVED_SIZE  removed$"
	for x in "$MUT_ADDED0" "$MUT_ADDED1" "$MUT_ADDED2"; do has diff out "^\+ $(printf '0x%012x' $((x))) +$MUT_ADDED_SIZE  added$"; done
	# keep[8] grown in place is resized; moved, it is removed and added, and the keep array holding it changed
	local added=3 removed=1 changed=2
	if [ -n "$MUT_RESIZED" ]; then
		has diff out "^r $(printf '0x%012x' $((MUT_RESIZED))) +[0-9]+  resized to [0-9]+ bytes$"
	else
		added=4 removed=2 changed=3
	fi
	eq diff_added "$(grep -c '^+ ' "$T/diff.out")" "$added"
	eq diff_removed "$(grep -c '^- ' "$T/diff.out")" "$removed"
	eq diff_changed "$(grep -c '^~ ' "$T/diff.out")" "$changed"
	has diff out "^$added added \([0-9]+ bytes\), $removed removed"
	has diff out "^  \[256B, 512B\) +1 -> 4 +\(\+3\)"
	run diff_json 1 "$CLI" diff --json "$A" "$B"
	json diff_json "d['summary']['added']==$added and {'$MUT_ADDED0','$MUT_ADDED1','$MUT_ADDED2'}<=set(x['address'] for x in d['blocks'] if x['kind']=='added' and x['size']==$MUT_ADDED_SIZE) and [x for x in d['blocks'] if x['kind']=='changed'][0]=={'kind':'changed','address':'$MUT_CONFIG','size':[x for x in d['blocks'] if x['kind']=='changed'][0]['size'],'first_difference':$MUT_CONFIG_OFF} and d['b']['generation']>d['a']['generation'] and any(c['min_size']==256 and c['b_blocks']-c['a_blocks']==3 for c in d['classes'])"
	json diff_json "d['by_site']=={'tracked':False}"
	hasnt diff out "by allocating site"
	run diff_limit 1 "$CLI" diff --limit 1 "$A" "$B"
	eq diff_limit "$(grep -c '^+ ' "$T/diff_limit.out")" 1
	has diff_limit out "^  \.\.\. $((added - 1)) more added$"
	run diff_same 0 "$CLI" diff "$A" "$A"
	has diff_same out "^0 added \(0 bytes\), 0 removed \(0 bytes\), 0 resized, 0 changed"
	mkheap "$T/other.heap" 0x627000000000
	run diff_other 2 "$CLI" diff "$A" "$T/other.heap"
	one_error diff_other
	has diff_other err "not images of one heap"
	head -c 100000 /dev/urandom >"$T/garbage"
	run diff_garbage 2 "$CLI" diff "$A" "$T/garbage"
	one_error diff_garbage
	run diff_usage 2 "$CLI" diff "$A"
}

group_top() {
	local L=$T/live.heap pid i
	: "${MKLOAD:?}"
	"$MKLOAD" live "$L" 0x628000000000 4 >"$T/live.manifest" &
	pid=$!
	for i in $(seq 100); do grep -q READY "$T/live.manifest" && break; sleep 0.05; done
	local size label
	size=$(sed -n 's/^LIVE_SIZE=//p' "$T/live.manifest")
	label=$(class_label "$size")
	run top_json 0 "$CLI" top --json --count 4 --interval 0.3 "$L"
	eq top_lines "$(wc -l <"$T/top_json.out")" 4
	# the program adds a 1000-byte block (a slot of LIVE_SIZE usable bytes) and mallocs and frees a 64-byte one
	# every 2 ms
	if python3 -c '
import json, sys
size = int(sys.argv[2])
r = [json.loads(l) for l in open(sys.argv[1])]
assert [x["tick"] for x in r] == [1, 2, 3, 4] and all(x["schema"] == 2 and x["verb"] == "top" for x in r)
assert all(x["writer_alive"] is True for x in r), "writer not alive"
assert all(a["used_bytes"] < b["used_bytes"] for a, b in zip(r, r[1:])), "used bytes do not grow"
assert r[0]["malloc_per_s"] is None and all(x["malloc_per_s"] > 100 and x["free_per_s"] > 50 for x in r[1:]), "rates"
c = [[k for k in x["classes"] if k["min_size"] <= size <= k["max_size"]][0] for x in r]
assert all(k["growth_bytes"] > 0 and k["growth_blocks"] > 0 for k in c[1:]), "no growth in the class of %d" % size
assert c[3]["growth_since_start_bytes"] == c[3]["used_bytes"] - c[0]["used_bytes"]
assert all(x["pages"] > 0 and x["free_slots"] <= x["free_blocks"] for x in r), "pages"
' "$T/top_json.out" "$size" 2>"$T/top_json.py"; then ok; else fail "top --json: $(tail -1 "$T/top_json.py")"; sed 's/^/    | /' "$T/top_json.out" | head -4 >&2; fi
	run top_text 0 "$CLI" top --count 2 --interval 0.2 "$L"
	has top_text out "^writer: +running: pid $pid is still running"
	has top_text out "^ops/s: +[0-9]+ malloc, [0-9]+ free, 0 realloc$"
	has top_text out "^  \[$label\) +\+[0-9]+ blocks"
	eq top_text_ticks "$(grep -c '^pmempreload top: ' "$T/top_text.out")" 2
	hasnt top_text out $'\033'
	wait "$pid"
	run top_after 0 "$CLI" top --json --count 1 "$L"
	json top_after "d['writer_alive'] is False and d['used_blocks']>=$(sed -n 's/^LIVE_BLOCKS=//p' "$T/live.manifest")"
	run top_badint 2 "$CLI" top --interval 0 "$L"
	run top_missing 2 "$CLI" top --count 1 "$T/nothing.heap"
	one_error top_missing
}

# sites: diff, top and report by call site on a program under the preload with PMEMPRELOAD_TRACK=callsite whose
# known functions grow (grow_a, grow_b) and shrink (shrink_c) by known counts in each phase, while steady does not
group_sites() {
	: "${PRELOAD:?}" "${MKGROW:?}"
	local H=$T/grow.heap pid i
	env LD_PRELOAD="$PRELOAD" PMEMPRELOAD_PATH="$H" PMEMPRELOAD_KEEP=always PMEMPRELOAD_TRACK=callsite \
		PMEMPRELOAD_ADDR=0x629000000000 PMEMPRELOAD_SIZE=1G "$MKGROW" "$T" 4 >"$T/grow.manifest" &
	pid=$!
	# phase N: the program has printed PHASE=N and waits for $T/goN; a program that stopped ends the group
	phase() {
		for i in $(seq 400); do grep -q "^PHASE=$1\$" "$T/grow.manifest" && return 0; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
		fail "mkgrow did not reach phase $1"
		return 1
	}
	phase 1 || return
	. "$T/grow.manifest"
	local UA=$USABLE_A UB=$USABLE_B UC=$USABLE_C
	cp "$H" "$T/p1.heap"
	touch "$T/go1"
	phase 2 || return
	cp "$H" "$T/p2.heap"
	# one phase: grow_a +GROW_A blocks, grow_b +GROW_B, shrink_c -SHRINK; rows "  +BYTES +BLOCKS  A -> B  SITE"
	local ra rb rc
	ra="^  +\+$((GROW_A * UA)) +\+$GROW_A +$((GROW_A1 * UA)) -> $(((GROW_A1 + GROW_A) * UA)) +grow_a \(mkgrow\.c:[0-9]+\) mkgrow\+0x[0-9a-f]+$"
	rb="^  +\+$((GROW_B * UB)) +\+$GROW_B +0 -> $((GROW_B * UB)) +grow_b \(mkgrow\.c:[0-9]+\) mkgrow\+0x[0-9a-f]+$"
	rc="^  +-$((SHRINK * UC)) +-$SHRINK +$((SHRINK_C * UC)) -> $(((SHRINK_C - SHRINK) * UC)) +shrink_c \("
	run s_diff 1 "$CLI" diff "$T/p1.heap" "$T/p2.heap"
	has s_diff out "^live bytes by allocating site, heaviest growth first:$"
	has s_diff out "$ra"
	has s_diff out "$rb"
	has s_diff out "$rc"
	hasnt s_diff out " steady "
	# heaviest growth first: grow_b (+GROW_B * UB bytes), grow_a, then the shrinking shrink_c
	eq s_diff_order "$(grep -Eo ' (grow_a|grow_b|shrink_c) \(' "$T/s_diff.out" | tr -d ' (' | tr '\n' ' ')" "grow_b grow_a shrink_c "
	run s_diff_json 1 "$CLI" diff --json "$T/p1.heap" "$T/p2.heap"
	json s_diff_json "d['by_site']['tracked'] and d['by_site']['site_count']==3 and [(x['function'],x['a_blocks'],x['b_blocks'],x['growth_blocks'],x['growth_bytes']) for x in d['by_site']['sites']]==[('grow_b',0,$GROW_B,$GROW_B,$((GROW_B * UB))),('grow_a',$GROW_A1,$((GROW_A1 + GROW_A)),$GROW_A,$((GROW_A * UA))),('shrink_c',$SHRINK_C,$((SHRINK_C - SHRINK)),-$SHRINK,-$((SHRINK * UC)))] and all(x['module'].endswith('/mkgrow') and x['line'].split(':')[0].endswith('mkgrow.c') for x in d['by_site']['sites'])"
	run s_diff_same 0 "$CLI" diff --json "$T/p2.heap" "$T/p2.heap"
	json s_diff_same "d['by_site']=={'tracked':True,'site_count':0,'sites':[]}"

	# top --json: the tick after the next phase has grown each site by one phase's counts since the tick before
	"$CLI" top --json --count 2 --interval 2 "$H" >"$T/s_top.out" 2>"$T/s_top.err" &
	local top=$!
	for i in $(seq 200); do [ -s "$T/s_top.out" ] && break; sleep 0.02; done
	touch "$T/go2"
	phase 3 || return
	wait "$top" && ok || fail "top --json failed: $(cat "$T/s_top.err")"
	if python3 -c '
import json, sys
ga, gb, sh, ua, ub, uc = map(int, sys.argv[2:])
r = [json.loads(l) for l in open(sys.argv[1])]
assert len(r) == 2, "ticks"
assert r[0]["by_site"] == {"tracked": True, "site_count": 0, "sites": []}, r[0]["by_site"]
s = r[1]["by_site"]
got = [(x["function"], x["growth_blocks"], x["growth_bytes"]) for x in s["sites"]]
assert got == [("grow_b", gb, gb * ub), ("grow_a", ga, ga * ua), ("shrink_c", -sh, -sh * uc)], got
' "$T/s_top.out" "$GROW_A" "$GROW_B" "$SHRINK" "$UA" "$UB" "$UC" 2>"$T/s_top.py"; then ok; else fail "top --json by site: $(tail -1 "$T/s_top.py")"; fi

	# top in text: growth by site since the first tick
	"$CLI" top --count 2 --interval 2 "$H" >"$T/s_toptext.out" 2>"$T/s_toptext.err" &
	top=$!
	for i in $(seq 200); do grep -q '^growth by allocating site' "$T/s_toptext.out" && break; sleep 0.02; done
	touch "$T/go3"
	phase 4 || return
	wait "$top" && ok || fail "top failed: $(cat "$T/s_toptext.err")"
	eq s_toptext_heads "$(grep -c '^growth by allocating site since the first tick, heaviest first:$' "$T/s_toptext.out")" 2
	# the first tick's table is "none"; the second one's rows are one phase's
	has s_toptext out "^  +\+$((GROW_B * UB)) +\+$GROW_B +$((2 * GROW_B * UB)) -> $((3 * GROW_B * UB)) +grow_b \(mkgrow\.c:"
	has s_toptext out "^  +-$((SHRINK * UC)) +-$SHRINK +$(((SHRINK_C - 2 * SHRINK) * UC)) -> $(((SHRINK_C - 3 * SHRINK) * UC)) +shrink_c \("
	touch "$T/go4"
	wait "$pid" && ok || fail "mkgrow failed"

	# report: the heaviest sites as a table; the blocks of p2 by allocating site
	run s_report 0 "$CLI" report "$T/p2.heap" -o "$T/s_report.html"
	grep -q '<section id="sites"><h2>heaviest call sites' "$T/s_report.html" && ok || fail "report: no sites section"
	python3 - "$T/s_report.html" "$(((SHRINK_C - SHRINK) * UC))" "$((SHRINK_C - SHRINK))" "$(((GROW_A1 + GROW_A) * UA))" \
		"$((GROW_A1 + GROW_A))" "$((STEADY * USABLE_S))" "$STEADY" 2>"$T/s_report.py" <<'PY' && ok || fail "report: sites table: $(tail -1 "$T/s_report.py")"
import html.parser, sys
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.rows = []; self.inside = False; self.cell = None
    def handle_starttag(self, tag, a):
        if tag == "table" and ("class", "sites") in a: self.inside = True
        elif self.inside and tag == "tr": self.rows.append([])
        elif self.inside and tag in ("td", "th"): self.cell = ""
    def handle_endtag(self, tag):
        if tag == "table": self.inside = False
        elif self.inside and tag in ("td", "th"): self.rows[-1].append(self.cell); self.cell = None
    def handle_data(self, d):
        if self.cell is not None: self.cell += d
p = P(); p.feed(open(sys.argv[1]).read())
v = list(map(int, sys.argv[2:]))
assert p.rows[0] == ["bytes", "blocks", "role", "call site"], p.rows[:1]
fn = {r[3].split(" ")[0]: (int(r[0]), int(r[1])) for r in p.rows[1:] if r[2] == "alloc by"}
assert fn["shrink_c"] == (v[0], v[1]) and fn["grow_a"] == (v[2], v[3]) and fn["steady"] == (v[4], v[5]), fn
assert p.rows[1][3].startswith("shrink_c (mkgrow.c:"), p.rows[1]
b = [int(r[0]) for r in p.rows[1:]]
assert b == sorted(b, reverse=True), "not heaviest first"
PY
	run s_report_json 0 "$CLI" report --json "$T/p2.heap"
	json s_report_json "d['sites']['tracked'] and [x['bytes'] for x in d['sites']['sites'] if x.get('function')=='grow_a']==[$(((GROW_A1 + GROW_A) * UA))]"
}

group_scale() {
	local H=$T/many.heap t0 t1
	: "${MKLOAD:?}"
	"$MKLOAD" many "$H" 0x626000000000 2000000 >"$T/many.manifest" || { fail "mkload failed"; return; }
	. "$T/many.manifest"
	t0=$(date +%s%N)
	run many_map 0 "$CLI" map "$H" -o "$T/many.svg"
	t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -lt 1000 ] && ok || fail "map of $MANY_BLOCKS blocks took $(((t1 - t0) / 1000000)) ms"
	[ "$(stat -c %s "$T/many.svg")" -lt 200000 ] && ok || fail "map of $MANY_BLOCKS blocks: $(stat -c %s "$T/many.svg") bytes"
	[ "$(grep -o '<[a-z]' "$T/many.svg" | wc -l)" -lt 200 ] && ok || fail "map: too many SVG elements"
	# a page's header is slab page overhead; every third 16-byte block was freed: the pixels over its slots are two
	# thirds used, on average over 24 pixels from its first slot (a whole number of three-slot patterns when a
	# pixel covers 2^k slots)
	local px
	px=$(for i in $(seq 0 23); do hex "$MANY_PAGE_SLOTS + i * 128"; echo; done)
	# shellcheck disable=SC2086
	python3 "$MAPCHECK" "$T/many.svg" "$MANY_PAGE" $px >"$T/many.px" || fail "map: picture unreadable"
	eq many_bpp "$(sed -n 1p "$T/many.px" | cut -d' ' -f4)" 128
	eq many_pagehdr "$(sed -n 2p "$T/many.px" | cut -d' ' -f2)" 7a5c99
	python3 -c "import sys; s=[(0xe6-int(c[:2],16))/(0xe6-0x3b) for c in sys.argv[1:]]; sys.exit(0 if abs(sum(s)/len(s)-2/3)<0.01 else 1)" \
		$(sed -n '3,$p' "$T/many.px" | cut -d' ' -f2) && ok || fail "map: fragmented pixels $(sed -n '3,$p' "$T/many.px" | cut -d' ' -f2 | tr '\n' ' ')"
	run many_check 0 "$CLI" check "$H"
	# the blocks the program made, the slots of its last page it never took and the free chain blocks around the pages
	has many_check out "^OK: $MANY_HEAP_BLOCKS blocks \($MANY_LIVE used, $MANY_HEAP_FREE free, 0 cached\), 0 roots, $MANY_PAGES slab pages, "
	# every verb stays fast with millions of slots (each takes well under a second here: the bound is for a loaded
	# machine); the ones that look for references find none (the blocks hold 0x5a bytes), exit 1
	local v w slot=$MANY_PAGE_SLOTS
	for v in "0 stats" "0 blocks" "0 leaks" "0 dangling" "0 strings" "1 grep --ptr $slot" "1 refs $slot" "0 whatis $slot" \
		"0 diff $H" "0 top --count 1" "0 report -o $T/many.html" "0 dump $slot -o $T/many.bin" "0 hexdump $slot"; do
		read -r -a w <<<"$v" # exit code, verb, arguments after the heap file
		bounded "many_${w[1]}" "${w[0]}" 10 524288 "$CLI" "${w[1]}" "$H" "${w[@]:2}"
	done
	has many_whatis out "^used slot 0 of [0-9]+ in the slab page $MANY_PAGE \(size class 16 bytes, "
	if [ -x /usr/bin/chromium ]; then
		t0=$(date +%s%N)
		shoot "$T/many.png" "file://$T/many.svg" 1200 1000
		t1=$(date +%s%N)
		[ -s "$T/many.png" ] && ok || fail "chromium: no screenshot of the map"
		echo "note: chromium rendered the map of $MANY_BLOCKS blocks in $(((t1 - t0) / 1000000)) ms (start-up included)"
	fi
}

group_hostile() {
	local H=$T/h.heap f
	mkheap "$H" 0x624000000000
	: >"$T/empty"
	head -c 200000 /dev/urandom >"$T/garbage"
	head -c $(($(stat -c %s "$H") / 2)) "$H" >"$T/half"
	cp "$H" "$T/flipped"
	printf '\x55' | dd of="$T/flipped" bs=1 seek=100 conv=notrunc 2>/dev/null
	printf '\x55' | dd of="$T/flipped" bs=1 seek=$((2048 + 100)) conv=notrunc 2>/dev/null
	head -c 4096 "$H" >"$T/sbonly"
	mkfifo "$T/fifo"
	mkdir "$T/dir"
	ln -s "$H" "$T/link"
	for f in missing empty garbage flipped fifo dir link; do
		for verb in info check stats blocks roots leaks crash strings; do
			run "$f-$verb" 2 "$CLI" "$verb" "$T/$f" && one_error "$f-$verb"
		done
		run "$f-whatis" 2 "$CLI" whatis "$T/$f" 0x624000010010 && one_error "$f-whatis"
		# the verbs that read contents, draw, compare, watch and report
		run "$f-dangling" 2 "$CLI" dangling "$T/$f" && one_error "$f-dangling"
		run "$f-grep" 2 "$CLI" grep "$T/$f" needle && one_error "$f-grep"
		run "$f-grephex" 2 "$CLI" grep --free "$T/$f" --hex "6e 65" && one_error "$f-grephex"
		run "$f-refs" 2 "$CLI" refs "$T/$f" 624000010010 && one_error "$f-refs"
		run "$f-dump" 2 "$CLI" dump "$T/$f" 0x624000010010 -o "$T/dump.bin" && one_error "$f-dump"
		run "$f-map" 2 "$CLI" map "$T/$f" -o "$T/hostile.svg" && one_error "$f-map"
		run "$f-top" 2 "$CLI" top --count 1 "$T/$f" && one_error "$f-top"
		run "$f-diff" 2 "$CLI" diff "$H" "$T/$f" && one_error "$f-diff"
		run "$f-report" 2 "$CLI" report "$T/$f" -o "$T/hostile.html" && one_error "$f-report"
		run "$f-reportjson" 2 "$CLI" report --json "$T/$f" && one_error "$f-reportjson"
		[ ! -e "$T/hostile.html" ] && [ ! -e "$T/hostile.svg" ] && [ ! -e "$T/dump.bin" ] && ok ||
			fail "$f: a verb wrote its output for a file that is no heap"
	done
	has missing-info err "missing: no such file"
	has empty-info err "empty: empty file, not a heap"
	has garbage-info err "garbage: not a pmempreload heap"
	has flipped-info err "flipped: .*checksum"
	has fifo-info err "fifo: not a regular file"
	has dir-info err "dir: not a regular file"

	# a damaged block header in the arena (big's: the one chain block above 16 KiB; smaller blocks are slots without
	# a header): check says where, the other verbs warn and keep what they could read
	cp "$H" "$T/badchain"
	printf '\xff\xff\xff\xff\xff\xff\xff\x7f' | dd of="$T/badchain" bs=1 seek=$((BIG - BASE - 8)) \
		conv=notrunc 2>/dev/null
	run badchain-check 1 "$CLI" check "$T/badchain"
	has badchain-check out "^INCONSISTENT: block problem at offset 0x[0-9a-f]+ \(address 0x[0-9a-f]+\)"
	run badchain-blocks 1 "$CLI" blocks "$T/badchain"
	has badchain-blocks err "block chain damaged: 1 stretch of [0-9]+ bytes shown as damaged"
	# the walk goes past the damage: every other block is still there, big's bytes are one damaged stretch
	run h-blocks 0 "$CLI" blocks "$H"
	eq badchain-used "$(grep -c ' used$' "$T/badchain-blocks.out")" "$(($(grep -c ' used$' "$T/h-blocks.out") - 1))"
	eq badchain-free "$(grep -c ' free$' "$T/badchain-blocks.out")" "$(grep -c ' free$' "$T/h-blocks.out")"
	eq badchain-damaged "$(grep -c ' damaged$' "$T/badchain-blocks.out")" 1
	run badchain-stats 1 "$CLI" stats "$T/badchain"
	has badchain-stats out "^damaged: +1 stretches"
	run badchain-grep 1 "$CLI" grep "$T/badchain" needle
	run h-grep 0 "$CLI" grep "$H" needle
	eq badchain-grep-hits "$(wc -l <"$T/badchain-grep.out")" "$(wc -l <"$T/h-grep.out")"
	run badchain-check-json 1 "$CLI" check --json "$T/badchain"
	json badchain-check-json "not d['consistent'] and d['problem']['kind']=='block'"
	# the new verbs warn the same way and answer from the blocks before the damage
	run badchain-dangling 1 "$CLI" dangling "$T/badchain"
	has badchain-dangling err "block chain damaged"
	run badchain-map 1 "$CLI" map "$T/badchain" -o "$T/badchain.svg"
	grep -q "chain damaged: damaged stretches are drawn as no block" "$T/badchain.svg" && ok || fail "badchain: map does not say so"

	# a truncated file opens with a warning and shows what it still holds: the missing tail is one damaged stretch
	for f in half sbonly; do
		run "$f-info" 0 "$CLI" info "$T/$f"
		has "$f-info" err "$f: warning: truncated: the file holds [0-9]+ of the [0-9]+ bytes of its heap"
		run "$f-check" 1 "$CLI" check "$T/$f"
		run "$f-blocks" 1 "$CLI" blocks "$T/$f"
		eq "$f-blocks-damaged" "$(grep -c ' damaged$' "$T/$f-blocks.out")" 1
		for verb in stats roots leaks strings dangling "grep needle" "map -o $T/$f.svg" "report -o $T/$f.html"; do
			# shellcheck disable=SC2086
			run "$f-${verb%% *}" 1 "$CLI" ${verb%% *} "$T/$f" $( [ "${verb#* }" != "$verb" ] && echo "${verb#* }")
		done
	done
	# repair: a dry run changes nothing and says what a repair would do; --yes repairs (a backup first), and the
	# result checks, keeps every root and needs no second repair
	cp "$T/badchain" "$T/rep"
	run rep-dry 1 "$CLI" repair "$T/rep"
	has rep-dry out "would be repaired \(dry run; --yes to apply\)"
	has rep-dry out "keeps 1 lost block \([0-9]+ bytes, kept as used, never reused\) and drops 0 roots"
	cmp -s "$T/rep" "$T/badchain" && [ ! -e "$T/rep.repair.$$" ] && ok || fail "repair: the dry run touched the file"
	run rep-yes 0 "$CLI" repair --yes --backup "$T/rep.bak" "$T/rep"
	cmp -s "$T/rep.bak" "$T/badchain" && ok || fail "repair: the backup differs from the original"
	run rep-check 0 "$CLI" check "$T/rep"
	run rep-roots 0 "$CLI" roots "$T/rep"
	run h-roots 0 "$CLI" roots "$H"
	eq rep-roots "$(wc -l <"$T/rep-roots.out")" "$(wc -l <"$T/h-roots.out")"
	run rep-again 0 "$CLI" repair "$T/rep"
	has rep-again out "nothing to repair"
	cp "$T/badchain" "$T/rep2"
	run rep-backup-exists 2 "$CLI" repair --yes --backup "$T/rep.bak" "$T/rep2"
	cmp -s "$T/rep2" "$T/badchain" && ok || fail "repair: a refused backup still repaired the file"
	cp "$T/half" "$T/rep3"
	run rep-trunc 0 "$CLI" repair --json --yes "$T/rep3"
	json rep-trunc "d['truncated'] and d['applied'] and d['lost_regions'] >= 1"
	run rep-trunc-check 0 "$CLI" check "$T/rep3"
	[ "$(stat -c %s "$T/rep3")" -gt "$(stat -c %s "$T/half")" ] && ok || fail "repair: the truncated file was not extended"

	# the first half still holds the blocks before its end, each as it was in the whole file
	local cut=$(($(stat -c %s "$T/half")))
	local addr size state
	while read -r addr size state; do
		[ "$state" = used ] && [ $((addr - BASE + size)) -le $((cut - 16)) ] && echo "$addr $size $state"
	done <"$T/h-blocks.out" >"$T/h-first.txt"
	sed 's/  */ /g' -i "$T/h-first.txt"
	grep ' used$' "$T/half-blocks.out" | head -n "$(wc -l <"$T/h-first.txt")" | sed 's/  */ /g' >"$T/half-first.txt"
	[ -s "$T/h-first.txt" ] && cmp -s "$T/h-first.txt" "$T/half-first.txt" && ok ||
		fail "half: the blocks before the cut differ from the whole file's"
	run badchain-report 1 "$CLI" report "$T/badchain" -o "$T/badchain.html"
	grep -q 'class="bad">INCONSISTENT<' "$T/badchain.html" && ok || fail "badchain: report's verdict"
	run badchain-top 0 "$CLI" top --json --count 1 "$T/badchain"
	json badchain-top "d['complete'] is False"
	run badchain-diff 1 "$CLI" diff "$H" "$T/badchain"
	# the slot counterpart: the same bytes before config, the first slot of its page, land in the last word of the
	# page header's live bitmap and mark slots beyond the page's capacity: check names the page
	cp "$H" "$T/badpage"
	printf '\xff\xff\xff\xff\xff\xff\xff\x7f' | dd of="$T/badpage" bs=1 seek=$((CONFIG - BASE - 8)) \
		conv=notrunc 2>/dev/null
	run badpage-check 1 "$CLI" check "$T/badpage"
	has badpage-check out "^INCONSISTENT: page problem at offset $(hex "$CONFIG_PAGE - BASE") \(address $CONFIG_PAGE\): "
	run badpage-check-json 1 "$CLI" check --json "$T/badpage"
	json badpage-check-json "not d['consistent'] and d['problem']['kind']=='page' and d['problem']['address']=='$CONFIG_PAGE'"

	# random damage to the arena and the metadata after the superblock: any verdict, never a signal or a hang
	local size i off verb rc
	size=$(stat -c %s "$H")
	for i in $(seq 1 40); do
		cp "$H" "$T/fuzz"
		for _ in 1 2 3 4 5 6 7 8; do
			off=$((4096 + (RANDOM * 32768 + RANDOM) % (size - 4096)))
			head -c 8 /dev/urandom | dd of="$T/fuzz" bs=1 seek=$off conv=notrunc 2>/dev/null
		done
		for verb in check blocks leaks "refs $TARGET" stats roots crash dangling "grep needle" strings "diff $H" \
			"top --count=1" "map -o $T/fuzz.svg" "report -o $T/fuzz.html"; do
			# shellcheck disable=SC2086
			timeout 20 "$CLI" ${verb%% *} "$T/fuzz" $( [ "${verb#* }" != "$verb" ] && echo "${verb#* }") >/dev/null 2>&1
			rc=$?
			if [ "$rc" -le 2 ]; then ok; else fail "fuzz round $i: '$verb' ended with $rc"; cp "$T/fuzz" "/tmp/pmp-cli-fuzz-$i.heap"; fi
		done
	done
}

group_run() {
	local lib=$BUILD_ROOT/preload/libpmempreload.so
	if [ ! -e "$lib" ] && [ -z "${PMEMPRELOAD_LIB:-}" ]; then
		echo "SKIP: $lib is not built"
		exit 77
	fi
	cd "$T" || exit 1
	run run_ls 0 "$CLI" run --heap "$T/ls.heap" -- /bin/ls /
	has run_ls err "^pmempreload: /bin/ls exited with status 0; heap file $T/ls.heap$"
	[ -s "$T/ls.heap" ] && ok || fail "run: no heap file"
	run run_ls_check 0 "$CLI" check "$T/ls.heap"
	has run_ls_check out "^OK: "
	run run_ls_info 0 "$CLI" info "$T/ls.heap"
	has run_ls_info out "^state: +clean"
	run run_default 0 "$CLI" run /bin/true
	[ -s "$T/true.heap" ] && ok || fail "run: default heap ./true.heap missing"
	run run_status 3 "$CLI" run --heap "$T/sh.heap" -- /bin/sh -c 'exit 3'
	has run_status err "exited with status 3"
	run run_sig 143 "$CLI" run --heap "$T/term.heap" -- /bin/sh -c 'kill -TERM $$'
	has run_sig err "killed by SIGTERM"
	run run_segv 139 "$CLI" run --heap "$T/segv.heap" -- /bin/sh -c 'kill -SEGV $$'
	has run_segv err "killed by SIGSEGV"
	has run_segv err "crash record in $T/segv.heap"
	run run_segv_crash 0 "$CLI" crash "$T/segv.heap"
	has run_segv_crash out "^signal: +SIGSEGV"
	run run_never 0 "$CLI" run --keep never --heap "$T/never.heap" -- /bin/true
	[ ! -e "$T/never.heap" ] && ok || fail "run: --keep never left a heap"
	run run_noexec 127 "$CLI" run --heap "$T/x.heap" -- /no/such/program

	# the PMEMPRELOAD_* environment is honoured where no flag overrides it, and run says which file it used
	mkdir "$T/env" && cd "$T/env" || exit 1
	PMEMPRELOAD_PATH=$T/env/p.%p.heap run env_pattern 0 "$CLI" run /bin/true
	local f
	f=$(sed -n 's/^pmempreload: \/bin\/true exited with status 0; heap file \(.*\)$/\1/p' "$T/env_pattern.err")
	case $f in "$T"/env/p.[0-9]*.heap) [ -s "$f" ] && ok || fail "run: $f missing" ;; *) fail "run: pattern file not named: $f" ;; esac
	[ ! -e "$T/env/true.heap" ] && ok || fail "run: PMEMPRELOAD_PATH ignored, ./true.heap written"
	run env_pattern_info 0 "$CLI" info --json "$f"
	json env_pattern_info "d['writer']['pid']==int('$f'.split('.')[-2])"
	PMEMPRELOAD_PATH=$T/env/never.heap PMEMPRELOAD_KEEP=never run env_never 0 "$CLI" run /bin/true
	has env_never err "^pmempreload: /bin/true exited with status 0; no heap file kept \(keep=never\)$"
	[ ! -e "$T/env/never.heap" ] && [ ! -e "$T/env/true.heap" ] && ok || fail "run: PMEMPRELOAD_KEEP=never ignored"
	PMEMPRELOAD_PATH=$T/env/crash.heap PMEMPRELOAD_KEEP=crash run env_crash_clean 0 "$CLI" run /bin/true
	[ ! -e "$T/env/crash.heap" ] && ok || fail "run: PMEMPRELOAD_KEEP=crash kept the heap of a clean exit"
	PMEMPRELOAD_PATH=$T/env/crash.heap PMEMPRELOAD_KEEP=crash run env_crash_segv 139 "$CLI" run /bin/sh -c 'kill -SEGV $$'
	has env_crash_segv err "; heap file $T/env/crash.heap$"
	has env_crash_segv err "^pmempreload: crash record in $T/env/crash.heap "
	PMEMPRELOAD_PATH=$T/env/ignored.heap PMEMPRELOAD_KEEP=never run env_flags 0 "$CLI" run --heap "$T/env/flag.heap" --keep always -- /bin/true
	[ -s "$T/env/flag.heap" ] && [ ! -e "$T/env/ignored.heap" ] && ok || fail "run: flags do not override the environment"
	PMEMPRELOAD_SIZE=64M run env_size 0 "$CLI" run --heap "$T/env/size.heap" -- /bin/true
	run env_size_info 0 "$CLI" info --json "$T/env/size.heap"
	json env_size_info "d['reserved']==64<<20"
	cd "$T" || exit 1

	# a runtime with its own allocator is named, with the remedy
	if command -v python3 >/dev/null; then
		PMEMPRELOAD_LOG=0 run py_warn 0 "$CLI" run --heap "$T/py.heap" -- python3 -c pass
		has py_warn err "^pmempreload: warning: python3[.0-9]* allocates most objects from its own arenas .*set PYTHONMALLOC=malloc"
		PMEMPRELOAD_LOG=0 PYTHONMALLOC=malloc run py_nowarn 0 "$CLI" run --heap "$T/py2.heap" -- python3 -c pass
		hasnt py_nowarn err "warning"
		printf '#!/usr/bin/env python3\npass\n' >"$T/script.py"
		chmod +x "$T/script.py"
		PMEMPRELOAD_LOG=0 run py_script 0 "$CLI" run --heap "$T/py3.heap" -- "$T/script.py"
		has py_script err "^pmempreload: warning: python3"
	fi
	run sh_nowarn 0 "$CLI" run --heap "$T/sh2.heap" -- /bin/sh -c true
	hasnt sh_nowarn err "warning"

	# an installed copy finds the installed preload, with no PMEMPRELOAD_LIB and outside the build tree
	if [ -n "${INSTALL_BINDIR:-}" ] && command -v meson >/dev/null &&
		meson install -C "$BUILD_ROOT" --no-rebuild --quiet --destdir "$T/inst" >"$T/install.log" 2>&1; then
		local ib=$T/inst$INSTALL_BINDIR il=$T/inst$INSTALL_LIBDIR
		[ -e "$il/libpmempreload.so" ] && ok || fail "install: no $il/libpmempreload.so"
		LD_LIBRARY_PATH=$il run installed 0 env -u PMEMPRELOAD_LIB "$ib/pmempreload" run --heap "$T/inst.heap" -- /bin/true
		has installed err "^pmempreload: /bin/true exited with status 0; heap file $T/inst.heap$"
		run installed_check 0 "$CLI" check "$T/inst.heap"
	else
		echo "note: install check skipped (no meson or install failed: $(tail -1 "$T/install.log" 2>/dev/null))"
	fi
}

"group_$GROUP"
echo "$GROUP: $CHECKS checks passed, $FAILS failed"
[ "$FAILS" -eq 0 ]
