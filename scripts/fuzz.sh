#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (in build-fuzz/) and runs each for SECONDS (default 60)
# from its seed corpus in tests/fuzz/: the option parser (fuzz_cli) and the dataset/checkpoint
# validation (fuzz_h5). New inputs go to build-fuzz/corpus-*; crashes to build-fuzz/crash-*.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
scripts/install-deps.sh build test fuzz
if [ ! -f build-fuzz/CMakeCache.txt ]; then
    CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNNDIST_FUZZ=ON \
        -DNNDIST_TESTS=OFF > build-fuzz.log 2>&1 || { cat build-fuzz.log; exit 1; }
fi
cmake --build build-fuzz -j "$(nproc)" --target fuzz_cli fuzz_h5 > build-fuzz.log 2>&1 ||
    { tail -n 40 build-fuzz.log; exit 1; }
rm -f build-fuzz.log
export ASAN_OPTIONS=detect_leaks=0   # libhdf5 keeps global state until exit
# blame ARTIFACT TARGET: "libhdf5" when the crash happens inside libhdf5's own code (of the
# frames that are libhdf5's or nndist's sources, the innermost is libhdf5's), "alone" when the
# input does not crash when run by itself (the crash needed the state libhdf5 kept from the
# inputs before it in the same fork-mode job: no stack to blame), else "nndist".
# An out-of-memory input is rerun with a malloc limit (512 MB, a quarter of the fuzzing RSS
# limit) below a generous RSS limit, so that the huge allocation is caught with its stack:
# malformed sizes make libhdf5 ask for 20 GB at once, or for 1.9 GB next to what the run holds.
blame() {
    local frame
    frame=$(timeout 120 "build-fuzz/tests/fuzz/fuzz_$2" -timeout=10 -rss_limit_mb=16384 -malloc_limit_mb=512 "$1" 2>&1 | grep -E '^ +#[0-9]+ ' |
        grep -E 'libhdf5|/src/[a-z0-9_]+\.c:|/tests/fuzz/fuzz_[a-z0-9]+\.c:' | head -n 1 || true)
    case "$frame" in *libhdf5*) echo libhdf5 ;; "") echo alone ;; *) echo nndist ;; esac
}

status=0
for target in cli h5; do
    corpus=build-fuzz/corpus-$target
    mkdir -p "$corpus"
    rm -f build-fuzz/crash-$target-*
    # Fork mode keeps going after a crash, so one libhdf5 decoder bug does not end the run.
    set +e
    build-fuzz/tests/fuzz/fuzz_$target -fork=1 -ignore_crashes=1 -max_total_time="$SECONDS_EACH" \
        -timeout=10 -rss_limit_mb=2048 -artifact_prefix=build-fuzz/crash-$target- \
        "$corpus" "tests/fuzz/corpus_$target" > "build-fuzz/fuzz_$target.log" 2>&1
    set -e
    runs=$(grep -oE '^#[0-9]+' "build-fuzz/fuzz_$target.log" | tail -n 1 | tr -d '#' || true)
    ours=0 theirs=0 unreproduced=0
    for crash in build-fuzz/crash-$target-*; do
        [ -e "$crash" ] || continue
        verdict=$(blame "$crash" "$target")
        if [ "$verdict" = libhdf5 ]; then
            theirs=$((theirs + 1))
        elif [ "$verdict" = alone ]; then
            unreproduced=$((unreproduced + 1))
            echo "fuzz_$target: a crash that does not recur when its input runs alone: $crash" \
                "(kept; its job's report is in build-fuzz/fuzz_$target.log)"
        else
            ours=$((ours + 1))
            echo "fuzz_$target: crash in nndist code: $crash"
            "build-fuzz/tests/fuzz/fuzz_$target" "$crash" 2>&1 | grep -E '^ +#[0-9]+ |ERROR' | head -n 12
        fi
    done
    echo "fuzz_$target: ${runs:-?} executions in ${SECONDS_EACH} s; crashes in nndist code: $ours;" \
        "inside libhdf5's decoders: $theirs; not reproducible alone: $unreproduced"
    [ $ours -eq 0 ] || status=1
done
exit $status
