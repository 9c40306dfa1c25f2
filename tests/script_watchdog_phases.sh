# The watchdog covers every phase that waits, not only the steps: start-up (a rank that never
# reaches MPI_Init), resuming (rank 0 stalls while loading the checkpoint), --save (rank 0 stalls
# while writing the model), a checkpoint written in the background that never lands, and an
# agreement that one rank never reaches (the rank is stopped,
# watchdog thread and all). Each job ends within seconds with one message naming the phase and the
# rank that did not arrive. --watchdog 3 keeps every case short.
source "$(dirname "$0")/lib.sh"
"$MAKE_DATASET" "$WORK/train.h5" 600 40 5 3
common=(train --data "$WORK/train.h5" --layers 40,16,5 --batch 30 --no-progress --watchdog 3)

# stalled NAME FAULT PATTERN ARGS...: the job must fail within 25 s and print PATTERN.
stalled() {
    local name=$1 fault=$2 pattern=$3 code start=$SECONDS
    shift 3
    set +e
    NNDIST_FAULT=$fault run 2 "$@" > "$WORK/$name.out" 2> "$WORK/$name.err"
    code=$?
    set -e
    [ $code -ne 0 ] || fail "$name: the stalled job exited 0"
    [ $((SECONDS - start)) -lt 25 ] || fail "$name: the stalled job took $((SECONDS - start)) s"
    grep -Eq "nndist: error: watchdog: $pattern" "$WORK/$name.err" ||
        fail "$name: no watchdog message matching '$pattern': $(cat "$WORK/$name.err")"
}

# Rank 1 never reaches MPI_Init: rank 0 waits inside it, watched since before the call.
stalled init hanginit@1:0 "rank 0 has been in 'start-up \(MPI_Init\)' for [0-9]+ s" \
    "${common[@]}" --steps 5

# Rank 0 stalls while loading the checkpoint to resume from; rank 1 waits at the agreement.
run 2 "${common[@]}" --steps 10 --checkpoint-dir "$WORK/ck" > /dev/null || fail "first run failed"
stalled resume hangresume@0:0 \
    "rank 0 (has been in|did not reach the end of) 'resuming from a checkpoint'" \
    "${common[@]}" --steps 20 --checkpoint-dir "$WORK/ck" --resume auto

# Rank 0 stalls while writing --save: the job ends, and no model is left behind.
stalled save hangsave@0:0 "rank 0 (has been in|did not reach the end of) 'writing the model" \
    "${common[@]}" --steps 5 --save "$WORK/model.h5"
[ ! -e "$WORK/model.h5" ] || fail "save: a model was written by the stalled job"

# Rank 0's background write of a checkpoint never ends: the next checkpoint waits for it, watched.
stalled write hangwrite@0:0 \
    "rank 0 (has been in|did not reach the end of) 'waiting for the previous checkpoint's write'" \
    "${common[@]}" --steps 40 --checkpoint-every 2 --checkpoint-dir "$WORK/hung"

# Rank 1 stops (SIGSTOP, its watchdog with it) on its way into the first agreement: rank 0 names
# it. The same in lr-find and sweep, whose agreements are the same code.
stalled agree stopagree@1:0 "rank 1 did not reach the end of '[a-z (),-]+' within 3 s" \
    "${common[@]}" --steps 5
stalled agree_lrfind stopagree@1:0 "rank 1 did not reach the end of" \
    lr-find --data "$WORK/train.h5" --layers 40,16,5 --batch 30 --steps 20 --watchdog 3 \
    --out-csv "$WORK/lr.csv"
stalled agree_sweep stopagree@1:0 "rank 1 did not reach the end of" \
    sweep --data "$WORK/train.h5" --layers 40,16,5 --optimizers sgd --lrs 0.1 --folds 2 \
    --epochs 1 --watchdog 3 --out "$WORK/sweep"
echo "1 passed, 0 failed"
