#!/usr/bin/env bash
# What dropout and the normalizations cost per step, against the same model without them in the
# same session, on Fashion-MNIST (784,512,256,10, sgd, batch 128, 1 rank x 1 thread):
#
#   scripts/bench/regularization.sh [--epochs E] [--repeats R] [--batch B]
#
# Four pairs (plain, with the option), each run R rounds interleaved: relu with --dropout 0.5
# (dropped in place), tanh with --dropout 0.5 (a buffer and a mask of its own), relu with
# --norm layer, relu with --norm batch (at 1 rank its allreduces are local). An epoch's time
# is samples / samples_per_s from the metrics, the first epoch left out (it touches fresh
# memory). Prints each run's median epoch time and the overhead (with / plain - 1); the target
# is at most +10%. Defaults: 3 epochs, 3 rounds, batch 128.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/mpi-env.sh
epochs=3 repeats=3 batch=128
while [ $# -gt 0 ]; do
    case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "regularization.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ "$epochs" -ge 2 ] || { echo "regularization.sh: --epochs must be at least 2" >&2; exit 2; }
scripts/install-deps.sh build quickstart > /dev/null
scripts/build.sh > /dev/null
N=build/nndist
mkdir -p datasets
data=datasets/fashion-mnist-train.h5
[ -f "$data" ] || "$N" convert idx \
    --images /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz \
    --labels /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz --out "$data" > /dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The pairs: a name, the plain run's flags, the option's flags.
names=(relu-dropout tanh-dropout relu-layernorm relu-batchnorm)
plain=("" "--activation tanh" "" "")
with=("--dropout 0.5" "--activation tanh --dropout 0.5" "--norm layer" "--norm batch")

# epoch_s TAG FLAGS...: one run; prints its mean epoch time over epochs 2.. .
epoch_s() {
    local tag=$1
    shift
    # shellcheck disable=SC2068 # the flags are words
    mpirun -np 1 --map-by slot:PE=1 "$N" train --data "$data" --layers 784,512,256,10 \
        --batch "$batch" --epochs "$epochs" --threads 1 --no-progress --metrics "$tmp/$tag.csv" \
        $@ > "$tmp/$tag.log"
    awk -F, 'NR > 2 { t += $8 / $9; n++ } END { printf "%.3f", t / n }' "$tmp/$tag.csv"
}
median() { tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "784,512,256,10 sgd, batch $batch, 1 rank x 1 thread, $epochs epochs (first not counted), $repeats rounds"
printf '%-14s %12s %12s %10s\n' pair "plain s" "with s" overhead
for i in "${!names[@]}"; do
    a="" b=""
    for r in $(seq "$repeats"); do
        a+=" $(epoch_s "p$i-$r" ${plain[$i]})"
        b+=" $(epoch_s "w$i-$r" ${with[$i]})"
    done
    ma=$(echo $a | median) mb=$(echo $b | median)
    awk -v n="${names[$i]}" -v a="$ma" -v b="$mb" \
        'BEGIN { printf "%-14s %12.3f %12.3f %+9.1f%%\n", n, a, b, 100 * (b / a - 1) }'
done
grep -o -m1 "GEMM kernel [a-z0-9-]*" "$tmp/p0-1.log"
