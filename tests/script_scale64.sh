#!/usr/bin/env bash
# Correctness at the scale users run: 64 ranks (oversubscribed, one thread each) train the same
# model as 1 rank, within float round-off (1e-5 relative). With N >= 1024 the data has 64 stripes,
# so every one of the 64 ranks owns one and computes part of every batch; a batch that is not a
# multiple of 64 and a short last batch give the ranks unequal (or no) samples in a step.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
# lib.sh's run with a longer bound: 64 sanitized processes take over a minute to start and exit.
run() {
    local np=$1
    shift
    timeout -k 5 240 "$MPIEXEC" -np "$np" --oversubscribe --bind-to none "$NNDIST" "$@"
}
# check NAME N BATCH ARGS...: the run at 1 rank and at 64 ranks agree.
check() {
    local name=$1 n=$2 batch=$3
    shift 3
    "$MAKE_DATASET" "$WORK/$name.h5" "$n" 8 3 7
    local args=(train --data "$WORK/$name.h5" --layers "8,16,3" --batch "$batch" --no-progress "$@")
    run 1 "${args[@]}" --save "$WORK/$name-1.h5" > "$WORK/$name-1.log" ||
        fail "$name: 1 rank failed: $(tail -n 3 "$WORK/$name-1.log")"
    run 64 "${args[@]}" --save "$WORK/$name-64.h5" > "$WORK/$name-64.log" ||
        fail "$name: 64 ranks failed: $(tail -n 3 "$WORK/$name-64.log")"
    grep -q "64 ranks x 1 thread" "$WORK/$name-64.log" || fail "$name: not 64 ranks: $(head -n 1 "$WORK/$name-64.log")"
    "$COMPARE_MODELS" "$WORK/$name-1.h5" "$WORK/$name-64.h5" 1e-5 ||
        fail "$name: 64 ranks differ from 1 rank by more than 1e-5"
}
# 1024 samples: 64 stripes of 16; a batch of 128 takes 2 samples from each rank's stripe.
# (Under AddressSanitizer a 64-rank run takes about 70 s here, mostly the leak check at exit of
# 64 processes: only the uneven case runs there.)
if [ -z "${ASAN_OPTIONS:-}" ]; then
    check even 1024 128 --steps 20 --lr 0.1 --optimizer momentum
fi
# 1530 samples, batch 100 (1 or 2 samples per stripe, a last batch of 30): unequal shares.
check uneven 1530 100 --epochs 2 --optimizer adam --lr 0.01
echo "1 passed, 0 failed"
