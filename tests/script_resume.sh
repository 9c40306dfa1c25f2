# A run stopped at step k and resumed equals the uninterrupted run: bitwise on the same number
# of ranks, within round-off on another; with momentum, so optimizer state must come back too.
source "$(dirname "$0")/lib.sh"
"$MAKE_DATASET" "$WORK/train.h5" 700 10 3 5
common=(--data "$WORK/train.h5" --layers 10,12,3 --batch 40 --lr 0.05 --optimizer momentum
        --seed 9 --checkpoint-every 4)
run 2 train "${common[@]}" --steps 30 --checkpoint-dir "$WORK/full" --save "$WORK/full.h5" \
    > /dev/null || fail "uninterrupted run failed"
# Stop after 13 steps (the end-of-run checkpoint is at 13), then finish the 30 steps.
run 2 train "${common[@]}" --steps 13 --checkpoint-dir "$WORK/part" > /dev/null
[ -f "$WORK/part/ckpt-000000000013.h5" ] || fail "no checkpoint at step 13"
mkdir -p "$WORK/three" "$WORK/damaged"
cp "$WORK/part"/ckpt-*.h5 "$WORK/damaged/"
cp "$WORK/part/ckpt-000000000013.h5" "$WORK/three/"
run 2 train "${common[@]}" --steps 30 --checkpoint-dir "$WORK/part" --resume auto \
    --save "$WORK/resumed.h5" > "$WORK/resume.log" || fail "resume failed"
grep -q "resuming from .*ckpt-000000000013.h5 at step 13" "$WORK/resume.log" ||
    fail "resume did not report its checkpoint: $(cat "$WORK/resume.log")"
"$COMPARE_MODELS" "$WORK/full.h5" "$WORK/resumed.h5" 0 || fail "resumed run is not bitwise equal"
# --keep 3 (default) left at most three checkpoints.
[ "$(ls "$WORK/full"/ckpt-* | wc -l)" -le 3 ] || fail "more than 3 checkpoints kept: $(ls "$WORK/full")"
# Resume the step-13 checkpoint on 3 ranks: the same run within round-off.
run 3 train "${common[@]}" --steps 30 --checkpoint-dir "$WORK/three" --resume auto \
    --save "$WORK/resumed3.h5" > /dev/null || fail "resume on 3 ranks failed"
"$COMPARE_MODELS" "$WORK/full.h5" "$WORK/resumed3.h5" 1e-5 || fail "3-rank resume differs"
# Checkpoint save/load round trip is bitwise: resume at the end and save without training.
run 1 train "${common[@]}" --steps 30 --checkpoint-dir "$WORK/full" --resume auto \
    --save "$WORK/reloaded.h5" > /dev/null
"$COMPARE_MODELS" "$WORK/full.h5" "$WORK/reloaded.h5" 0 || fail "save/load not bitwise"
# A checkpoint of another optimizer is refused, naming both.
if run 2 train "${common[@]}" --optimizer sgd --steps 30 --checkpoint-dir "$WORK/full" \
    --resume auto 2> "$WORK/err.txt" > /dev/null; then fail "resume with another optimizer ran"; fi
grep -q "optimizer 'momentum'" "$WORK/err.txt" || fail "unclear message: $(cat "$WORK/err.txt")"
# A damaged newest checkpoint is skipped: resume falls back to the previous one.
newest=$(ls "$WORK/damaged"/ckpt-*.h5 | tail -n 1)
truncate -s 3000 "$newest"
run 2 train "${common[@]}" --steps 30 --checkpoint-dir "$WORK/damaged" --resume auto \
    --save "$WORK/fallback.h5" > /dev/null 2> "$WORK/fallback.err" || fail "fallback failed"
line=$(grep "skipping a damaged checkpoint: " "$WORK/fallback.err") ||
    fail "damaged checkpoint not reported: $(cat "$WORK/fallback.err")"
[ "$(grep -o "$(basename "$newest")" <<< "$line" | wc -l)" -eq 1 ] ||
    fail "the note should name the file once: $line"
"$COMPARE_MODELS" "$WORK/full.h5" "$WORK/fallback.h5" 0 || fail "fallback resume not exact"

# A checkpoint of batch order 1 (as every checkpoint was before orders had versions; the fault
# makes a fresh run use that order) resumes in order 1, says so, and continues the order-1 run
# (on 2 ranks bitwise, on 3 within round-off); the resumed run's checkpoints stay in order 1.
# Under AddressSanitizer (CI's second pass, several times slower) only the resume itself runs.
NNDIST_FAULT='order1@*:0' run 2 train "${common[@]}" --steps 13 --checkpoint-dir "$WORK/o1" \
    > /dev/null || fail "order-1 part failed"
run 1 info "$WORK/o1/ckpt-000000000013.h5" > "$WORK/o1info.txt" || fail "info failed"
grep -q "batch_order" "$WORK/o1info.txt" &&
    fail "an order-1 checkpoint has a batch_order attribute (old files have none)"
run 1 info "$WORK/full/ckpt-000000000030.h5" > "$WORK/o2info.txt" || fail "info failed"
grep -q "batch_order *2" "$WORK/o2info.txt" || fail "an order-2 checkpoint does not say batch_order 2"
cp -r "$WORK/o1" "$WORK/o1two"
run 2 train "${common[@]}" --steps 20 --checkpoint-dir "$WORK/o1" --resume auto \
    > "$WORK/o1.log" || fail "order-1 resume failed: $(tail -n 3 "$WORK/o1.log")"
grep -q "was made with batch order 1 (at most 64 stripes); the run continues in that order" \
    "$WORK/o1.log" || fail "order-1 resume did not say so: $(head -n 3 "$WORK/o1.log")"
if [ -z "${ASAN_OPTIONS:-}" ]; then
    NNDIST_FAULT='order1@*:0' run 2 train "${common[@]}" --steps 30 \
        --checkpoint-dir "$WORK/o1full" --save "$WORK/o1full.h5" > /dev/null ||
        fail "order-1 run failed"
    run 2 train "${common[@]}" --steps 30 --checkpoint-dir "$WORK/o1two" --resume auto \
        --save "$WORK/o1two.h5" > /dev/null || fail "order-1 resume on 2 ranks failed"
    "$COMPARE_MODELS" "$WORK/o1full.h5" "$WORK/o1two.h5" 0 || fail "order-1 resume not bitwise"
    run 3 train "${common[@]}" --steps 30 --checkpoint-dir "$WORK/o1" --resume auto \
        --save "$WORK/o1resumed.h5" > "$WORK/o1b.log" || fail "second order-1 resume failed"
    grep -q "made with batch order 1" "$WORK/o1b.log" || fail "the resumed run left order 1"
    "$COMPARE_MODELS" "$WORK/o1full.h5" "$WORK/o1resumed.h5" 1e-5 ||
        fail "order-1 resume differs from the order-1 run"
    # And the order matters: the order-2 run of the same settings is another run.
    if "$COMPARE_MODELS" "$WORK/full.h5" "$WORK/o1full.h5" 1e-3 2> /dev/null; then
        fail "orders 1 and 2 gave the same model: the fault did not change the order"
    fi
fi
echo "1 passed, 0 failed"
