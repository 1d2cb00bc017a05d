#!/usr/bin/env bash
# The whole system end to end: system packages, build, the extension, a
# private local PostgreSQL, ingest samples/annual-report.pdf, search it.
#
#   scripts/quickstart.sh
#   COLPALI_MODEL=Tests/Fixtures/models/hf-fp32 scripts/quickstart.sh   # offline, tiny test model
#
# The default model is vidore/colpali-v1.2-hf, reused from the Hugging Face
# cache or downloaded into it on first use (5.9 GB). Data stays in ./.colpali.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi

echo "== system packages"
bash scripts/install-system-packages.sh
echo "== the colpali extension"
make -C sql >/dev/null
$sudo make -C sql install >/dev/null
echo "== building (release)"
swift build -c release 2>&1 | tail -1

bin=.build/release
export COLPALI_MIGRATIONS_DIR="$PWD/migrations"
if [[ "${COLPALI_MODEL:-}" == Tests/Fixtures/* ]]; then export HF_HUB_OFFLINE=1; fi
echo "== local database"
"$bin/colpali" db start
echo "== ingest samples/annual-report.pdf with ${COLPALI_MODEL:-vidore/colpali-v1.2-hf}"
"$bin/colpali-ingest" add --store-images jpeg samples/annual-report.pdf
echo "== search"
"$bin/colpali" search "What was the revenue in the third quarter?" --limit 4
echo
echo "Try: $bin/colpali search \"carts shipped per region\""
echo "     $bin/colpali explain \"carts shipped per region\" --page <page id> --out map.png"
echo "     psql \"\$($bin/colpali db url)\""
