#!/usr/bin/env bash
# Ingest end to end (render + embed + store) on the sample PDF with the tiny
# test model, so the model's share is small and the pipeline's own costs
# show: pages per minute, render and database-write seconds per page, and
# the write time of a full-size (1,030 x 128) page.
#
#   bench/ingest_speed.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
HF_HUB_OFFLINE=1 .build/release/colpali-bench ingest --database-url "$(bench_database bench_ingest)" \
  --model Tests/Fixtures/models/hf-fp32 --pdf samples/annual-report.pdf --repeats "${1:-10}"
