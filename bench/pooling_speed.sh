#!/usr/bin/env bash
# Hierarchical token pooling of full-size pages (1,030 x 128, factor 3):
# ours (colpali-bench pooling) and colpali-engine's HierarchicalTokenPooler
# on the same page shape in the same run, seconds per page and the ratio.
#
#   bench/pooling_speed.sh [FACTOR]                 (default 3)
#   COLPALI_POOLING_PYTHON=/work/pyenv/pooling/bin/python bench/pooling_speed.sh
#
# The reference needs torch, scipy and colpali-engine (scripts/fixtures/README.md,
# "Token pooling"); without COLPALI_POOLING_PYTHON only ours is timed.
set -euo pipefail
cd "$(dirname "$0")/.."
factor=${1:-3}
swift build -c release --product colpali-bench >/dev/null 2>&1
ours=$(.build/release/colpali-bench pooling --factor "$factor")
echo "native: $ours"
python=${COLPALI_POOLING_PYTHON:-}
if [[ -z $python ]]; then echo "(no COLPALI_POOLING_PYTHON: colpali-engine not timed)"; exit 0; fi
reference=$(OMP_NUM_THREADS=2 "$python" - "$factor" <<'PY' 2>/dev/null
import importlib.util, json, os, sys, time, types
import numpy as np, torch
spec = importlib.util.find_spec("colpali_engine")
package = types.ModuleType("colpali_engine"); package.__path__ = [os.path.dirname(spec.origin)]
sys.modules["colpali_engine"] = package
from colpali_engine.compression.token_pooling.hierarchical_token_pooling import HierarchicalTokenPooler
rng = np.random.default_rng(42)
times = []
for _ in range(3):
    x = rng.standard_normal((1030, 128)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    started = time.perf_counter()
    out = HierarchicalTokenPooler().pool_embeddings([torch.from_numpy(x)], pool_factor=int(sys.argv[1]))
    times.append(time.perf_counter() - started)
print(json.dumps({"pooled_rows": int(out[0].shape[0]), "seconds_per_page": round(sorted(times)[1], 3)}))
PY
)
echo "colpali-engine: $reference"
python3 - "$ours" "$reference" <<'PY'
import json, sys
ours, ref = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"native / colpali-engine time per page: {ours['seconds_per_page'] / ref['seconds_per_page']:.2f}")
PY
