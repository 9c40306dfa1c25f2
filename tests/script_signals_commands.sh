# SIGINT stops every long-running command promptly, cleanly and alike on every rank: lr-find,
# eval and convert (under mpirun, the signal to every rank as a Ctrl-C to the job's process
# group delivers it; eval also as a single process) end within seconds with exit 130 and one
# message saying that nothing was saved, and leave no output file behind; a sweep, which keeps
# its progress, checkpoints its running folds and ends with exit 75. Each workload runs far
# longer than the bound when uninterrupted.
source "$(dirname "$0")/lib.sh"

# caught PID: the process catches SIGINT (its handler is installed, so the signal cannot land in
# MPI_Init and kill it instead of being handled).
caught() {
    local mask
    mask=$(awk '/^SigCgt:/ { print $2 }' "/proc/$1/status" 2> /dev/null) || return 1
    [ -n "$mask" ] && (( (16#$mask >> 1) & 1 ))
}

# interrupt NAME NP ARGS...: starts nndist ARGS (under mpirun with NP ranks, or alone with NP 0),
# waits until every rank catches SIGINT and a moment more, sends SIGINT to every rank, and
# requires exit $expect (default 130) within 10 s (a step boundary, then MPI_Finalize and, under
# the sanitizers, the leak check) and the stop message.
interrupt() {
    local name=$1 np=$2 pid pids code start i
    shift 2
    if [ "$np" -eq 0 ]; then
        timeout -k 5 120 "$NNDIST" "$@" > "$WORK/$name.log" 2>&1 &
        np=1
    else
        run "$np" "$@" > "$WORK/$name.log" 2>&1 &
    fi
    pid=$!
    for i in $(seq 200); do
        pids=$(pgrep -f "^$NNDIST $1 .*$WORK" || true)
        if [ "$(echo "$pids" | grep -c .)" -eq "$np" ]; then
            for p in $pids; do caught "$p" || continue 2; done
            break
        fi
        sleep 0.05
    done
    [ "$i" -lt 200 ] || fail "$name: the ranks did not start (or never caught SIGINT)"
    sleep 1
    start=$SECONDS
    # shellcheck disable=SC2086
    kill -INT $pids
    set +e
    wait "$pid"
    code=$?
    set -e
    [ "$code" -eq "${expect:-130}" ] ||
        fail "$name: exit $code, expected ${expect:-130}: $(tail -n 5 "$WORK/$name.log")"
    [ $((SECONDS - start)) -le 10 ] || fail "$name: took $((SECONDS - start)) s to stop"
    [ "$(grep -c 'stopped by SIGINT' "$WORK/$name.log")" -eq 1 ] ||
        fail "$name: expected one stop message: $(tail -n 5 "$WORK/$name.log")"
    if [ "${expect:-130}" -eq 130 ]; then
        grep -q 'nothing was saved' "$WORK/$name.log" || fail "$name: $(tail -n 3 "$WORK/$name.log")"
    else
        grep -q 'checkpoint .* written' "$WORK/$name.log" || fail "$name: $(tail -n 3 "$WORK/$name.log")"
    fi
}

"$MAKE_DATASET" "$WORK/train.h5" 4000 32 5 3
# lr-find: a million steps at learning rates too small to diverge.
interrupt lrfind 2 lr-find --data "$WORK/train.h5" --layers 32,256,256,5 --batch 64 \
    --lr-min 1e-9 --lr-max 1e-8 --steps 1000000 --out-csv "$WORK/lr.csv"
[ ! -e "$WORK/lr.csv" ] || fail "lr-find wrote its CSV after the signal"

# sweep: 2 x 2 configurations x 3 folds x 500 epochs.
expect=75 interrupt sweep 2 sweep --data "$WORK/train.h5" --layers 32,256,256,5 --optimizers sgd,adam \
    --lrs 1e-3,1e-2 --folds 3 --epochs 500 --out "$WORK/sweep"
[ ! -e "$WORK/sweep/sweep.csv" ] || fail "sweep wrote its table after the signal"

# eval: a wide model over 300,000 samples (10 TFLOP: 30 s on 2 cores of an AMD EPYC).
"$MAKE_DATASET" "$WORK/big.h5" 300000 32 5 3
run 1 train --data "$WORK/train.h5" --layers 32,4096,4096,5 --steps 1 --batch 16 \
    --save "$WORK/wide.h5" > /dev/null || fail "could not train the wide model"
interrupt eval 2 eval --model "$WORK/wide.h5" --data "$WORK/big.h5"
interrupt eval-single 0 eval --model "$WORK/wide.h5" --data "$WORK/big.h5"

# convert: 4,000,000 gzip'ed 28x28 images of zeros (12.5 GB of float32 when finished; about
# 40 s). The gzip members repeat, so the input takes a moment to make.
head -c 78400000 /dev/zero | gzip -1 > "$WORK/100k-images.gz"
{
    printf '\x00\x00\x08\x03\x00\x3d\x09\x00\x00\x00\x00\x1c\x00\x00\x00\x1c' | gzip -1
    for _ in $(seq 40); do cat "$WORK/100k-images.gz"; done
} > "$WORK/images.gz"
{ printf '\x00\x00\x08\x01\x00\x3d\x09\x00'; head -c 4000000 /dev/zero; } |
    gzip -1 > "$WORK/labels.gz"
interrupt convert 0 convert idx --images "$WORK/images.gz" --labels "$WORK/labels.gz" \
    --out "$WORK/big-idx.h5"
[ -z "$(find "$WORK" -name 'big-idx.h5*')" ] || fail "convert left $(ls "$WORK"/big-idx.h5*)"
echo "1 passed, 0 failed"
