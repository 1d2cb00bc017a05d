#!/usr/bin/env bash
# The native model's bf16 GEMM kernel against OpenBLAS sgemm, side by side
# in one run, on the full-size model's Linear shapes (1,030 page tokens):
#
#   bench/gemm_speed.sh [THREADS]        (default: all cores)
#
# COLPALI_GEMM=avx2|avx512bf16|amx chooses our kernel (default: the best
# this CPU runs). Name the CPU (lscpu) with the numbers you record.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
out=$(mktemp -d /tmp/colpali-bench-gemm-XXXXXX)
# clang, as SwiftPM builds the kernels (GCC -O2 keeps the microkernel's
# accumulators in memory: a third of the speed).
"${CC:-clang}" -O2 -pthread -I Sources/ColPaliMath/include -I Sources/ColPaliKernels/include \
  -I /usr/include/x86_64-linux-gnu/openblas-pthread \
  bench/gemm_speed.c Sources/ColPaliMath/gemm_*.c Sources/ColPaliMath/elementwise.c Sources/ColPaliKernels/*.c -lopenblas -lm -o "$out/gemm_speed"
echo "== $(lscpu | sed -n 's/^Model name: *//p'), $threads threads"
# Gemma gate+up, Gemma down, SigLIP MLP up and down, SigLIP qkv.
for shape in "1030 32768 2048" "1030 2048 16384" "1030 4304 1152" "1030 1152 4304" "1030 3456 1152"; do
  "$out/gemm_speed" "$threads" $shape 3
done
