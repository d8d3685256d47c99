-- sqlite_workload.sql: the sqlite3 CLI workload of scripts/bench.sh (an in-memory database, so the allocator, not
-- the disk, is measured). @ROWS@ is replaced by the row count before the run. Inserts rows one statement per row
-- batch through a recursive CTE, indexes them, queries, updates and deletes; the output is the same under every
-- allocator. Must never: read the clock or random(), or write a file.
PRAGMA cache_size = -65536;
CREATE TABLE item(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, payload BLOB, score REAL);
WITH RECURSIVE seq(i, r) AS (SELECT 1, 12345 UNION ALL
    SELECT i + 1, (r * 1103515245 + 12345) % 2147483648 FROM seq WHERE i < @ROWS@)
INSERT INTO item(id, grp, name, payload, score)
    SELECT i, r % 1000, printf('name-%010d-%d', r, i), zeroblob(16 + r % 200), (r % 100000) / 7.0 FROM seq;
CREATE INDEX item_grp ON item(grp, score);
CREATE INDEX item_name ON item(name);
SELECT count(*), sum(length(payload)), round(sum(score), 2) FROM item;
SELECT grp, count(*), round(avg(score), 3) FROM item GROUP BY grp ORDER BY count(*) DESC, grp LIMIT 5;
SELECT count(*) FROM item WHERE name LIKE 'name-00001%';
SELECT count(*) FROM item a JOIN item b ON a.grp = b.grp AND a.id + 1 = b.id;
UPDATE item SET name = name || '-x', score = score * 2 WHERE grp % 3 = 0;
DELETE FROM item WHERE grp % 5 = 1;
SELECT count(*), max(length(name)), round(sum(score), 2) FROM item;
SELECT group_concat(name, ',') IS NOT NULL FROM (SELECT name FROM item ORDER BY name DESC LIMIT 1000);
