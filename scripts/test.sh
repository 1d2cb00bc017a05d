#!/usr/bin/env bash
# Sets up and runs every test: system packages, the Postgres extension
# (built, installed, pg_regress) and the Swift package (built once, then
# `swift test`), against a private PostgreSQL this script starts and always
# stops. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/install-system-packages.sh --test
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi

echo "== building and installing the extension"
bash scripts/install-extension.sh

echo "== building the Swift package (once)"
swift build --build-tests

# A private cluster for this run, under /tmp so that the server account can
# reach it when we run as root (a fresh clone may sit in a 0700 directory).
work=$(mktemp -d /tmp/colpali-test-XXXXXX)
chmod 755 "$work"
export COLPALI_MIGRATIONS_DIR="$root/migrations"
colpali="$root/.build/debug/colpali"
data=(--data-dir "$work/.colpali")
cleanup() {
  "$colpali" db stop "${data[@]}" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== starting a private PostgreSQL"
"$colpali" db start "${data[@]}"
url=$("$colpali" db url "${data[@]}")
socket_dir=${url#*host=}
socket_dir=${socket_dir%%&*}

echo "== pg_regress (make installcheck)"
if ! PGHOST="$socket_dir" PGUSER=colpali make -C sql installcheck; then
  cat sql/test/regression.diffs 2>/dev/null || true
  exit 1
fi

echo "== the candidate index after a crash (WAL replay)"
bash scripts/check-index-recovery.sh "$colpali"

echo "== fuzzing the kernels (fixed budget; corpus in fuzz/corpus)"
bash scripts/fuzz.sh 60

echo "== deployment files (no Docker engine here)"
bash scripts/check-deploy.sh

echo "== colpali serve: the search page in Chromium, the OpenAPI document against the server"
COLPALI_SCREENSHOTS="$root/.build/browser-screenshots" bash scripts/check-serve.sh "$url"

echo "== swift test"
COLPALI_TEST_DATABASE_URL="$url" swift test

echo "== all tests passed"
