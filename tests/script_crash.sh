#!/usr/bin/env bash
# A crashing rank ends the job within seconds and says which rank and signal: a double free that
# glibc catches inside free() with the arena's lock held (Open MPI's own handler mallocs to print
# a backtrace there, deadlocks, and the job hangs forever: measured 40 s and still hung without
# nndist's handlers, 2.3 s with them), and a SIGSEGV delivered to a rank.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
"$MAKE_DATASET" "$WORK/train.h5" 600 8 3 1
args=(train --data "$WORK/train.h5" --layers 8,16,3 --epochs 5 --no-progress)

# crash_case NAME RANK SIGNAL: the job was started in the background as $pid writing
# $WORK/NAME.log; it must end by itself within 20 s (not by the timeout), non-zero, with rank
# RANK's one-line report.
crash_case() {
    local name=$1 rank=$2 sig=$3 code took
    set +e
    wait "$pid"
    code=$?
    set -e
    took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    [ "$code" -ne 0 ] && [ "$code" -ne 124 ] && [ "$code" -ne 137 ] ||
        fail "$name: exit $code after $took s (124, 137: the job hung until the timeout)"
    awk -v t="$took" 'BEGIN { exit !(t < 20) }' || fail "$name: the job took $took s to end"
    grep -q "^nndist: error: rank $rank: fatal signal $sig (a crash); the job ends$" \
        "$WORK/$name.log" || fail "$name: no report: $(cat "$WORK/$name.log")"
    echo "$name: ended in $took s, exit $code"
}

t0=$EPOCHREALTIME
NNDIST_FAULT=doublefree@1:3 timeout -k 5 60 "$MPIEXEC" -np 2 --oversubscribe --bind-to none \
    "$NNDIST" "${args[@]}" > "$WORK/doublefree.log" 2>&1 &
pid=$!
crash_case doublefree 1 SIGABRT

# A SIGSEGV from outside, sent to rank 0 while it hangs at step 3 (rank 1 waits in the sum).
NNDIST_FAULT=hang@0:3 timeout -k 5 60 "$MPIEXEC" -np 2 --oversubscribe --bind-to none \
    "$NNDIST" "${args[@]}" --metrics "$WORK/segv.csv" > "$WORK/segv.log" 2>&1 &
pid=$!
until_exists "$WORK/segv.csv" || fail "segv: the run did not start"
sleep 2
victim=""
for p in $(pgrep -f "^$NNDIST train .*$WORK/segv.csv" || true); do
    tr '\0' '\n' < "/proc/$p/environ" | grep -qx 'OMPI_COMM_WORLD_RANK=0' && victim=$p
done
[ -n "$victim" ] || fail "segv: rank 0 not found"
t0=$EPOCHREALTIME
kill -SEGV "$victim"
crash_case segv 0 SIGSEGV
echo "1 passed, 0 failed"
