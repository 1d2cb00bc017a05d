#!/usr/bin/env bash
# The whole system end to end: system packages, build, the extension, your
# local PostgreSQL, ingest samples/annual-report.pdf, search it.
#
#   scripts/quickstart.sh
#   COLPALI_MODEL=Tests/Fixtures/models/hf-fp32 scripts/quickstart.sh   # offline, tiny test model
#
# The default model is vidore/colpali-v1.2-hf, reused from the Hugging Face
# cache or downloaded into it on first use (5.9 GB). The model is checked
# first: nothing is built or started when it cannot be had. The database is
# your local one (~/.local/share/colpali, or COLPALI_DATA_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
offline="COLPALI_MODEL=Tests/Fixtures/models/hf-fp32 scripts/quickstart.sh"

model=${COLPALI_MODEL:-vidore/colpali-v1.2-hf}
offline_env=""
echo "== model: $model"
if [[ -d "$model" ]]; then
  model=$(cd "$model" && pwd)                     # absolute: the suggestions below work from anywhere
  offline_env="HF_HUB_OFFLINE=1 "
  export HF_HUB_OFFLINE=1
else
  hub_cache=${HF_HUB_CACHE:-${HF_HOME:-$HOME/.cache/huggingface}/hub}
  repo=${model%@*}
  if compgen -G "$hub_cache/models--${repo//\//--}/snapshots/*/config.json" >/dev/null; then
    echo "   found in the Hugging Face cache ($hub_cache)"
  elif curl -sS -o /dev/null --max-time 10 -I "${HF_ENDPOINT:-https://huggingface.co}/api/models/$repo" 2>/dev/null; then
    echo "   not cached yet: it downloads on first use (5.9 GB) into $hub_cache"
  else
    echo "quickstart: the model $model is not in the Hugging Face cache ($hub_cache) and the Hub cannot be reached." >&2
    echo "quickstart: nothing was built or started. Offline, with the small test model: $offline" >&2
    exit 1
  fi
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "== system packages"
bash scripts/install-system-packages.sh
echo "== the colpali extension"
bash scripts/install-extension.sh
echo "== building (release; the first build takes a while, progress below)"
# One product per invocation: SwiftPM builds only the last of several --product.
swift build -c release --product colpali
swift build -c release --product colpali-ingest

bin="$root/.build/release"
export PATH="$bin:$PATH" COLPALI_MODEL="$model"
started_here=""
stop_if_started() {
  if [[ -n "$started_here" ]]; then
    echo "quickstart: stopping the local database this run started" >&2
    colpali db stop >/dev/null || true
  fi
}
trap 'status=$?; if [[ $status -ne 0 ]]; then stop_if_started; fi' EXIT

echo "== local database"
if ! colpali db status >/dev/null 2>&1; then started_here=1; fi
colpali db start
echo "== ingest samples/annual-report.pdf with $model"
added=$(colpali-ingest add --store-images jpeg samples/annual-report.pdf)
echo "$added"
document=$(sed -n 's/.*as document \([0-9]*\).*/\1/p; s/.*: document \([0-9]*\),.*/\1/p' <<< "$added" | head -1)
echo "== search"
colpali search "What was the revenue in the third quarter?" --limit 4
started_here=""

cat <<NEXT

Next, in this shell or another (the same binaries and model):
  export PATH="$bin:\$PATH" ${offline_env}COLPALI_MODEL="$model"
  colpali search "carts shipped per region"
  colpali explain "carts shipped per region" --document ${document:-1} --page 2 -o map.png
  psql "\$(colpali db url)"
  colpali db stop        # when you are done; \`colpali db start\` brings it back
NEXT
