#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite through ctest.
# Extra arguments go to ctest (e.g. -L unit, -R resume). CI=true builds with -Werror.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
scripts/install-deps.sh build test
scripts/build.sh
cd build && ctest --output-on-failure --timeout 600 "$@"
