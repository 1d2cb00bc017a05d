#!/usr/bin/env bash
# The colpali extension on synthetic ColPali-shaped pages (1,030 x 128 each,
# queries of 20 x 128) at 2,000 and 20,000 pages: exact MaxSim in Postgres vs
# the same kernel in memory vs the binary prefilters vs MaxSim in plain SQL,
# pages per second and ratios, plus prefilter recall@10 after an exact rerank.
#
#   bench/extension_speed.sh [PAGES...]      (default: 2000 20000)
#   COLPALI_BENCH_SHARED_BUFFERS=256MB bench/extension_speed.sh 2000
#
# Uses a private cluster under $COLPALI_BENCH_DATA (default
# ~/.cache/colpali-bench/pg), one database per size; loaded data is kept, so
# later runs skip the load. 20,000 pages take about 11 GB of disk.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[[ ${#sizes[@]} -eq 0 ]] && sizes=(2000 20000)
make -C sql >/dev/null && { [[ $(id -u) -eq 0 ]] && make -C sql install >/dev/null || sudo make -C sql install >/dev/null; }
source bench/lib.sh
# Shared buffers as a server with this much RAM would have (a quarter), or
# COLPALI_BENCH_SHARED_BUFFERS (256MB: what `colpali db start` gives a new cluster).
shared_buffers=${COLPALI_BENCH_SHARED_BUFFERS:-4GB}
if [[ $(psql -h "$bench_host" -U colpali -d postgres -tAc "SHOW shared_buffers") != "$shared_buffers" ]]; then
  psql -h "$bench_host" -U colpali -d postgres -qc "ALTER SYSTEM SET shared_buffers = '$shared_buffers'"
  .build/release/colpali db stop --data-dir "$bench_data" >/dev/null
  .build/release/colpali db start --data-dir "$bench_data" >/dev/null
fi

# A cluster made before `colpali db start` asked for one parallel worker fewer
# than the CPUs still has PostgreSQL's 2: give it what a new one gets.
workers=$(( $(nproc) - 1 )); ((workers < 1)) && workers=1; ((workers > 8)) && workers=8
if [[ $(psql -h "$bench_host" -U colpali -d postgres -tAc "SHOW max_parallel_workers_per_gather") != "$workers" ]]; then
  psql -h "$bench_host" -U colpali -d postgres -qc "ALTER SYSTEM SET max_parallel_workers_per_gather = $workers" -c "SELECT pg_reload_conf()" >/dev/null
fi

for pages in "${sizes[@]}"; do
  url=$(bench_database "bench_extension_$pages")
  echo "== $pages pages"
  .build/release/colpali-bench extension --database-url "$url" --pages "$pages" \
    | tee "/tmp/colpali-bench-extension-$pages.json"
done
python3 - "${sizes[@]}" <<'PY'
import json, sys
print()
print(f"{'pages':>7} {'exact pg':>10} {'bare kernel':>12} {'pg/bare':>8} {'hamming':>10} {'x exact':>8} {'binary':>9} {'x exact':>8} {'plain SQL':>10} {'exact/plain':>12}")
for n in sys.argv[1:]:
    r = json.load(open(f"/tmp/colpali-bench-extension-{n}.json"))
    print(f"{n:>7} {r['exact_in_postgres_pages_per_s']:>10.0f} {r['exact_bare_kernel_pages_per_s']:>12.0f} {r['in_postgres_vs_bare']:>8} "
          f"{r['hamming_prefilter_pages_per_s']:>10.0f} {r['hamming_vs_exact']:>8} {r['binary_prefilter_pages_per_s']:>9.0f} "
          f"{r['binary_vs_exact']:>8} {r['plain_sql_pages_per_s']:>10} {r['exact_vs_plain_sql']:>12.0f}")
print(f"\n{'pages':>7} {'GB/1000 pages':>14} {'fp32 GB/1000':>13} {'exact pg half':>14} {'exact pg fp32':>14} {'half/fp32':>10} {'top-10 overlap':>15}")
for n in sys.argv[1:]:
    r = json.load(open(f"/tmp/colpali-bench-extension-{n}.json"))
    print(f"{n:>7} {r['storage_gb_per_1000_pages']:>14} {r['fp32_storage_gb_per_1000_pages']:>13} {r['exact_in_postgres_pages_per_s']:>14.0f} "
          f"{r['exact_in_postgres_fp32_pages_per_s']:>14.0f} {r['exact_half_vs_fp32']:>10} {r['exact_top10_half_vs_fp32_overlap']:>15}")
print(f"\n{'pages':>7} {'exact pg, best':>15} {'bare half kernel':>17} {'pg/bare half':>13} {'bare planes kernel':>19} {'pg/bare planes':>15}")
print("        (each side's best of 3 alternated rounds; the streaming kernel over the same pages in memory:")
print("         16-bit rows, and sign planes as stored; the pg/bare ratios above use the same bests)")
for n in sys.argv[1:]:
    r = json.load(open(f"/tmp/colpali-bench-extension-{n}.json"))
    print(f"{n:>7} {r['exact_in_postgres_best_of_3_pages_per_s']:>15.0f} {r['exact_bare_half_kernel_pages_per_s']:>17.0f} {r['in_postgres_vs_bare_half']:>13} "
          f"{r['exact_bare_planes_kernel_pages_per_s']:>19.0f} {r['in_postgres_vs_bare_planes']:>15}")
print("\n        the same, paired question by question (each exact scan, then the bare planes kernel for the")
print("        same question; 5 rounds), in PG / bare planes: median (p25-p75, min-max), threads of the bare kernel")
for n in sys.argv[1:]:
    r = json.load(open(f"/tmp/colpali-bench-extension-{n}.json"))
    p = r["in_postgres_vs_bare_planes_paired"]
    print(f"{n:>7} {p['median']:>6} ({p['p25']}-{p['p75']}, {p['min']}-{p['max']}) over {p['pairs']} pairs, {r['bare_kernel_threads']} threads")
print(f"\n{'pages':>7} {'GB/1000 planes':>15} {'GB/1000 rows+codes':>19} {'exact planes':>13} {'exact rows':>11} {'hamming planes':>15} {'hamming codes col':>18} {'same top 10':>12}")
print("        (this schema's pages against the same pages as before migration 0009, pages/s, best of 3 alternated)")
for n in sys.argv[1:]:
    r = json.load(open(f"/tmp/colpali-bench-extension-{n}.json"))
    print(f"{n:>7} {r['storage_gb_per_1000_pages']:>15} {r['rows_layout_storage_gb_per_1000_pages']:>19} "
          f"{r['exact_in_postgres_best_of_3_pages_per_s']:>13.0f} {r['rows_layout_exact_in_postgres_pages_per_s']:>11.0f} "
          f"{r['planes_hamming_prefilter_best_of_3_pages_per_s']:>15.0f} {r['rows_layout_hamming_prefilter_pages_per_s']:>18.0f} "
          f"{str(r['exact_top10_planes_equals_rows_layout']):>12}")
print("\nHamming prefilter, then the exact rerank of its candidates over half or fp32 pages:")
print("recall@10 against the exact fp32 top 10, prefilter p50 ms, rerank p50 ms (mean)")
for n in sys.argv[1:]:
    r = json.load(open(f"/tmp/colpali-bench-extension-{n}.json"))["two_stage_by_format"]
    for c in (20, 50, 100):
        h, f = r[f"half@{c}"], r[f"fp32@{c}"]
        print(f"{n:>7} {c:>4} candidates: prefilter {h['prefilter_p50_ms']:.0f} ms; "
              f"half {h['recall_at_10_vs_exact_fp32']:.3f}, rerank {h['rerank_p50_ms']:.1f} ({h['rerank_mean_ms']:.1f}) ms; "
              f"fp32 {f['recall_at_10_vs_exact_fp32']:.3f}, rerank {f['rerank_p50_ms']:.1f} ({f['rerank_mean_ms']:.1f}) ms")
print("\n(pages per second; recall@10 of prefilter + exact rerank vs exact, by candidates:)")
for n in sys.argv[1:]:
    r = json.load(open(f"/tmp/colpali-bench-extension-{n}.json"))
    rec, sec = r["recall_at_10"], r["two_stage_seconds_per_query"]
    for name in ("hamming", "binary"):
        cells = "  ".join(f"{c}: {rec[f'{name}@{c}']:.3f} ({sec[f'{name}@{c}'] * 1000:.0f} ms)" for c in (20, 50, 100, 200))
        print(f"{n:>7} {name:8} {cells}")
PY
