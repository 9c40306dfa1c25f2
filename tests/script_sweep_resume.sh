# A sweep survives its time limit: SIGUSR1 mid-fold stops it with exit 75 after a checkpoint,
# kill -9 mid-fold loses only the steps since the last checkpoint, and in both cases running the
# same command with --resume auto ends with the table, the CSVs and the best command of an
# uninterrupted sweep (successive halving included, so that rungs are replayed). A resume that
# changes the grid or the folds is refused naming the difference; a fresh sweep into an --out
# that holds a sweep's progress is refused.
source "$(dirname "$0")/lib.sh"
"$MAKE_DATASET" "$WORK/data.h5" 1200 40 5 3
base=(sweep --data "$WORK/data.h5" --layers 40,32,5 --optimizers sgd,momentum --lrs 0.001,0.01
      --epochs 9 --batch 20 --halving --group-size 1)
common=("${base[@]}" --folds 3)

# The outputs that must not depend on interruptions: folds.csv; sweep.csv without its seconds
# column; the lines from "best:" on (the commands).
outputs() {
    local dir=$1 log=$2
    cat "$dir/folds.csv"
    cut -d, -f1-12,14 "$dir/sweep.csv"
    sed -n '/^best:/,$p' "$log" | sed "s#$dir#OUT#g"
}

run 2 "${common[@]}" --out "$WORK/straight" > "$WORK/straight.log" 2>&1 ||
    fail "the uninterrupted sweep failed: $(cat "$WORK/straight.log")"
outputs "$WORK/straight" "$WORK/straight.log" > "$WORK/straight.txt"

# start NAME GLOB ARGS...: the sweep in the background, every rank pausing 3 s at step 30 of each
# fold (the window for a signal; the checkpoint every 20 steps lands before it), until a file
# matching OUT/state/GLOB appears.
start() {
    local name=$1 glob=$2
    shift 2
    NNDIST_FAULT='pause@*:30' run 2 "${common[@]}" --out "$WORK/$name" --checkpoint-every 20 \
        > "$WORK/$name.log" 2>&1 &
    pid=$!
    until_exists "$WORK/$name/state/$glob" 60 ||
        fail "$name: $glob did not appear: $(cat "$WORK/$name.log")"
}

# finish NAME: resume to the end (twice when a resume is itself stopped) and compare.
finish() {
    local name=$1
    run 2 "${common[@]}" --out "$WORK/$name" --checkpoint-every 20 --resume auto \
        >> "$WORK/$name.log" 2>&1 || fail "$name: the resumed sweep failed: $(tail -n 5 "$WORK/$name.log")"
    grep -q "resuming .*, fold [0-9]*, at step [0-9]*" "$WORK/$name.log" ||
        fail "$name: no fold resumed from its checkpoint: $(cat "$WORK/$name.log")"
    outputs "$WORK/$name" "$WORK/$name.log" > "$WORK/$name.txt"
    diff "$WORK/straight.txt" "$WORK/$name.txt" > "$WORK/$name.diff" ||
        fail "$name: the resumed sweep's outputs differ: $(cat "$WORK/$name.diff")"
}

# SIGUSR1 to mpirun in a fold after the first recorded ones: exit 75, then resume.
start usr1 'job-c*-r0.txt'
sleep 1
kill -USR1 "$(pgrep -f "^[^ ]*mpi(run|exec) -np 2 .*$WORK/usr1" | head -n 1)"
set +e
wait "$pid"
code=$?
set -e
[ $code -eq 75 ] || fail "usr1: exit $code, expected 75: $(cat "$WORK/usr1.log")"
grep -q "stopped by SIGUSR1" "$WORK/usr1.log" || fail "usr1: no stop message: $(cat "$WORK/usr1.log")"
finish usr1

# kill -9 of a rank mid-fold in the second rung: the first is replayed from its records, the
# fold resumes from its step-20 checkpoint.
start kill9 'fold-c*-r1-f*/ckpt-000000000020.h5'
sleep 0.5
kill -9 "$(pgrep -f "^$NNDIST sweep .*$WORK/kill9" | head -n 1)"
set +e
wait "$pid"
set -e
finish kill9
grep -q "4 of 4 configurations recorded by an earlier run" "$WORK/kill9.log" ||
    fail "kill9: the first rung was not taken from its records: $(cat "$WORK/kill9.log")"

# A resume that changes the folds is refused, naming the key; a fresh sweep on the same --out too.
set +e
run 2 "${base[@]}" --folds 4 --out "$WORK/usr1" --resume auto > "$WORK/change.log" 2>&1
code=$?
set -e
[ $code -eq 2 ] || fail "a changed resume: exit $code, expected 2: $(cat "$WORK/change.log")"
grep -q "has folds=3 where this command has folds=4" "$WORK/change.log" ||
    fail "a changed resume: unclear message: $(cat "$WORK/change.log")"
set +e
run 2 "${common[@]}" --out "$WORK/usr1" > "$WORK/fresh.log" 2>&1
code=$?
set -e
[ $code -eq 2 ] || fail "a fresh sweep on a used --out: exit $code, expected 2"
grep -q "holds the progress of a sweep" "$WORK/fresh.log" ||
    fail "a fresh sweep on a used --out: unclear message: $(cat "$WORK/fresh.log")"
echo "1 passed, 0 failed"
