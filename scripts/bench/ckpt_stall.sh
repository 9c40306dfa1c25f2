#!/usr/bin/env bash
# How long the steps wait for a checkpoint: the periodic checkpoints of a training run written in
# the background (the default) against --sync-checkpoints, in the same session, on Fashion-MNIST.
#
#   scripts/bench/ckpt_stall.sh [--layers N0,...,NL] [--every K] [--epochs E] [--ranks P]
#
# Defaults: 784,2048,2048,10 (5.8 M parameters; with Adam a 70 MB file), a checkpoint every 10
# steps, 3 epochs of batch 1024, 2 ranks x 1 thread. The first epoch is not counted (its first
# checkpoint touches fresh memory); the stall per checkpoint is the metrics' io_s of the later
# epochs over their checkpoints. Prints, per mode, that stall, what it would cost a run that
# checkpoints once a minute, the time the background writes took, and the ratio of the stalls.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/mpi-env.sh
layers=784,2048,2048,10 every=10 epochs=3 ranks=2
while [ $# -gt 0 ]; do
    case $1 in
    --layers) layers=$2; shift 2 ;;
    --every) every=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ckpt_stall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ "$epochs" -ge 2 ] || { echo "ckpt_stall.sh: --epochs must be at least 2" >&2; exit 2; }
scripts/install-deps.sh build quickstart > /dev/null
scripts/build.sh > /dev/null
N=build/nndist
data=datasets/fashion-mnist-train.h5
mkdir -p datasets
[ -f "$data" ] || "$N" convert idx \
    --images /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz \
    --labels /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz --out "$data" > /dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "model $layers, adam, batch 1024, $ranks ranks x 1 thread, a checkpoint every $every steps"
printf '%-12s %10s %14s %22s %16s\n' mode "file MB" "stall/ckpt s" "at 1 ckpt/min (% run)" \
    "write/ckpt s"
declare -A stall
for mode in background sync; do
    flag=()
    [ "$mode" = sync ] && flag=(--sync-checkpoints)
    mpirun -np "$ranks" --map-by slot:PE=1 "$N" train --data "$data" --layers "$layers" \
        --optimizer adam --batch 1024 --epochs "$epochs" --threads 1 --no-progress \
        --checkpoint-dir "$tmp/$mode" --checkpoint-every "$every" --keep 2 \
        --metrics "$tmp/$mode.csv" "${flag[@]}" > "$tmp/$mode.log"
    # Steps per epoch from the first row; the periodic checkpoints of epochs 2..E are the
    # multiples of $every in (spe, last step), the last step's own checkpoint excluded.
    read -r s w <<< "$(awk -F, -v k="$every" 'NR == 2 { spe = $1 } NR > 2 { io += $13; last = $1 }
        END { n = 0; for (s = spe + 1; s < last; s++) if (s % k == 0) n++;
              printf "%.4f %d", n ? io / n : 0, n }' "$tmp/$mode.csv")"
    [ "$w" -gt 0 ] || { echo "ckpt_stall.sh: no checkpoint after the first epoch" >&2; exit 1; }
    stall[$mode]=$s
    mb=$(ls -l "$tmp/$mode"/ckpt-*.h5 | awk 'NR == 1 { printf "%.1f", $5 / 1e6 }')
    bg=$(sed -n 's/.*(\([0-9]*\) written in the background in \([0-9.]*\) s).*/\1 \2/p' "$tmp/$mode.log")
    write=-
    [ -n "$bg" ] && write=$(awk -v a="$bg" 'BEGIN { split(a, v, " "); printf "%.3f", v[2] / v[1] }')
    printf '%-12s %10s %14.3f %22.2f %16s\n' "$mode" "$mb" "$s" "$(awk -v s="$s" 'BEGIN { print 100 * s / 60 }')" "$write"
done
awk -v b="${stall[background]}" -v s="${stall[sync]}" \
    'BEGIN { printf "stall, background / sync: %.2f\n", (s > 0 ? b / s : 0) }'
