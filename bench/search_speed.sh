#!/usr/bin/env bash
# Two-stage search (the client library's SQL: Hamming prefilter over the
# codes, then exact MaxSim of the candidates) against exact full-table MaxSim
# on synthetic ColPali-shaped pages: recall@10 and p50/p95 latency per
# oversampling factor.
#
#   bench/search_speed.sh [PAGES...]      (default: 10000 100000)
#
# 100,000 pages are about 55 GB in Postgres; the page table is made UNLOGGED
# for the load (benchmark only). Databases are kept for reruns; drop them with
#   psql "$(.build/release/colpali db url --data-dir ~/.cache/colpali-bench/pg)" -c 'DROP DATABASE bench_search_100000'
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[[ ${#sizes[@]} -eq 0 ]] && sizes=(10000 100000)
source bench/lib.sh
for pages in "${sizes[@]}"; do
  url=$(bench_database "bench_search_$pages")
  echo "== $pages pages"
  .build/release/colpali-bench search --database-url "$url" --pages "$pages" --unlogged \
    | tee "/tmp/colpali-bench-search-$pages.json"
done
python3 - "${sizes[@]}" <<'PY'
import json, sys
for n in sys.argv[1:]:
    r = json.load(open(f"/tmp/colpali-bench-search-{n}.json"))
    print(f"\n{n} pages: exact full-table p50 {r['exact_p50_ms']:.0f} ms, p95 {r['exact_p95_ms']:.0f} ms ({r['exact_timed']} queries)")
    print(f"{'oversampling':>12} {'candidates':>10} {'recall@10':>10} {'p50 ms':>8} {'p95 ms':>8} {'p95 vs exact':>13}")
    for row in r["two_stage"]:
        print(f"{row['oversampling']:>12} {row['candidates']:>10} {row['recall_at_10']:>10.3f} {row['p50_ms']:>8.0f} "
              f"{row['p95_ms']:>8.0f} {r['exact_p95_ms'] / max(row['p95_ms'], 0.1):>12.1f}x")
PY
