#!/usr/bin/env bash
# Search on a Citus cluster against one server holding the same synthetic
# ColPali-shaped corpus: p50/p95 latency of two-stage search (the client
# library's SQL) and exact search, recall@10, and the cluster's ratio to the
# single server, at each corpus size.
#
#   COLPALI_BENCH_CITUS_URL=postgresql://postgres@127.0.0.1:9700/colpali bench/citus_speed.sh [PAGES...]
#
# (default: 2000 10000 pages). The Citus database must be one for benchmarks
# only: its colpali tables are distributed, emptied and refilled. The single
# server is the benchmark's private cluster (bench/lib.sh). Setting up a
# cluster: docs/scale-out.md.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${COLPALI_BENCH_CITUS_URL:?set COLPALI_BENCH_CITUS_URL to a Citus coordinator database used only for benchmarks (docs/scale-out.md)}"
sizes=("$@")
[[ ${#sizes[@]} -eq 0 ]] && sizes=(2000 10000)
shards=${COLPALI_BENCH_SHARDS:-8}
source bench/lib.sh
common=(--queries 20 --exact-queries 5 --oversampling 10)
for pages in "${sizes[@]}"; do
  echo "== $pages pages: one server"
  .build/release/colpali-bench search --database-url "$(bench_database "bench_citus_single_$pages")" --pages "$pages" \
    "${common[@]}" >"/tmp/colpali-bench-citus-single-$pages.json"
  echo "== $pages pages: Citus ($shards shards)"
  .build/release/colpali-bench search --database-url "$COLPALI_BENCH_CITUS_URL" --distribute --shard-count "$shards" \
    --pages "$pages" "${common[@]}" >"/tmp/colpali-bench-citus-cluster-$pages.json"
done
python3 - "${sizes[@]}" <<'PY'
import json, sys
print(f"\n{'pages':>7} {'where':>8} {'two-stage p50':>14} {'p95':>7} {'recall@10':>10} {'exact p50':>10} {'p95':>7}")
for n in sys.argv[1:]:
    runs = {w: json.load(open(f"/tmp/colpali-bench-citus-{w}-{n}.json")) for w in ("single", "cluster")}
    for where, r in runs.items():
        t = r["two_stage"][0]
        print(f"{n:>7} {where:>8} {t['p50_ms']:>12.0f}ms {t['p95_ms']:>5.0f}ms {t['recall_at_10']:>10.3f} "
              f"{r['exact_p50_ms']:>8.0f}ms {r['exact_p95_ms']:>5.0f}ms")
    s, c = runs["single"], runs["cluster"]
    print(f"{n:>7} {'ratio':>8} {c['two_stage'][0]['p50_ms'] / max(s['two_stage'][0]['p50_ms'], 0.1):>13.2f}x "
          f"{'':>7} {'':>10} {c['exact_p50_ms'] / max(s['exact_p50_ms'], 0.1):>9.2f}x  (cluster / one server)")
PY
