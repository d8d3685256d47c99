#!/bin/bash
# t-sqlite.sh: sqlite3 creates a table, inserts 100k rows, queries; same results; heap checked.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 not installed (apt package sqlite3)"
cat >"$T/q.sql" <<'SEOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
INSERT INTO t SELECT x, 'name' || (x * 7919 % 100003), x * 0.5 FROM c;
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(v), min(name), max(name) FROM t;
SELECT name, count(*) FROM t GROUP BY substr(name, 1, 6) ORDER BY 2 DESC LIMIT 3;
SELECT id FROM t WHERE name = 'name12345';
SEOF
rm -f "$T/db1" "$T/db2"
sqlite3 "$T/db1" <"$T/q.sql" >"$T/sqlite.plain"
pre sqlite3 "$T/db2" <"$T/q.sql" >"$T/sqlite.pre" 2>"$T/sqlite.pre.err" || fail "sqlite3 failed under the preload"
cmp -s "$T/sqlite.plain" "$T/sqlite.pre" || { diff "$T/sqlite.plain" "$T/sqlite.pre" >&2; fail "sqlite3 output differs"; }
echo "sqlite: output identical ($(wc -l <"$T/sqlite.pre") lines)"
check_heaps 1
landed sqlite3 1000
