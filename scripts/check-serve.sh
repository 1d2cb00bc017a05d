#!/usr/bin/env bash
# `colpali serve` end to end, as a user meets it: a database with a sample
# document, the server (tiny fixture model) and the ingest daemon running,
# then
#   1. the search page in headless Chromium (Tests/Browser): search, ranked
#      thumbnails, heat map, upload, searchable after ingest;
#   2. schemathesis: the committed OpenAPI document checked against the real
#      server (status codes, content types, response schemas, no 5xx). It
#      deletes and uploads at random, so it runs last.
# Screenshots go to $COLPALI_SCREENSHOTS (default .build/browser-screenshots).
#
# Usage: scripts/check-serve.sh SERVER_URL   (a PostgreSQL URL of a server
#        with the colpali extension installed; a database is made and dropped)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
server_url=$1
bin="$root/.build/debug"
model="$root/Tests/Fixtures/models/hf-fp32"
screenshots=${COLPALI_SCREENSHOTS:-$root/.build/browser-screenshots}

# Chromium and its WebDriver from Debian; selenium and schemathesis from PyPI.
bash scripts/install-system-packages.sh --browser
if [[ ! -x .venv-ci/bin/schemathesis || ! -x .venv-ci/bin/python ]] || ! .venv-ci/bin/python -c "import selenium" 2>/dev/null; then
  python3 -m venv .venv-ci
  .venv-ci/bin/pip install -q selenium==4.51.0 schemathesis==4.32.5
fi

work=$(mktemp -d /tmp/colpali-serve-XXXXXX)
chmod 755 "$work"
database="serve_check_$$"
url=$(python3 -c "
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(p.scheme + '://' + p.netloc + '/' + sys.argv[2] + ('?' + p.query if p.query else ''))" "$server_url" "$database")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$server_url" -qc "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql "$server_url" -qc "CREATE DATABASE $database"
"$bin/colpali" migrate --database-url "$url" >/dev/null
"$bin/colpali-ingest" add samples/annual-report.pdf --model "$model" --store-images jpeg --database-url "$url" >/dev/null

token="check-serve-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo "read,write $token checker" > "$work/keys"
mkdir "$work/uploads"
"$bin/colpali" serve --port 0 --model "$model" --api-keys "$work/keys" --upload-dir "$work/uploads" --rate-limit 0 \
  --database-url "$url" > "$work/serve.log" 2>&1 &
pids+=($!)
"$bin/colpali-ingest" run --allow-root "$work/uploads" --model "$model" --store-images jpeg --poll-interval 1 \
  --database-url "$url" > "$work/ingest.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/serve.log")
  [[ -n "$port" ]] && break
  sleep 0.5
done
if [[ -z "${port:-}" ]]; then echo "colpali serve did not start:"; cat "$work/serve.log"; exit 1; fi
base="http://127.0.0.1:$port"
curl -fsS "$base/healthz" >/dev/null

echo "-- the search page in headless Chromium"
cp samples/annual-report.pdf "$work/second-report.pdf"
echo "% a second copy, so that its hash differs" >> "$work/second-report.pdf"
if ! .venv-ci/bin/python Tests/Browser/search_page_test.py --url "$base/" --key "$token" \
    --upload "$work/second-report.pdf" --screenshots "$screenshots"; then
  echo "server log:"; tail -30 "$work/serve.log"; echo "ingest log:"; tail -30 "$work/ingest.log"; exit 1
fi

echo "-- schemathesis against $base/openapi.json"
if ! .venv-ci/bin/schemathesis run "$base/openapi.json" --url "$base" -H "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples 25 --seed 1 --no-color; then
  echo "server log:"; tail -50 "$work/serve.log"; exit 1
fi
