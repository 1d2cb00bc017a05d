#!/usr/bin/env bash
# The colpali_ivf candidate index against the codes prefilter on the same
# synthetic ColPali-shaped corpus, in one run: index build time and size,
# then per first stage recall@10 after the exact rerank, how often the exact
# top 10 is inside the candidates, and first-stage / end-to-end latency.
#
#   bench/index_speed.sh [PAGES...]      (default: 20000 100000)
#   ROWS=64 bench/index_speed.sh 1000000  (pages of 64 rows around the same
#                                          topics: the first stage at a scale
#                                          whose full vectors would not fit)
#
# 100,000 pages are about 30 GB; the page table is made UNLOGGED for the load
# (benchmark only). Exact ground truth is kept in ~/.cache/colpali-bench
# between runs. Databases are kept for reruns; drop them with
#   psql "$(.build/release/colpali db url --data-dir ~/.cache/colpali-bench/pg)" -c 'DROP DATABASE bench_index_100000'
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[[ ${#sizes[@]} -eq 0 ]] && sizes=(20000 100000)
source bench/lib.sh
mkdir -p "$HOME/.cache/colpali-bench"
rows=${ROWS:-1030}
suffix=$([[ $rows == 1030 ]] || echo "_r$rows")
for pages in "${sizes[@]}"; do
  url=$(bench_database "bench_index_$pages$suffix")
  echo "== $pages pages of $rows rows"
  .build/release/colpali-bench index --database-url "$url" --pages "$pages" --rows-per-page "$rows" --unlogged \
    --truth-cache "$HOME/.cache/colpali-bench/truth-$pages$suffix.json" | tee "/tmp/colpali-bench-index-$pages$suffix.json"
done
python3 - "$suffix" "${sizes[@]}" <<'PY'
import json, sys
for n in sys.argv[2:]:
    r = json.load(open(f"/tmp/colpali-bench-index-{n}{sys.argv[1]}.json"))
    build = f"built in {r['build_seconds']:.0f} s, " if "build_seconds" in r else ""
    print(f"\n{n} pages of {r.get('rows_per_page', 1030)} rows: index {build}{r['index_bytes'] / 2**20:.1f} MiB ({r['index_bytes_per_page']:.0f} B/page, {r['lists']} lists); "
          f"exact full scan p50 {r['exact_p50_ms']:.0f} ms")
    print(f"{'stage':>6} {'probes':>6} {'cands':>6} {'recall@10':>9} {'top10 in':>9} {'first p50':>9} {'first p95':>9} {'p50 ms':>7} {'p95 ms':>7}")
    for x in r["runs"]:
        print(f"{x['stage']:>6} {x.get('probes', '-'):>6} {x['candidates']:>6} {x['recall_at_10']:>9.3f} {x['top10_in_candidates']:>9.3f} "
              f"{x['first_stage_p50_ms']:>9.1f} {x['first_stage_p95_ms']:>9.1f} {x['p50_ms']:>7.1f} {x['p95_ms']:>7.1f}")
PY
