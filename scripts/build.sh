#!/usr/bin/env bash
# Configures and builds nndist in build/ (Release), or in NNDIST_BUILD_DIR. Extra arguments go to
# cmake's configure step. CI=true adds -Werror. The test suite is built when cmocka is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
opts=(-DCMAKE_BUILD_TYPE=Release)
case "${CI:-}" in "" | false) ;; *) opts+=(-DNNDIST_WERROR=ON) ;; esac
dir=${NNDIST_BUILD_DIR:-build}
log=$dir.log
cmake -S . -B "$dir" "${opts[@]}" "$@" > "$log" 2>&1 || { cat "$log"; exit 1; }
grep -F 'cmocka not found' "$log" | sed 's/^-- //' || true
cmake --build "$dir" -j "$(nproc)" >> "$log" 2>&1 || { tail -n 60 "$log"; exit 1; }
rm -f "$log"
