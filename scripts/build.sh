#!/usr/bin/env bash
# Configures and builds nndist in build/ (Release). Extra arguments go to cmake's configure step.
# CI=true adds -Werror.
set -euo pipefail
cd "$(dirname "$0")/.."
opts=(-DCMAKE_BUILD_TYPE=Release)
case "${CI:-}" in "" | false) ;; *) opts+=(-DNNDIST_WERROR=ON) ;; esac
cmake -S . -B build "${opts[@]}" "$@" > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j "$(nproc)" >> build.log 2>&1 || { tail -n 60 build.log; exit 1; }
rm -f build.log
