#!/usr/bin/env bash
# Ingest end to end (render + embed + store) on the sample PDF with the tiny
# test model, so the model's share is small and the pipeline's own costs
# show: pages per minute, render and database-write seconds per page, and
# the write time of a full-size (1,030 x 128) page.
#
#   bench/ingest_speed.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${COLPALI_BENCH_DATA:-$HOME/.cache/colpali-bench/pg}
swift build -c release --product colpali --product colpali-bench >/dev/null 2>&1 || swift build -c release >/dev/null
export COLPALI_MIGRATIONS_DIR=$PWD/migrations
.build/release/colpali db start --data-dir "$data" >/dev/null
url=$(.build/release/colpali db url --data-dir "$data")
host=${url#*host=}; host=${host%%&*}
psql -h "$host" -U colpali -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'bench_ingest'" | grep -q 1 \
  || psql -h "$host" -U colpali -d postgres -qc "CREATE DATABASE bench_ingest"
HF_HUB_OFFLINE=1 .build/release/colpali-bench ingest --database-url "postgresql:///bench_ingest?host=$host&user=colpali" \
  --model Tests/Fixtures/models/hf-fp32 --pdf samples/annual-report.pdf --repeats "${1:-10}"
