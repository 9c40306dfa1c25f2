#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite through ctest.
# Extra arguments go to ctest (e.g. -L unit, -R resume). CI=true builds with -Werror.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
scripts/install-deps.sh build test
scripts/build.sh
(cd build && ctest --output-on-failure --timeout 600 "$@")

# In CI (or with NNDIST_TEST_SANITIZE=1) the suite runs again under AddressSanitizer and
# UndefinedBehaviorSanitizer, leaks included (tests/lsan.supp lists what Open MPI keeps until
# exit). Left out there: the kill tests (they time whole jobs, and a sanitizer changes that) and
# the optimizer trajectory tests (hundreds of numerically identical runs; every optimizer's code
# still runs under the sanitizers in test_optim).
# Then each libFuzzer target runs for 20 s.
sanitize=${NNDIST_TEST_SANITIZE:-0}
case "${CI:-false}" in "" | false | 0) ;; *) sanitize=1 ;; esac
[ "$sanitize" = 1 ] || exit 0
echo "== the suite again under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNNDIST_SANITIZE=ON \
    -DNNDIST_WERROR=ON > build-asan.log 2>&1 || { cat build-asan.log; exit 1; }
cmake --build build-asan -j "$(nproc)" >> build-asan.log 2>&1 || { tail -n 60 build-asan.log; exit 1; }
rm -f build-asan.log
# Two tests at a time: most of a sanitized test's time is process start-up, not the CPU.
(cd build-asan && ctest --output-on-failure -j "$(nproc)" --timeout 900 -E 'script_fault_kill|script_optim_reference|script_optim_resume|script_build_without_cmocka' "$@")
echo "== fuzzing the option parser and the dataset/checkpoint validation briefly (scripts/fuzz.sh)"
scripts/fuzz.sh 20
