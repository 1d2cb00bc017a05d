#!/usr/bin/env bash
# The colpali_ivf first stage at a million full-size pages (1,030 x 128),
# against brute force over the same pages. Their vectors (264 GB in half
# precision) are never stored: the table holds page numbers and the index is
# built over an expression, colpali_bench_page(id), that makes page i on
# demand (bench/million/: the same construction as the other benchmarks'
# synthetic corpus). The index is what a stored corpus would get; the first
# stage reads only the index and the table's TIDs.
#
#   bench/million_pages.sh [PAGES]      (default 1000000)
#   QUERIES=30 THREADS=2 PROBES="4 8 16" CANDIDATES=100
#
# First it checks, at 2,000 pages, that the brute force agrees with the
# server's own ORDER BY maxsim over the generated pages. The database (and
# its index) and the truth file are kept for reruns; drop the database with
#   psql "$(.build/release/colpali db url --data-dir ~/.cache/colpali-bench/pg)" -c 'DROP DATABASE bench_million_1000000'
set -euo pipefail
cd "$(dirname "$0")/.."
pages=${1:-1000000}
queries=${QUERIES:-30}
threads=${THREADS:-$(nproc)}
probes=${PROBES:-4 8 16}
candidates=${CANDIDATES:-100}
for n in "$pages" "$queries" "$threads" "$candidates" $probes; do
  [[ $n =~ ^[1-9][0-9]{0,8}$ ]] || { echo "million_pages.sh: '$n' is not a whole number from 1 to 999,999,999" >&2; exit 2; }
done
source bench/lib.sh
cache=$HOME/.cache/colpali-bench
mkdir -p "$cache"

# The generator, built for this CPU, where the server (an unprivileged
# account when run as root) can read it. It stays there after the run: the
# index's expression calls it when the table is written to or reindexed.
lib=/tmp/colpali-bench-million
mkdir -p "$lib"
chmod 755 "$lib"
cc -O3 -march=native -fno-math-errno -fPIC -shared -Wall -Werror -I"$(pg_config --includedir-server)" -Isql/src \
  -ISources/ColPaliKernels/include bench/million/pg_synthetic.c -o "$lib/colpali_bench.so"
cc -O3 -march=native -fno-math-errno -Wall -Werror -Ibench/million -ISources/ColPaliKernels/include -ISources/ColPaliKernels \
  bench/million/truth.c Sources/ColPaliKernels/*.c -lpthread -lm -o "$lib/truth"
chmod 644 "$lib/colpali_bench.so"

# prepare DATABASE PAGES: the functions, the page numbers, the queries.
prepare() {
  psql -h "$bench_host" -U colpali -d "$1" -qX -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION IF NOT EXISTS colpali;
CREATE OR REPLACE FUNCTION colpali_bench_page(bigint) RETURNS multihalfvec
  AS '$lib/colpali_bench.so', 'colpali_bench_page' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OR REPLACE FUNCTION colpali_bench_query(integer, bigint) RETURNS real[]
  AS '$lib/colpali_bench.so', 'colpali_bench_query' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TABLE IF NOT EXISTS bench_pages (id bigint PRIMARY KEY);
INSERT INTO bench_pages SELECT generate_series(0, $2 - 1) WHERE NOT EXISTS (SELECT FROM bench_pages);
DROP TABLE IF EXISTS bench_queries;
CREATE TABLE bench_queries AS SELECT n AS number, colpali_bench_query(n, $2) AS query FROM generate_series(0, $queries - 1) n;
SQL
  [[ $(psql -h "$bench_host" -U colpali -d "$1" -tAXc "SELECT count(*) FROM bench_pages") == "$2" ]] \
    || { echo "bench_pages in $1 does not hold $2 pages: drop the database" >&2; exit 1; }
}

echo "== brute force against the server's ORDER BY maxsim, 2,000 pages"
check=$(bench_database bench_million_check)
prepare bench_million_check 2000
"$lib/truth" 2000 "$queries" "$threads" 2>/dev/null > "$lib/check.json"
psql -h "$bench_host" -U colpali -d bench_million_check -tAX -v ON_ERROR_STOP=1 -c "
  SELECT q.number, (SELECT string_agg(id::text, ',' ORDER BY rank) FROM (
    SELECT id, row_number() OVER (ORDER BY maxsim(q.query, colpali_bench_page(id)) DESC, id) AS rank
    FROM bench_pages) r WHERE rank <= 10)
  FROM bench_queries q ORDER BY q.number" > "$lib/check.sql.txt"
python3 - "$lib/check.json" "$lib/check.sql.txt" <<'PY'
import json, sys
truth = json.load(open(sys.argv[1]))["truth"]
server = [list(map(int, line.split("|")[1].split(","))) for line in open(sys.argv[2]) if line.strip()]
differ = [q for q, (a, b) in enumerate(zip(truth, server)) if a != b]
if len(server) != len(truth) or differ:
    sys.exit(f"brute force and the server disagree on queries {differ}")
print(f"agree on all {len(truth)} queries")
PY

echo "== $pages pages"
url=$(bench_database "bench_million_$pages")
prepare "bench_million_$pages" "$pages"
build=""
if [[ $(psql -h "$bench_host" -U colpali -d "bench_million_$pages" -tAXc \
      "SELECT coalesce(colpali_ivf_lists(to_regclass('bench_pages_ivf')), 0) > 0") != t ]]; then
  started=$(date +%s.%N)
  psql -h "$bench_host" -U colpali -d "bench_million_$pages" -qX -v ON_ERROR_STOP=1 <<'SQL'
DROP INDEX IF EXISTS bench_pages_ivf;
SET maintenance_work_mem = '2GB';
CREATE INDEX bench_pages_ivf ON bench_pages USING colpali_ivf (colpali_bench_page(id)) WITH (lists = 1024);
SQL
  build=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.0f}')" "$started" "$(date +%s.%N)")
  echo "index built in $build s"
fi
truth=$cache/million-truth-$pages-$queries.json
if [[ ! -s $truth ]]; then
  "$lib/truth" "$pages" "$queries" "$threads" > "$truth.tmp" && mv "$truth.tmp" "$truth"
fi
# shellcheck disable=SC2086
.build/release/colpali-bench first-stage --database-url "$url" --index bench_pages_ivf --table bench_pages \
  --queries-table bench_queries --truth "$truth" --candidates "$candidates" --probes $probes \
  | tee "/tmp/colpali-bench-million-$pages.json"
python3 - "/tmp/colpali-bench-million-$pages.json" "$build" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
built = f", built in {sys.argv[2]} s" if sys.argv[2] else ""
print(f"\n{r['pages']:,} pages of 1,030 rows: index {r['index_bytes'] / 2**20:.1f} MiB "
      f"({r['index_bytes'] / r['pages']:.0f} B/page){built}; brute force {r['brute_force_seconds']:.0f} s for {r['queries']} queries")
# The brute force scores all queries in one pass over the pages: its time a query is amortised.
brute_ms = r["brute_force_seconds"] * 1000 / r["queries"]
print(f"{'probes':>6} {'cands':>6} {'top10 found':>11} {'whole top10':>11} {'p50 ms':>7} {'p95 ms':>7} {'brute/p50':>9}")
for x in r["runs"]:
    print(f"{x['probes']:>6} {x['candidates']:>6} {x['top10_found']:>11.3f} {x['queries_with_whole_top10']:>11.3f} "
          f"{x['p50_ms']:>7.1f} {x['p95_ms']:>7.1f} {brute_ms / x['p50_ms']:>9.0f}")
PY
