#!/usr/bin/env bash
# Training throughput and accuracy on Fashion-MNIST, 784-512-256-10 ReLU, SGD lr 0.1, batch 128:
#   1 rank x 2 threads, 2 ranks x 1 thread  (samples/s: median over epochs of nndist's own
#   per-epoch figure, and the whole process's wall time), then the test accuracy after EPOCHS
#   (default 10) epochs at 2 ranks x 1 thread.
# Usage: scripts/bench/train.sh [EPOCHS_FOR_SPEED (default 3)]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/mpi-env.sh
SPEED_EPOCHS=${1:-3}
EPOCHS=${EPOCHS:-10}
scripts/install-deps.sh build quickstart > /dev/null
scripts/build.sh
N=build/nndist
for s in train:train test:t10k; do
    out=datasets/fashion-mnist-${s%%:*}.h5
    [ -f "$out" ] || "$N" convert idx --images /usr/share/datasets/fashion-mnist/${s##*:}-images-idx3-ubyte.gz \
        --labels /usr/share/datasets/fashion-mnist/${s##*:}-labels-idx1-ubyte.gz --out "$out" > /dev/null
done
mkdir -p datasets
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(train --data datasets/fashion-mnist-train.h5 --layers 784,512,256,10 --lr 0.1 --batch 128
        --no-progress)

# median of the samples_per_s column of a metrics file
median_rate() { tail -n +2 "$1" | cut -d, -f9 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# ms per step of forward, backward, allreduce, update over the whole run (rank 0): the columns
# forward_s (14), backward_s (15), allreduce_s (11), update_s (12) summed, over the step count
split_ms() {
    tail -n +2 "$1" | awk -F, '{f += $14; b += $15; a += $11; u += $12; s = $1}
        END { printf "%6.3f %6.3f %6.3f %6.3f", 1e3*f/s, 1e3*b/s, 1e3*a/s, 1e3*u/s }'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
printf '%-22s %10s %8s %12s   %s\n' configuration "samples/s" "wall s" "peak RSS MB" \
    "ms per step: forward backward allreduce update"
for cfg in "1 2" "2 1" "1 1"; do
    read -r ranks threads <<< "$cfg"
    if [ "$ranks" -eq 1 ]; then
        opts=(-np 1 --bind-to none)
    else
        mpi_opts "$ranks"
        opts=("${MPIRUN_OPTS[@]}")
    fi
    /usr/bin/time -f '%e %M' -o "$tmp/time" mpirun "${opts[@]}" "$N" "${common[@]}" \
        --epochs "$SPEED_EPOCHS" --threads "$threads" --metrics "$tmp/m.csv" > /dev/null
    read -r wall rss < "$tmp/time"
    printf '%-22s %10s %8s %12d   %s\n' "$ranks rank(s) x $threads thr" \
        "$(median_rate "$tmp/m.csv")" "$wall" "$((rss / 1024))" "$(split_ms "$tmp/m.csv")"
    rm -f "$tmp/m.csv"
done

mpi_opts 2
mpirun "${MPIRUN_OPTS[@]}" "$N" "${common[@]}" --epochs "$EPOCHS" --seed 1 \
    --save "$tmp/model.h5" > /dev/null
echo "test accuracy after $EPOCHS epochs (2 ranks x 1 thread, seed 1):"
mpirun "${MPIRUN_OPTS[@]}" "$N" eval --model "$tmp/model.h5" --data datasets/fashion-mnist-test.h5
