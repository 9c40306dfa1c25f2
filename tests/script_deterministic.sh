#!/usr/bin/env bash
# The deterministic mode (docs/design.md, "Deterministic mode"): with --deterministic the saved
# weights and optimizer state are bitwise the same on any rank count up to --units, any thread
# count and on emulated nodes, for every optimizer path (elementwise, momentum, adam, lamb's
# trust ratios, --clip-norm's norm) and every hidden activation, also after a resume on another
# rank count, and so are the losses printed each epoch. The mutation NNDIST_FAULT=floatsum (each
# rank's units added in float first) must break the equality, which shows the comparison can
# fail.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
"$MAKE_DATASET" "$WORK/small.h5" 2048 12 4 7
"$MAKE_DATASET" "$WORK/val.h5" 300 12 4 8
"$MAKE_DATASET" "$WORK/wide.h5" 4096 64 4 9
# Under AddressSanitizer every process starts several times slower: the matrix there is 1, 2 and
# 3 ranks and one optimizer; the rest checks results, not memory, and runs in the first pass.
full=1
if [ -n "${ASAN_OPTIONS:-}" ]; then full=""; fi

# same NAME FILE...: every file holds the tensors of the first, bit for bit.
same() {
    local name=$1 ref=$2
    shift 2
    "$CKPT_DIGEST" "$ref" > "$WORK/ref.digest" || fail "$name: cannot read $ref"
    for f in "$@"; do
        "$CKPT_DIGEST" "$f" | cmp -s - "$WORK/ref.digest" ||
            fail "$name: $(basename "$f") differs from $(basename "$ref")"
    done
}
# losses LOG: the epoch lines' loss, accuracy and validation figures.
losses() { grep '^epoch' "$1" | sed 's/  [0-9]* samples\/s.*//'; }

# The optimizers on 1, 2, 3, 4, 5 and 8 ranks (8 units: 3 and 5 ranks own 2 or 3 of them).
optimizers=("sgd --lr 0.1" "momentum --lr 0.05" "adam --lr 0.01" "lamb --lr 0.01"
            "momentum --lr 0.05 --clip-norm 0.5" "lamb --lr 0.01 --clip-norm 0.5")
ranks=(1 2 3 4 5 8)
if [ -z "$full" ]; then optimizers=("lamb --lr 0.01 --clip-norm 0.5"); ranks=(1 2 3); fi
for k in "${!optimizers[@]}"; do
    read -ra opt <<< "${optimizers[$k]}"
    for np in "${ranks[@]}"; do
        run "$np" train --data "$WORK/small.h5" --val "$WORK/val.h5" --layers 12,16,8,4 \
            --batch 100 --epochs 2 --optimizer "${opt[@]}" --deterministic --no-progress \
            --save "$WORK/opt$k-$np.h5" > "$WORK/opt$k-$np.log" ||
            fail "${optimizers[$k]} at $np ranks: $(tail -n 2 "$WORK/opt$k-$np.log")"
        losses "$WORK/opt$k-$np.log" | cmp -s - <(losses "$WORK/opt$k-1.log") ||
            fail "${optimizers[$k]} at $np ranks: the epoch lines differ from 1 rank's"
    done
    files=()
    for np in "${ranks[@]}"; do files+=("$WORK/opt$k-$np.h5"); done
    same "${optimizers[$k]}" "${files[@]}"
done
grep -q "deterministic: 8 units" "$WORK/opt0-3.log" || fail "no deterministic line at start"
# Every optimizer, under a schedule with warmup, at 1 and 3 ranks.
if [ -n "$full" ]; then
    for name in sgd momentum nesterov rmsprop adam adamw adamax nadam adagrad adadelta lars lamb; do
        for np in 1 3; do
            run $np train --data "$WORK/small.h5" --layers 12,16,8,4 --batch 100 --steps 30 \
                --optimizer $name --lr 0.01 --lr-schedule cosine --warmup-steps 5 --deterministic \
                --no-progress --save "$WORK/all-$name-$np.h5" > /dev/null || fail "$name at $np ranks"
        done
        same "$name, cosine with warmup" "$WORK/all-$name-1.h5" "$WORK/all-$name-3.h5"
    done
fi
# Every hidden activation (gelu, gelu-tanh and silu through the Z they keep), at 1 and 3 ranks.
if [ -n "$full" ]; then
    for act in sigmoid gelu gelu-tanh "leaky-relu --leaky-slope 0.2" silu "elu --elu-alpha 0.5"; do
        name=${act%% *}
        for np in 1 3; do
            # shellcheck disable=SC2086 # the activation's words
            run $np train --data "$WORK/small.h5" --layers 12,16,8,4 --batch 100 --steps 30 \
                --activation $act --lr 0.1 --deterministic --no-progress \
                --save "$WORK/act-$name-$np.h5" > /dev/null || fail "--activation $act at $np ranks"
        done
        same "--activation $act" "$WORK/act-$name-1.h5" "$WORK/act-$name-3.h5"
    done
fi
# The update replicated (every rank updates all the weights) and sharded by reduce-scatter give
# the bits of the sharded update in node-shared memory (the default on one node, above).
for mode in replicated reduce-scatter; do
    NNDIST_UPDATE=$mode run 3 train --data "$WORK/small.h5" --layers 12,16,8,4 --batch 100 \
        --epochs 2 --optimizer lamb --lr 0.01 --clip-norm 0.5 --deterministic \
        --save "$WORK/$mode.h5" > "$WORK/$mode.log" || fail "$mode: train failed"
    same "$mode update" "$WORK/opt$((${#optimizers[@]} - 1))-1.h5" "$WORK/$mode.h5"
done
grep -q "in node-shared memory" "$WORK/opt0-3.log" || fail "3 ranks: not the shared-memory path"
grep -q "by reduce-scatter" "$WORK/reduce-scatter.log" || fail "NNDIST_UPDATE=reduce-scatter ignored"

# The mutation: units added in float on each rank first. 1 rank and 3 ranks then differ.
for np in 1 3; do
    NNDIST_FAULT='floatsum@*:0' run $np train --data "$WORK/small.h5" --layers 12,16,8,4 \
        --batch 100 --epochs 2 --lr 0.1 --deterministic --save "$WORK/mutant-$np.h5" > /dev/null ||
        fail "mutant at $np ranks: train failed"
done
if "$CKPT_DIGEST" "$WORK/mutant-1.h5" | cmp -s - <("$CKPT_DIGEST" "$WORK/mutant-3.h5"); then
    fail "the float-sum mutation left 1 and 3 ranks bitwise equal: the comparison cannot fail"
fi

if [ -n "$full" ]; then
    # Threads that split the products (a model large enough for the GEMM to go parallel), with
    # tanh, at 1, 2 and 4 ranks x 1 and 2 threads.
    wide=(train --data "$WORK/wide.h5" --layers 64,256,128,4 --activation tanh --batch 256
          --steps 24 --optimizer adam --lr 0.003 --deterministic --no-progress)
    for np in 1 2 4; do
        for th in 1 2; do
            run $np "${wide[@]}" --threads $th --save "$WORK/wide-$np-$th.h5" > /dev/null ||
                fail "wide at $np ranks x $th threads failed"
        done
    done
    same "threads" "$WORK/wide-1-1.h5" "$WORK/wide-1-2.h5" "$WORK/wide-2-1.h5" "$WORK/wide-2-2.h5" \
        "$WORK/wide-4-1.h5" "$WORK/wide-4-2.h5"

    # Resumed on another rank count mid-epoch (20 steps per epoch): 4 -> 2 at step 17 and
    # 2 -> 3 at step 23, both bitwise the uninterrupted run, checkpoints included.
    resume=(train --data "$WORK/small.h5" --layers 12,16,8,4 --batch 100 --optimizer adam
            --lr 0.01 --deterministic --no-progress)
    run 1 "${resume[@]}" --steps 50 --checkpoint-dir "$WORK/whole" --save "$WORK/whole.h5" \
        > "$WORK/whole.log" || fail "uninterrupted run failed"
    for pair in "4 2 17" "2 3 23"; do
        read -r first second at <<< "$pair"
        dir="$WORK/resume-$first-$second"
        run "$first" "${resume[@]}" --steps "$at" --checkpoint-dir "$dir" > /dev/null ||
            fail "$first ranks to step $at failed"
        run "$second" "${resume[@]}" --steps 50 --checkpoint-dir "$dir" --resume auto \
            --save "$dir/final.h5" > "$dir/log" || fail "resume on $second ranks failed"
        grep -q "resuming from" "$dir/log" || fail "$first -> $second: did not resume"
        same "resume $first -> $second" "$WORK/whole.h5" "$dir/final.h5"
        same "last checkpoint $first -> $second" "$(ls "$WORK"/whole/ckpt-*.h5 | tail -n 1)" \
            "$(ls "$dir"/ckpt-*.h5 | tail -n 1)"
        tail -n 1 < <(losses "$dir/log") | cmp -s - <(losses "$WORK/whole.log" | tail -n 1) ||
            fail "$first -> $second: the last epoch line differs from the uninterrupted run's"
    done
    # Resuming a deterministic checkpoint without the mode is refused, naming both settings.
    if run 2 "${resume[@]/--deterministic/--no-progress}" --steps 60 --resume \
        "$(ls "$WORK"/whole/ckpt-*.h5 | tail -n 1)" > "$WORK/mismatch.log" 2>&1; then
        fail "a deterministic checkpoint resumed without --deterministic"
    fi
    grep -q "made with --deterministic --units 8; this run has no --deterministic" \
        "$WORK/mismatch.log" || fail "mismatch message: $(cat "$WORK/mismatch.log")"

    # lr-find and sweep take the mode: the same curve at 1 and 3 ranks, the same table (all but
    # the seconds) at 1 rank and in one group of 2.
    for np in 1 3; do
        run $np lr-find --data "$WORK/small.h5" --layers 12,16,4 --batch 64 --steps 40 \
            --deterministic --out-csv "$WORK/lr-$np.csv" > "$WORK/lr-$np.log" 2>&1 ||
            fail "lr-find at $np ranks: $(tail -n 2 "$WORK/lr-$np.log")"
    done
    cmp -s "$WORK/lr-1.csv" "$WORK/lr-3.csv" || fail "lr-find: 1 and 3 ranks give other curves"
    for np in 1 2; do
        run $np sweep --data "$WORK/small.h5" --layers 12,16,4 --optimizers sgd,adam \
            --lrs 1e-2,1e-1 --batch 64 --folds 2 --epochs 1 --group-size $np --deterministic \
            --out "$WORK/sweep-$np" > "$WORK/sweep-$np.log" 2>&1 ||
            fail "sweep at $np ranks: $(tail -n 2 "$WORK/sweep-$np.log")"
    done
    cmp -s <(cut -d, -f1-12 "$WORK/sweep-1/sweep.csv") <(cut -d, -f1-12 "$WORK/sweep-2/sweep.csv") ||
        fail "sweep: 1 rank and a group of 2 give other tables"

    # Emulated nodes (2 nodes x 2 ranks, TCP between them) give 1 rank's bits.
    rc=0
    timeout -k 5 120 "$SRC_DIR/scripts/mpirun-fake-nodes" 2 2 "$NNDIST" train \
        --data "$WORK/small.h5" --layers 12,16,8,4 --batch 100 --epochs 2 --optimizer lamb \
        --lr 0.01 --clip-norm 0.5 --deterministic --no-progress --save "$WORK/nodes.h5" \
        > "$WORK/nodes.log" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ]; then
        same "2 nodes" "$WORK/opt5-1.h5" "$WORK/nodes.h5"
    elif [ "$rc" -ne 77 ]; then
        fail "2 emulated nodes: $(tail -n 3 "$WORK/nodes.log")"
    fi

    # 64 and 128 ranks (one unit each, 16 samples per rank) give 1 rank's bits.
    many=(train --data "$WORK/small.h5" --layers 12,16,4 --batch 256 --steps 16 --lr 0.1
          --optimizer momentum --deterministic --units 128 --no-progress)
    run 1 "${many[@]}" --save "$WORK/many-1.h5" > /dev/null || fail "128 units at 1 rank failed"
    for np in 64 128; do
        timeout -k 5 240 "$MPIEXEC" -np $np --oversubscribe --bind-to none "$NNDIST" "${many[@]}" \
            --save "$WORK/many-$np.h5" > "$WORK/many-$np.log" 2>&1 ||
            fail "$np ranks failed: $(tail -n 3 "$WORK/many-$np.log")"
    done
    same "64 and 128 ranks" "$WORK/many-1.h5" "$WORK/many-64.h5" "$WORK/many-128.h5"
fi

# Refused with one message: more ranks than units, a unit count that is not a power of two,
# --units without the mode, --overlap with it.
expect_refusal() {
    local want=$1 np=$2
    shift 2
    if run "$np" train --data "$WORK/small.h5" --layers 12,16,4 --steps 2 "$@" \
        > "$WORK/refused.log" 2>&1; then
        fail "accepted: $*"
    fi
    grep -q -- "$want" "$WORK/refused.log" || fail "refusal of '$*': $(cat "$WORK/refused.log")"
}
expect_refusal "every rank must own a unit; pass --units 4 or more" 3 --deterministic --units 2
expect_refusal "\-\-units 6: expected a power of two" 1 --deterministic --units 6
expect_refusal "\-\-units applies to --deterministic only" 1 --units 8
expect_refusal "\-\-overlap and --deterministic exclude each other" 1 --deterministic --overlap
