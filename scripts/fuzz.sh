#!/usr/bin/env bash
# Builds the libFuzzer target for the scoring kernels (fuzz/kernels_fuzzer.c,
# with AddressSanitizer and UndefinedBehaviorSanitizer) and runs it from the
# committed corpus for a fixed time. New inputs it finds go to a scratch
# directory, not into the repository; a crash leaves its input in fuzz/out/.
#   scripts/fuzz.sh [seconds]        (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
clang=${CLANG:-clang}
out=fuzz/out
mkdir -p "$out"
kernels=Sources/ColPaliKernels
"$clang" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$kernels/include" -I"$kernels" fuzz/kernels_fuzzer.c "$kernels"/*.c \
  -o "$out/kernels_fuzzer" 2> >(grep -v "Cannot export local symbol" >&2)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
echo "fuzzing the kernels for ${seconds}s (corpus fuzz/corpus/kernels)"
status=0
"$out/kernels_fuzzer" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$out/" \
  "$scratch" fuzz/corpus/kernels > "$out/last-run.log" 2>&1 || status=$?
grep -E "^#[0-9]+.*DONE|^stat::number_of_executed_units|^Done|ERROR|SUMMARY" "$out/last-run.log" || true
if [[ $status -ne 0 ]]; then
  tail -40 "$out/last-run.log"
  echo "the fuzzer found a failing input (in $out/); full log in $out/last-run.log"
fi
exit $status
