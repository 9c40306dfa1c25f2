# The metrics CSV: a resumed run keeps the rows up to its checkpoint and writes each later step
# once (the interrupted run's rows after its last checkpoint are dropped, not doubled); a
# metrics file that cannot be written (a full file system: /dev/full) ends the run with exit 1
# and a message naming it, after the model is saved.
source "$(dirname "$0")/lib.sh"
"$MAKE_DATASET" "$WORK/train.h5" 300 12 4 1
common=(train --data "$WORK/train.h5" --layers 12,8,4 --batch 30 --checkpoint-every 20
        --keep 10 --checkpoint-dir "$WORK/ckpt" --metrics "$WORK/m.csv" --no-progress)
run 2 "${common[@]}" --steps 45 > /dev/null || fail "first run failed"
steps() { cut -d, -f1 "$WORK/m.csv" | tail -n +2 | tr '\n' ' '; }
[ "$(steps)" = "10 20 30 40 45 " ] || fail "first run's rows: $(steps)"
# As if the run had been killed after its step-45 row, before that checkpoint landed.
rm "$WORK/ckpt/ckpt-000000000045.h5"
run 2 "${common[@]}" --steps 60 --resume auto > "$WORK/resume.log" || fail "resume failed"
grep -q "resuming from .*ckpt-000000000040.h5" "$WORK/resume.log" || fail "$(cat "$WORK/resume.log")"
[ "$(steps)" = "10 20 30 40 50 60 " ] || fail "after the resume the rows are: $(steps)"
[ "$(head -n 1 "$WORK/m.csv" | cut -d, -f1-3)" = "step,epoch,lr" ] || fail "header lost"

set +e
run 1 train --data "$WORK/train.h5" --layers 12,8,4 --steps 20 --metrics /dev/full \
    --save "$WORK/full.h5" > /dev/null 2> "$WORK/full.err"
code=$?
set -e
[ $code -eq 1 ] || fail "metrics on a full device: exit $code, expected 1"
grep -q "nndist: error: --metrics /dev/full: write failed: No space left on device" \
    "$WORK/full.err" || fail "metrics on a full device: $(cat "$WORK/full.err")"
[ -f "$WORK/full.h5" ] || fail "the model was not saved before the metrics error"
echo "1 passed, 0 failed"
