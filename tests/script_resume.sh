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
echo "1 passed, 0 failed"
