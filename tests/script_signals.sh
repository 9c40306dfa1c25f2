# Signals and non-finite steps, at 2 ranks: SIGUSR1 to mpirun and SIGTERM to one rank stop the
# job with exit 75 and a checkpoint, and resuming ends bitwise equal to an uninterrupted run; a
# NaN on one rank is skipped everywhere; repeated NaNs, or a loss that explodes, stop the run
# without writing a model; a hung rank is caught by the watchdog (train, lr-find, sweep).
source "$(dirname "$0")/lib.sh"
interrupted_run_fixture

# interrupt DIR HOW: start the run, signal it after a moment, expect 75, then resume to the end.
interrupt() {
    local dir=$1 how=$2 pid rank_pid code
    # Every rank pauses at step 250, after the checkpoint at step 200: the signal lands in the
    # middle of the run however fast the machine is.
    NNDIST_FAULT='pause@*:250' run 2 "${common[@]}" --checkpoint-dir "$WORK/$dir" \
        > "$WORK/$dir.log" 2>&1 &
    pid=$!
    for _ in $(seq 300); do
        [ -f "$WORK/$dir/ckpt-000000000200.h5" ] && break
        sleep 0.1
    done
    case $how in
    usr1-mpirun)
        rank_pid=$(pgrep -f "^[^ ]*mpi(run|exec) -np 2 .*$WORK/$dir" | head -n 1 || true)
        [ -n "$rank_pid" ] || fail "$how: no mpirun process found"
        kill -USR1 "$rank_pid" ;;
    term-rank)
        rank_pid=$(pgrep -f "^$NNDIST train .*$WORK/$dir" | tail -n 1 || true)
        [ -n "$rank_pid" ] || fail "$how: no rank process found"
        kill -TERM "$rank_pid" ;;
    esac
    set +e
    wait "$pid"
    code=$?
    set -e
    [ $code -eq 75 ] || fail "$how: exit $code, expected 75: $(tail -n 5 "$WORK/$dir.log")"
    grep -q "stopped by .* at step [0-9]*; checkpoint .* written; exit code 75" "$WORK/$dir.log" ||
        fail "$how: no stop message: $(tail -n 5 "$WORK/$dir.log")"
    run 2 "${common[@]}" --checkpoint-dir "$WORK/$dir" --resume auto --save "$WORK/$dir.h5" \
        > "$WORK/$dir-resume.log" || fail "$how: resume failed"
    grep -q "resuming from" "$WORK/$dir-resume.log" || fail "$how: did not resume"
    "$COMPARE_MODELS" "$WORK/full.h5" "$WORK/$dir.h5" 0 || fail "$how: resumed run not bitwise equal"
}
interrupt usr1 usr1-mpirun

# SIGUSR1 while the ranks are still starting (a slow MPI_Init, emulated by a 3 s pause before
# it): kept, answered at the first step with a checkpoint and exit 75, never a rank killed by
# the signal (exit 138). Sent as soon as both ranks catch SIGUSR1, 5 times.
for i in $(seq 5); do
    NNDIST_FAULT='slowinit@*:0' run 2 "${common[@]}" --checkpoint-dir "$WORK/early-$i" \
        > "$WORK/early.log" 2>&1 &
    pid=$!
    pids=""
    for _ in $(seq 2000); do
        pids=$(pgrep -f "^$NNDIST train .*$WORK/early-$i" || true)
        ready=0
        for p in $pids; do
            mask=$(awk '/^SigCgt:/ { print $2 }' "/proc/$p/status" 2> /dev/null || echo 0)
            (( (16#$mask >> 9) & 1 )) && ready=$((ready + 1))
        done
        [ "$ready" -eq 2 ] && break
        sleep 0.005
    done
    # shellcheck disable=SC2086
    kill -USR1 $pids
    set +e
    wait "$pid"
    code=$?
    set -e
    [ $code -eq 75 ] || fail "early USR1 $i: exit $code, expected 75: $(tail -n 5 "$WORK/early.log")"
    [ -f "$WORK/early-$i/ckpt-000000000001.h5" ] || fail "early USR1 $i: no checkpoint at step 1"
done
interrupt term term-rank

# One NaN gradient on rank 1 at step 7: skipped by both ranks, reported once, run completes.
NNDIST_FAULT=nan@1:7 run 2 train --data "$WORK/train.h5" --layers 40,16,5 --batch 30 --steps 20 \
    --save "$WORK/nan1.h5" > /dev/null 2> "$WORK/nan1.err" || fail "a single NaN stopped the run"
[ "$(grep -c 'step 7: the gradient is not finite; step skipped' "$WORK/nan1.err")" -eq 1 ] ||
    fail "NaN step not reported once: $(cat "$WORK/nan1.err")"
# NaNs at steps 3, 4, 5 with --max-bad-steps 3: stops with exit 1 naming step 5; nothing saved.
set +e
NNDIST_FAULT='nan@0:3,nan@1:4,nan@*:5' run 2 train --data "$WORK/train.h5" --layers 40,16,5 \
    --batch 30 --steps 20 --max-bad-steps 3 --save "$WORK/nan3.h5" > /dev/null 2> "$WORK/nan3.err"
code=$?
set -e
[ $code -eq 1 ] || fail "repeated NaNs: exit $code, expected 1"
grep -q "error: step 5: 3 consecutive steps with a non-finite" "$WORK/nan3.err" ||
    fail "repeated NaNs: $(cat "$WORK/nan3.err")"
[ ! -e "$WORK/nan3.h5" ] || fail "a model was written after the run stopped on NaNs"
# A finite loss that explodes (--lr 1e6): the divergence rule stops the run at 2 ranks with exit
# 1, naming the step and suggesting a smaller --lr; nothing saved. --diverge 0 turns it off.
for opt in sgd adam rmsprop adagrad; do
    set +e
    run 2 train --data "$WORK/train.h5" --layers 40,16,5 --batch 30 --steps 100 --lr 1e6 \
        --optimizer "$opt" --save "$WORK/div.h5" > /dev/null 2> "$WORK/div.err"
    code=$?
    set -e
    [ $code -eq 1 ] || fail "$opt --lr 1e6: exit $code, expected 1: $(cat "$WORK/div.err")"
    grep -q "nndist: error: step [0-9]*: the loss diverged: .*Try a smaller --lr" "$WORK/div.err" ||
        fail "$opt --lr 1e6: $(cat "$WORK/div.err")"
    [ ! -e "$WORK/div.h5" ] || fail "$opt: a model was written after the loss diverged"
done
set +e
run 2 train --data "$WORK/train.h5" --layers 40,16,5 --batch 30 --steps 20 --lr 1e6 \
    --diverge 0 > /dev/null 2> "$WORK/div0.err"
set -e
grep -q "diverged" "$WORK/div0.err" && fail "--diverge 0 still stopped on divergence"

# A rank that hangs at step 4: the watchdog ends the job within seconds, naming rank and phase.
start=$SECONDS
set +e
NNDIST_FAULT=hang@1:4 run 2 train --data "$WORK/train.h5" --layers 40,16,5 --batch 30 --steps 20 \
    --watchdog 2 > /dev/null 2> "$WORK/hang.err"
code=$?
set -e
[ $code -ne 0 ] || fail "hung run exited 0"
[ $((SECONDS - start)) -lt 15 ] || fail "hung run took $((SECONDS - start)) s to end"
grep -q "watchdog: rank [01] has been in '[a-z ]*'" "$WORK/hang.err" ||
    fail "no watchdog message: $(cat "$WORK/hang.err")"

# The same in lr-find and in sweep (one group of both ranks: the fault's rank is the rank in the
# group).
hang_case() {
    local name=$1 code
    shift
    start=$SECONDS
    set +e
    NNDIST_FAULT=hang@1:4 run 2 "$@" --watchdog 2 > /dev/null 2> "$WORK/$name.err"
    code=$?
    set -e
    [ $code -ne 0 ] || fail "$name: hung run exited 0"
    [ $((SECONDS - start)) -lt 20 ] || fail "$name: hung run took $((SECONDS - start)) s to end"
    grep -q "watchdog: rank 1 has been in '[a-z ]*'" "$WORK/$name.err" ||
        fail "$name: no watchdog message: $(cat "$WORK/$name.err")"
}
hang_case lrfind lr-find --data "$WORK/train.h5" --layers 40,16,5 --batch 30 --steps 100 \
    --out-csv "$WORK/lr.csv"
hang_case sweep sweep --data "$WORK/train.h5" --layers 40,16,5 --optimizers sgd,adam \
    --lrs 0.01,0.1 --folds 2 --epochs 3 --group-size 2 --out "$WORK/sweep"
echo "1 passed, 0 failed"
