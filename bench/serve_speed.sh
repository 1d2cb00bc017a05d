#!/usr/bin/env bash
# `colpali serve` under load against the same searches driven directly
# through the client library, in one run: wrk posts query multi-vectors
# (POST /v1/search, no model) with 32 connections to a server over the
# synthetic corpus; the baseline runs the same searches, same pool size,
# same concurrency, without HTTP. Prints both, errors, p99, and the ratio.
#
#   bench/serve_speed.sh [PAGES] [SECONDS] [codes|index]   (default: 2000 20 codes)
#
# `index` builds the colpali_ivf candidate index first: searches then take
# tens of milliseconds, so the server's own cost shows more.
set -euo pipefail
cd "$(dirname "$0")/.."
pages=${1:-2000}
seconds=${2:-20}
stage=${3:-codes}
concurrency=32
source bench/lib.sh
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk"; exit 1; }
url=$(bench_database "bench_serve_${pages}_$stage")
work=$(mktemp -d /tmp/colpali-bench-serve-XXXXXX)
server=""
trap '[[ -n "$server" ]] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT

if [[ $stage == index ]]; then
  .build/release/colpali-bench serve --database-url "$url" --pages "$pages" --seconds 0 --bodies "$work" >/dev/null
  .build/release/colpali index create --database-url "$url"
fi
echo "== direct: the client library, $concurrency concurrent searches, $seconds s"
.build/release/colpali-bench serve --database-url "$url" --pages "$pages" --concurrency "$concurrency" \
  --seconds "$seconds" --bodies "$work" | tee "$work/direct.json"

.build/release/colpali serve --no-model --port 0 --rate-limit 0 --database-url "$url" > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 60); do
  port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/serve.log"); [[ -n "$port" ]] && break; sleep 0.5
done
[[ -n "${port:-}" ]] || { cat "$work/serve.log"; exit 1; }

# wrk posts the query bodies round robin, and counts answers that are not 200.
cat > "$work/post.lua" <<LUA
local bodies, n = {}, 0
for i = 0, 1000 do
  local f = io.open("$work/query_" .. i .. ".json", "r")
  if not f then break end
  bodies[#bodies + 1] = f:read("*a"); f:close()
end
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", "/v1/search", {["Content-Type"] = "application/json"}, bodies[(counter % #bodies) + 1])
end
local bad = 0
response = function(status, headers, body) if status ~= 200 then bad = bad + 1 end end
done = function(summary, latency, requests)
  io.write(string.format("WRK_RESULT requests=%d errors=%d non200=%d rps=%.2f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, bad,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
echo "== HTTP: wrk, $concurrency connections, $seconds s, against http://127.0.0.1:$port"
wrk -t2 -c"$concurrency" -d"${seconds}s" --timeout 60s --latency -s "$work/post.lua" "http://127.0.0.1:$port" > "$work/wrk.txt"
cat "$work/wrk.txt"
python3 - "$work/direct.json" "$work/wrk.txt" <<'PY'
import json, re, sys
direct = json.load(open(sys.argv[1]))
line = [l for l in open(sys.argv[2]) if l.startswith("WRK_RESULT")][0]
wrk = dict((k, float(v)) for k, v in re.findall(r"(\w+)=([\d.]+)", line))
print(f"\ndirect (library): {direct['per_second']:.1f} searches/s, p50 {direct['p50_ms']:.1f} ms, p99 {direct['p99_ms']:.1f} ms")
print(f"HTTP (wrk):       {wrk['rps']:.1f} searches/s, p50 {wrk['p50_ms']:.1f} ms, p99 {wrk['p99_ms']:.1f} ms, "
      f"socket errors {int(wrk['errors'])}, non-200 {int(wrk['non200'])}")
print(f"throughput HTTP / direct: {wrk['rps'] / direct['per_second']:.2f} (goal >= 0.8)")
PY
