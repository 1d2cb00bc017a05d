#!/usr/bin/env bash
# Native ColPali vs PyTorch (transformers ColPaliForRetrieval) at full size,
# on the same random-weight checkpoint, in one run: seconds per page, seconds
# per query, peak RSS, ratios; and how close the embeddings are.
#
#   bench/model_speed.sh [--skip-fp32]
#
# Needs the Python reference environment (scripts/fixtures/requirements.txt)
# at $COLPALI_REF_PYTHON (default /work/pyenv/ref/bin/python) and writes the
# 5.9 GB checkpoint to $COLPALI_BENCH_MODEL (default
# ~/.cache/colpali-bench/colpali-random-fullsize) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${COLPALI_REF_PYTHON:-/work/pyenv/ref/bin/python}
model=${COLPALI_BENCH_MODEL:-$HOME/.cache/colpali-bench/colpali-random-fullsize}
threads=${COLPALI_THREADS:-2}
dtypes="bf16 fp32"
[[ "${1:-}" == "--skip-fp32" ]] && dtypes="bf16"
out=$(mktemp -d /tmp/colpali-bench-model-XXXXXX)

if [[ ! -f "$model/model.safetensors.index.json" ]]; then
  echo "== writing the full-size random checkpoint to $model"
  "$python" scripts/fixtures/make_fullsize_checkpoint.py "$model"
fi
echo "== building"
swift build -c release --product colpali-bench >/dev/null
"$python" - "$out/page.png" <<'PY'
import sys
import numpy as np
from PIL import Image
Image.fromarray((np.random.default_rng(0).random((1100, 850, 3)) * 255).astype("uint8")).save(sys.argv[1])
PY

for dtype in $dtypes; do
  echo "== pytorch $dtype"
  "$python" bench/pytorch_colpali.py --model "$model" --dtype "$dtype" --threads "$threads" \
    --image "$out/page.png" --dump "$out/torch-$dtype" 2>/dev/null | tail -1 | tee "$out/torch-$dtype.json"
  echo "== native $dtype"
  .build/release/colpali-bench model --model "$model" --precision "$dtype" --threads "$threads" \
    --image "$out/page.png" --dump "$out/native-$dtype" | tee "$out/native-$dtype.json"
done

"$python" - "$out" "$model" $dtypes <<'PY'
import glob, json, os, sys
import numpy as np
out, model, dtypes = sys.argv[1], sys.argv[2], sys.argv[3:]
checkpoint_gb = sum(os.path.getsize(f) for f in glob.glob(os.path.join(model, "*.safetensors"))) / 1e9
load = lambda name: json.load(open(os.path.join(out, name + ".json")))
print()
print(f"{'':14}{'s/page':>10}{'s/query':>10}{'peak RSS GB':>13}{'load s':>9}")
for d in dtypes:
    for who in ("torch", "native"):
        r = load(f"{who}-{d}")
        print(f"{who + ' ' + d:14}{r['seconds_per_page']:>10}{r['seconds_per_query']:>10}{r['peak_rss_gb']:>13}{r['load_seconds']:>9}")
print()
for d in dtypes:
    t, n = load(f"torch-{d}"), load(f"native-{d}")
    print(f"{d}: native is {t['seconds_per_page'] / n['seconds_per_page']:.2f}x PyTorch per page, "
          f"{t['seconds_per_query'] / n['seconds_per_query']:.2f}x per query, RSS {n['peak_rss_gb'] / t['peak_rss_gb']:.2f}x; "
          f"page {n['page_tokens']} x {n['page_dim']}")
if "bf16" in dtypes:
    rss = load("native-bf16")["peak_rss_gb"] * 1024**3 / 1e9
    print(f"native bf16 peak RSS is {rss / checkpoint_gb:.2f}x the bf16 checkpoint ({checkpoint_gb:.2f} GB)")
reference = "fp32" if "fp32" in dtypes else "bf16"
for kind in ("page", "query"):
    ref = np.load(os.path.join(out, f"torch-{reference}", f"{kind}.npy"))
    for d in dtypes:
        ours = np.load(os.path.join(out, f"native-{d}", f"{kind}.npy"))
        cos = (ours * ref).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
        print(f"{kind} native {d} vs torch {reference}: max |diff| {np.abs(ours - ref).max():.2e}, "
              f"min per-token cosine {cos.min():.6f}")
PY
echo "(raw results in $out)"
