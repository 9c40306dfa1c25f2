#!/usr/bin/env bash
# Soak: a long run at 2 ranks with a checkpoint every 100 steps, an evaluation of --val after each
# epoch, and a requeue cycle every REQUEUE seconds (SIGUSR1 to mpirun: a checkpoint and exit 75,
# then the same command again with --resume auto, as a batch system's requeue does). Every few
# seconds it samples each rank's resident memory (VmRSS, and its peak VmHWM) and open file
# descriptors; within each instance, after a warm-up (the first third of its samples, at least
# 5 s), the peak and the descriptors must not grow (the rule, below where the table is printed). At the end the final model must equal, bit for bit, an uninterrupted run of the same steps.
#
# Usage: scripts/bench/soak.sh [SECONDS (default 1800)] [REQUEUE_SECONDS (default 300)]
# Environment: SOAK_DATA, SOAK_VAL (default Fashion-MNIST train and test), SOAK_LAYERS (default
#   784,512,256,10), SOAK_BATCH (default 128), NNDIST (a built binary; default: build one),
#   SOAK_DIR (work directory; default a temporary one, removed at the end).
# Prints the samples as a table, then one verdict line per check; exit 0 when all hold.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/mpi-env.sh
SECONDS_WANTED=${1:-1800}
REQUEUE=${2:-300}
LAYERS=${SOAK_LAYERS:-784,512,256,10}
BATCH=${SOAK_BATCH:-128}
SAMPLE=$((REQUEUE >= 60 ? 5 : 1))

if [ -z "${NNDIST:-}" ]; then
    scripts/install-deps.sh build quickstart test > /dev/null
    scripts/build.sh > /dev/null
    NNDIST=build/nndist
fi
if [ -z "${SOAK_DATA:-}" ]; then
    for s in train:train test:t10k; do
        out=datasets/fashion-mnist-${s%%:*}.h5
        [ -f "$out" ] || "$NNDIST" convert idx \
            --images /usr/share/datasets/fashion-mnist/${s##*:}-images-idx3-ubyte.gz \
            --labels /usr/share/datasets/fashion-mnist/${s##*:}-labels-idx1-ubyte.gz \
            --out "$out" > /dev/null
    done
    SOAK_DATA=datasets/fashion-mnist-train.h5
    SOAK_VAL=datasets/fashion-mnist-test.h5
fi
if [ -n "${SOAK_DIR:-}" ]; then
    WORK=$SOAK_DIR
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d /tmp/nndist-soak.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
fi
mpi_opts 2
# glibc moves its mmap threshold up the first time a large block is freed, and blocks of that
# size then come from the heap: the peak rises once, long after start-up, without anything kept.
# A fixed threshold (glibc's default value) turns that off, so that a rise is memory kept.
export MALLOC_MMAP_THRESHOLD_=131072
common=(train --data "$SOAK_DATA" --layers "$LAYERS" --batch "$BATCH" --optimizer momentum
        --lr 0.01 --no-progress)
val=()
[ -n "${SOAK_VAL:-}" ] && val=(--val "$SOAK_VAL")

# Steps that take about SECONDS_WANTED: the rate of the run itself (checkpoints and evaluations
# included), from two short runs whose difference cancels the start-up.
timed_run() {
    local t0
    rm -rf "$WORK/calibrate"
    t0=$(date +%s.%N)
    mpirun "${MPIRUN_OPTS[@]}" "$NNDIST" "${common[@]}" "${val[@]}" --steps "$1" --checkpoint-every 100 \
        --checkpoint-dir "$WORK/calibrate" > /dev/null
    awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN {print t1 - t0}'
}
short=$(timed_run 200)
long=$(timed_run 2200)
rm -rf "$WORK/calibrate"
rate=$(awk -v a="$short" -v b="$long" 'BEGIN {print (b > a + 0.01) ? 2000 / (b - a) : 2000 / b}')
steps=$(awk -v r="$rate" -v s="$SECONDS_WANTED" 'BEGIN {n = int(r * s / 100) * 100; print n < 300 ? 300 : n}')
echo "soak: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), 2 ranks," \
    "--layers $LAYERS --batch $BATCH, $steps steps (~$SECONDS_WANTED s at $(printf '%.0f' "$rate")" \
    "steps/s), a requeue every $REQUEUE s, samples every $SAMPLE s"

# rank_of PID: the rank Open MPI gave the process.
# (A process may end between pgrep and the read: then nothing.)
rank_of() { { tr '\0' '\n' < "/proc/$1/environ"; } 2> /dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p' || true; }

# open_fds PID: the descriptors the process holds open for good: the fewest of five looks 20 ms
# apart, not counting the temporaries of checkpoints being written (rank 0 writes tens a second
# here, each open for milliseconds).
open_fds() {
    local least=-1 n
    for _ in 1 2 3 4 5; do
        n=$({ find "/proc/$1/fd" -mindepth 1 -printf '%l\n' | grep -vc '\.tmp$'; } 2> /dev/null || true)
        [ -n "$n" ] && { [ "$least" -lt 0 ] || [ "$n" -lt "$least" ]; } && least=$n
        sleep 0.02
    done
    [ "$least" -ge 0 ] && echo "$least"
}

samples=$WORK/samples.txt # instance t_s rank rss_kb hwm_kb fds
: > "$samples"
instance=0
while :; do
    instance=$((instance + 1))
    log_lines=0
    [ -f "$WORK/run.log" ] && log_lines=$(wc -l < "$WORK/run.log")
    mpirun "${MPIRUN_OPTS[@]}" "$NNDIST" "${common[@]}" "${val[@]}" --steps "$steps" --checkpoint-dir "$WORK/ckpt" \
        --checkpoint-every 100 --resume auto --save "$WORK/soaked.h5" >> "$WORK/run.log" 2>&1 &
    pid=$!
    start=$(date +%s)
    while kill -0 "$pid" 2> /dev/null; do
        now=$(($(date +%s) - start))
        for child in $(pgrep -P "$pid" || true); do
            rank=$(rank_of "$child")
            mem=$({ awk '/^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2} END {print r, h}' \
                "/proc/$child/status"; } 2> /dev/null || true)
            fds=$(open_fds "$child" || true)
            [ -n "$rank" ] && [ -n "$mem" ] && echo "$instance $now $rank $mem $fds" >> "$samples"
        done
        if [ "$now" -ge "$REQUEUE" ]; then
            kill -USR1 "$pid" 2> /dev/null || true
            break
        fi
        sleep "$SAMPLE"
    done
    set +e
    wait "$pid"
    code=$?
    set -e
    # A requeue signal that reaches mpirun while it tears down a finished run kills mpirun
    # (128 + SIGUSR1) although the run saved its model: that instance finished.
    if [ $code -eq $((128 + $(kill -l USR1))) ] &&
        tail -n +"$((log_lines + 1))" "$WORK/run.log" | grep -q "^saved the model to"; then
        code=0
    fi
    [ $code -eq 0 ] && break
    if [ $code -ne 75 ]; then
        echo "soak: instance $instance ended with exit $code (expected 0 or 75):" >&2
        tail -n 5 "$WORK/run.log" >&2
        exit 1
    fi
done
echo "soak: $instance instances; the run's last lines:"
tail -n 3 "$WORK/run.log" | sed 's/^/  /'

# Memory and descriptors: per instance and rank, the samples after the warm-up. Resident memory
# comes and goes with each checkpoint's and evaluation's buffers, so a sample says little; the
# peak (VmHWM) does not: after the warm-up has seen every kind of work once, a peak that still
# rises is memory kept. Descriptors: the fewest open in the last third against the fewest in the
# first (rank 0 has a checkpoint file open now and then).
verdict=0
# The warm-up: 5 s, or a quarter of a short instance (every kind of work, a checkpoint each 100
# steps and an evaluation each epoch, comes round within a second here).
warm=$(awk -v r="$REQUEUE" 'BEGIN {w = r / 4; print (w > 5 ? 5 : (w < 1 ? 1 : w))}')
awk -v min_warm="$warm" '
    { key = $1 " " $3; n[key]++; t[key, n[key]] = $2; r[key, n[key]] = $4; h[key, n[key]] = $5
      f[key, n[key]] = $6 }
    END {
        for (key in n) {
            m = n[key]; w = int(m / 3) + 1
            while (w < m && t[key, w] - t[key, 1] < min_warm) w++
            if (m - w + 1 < 3) continue  # too short to say anything
            k = int((m - w + 1) / 3)
            rmin = 1e18; rmax = 0; fmin1 = 1e18; fmin3 = 1e18
            for (i = w; i <= m; i++) { if (r[key, i] < rmin) rmin = r[key, i]; if (r[key, i] > rmax) rmax = r[key, i] }
            for (i = w; i < w + k; i++) if (f[key, i] < fmin1) fmin1 = f[key, i]
            for (i = m - k + 1; i <= m; i++) if (f[key, i] < fmin3) fmin3 = f[key, i]
            printf "%s %d %d %d %d %d %d %d %d\n", key, m - w + 1, rmin, rmax, h[key, w], h[key, m],
                   h[key, m] - h[key, w], fmin1, fmin3
        }
    }' "$samples" | sort -n -k1,1 -k2,2 > "$WORK/growth.txt"
printf '%-8s %-4s %7s %9s %9s %10s %10s %10s %7s %7s\n' instance rank samples "RSS min" \
    "RSS max" "peak warm" "peak end" "growth kB" "fds 1st" "fds end"
while read -r inst rank m rmin rmax hw he g fw fe; do
    printf '%-8s %-4s %7s %9s %9s %10s %10s %10s %7s %7s\n' "$inst" "$rank" "$m" "$rmin" "$rmax" \
        "$hw" "$he" "$g" "$fw" "$fe"
done < "$WORK/growth.txt"
# The last instance ends with the final --save (buffers of its own): it is shown, not judged.
# The peak of one instance can still rise by a few pages now and then (the allocator's, HDF5's
# and the MPI library's free lists grow in chunks: measured 4 to 60 kB, in 2 of 3 instances of
# rank 0, which writes the checkpoints); a leak rises in every instance, because every instance
# does the same work. So a rank fails when its peak rose by more than 64 kB in each of at least
# three judged instances, or by more than 1 MB in any; descriptors must never be more at the
# end. (A leak too small for that in a short run is the long soak's to find.)
awk -v last="$instance" '$1 != last' "$WORK/growth.txt" > "$WORK/judged.txt"
measured=$(wc -l < "$WORK/judged.txt")
verdicts=$(awk '
    { n[$2]++; if ($8 > 64) rose[$2]++; if ($8 > 1024 || $10 > $9) bad[$2] = 1 }
    END { for (r in n) print r, n[r], rose[r] + 0, (bad[r] || (n[r] >= 3 && rose[r] == n[r])) ? "grew" : "steady" }
' "$WORK/judged.txt" | sort -n)
if [ "$measured" -eq 0 ]; then
    echo "soak: FAIL: no requeued instance ran long enough to measure growth"
    verdict=1
elif ! grep -q grew <<< "$verdicts"; then
    echo "soak: ok: no growth of peak memory or descriptors after warm-up ($measured rank-instances;" \
        "peaks that rose by more than 64 kB: $(awk '{printf "%srank %s %d of %d", (NR > 1 ? ", " : ""), $1, $3, $2}' <<< "$verdicts"))"
else
    echo "soak: FAIL: memory or descriptors grew: $(awk '$4 == "grew" {printf "rank %s (rose in %d of %d) ", $1, $3, $2}' <<< "$verdicts")"
    verdict=1
fi

# The same steps without interruption: the final weights must be the same bits.
# (--val changes nothing in the weights: the reference skips it.)
mpirun "${MPIRUN_OPTS[@]}" "$NNDIST" "${common[@]}" --steps "$steps" --save "$WORK/straight.h5" \
    > "$WORK/straight.log" 2>&1
if /usr/bin/python3 - "$WORK/soaked.h5" "$WORK/straight.h5" << 'EOF'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
names = []
a["model"].visit(lambda n: names.append(n) if isinstance(a["model"][n], h5py.Dataset) else None)
same = all(np.array_equal(a["model"][n][()].view(np.uint32), b["model"][n][()].view(np.uint32))
           for n in names)
sys.exit(0 if same and names else 1)
EOF
then
    echo "soak: ok: the final model equals the uninterrupted run's bit for bit ($steps steps)"
else
    echo "soak: FAIL: the final model differs from the uninterrupted run's"
    verdict=1
fi
exit $verdict
