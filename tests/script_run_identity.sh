# One run per checkpoint directory. Two jobs started together on one directory (seeds 1 and 2,
# 10 times, at random offsets): the loser exits 2 naming the holder or the other run, and the
# directory only ever holds the winner's checkpoints. A run with another --lr, or a fresh run,
# in a directory of another run's checkpoints is refused at start and deletes nothing; the same
# settings continue it.
source "$(dirname "$0")/lib.sh"
"$MAKE_DATASET" "$WORK/train.h5" 4000 32 5 3
fresh=(train --data "$WORK/train.h5" --layers 32,64,5 --batch 40 --steps 400
       --checkpoint-every 100 --keep 100 --no-progress)
common=("${fresh[@]}" --resume auto)

# run_ids DIR: the distinct run ids of the checkpoints in DIR, one per line.
run_ids() {
    for f in "$1"/ckpt-*.h5; do "$NNDIST" info "$f" | awk '$1 == "run_id" { print $2 }'; done |
        sort -u
}

for i in $(seq 10); do
    dir="$WORK/race-$i"
    run 1 "${common[@]}" --seed 1 --checkpoint-dir "$dir" > "$WORK/a.log" 2>&1 &
    a=$!
    sleep "0.$((RANDOM % 4))"
    set +e
    run 1 "${common[@]}" --seed 2 --checkpoint-dir "$dir" > "$WORK/b.log" 2>&1
    code_b=$?
    wait "$a"
    code_a=$?
    set -e
    codes="$code_a $code_b"
    [ "$codes" = "0 2" ] || [ "$codes" = "2 0" ] ||
        fail "race $i: exit codes $codes: $(tail -n 2 "$WORK/a.log" "$WORK/b.log")"
    loser=$([ "$code_a" -eq 2 ] && echo a || echo b)
    grep -Eq "is in use by another job \(host .* pid [0-9]+ slurm_job -\)|belongs to another run: it has seed=" \
        "$WORK/$loser.log" || fail "race $i: unclear refusal: $(cat "$WORK/$loser.log")"
    [ "$(run_ids "$dir" | wc -l)" -eq 1 ] || fail "race $i: mixed directory: $(run_ids "$dir")"
done
echo "race: 10 of 10 with one run per directory"

# Another --lr on the same directory, resuming: refused with both values; nothing deleted.
dir="$WORK/race-1"
before=$(ls "$dir")
seed=$("$NNDIST" info "$dir/ckpt-000000000400.h5" | awk '$1 == "seed" { print $2 }')
set +e
run 1 "${common[@]}" --seed "$seed" --lr 0.0005 --checkpoint-dir "$dir" > /dev/null 2> "$WORK/lr.err"
code=$?
set -e
[ $code -eq 2 ] || fail "another --lr: exit $code, expected 2"
grep -q "belongs to another run: it has lr=0.01 where this run has lr=0.0005" "$WORK/lr.err" ||
    fail "another --lr: $(cat "$WORK/lr.err")"
[ "$(ls "$dir")" = "$before" ] || fail "another --lr changed the directory"

# A fresh run (no --resume) there: refused too, naming the newest checkpoint.
set +e
run 1 "${fresh[@]}" --seed "$seed" --checkpoint-dir "$dir" > /dev/null 2> "$WORK/fresh.err"
code=$?
set -e
[ $code -eq 2 ] || fail "fresh run: exit $code, expected 2"
grep -q "holds checkpoints of another run (the newest: .*ckpt-000000000400.h5, run " \
    "$WORK/fresh.err" || fail "fresh run: $(cat "$WORK/fresh.err")"
[ "$(ls "$dir")" = "$before" ] || fail "the fresh run changed the directory"

# The same settings continue the run: nothing to do at step 400.
run 1 "${common[@]}" --seed "$seed" --checkpoint-dir "$dir" > "$WORK/same.log" ||
    fail "same settings refused: $(cat "$WORK/same.log")"
grep -q "nothing to do" "$WORK/same.log" || fail "same settings: $(cat "$WORK/same.log")"
echo "1 passed, 0 failed"
