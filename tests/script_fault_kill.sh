# Faults that kill: kill -9 of one rank at several points, SIGTERM to mpirun itself (which kills
# the ranks about a second later), a kill in the middle of a checkpoint write, and a checkpoint
# write that fails (a file-size limit standing in for a full disk). Each time: the job ends
# within seconds, the previous checkpoint stays intact, and --resume auto finishes with weights
# bitwise equal to an uninterrupted run.
source "$(dirname "$0")/lib.sh"
interrupted_run_fixture

# kill_case NAME FAULT TARGET SIGNAL: run with NNDIST_FAULT=FAULT (a pause that gives a window),
# send SIGNAL to TARGET (rank0, rank1 or mpirun) once the checkpoint at step 200 exists (or the
# .<pid>.tmp of step 300 for the mid-write case), check the job ends, then resume and compare.
kill_case() {
    local name=$1 fault=$2 target=$3 sig=$4 wait_for=$5 pid victim t0 code
    NNDIST_FAULT=$fault run 2 "${common[@]}" --checkpoint-dir "$WORK/$name" \
        > "$WORK/$name.log" 2>&1 &
    pid=$!
    until_exists "$WORK/$name/$wait_for" || fail "$name: timed out waiting for $wait_for"
    case $target in
    mpirun) victim=$(pgrep -f "^[^ ]*mpi(run|exec) -np 2 .*$WORK/$name" | head -n 1 || true) ;;
    rank0) victim=$(pgrep -f "^$NNDIST train .*$WORK/$name" | head -n 1 || true) ;;
    rank1) victim=$(pgrep -f "^$NNDIST train .*$WORK/$name" | tail -n 1 || true) ;;
    esac
    [ -n "$victim" ] || fail "$name: no $target process"
    t0=$EPOCHREALTIME
    kill "-$sig" "$victim"
    set +e
    wait "$pid"
    code=$?
    set -e
    local took
    took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
    echo "$name: kill -$sig $target -> job ended in ${took} s with exit $code"
    [ "$code" -ne 0 ] || fail "$name: the job exited 0 after kill -$sig $target"
    awk -v t="$took" 'BEGIN { exit !(t < 10) }' || fail "$name: took $took s to end"
    ls "$WORK/$name"/ckpt-000000000200.h5 > /dev/null || fail "$name: checkpoint 200 lost"
    run 2 "${common[@]}" --checkpoint-dir "$WORK/$name" --resume auto --save "$WORK/$name.h5" \
        > "$WORK/$name-resume.log" 2>&1 || fail "$name: resume failed: $(cat "$WORK/$name-resume.log")"
    "$COMPARE_MODELS" "$WORK/full.h5" "$WORK/$name.h5" 0 > /dev/null ||
        fail "$name: resumed run not bitwise equal"
    ls "$WORK/$name"/*.tmp > /dev/null 2>&1 && fail "$name: a stale .tmp survived the resume"
    return 0
}
# kill -9 of rank 1 while both ranks pause at step 250 (rank 0 then waits in the allreduce)
kill_case kill9-rank1-step 'pause@*:250' rank1 9 ckpt-000000000200.h5
# kill -9 of rank 0 during a step
kill_case kill9-rank0-step 'pause@*:250' rank0 9 ckpt-000000000200.h5
# kill -9 of rank 0 in the middle of writing checkpoint 300 (its .tmp exists, not renamed yet)
kill_case kill9-rank0-ckpt 'slowckpt@0:0' rank0 9 'ckpt-000000000300.h5.*.tmp'
# kill -9 of rank 1 while rank 0 writes checkpoint 300 (rank 1 waits for the agreement)
kill_case kill9-rank1-ckpt 'slowckpt@0:0' rank1 9 'ckpt-000000000300.h5.*.tmp'
# SIGTERM to mpirun: forwarded, then the ranks are killed ~1 s later; what is on disk is intact
kill_case term-mpirun 'pause@*:250' mpirun TERM ckpt-000000000200.h5
kill_case term-mpirun-ckpt 'slowckpt@0:0' mpirun TERM 'ckpt-000000000300.h5.*.tmp'

# A checkpoint write into a full filesystem (a small tmpfs holding one checkpoint): a clear error
# naming the file, exit 1, the previous checkpoint intact, and resuming from it still exact.
size=$(stat -c %s "$WORK/full/ckpt-000000000600.h5")
mkdir -p "$WORK/small-fs"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=$(( (size * 9 / 5 / 4096 + 1) * 4096 )) tmpfs \
    "$WORK/small-fs" 2> /dev/null; then
    trap 'umount "$WORK/small-fs" 2> /dev/null; rm -rf "$WORK"' EXIT
    dir="$WORK/small-fs/ckpt"
    run 2 "${common[@]}" --steps 200 --checkpoint-every 1000 --checkpoint-dir "$dir" > /dev/null
    set +e
    run 2 "${common[@]}" --checkpoint-dir "$dir" --resume auto > "$WORK/disk.log" 2>&1
    code=$?
    set -e
    [ $code -eq 1 ] || fail "full disk: exit $code, expected 1: $(cat "$WORK/disk.log")"
    grep -q "nndist: error: .*small-fs/ckpt/ckpt-000000000300\.h5\.[0-9]*\.tmp: " "$WORK/disk.log" ||
        fail "full disk: message does not name the file: $(grep nndist "$WORK/disk.log")"
    echo "full disk: $(grep 'nndist: error' "$WORK/disk.log")"
    [ "$(ls "$dir" | grep -vx nndist.lock)" = "ckpt-000000000200.h5" ] ||
        fail "full disk: directory holds $(ls "$dir")"
    cp "$dir/ckpt-000000000200.h5" "$WORK/from-full-disk.h5"
    mkdir -p "$WORK/after-disk"
    cp "$dir/ckpt-000000000200.h5" "$WORK/after-disk/"
    run 2 "${common[@]}" --checkpoint-dir "$WORK/after-disk" --resume auto \
        --save "$WORK/disk.h5" > /dev/null || fail "full disk: resume failed"
    "$COMPARE_MODELS" "$WORK/full.h5" "$WORK/disk.h5" 0 > /dev/null || fail "full disk: not exact"
else
    echo "SKIP full-disk case: cannot mount a tmpfs here (needs root and mount rights)"
fi
echo "1 passed, 0 failed"
