#!/usr/bin/env bash
# The colpali_ivf index survives a crash: a private cluster builds an index,
# checkpoints, then inserts, deletes and vacuums (all WAL-logged as generic
# records), and is killed without a shutdown checkpoint (SIGQUIT to the
# postmaster, as `pg_ctl stop -m immediate`). After recovery every page must
# come back through the index exactly once, and a page inserted after the
# checkpoint must be found.
#
#   scripts/check-index-recovery.sh COLPALI_BINARY
set -euo pipefail
colpali=$1
work=$(mktemp -d /tmp/colpali-recovery-XXXXXX)
chmod 755 "$work"
data=(--data-dir "$work/.colpali")
cleanup() {
  "$colpali" db stop "${data[@]}" >/dev/null 2>&1 || true
  [[ -n "${KEEP_WORK:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT

"$colpali" db start "${data[@]}" >/dev/null
url=$("$colpali" db url "${data[@]}")
sql() { psql "$url" -v ON_ERROR_STOP=1 -qAtX "$@"; }

sql <<'SQL'
CREATE FUNCTION rec_row(seed int) RETURNS real[] LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg((v / sqrt(sum_sq))::real ORDER BY k) FROM (
        SELECT k, v, sum(v * v) OVER () AS sum_sq FROM (
            SELECT k, x - floor(x) - 0.5 AS v
            FROM generate_series(1, 8) k,
                 LATERAL (SELECT sin(seed * 12.9898 + k * 78.233) * 43758.5453 AS x) r) s) t
$$;
CREATE FUNCTION rec_page(page int) RETURNS real[] LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(rec_row(page * 100 + j) ORDER BY j) FROM generate_series(1, 4) j
$$;
CREATE TABLE rec_pages (id int PRIMARY KEY, embedding multihalfvec(8));
INSERT INTO rec_pages SELECT i, rec_page(i) FROM generate_series(1, 300) i;
CREATE INDEX rec_index ON rec_pages USING colpali_ivf (embedding) WITH (lists = 16);
CHECKPOINT;
INSERT INTO rec_pages SELECT i, rec_page(i) FROM generate_series(1000, 2000) i;
DELETE FROM rec_pages WHERE id % 7 = 0;
VACUUM rec_pages;
INSERT INTO rec_pages SELECT i, rec_page(i) FROM generate_series(3000, 3100) i;
SQL

pid=$(head -1 "$work/.colpali/pg/data/postmaster.pid")
kill -QUIT "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then echo "the server did not stop" >&2; exit 1; fi
"$colpali" db start "${data[@]}" >/dev/null

# The question as a constant (a psql variable), so the index can order by it.
result=$(sql <<'SQL'
SELECT array_agg(rec_row(305000 + j) ORDER BY j) AS question FROM generate_series(2, 4) j \gset
SET enable_seqscan = off;
SET enable_sort = off;
WITH every_page AS (SELECT id FROM rec_pages ORDER BY embedding <#> :'question'::real[])
SELECT (SELECT count(*) FROM every_page) = (SELECT count(*) FROM rec_pages),
       (SELECT count(DISTINCT id) FROM every_page) = (SELECT count(*) FROM rec_pages),
       (SELECT id FROM (SELECT id, embedding FROM rec_pages ORDER BY embedding <#> :'question'::real[] LIMIT 10) c
        ORDER BY maxsim(:'question'::real[], embedding) DESC LIMIT 1);
SQL
)
plan=$(sql <<'SQL'
SELECT array_agg(rec_row(305000 + j) ORDER BY j) AS question FROM generate_series(2, 4) j \gset
SET enable_seqscan = off;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT id FROM rec_pages ORDER BY embedding <#> :'question'::real[];
SQL
)
if [[ "$plan" != *"Index Scan using rec_index"* ]]; then
  echo "the check does not go through the index: $plan" >&2
  exit 1
fi
if [[ "$result" != "t|t|3050" ]]; then
  echo "after recovery the index gave '$result', expected 't|t|3050' (every page once; page 3050 found)" >&2
  exit 1
fi
echo "the index came back complete after a crash"
