#!/usr/bin/env bash
# Native ColPali vs PyTorch (transformers ColPaliForRetrieval) at full size,
# on the same random-weight checkpoint, in one run: seconds per page, seconds
# per query, peak RSS, ratios; the native GEMMs' GFLOP/s against the measured
# peak of the instruction they run on (bench/peak_gflops.c); and how close
# the embeddings are.
#
#   bench/model_speed.sh [--skip-fp32] [--contended]
#
# --contended runs the bf16 pair a second time beside one CPU-bound process
# (a shell busy loop) and prints how much each one's time grew.
# COLPALI_GEMM=avx2|avx512bf16|amx picks the native bf16 kernel (default: the
# best this CPU runs). COLPALI_BENCH_PAGES / COLPALI_BENCH_QUERIES: how many
# are timed (default 2 and 8). COLPALI_BENCH_ROUNDS=N runs each quiet pair N
# times, alternating, and prints every round's ratios and their medians: on
# a shared machine whose speed drifts from minute to minute, one pair's
# ratio can land anywhere.
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
pages=${COLPALI_BENCH_PAGES:-2}
queries=${COLPALI_BENCH_QUERIES:-8}
rounds=${COLPALI_BENCH_ROUNDS:-1}
if ! [[ $rounds =~ ^[1-9][0-9]?$ ]]; then
  echo "COLPALI_BENCH_ROUNDS: a whole number of rounds from 1 to 99, not '$rounds'" >&2
  exit 2
fi
dtypes="bf16 fp32"
contended=0
for arg in "$@"; do
  case "$arg" in
    --skip-fp32) dtypes="bf16" ;;
    --contended) contended=1 ;;
    *) echo "usage: bench/model_speed.sh [--skip-fp32] [--contended]" >&2; exit 2 ;;
  esac
done
out=$(mktemp -d /tmp/colpali-bench-model-XXXXXX)

if [[ ! -f "$model/model.safetensors.index.json" ]]; then
  echo "== writing the full-size random checkpoint to $model"
  "$python" scripts/fixtures/make_fullsize_checkpoint.py "$model"
fi
echo "== building"
swift build -c release --product colpali-bench >/dev/null
cc -O2 -pthread -o "$out/peak_gflops" bench/peak_gflops.c
echo "== peak of each matrix instruction, $threads threads"
"$out/peak_gflops" "$threads" 2 | tee "$out/peak.jsonl"
"$python" - "$out/page.png" <<'PY'
import sys
import numpy as np
from PIL import Image
Image.fromarray((np.random.default_rng(0).random((1100, 850, 3)) * 255).astype("uint8")).save(sys.argv[1])
PY

# run_pair DTYPE SUFFIX: PyTorch then native, results in $out/{torch,native}-DTYPE-SUFFIX.json.
run_pair() {
  local dtype=$1 suffix=$2
  echo "== pytorch $dtype $suffix"
  "$python" bench/pytorch_colpali.py --model "$model" --dtype "$dtype" --threads "$threads" --pages "$pages" \
    --queries "$queries" --image "$out/page.png" --dump "$out/torch-$dtype" 2>/dev/null | tail -1 \
    | tee "$out/torch-$dtype-$suffix.json"
  echo "== native $dtype $suffix"
  COLPALI_PROFILE=1 .build/release/colpali-bench model --model "$model" --precision "$dtype" --threads "$threads" \
    --pages "$pages" --queries "$queries" --image "$out/page.png" --dump "$out/native-$dtype" \
    2>"$out/native-$dtype-$suffix.profile" | tee "$out/native-$dtype-$suffix.json"
}

for dtype in $dtypes; do
  for ((round = 1; round <= rounds; round++)); do
    if ((round == 1)); then run_pair "$dtype" quiet; else run_pair "$dtype" "quiet$round"; fi
  done
done
if [[ $contended == 1 ]]; then
  echo "== the bf16 pair again, beside one CPU-bound process"
  bash -c 'while :; do :; done' &
  busy=$!
  trap 'kill $busy 2>/dev/null || true' EXIT
  run_pair bf16 contended
  kill $busy
fi

"$python" - "$out" "$model" "$contended" $dtypes <<'PY'
import glob, json, os, re, sys
import numpy as np
out, model, contended, dtypes = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4:]
checkpoint_gb = sum(os.path.getsize(f) for f in glob.glob(os.path.join(model, "*.safetensors"))) / 1e9
load = lambda name: json.load(open(os.path.join(out, name + ".json")))
peaks = {p["instruction"]: p["gflops"] for p in map(json.loads, open(os.path.join(out, "peak.jsonl")))}
instruction = {"amx": "amx-tdpbf16ps", "avx512bf16": "vdpbf16ps-zmm", "avx2": "fp32-fma-ymm",
               "openblas-sgemm": "fp32-fma-zmm" if "fp32-fma-zmm" in peaks else "fp32-fma-ymm"}

def gemm_rate(profile):
    """GFLOP/s of the Linear layers over every forward pass (COLPALI_PROFILE lines)."""
    seconds = flop = 0.0
    for line in open(profile):
        m = re.match(r"\s+linear\s.*?\s([\d.]+) s\s+([\d.]+) GFLOP/s", line)
        if m:
            seconds += float(m.group(1))
            flop += float(m.group(1)) * float(m.group(2))
    return flop / seconds if seconds else float("nan")

print()
print(f"{'':14}{'s/page':>10}{'s/query':>10}{'peak RSS GB':>13}{'load s':>9}")
for d in dtypes:
    for who in ("torch", "native"):
        r = load(f"{who}-{d}-quiet")
        print(f"{who + ' ' + d:14}{r['seconds_per_page']:>10}{r['seconds_per_query']:>10}{r['peak_rss_gb']:>13}{r['load_seconds']:>9}")
print()
for d in dtypes:
    t, n = load(f"torch-{d}-quiet"), load(f"native-{d}-quiet")
    print(f"{d}: native takes {n['seconds_per_page'] / t['seconds_per_page']:.2f}x PyTorch's time per page, "
          f"{n['seconds_per_query'] / t['seconds_per_query']:.2f}x per query (goal: at most 0.75); "
          f"RSS {n['peak_rss_gb'] / t['peak_rss_gb']:.2f}x; page {n['page_tokens']} x {n['page_dim']}")
    rounds = sorted(glob.glob(os.path.join(out, f"native-{d}-quiet*.json")))
    if len(rounds) > 1:
        pages, queries = [], []
        for path in rounds:
            suffix = os.path.basename(path)[len(f"native-{d}-"):-len(".json")]
            t, n = load(f"torch-{d}-{suffix}"), load(f"native-{d}-{suffix}")
            pages.append(n["seconds_per_page"] / t["seconds_per_page"])
            queries.append(n["seconds_per_query"] / t["seconds_per_query"])
            print(f"{d} {suffix}: torch {t['seconds_per_page']} s/page {t['seconds_per_query']} s/query, native "
                  f"{n['seconds_per_page']} and {n['seconds_per_query']}: {pages[-1]:.2f}x, {queries[-1]:.2f}x")
        print(f"{d}: over {len(rounds)} alternated rounds, native takes a median {np.median(pages):.2f}x PyTorch's "
              f"time per page (range {min(pages):.2f}-{max(pages):.2f}), {np.median(queries):.2f}x per query "
              f"({min(queries):.2f}-{max(queries):.2f})")
        n = load(f"native-{d}-quiet")
    kernel = n.get("gemm_kernel", "?")
    rate = gemm_rate(os.path.join(out, f"native-{d}-quiet.profile"))
    peak = peaks.get(instruction.get(kernel, ""), float("nan"))
    print(f"{d}: GEMM kernel {kernel}: {rate:.0f} GFLOP/s over the Linear layers, "
          f"{rate / peak:.0%} of the {instruction.get(kernel, '?')} peak ({peak:.0f} GFLOP/s)")
if "bf16" in dtypes:
    rss = load("native-bf16-quiet")["peak_rss_gb"] * 1024**3 / 1e9
    print(f"native bf16 peak RSS is {rss / checkpoint_gb:.2f}x the bf16 checkpoint ({checkpoint_gb:.2f} GB; goal: at most 1.3x)")
if contended:
    for who in ("torch", "native"):
        q, c = load(f"{who}-bf16-quiet"), load(f"{who}-bf16-contended")
        print(f"beside one busy process, {who} bf16 took {c['seconds_per_page'] / q['seconds_per_page']:.2f}x its "
              f"quiet time per page, {c['seconds_per_query'] / q['seconds_per_query']:.2f}x per query")
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
