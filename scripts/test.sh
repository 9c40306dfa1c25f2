#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite through ctest.
# Extra arguments go to ctest (e.g. -L unit, -R resume). CI=true builds with -Werror.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
scripts/install-deps.sh build test
scripts/build.sh
# As many tests at once as there are cores: the tests that bound a duration or load the whole
# machine are RUN_SERIAL (tests/CMakeLists.txt) and still run alone.
(cd build && ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@")

# In CI (or with NNDIST_TEST_SANITIZE=1) the suite runs again under AddressSanitizer and
# UndefinedBehaviorSanitizer, leaks included (tests/lsan.supp lists what Open MPI keeps until
# exit): every unit test, and the script tests that reach code the unit tests do not (the
# gradient's four summing paths, train, eval, lr-find, resume, the signal stops, the bad-input
# error paths at one rank). The others run the same code at more ranks or more times, or time
# whole jobs, which a sanitizer slows several times over; the pass stays within minutes.
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
sanitized='^(test_.*|script_(equivalence|train_eval|lrfind|resume|signals_commands|gradient_overflow|bad_input))$'
(cd build-asan && BAD_INPUT_RANKS=1 ctest --output-on-failure -j "$(nproc)" --timeout 900 \
    -R "$sanitized" "$@")
echo "== fuzzing the option parser and the dataset/checkpoint validation briefly (scripts/fuzz.sh)"
scripts/fuzz.sh 20
