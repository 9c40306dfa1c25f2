#!/usr/bin/env bash
# Builds gemm_bench if needed and times nnd_sgemm (and OpenBLAS, if the build found it) on the
# GEMM shapes of one training step.
#
#   scripts/bench/gemm.sh [gemm_bench options: -r REPS -m MS -k KERNEL -b BF16_FAMILY]
#   BUILD_DIR=build-bench THREADS=1,2 scripts/bench/gemm.sh -k avx2-fma
#
# -k picks the nndist kernel family (portable, avx2-fma, avx512; default: the best the CPU has),
# -b the bf16 family (portable, avx512-bf16, amx-bf16; the same default).
# BUILD_DIR (default: build) is configured as a Release build when it has no CMakeCache.txt.
# THREADS lists the thread counts (default 1,2); OPENBLAS_NUM_THREADS is set to the largest.
# OpenBLAS picks its kernel from the CPU; OPENBLAS_CORETYPE (e.g. Haswell) overrides it when its
# detection falls back to a generic core (the bench prints the core it uses).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
THREADS=${THREADS:-1,2}

if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$BUILD_DIR" --target gemm_bench -j "$(nproc)" >/dev/null

max=1
IFS=, read -r -a counts <<<"$THREADS"
for t in "${counts[@]}"; do
    if ((t > max)); then max=$t; fi
done
export OPENBLAS_NUM_THREADS=$max

exec "$BUILD_DIR/scripts/bench/gemm_bench" -t "$THREADS" "$@"
