#!/usr/bin/env bash
# What bf16 costs in accuracy: Fashion-MNIST, 784-512-256-10 ReLU, batch 128, 2 ranks x 1
# thread, each optimizer of a list (default SGD lr 0.1 and Adam lr 1e-3), test accuracy for float32, --precision bf16 (bf16
# products), --grad-precision bf16 (bf16 gradient sums) and both, for each seed, their mean and
# the mean's difference from float32's. One seed says little: any change of the trajectory, a
# rounding included, moves a run's accuracy by as much as another seed does (0.6 points here).
#
#   scripts/bench/bf16.sh [--epochs E] [--seeds S1,S2,...] [--optimizers NAME:LR,...]
#
# Also how far the bf16 gradient sum moves the model with the rank count: the weights after 20
# steps of SGD on 1 rank (nothing rounded: one part) against 2 and 4 ranks, with and without
# --grad-precision bf16 (nnd_compare_models's largest difference relative to the largest weight;
# few steps, as training amplifies any difference step after step: a ReLU input within
# round-off of 0 flips with any change in the order of a sum, and one flip moves the model by
# about 1e-3 here, so float32 sums can show that too on some seeds).
# The mode's target: bf16's mean accuracy within 0.3 points of float32's. Defaults: 10 epochs,
# seeds 1,2,3.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/mpi-env.sh
epochs=10 seeds=1,2,3 optimizers=sgd:0.1,adam:0.001
while [ $# -gt 0 ]; do
    case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --optimizers) optimizers=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bf16.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
scripts/install-deps.sh build quickstart > /dev/null
scripts/build.sh > /dev/null
N=build/nndist
BUILD_DIR=build
cmake --build "$BUILD_DIR" --target nnd_compare_models > /dev/null
COMPARE=$BUILD_DIR/tests/nnd_compare_models
mkdir -p datasets
for part in train test; do
    f=datasets/fashion-mnist-$part.h5
    p=$([ $part = test ] && echo t10k || echo train)
    [ -f "$f" ] || "$N" convert idx --images "/usr/share/datasets/fashion-mnist/$p-images-idx3-ubyte.gz" \
        --labels "/usr/share/datasets/fashion-mnist/$p-labels-idx1-ubyte.gz" --out "$f" > /dev/null
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run TAG RANKS FLAGS...: trains into $tmp/TAG.h5
run() {
    local tag=$1 ranks=$2
    shift 2
    mpi_opts "$ranks"
    mpirun "${MPIRUN_OPTS[@]}" "$N" train --data datasets/fashion-mnist-train.h5 \
        --layers 784,512,256,10 --batch 128 --threads 1 \
        --no-progress --save "$tmp/$tag.h5" "$@" > "$tmp/$tag.log"
}
test_acc() {
    "$N" eval --model "$tmp/$1.h5" --data datasets/fashion-mnist-test.h5 | awk '/^accuracy/ { print $2 }'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
IFS=, read -r -a seed_list <<< "$seeds"
echo "784-512-256-10 ReLU, batch 128, 2 ranks x 1 thread, $epochs epochs, seeds $seeds"
modes=(fp32 bf16-products bf16-grads bf16-both)
flags=("" "--precision bf16" "--grad-precision bf16" "--precision bf16 --grad-precision bf16")
printf '%-9s %-14s %s %8s %9s\n' optim mode "$(printf '%8s ' "${seed_list[@]/#/seed }")" mean "vs fp32"
IFS=, read -r -a opt_list <<< "$optimizers"
for item in "${opt_list[@]}"; do
    opt=${item%%:*} lr=${item#*:}
    [ "$lr" != "$item" ] || { echo "bf16.sh: --optimizers: expected NAME:LR, got $item" >&2; exit 2; }
    base=""
    for i in "${!modes[@]}"; do
        accs=()
        for seed in "${seed_list[@]}"; do
            # shellcheck disable=SC2086 # the flags are words
            run "$opt-$i-$seed" 2 --epochs "$epochs" --seed "$seed" --optimizer "$opt" --lr "$lr" \
                ${flags[$i]}
            accs+=("$(test_acc "$opt-$i-$seed")")
        done
        mean=$(printf '%s\n' "${accs[@]}" | awk '{ s += $1 } END { printf "%.4f", s / NR }')
        [ -n "$base" ] || base=$mean
        printf '%-9s %-14s %s %8s %+7.2f pt\n' "$opt" "${modes[$i]}" "$(printf '%8s ' "${accs[@]}")" \
            "$mean" "$(awk -v a="$mean" -v b="$base" 'BEGIN { print 100 * (a - b) }')"
    done
done
grep -o -m1 "accumulation ([a-z0-9-]*)" "$tmp/${opt_list[0]%%:*}-1-${seed_list[0]}.log" | sed 's/accumulation/bf16 family/'

echo
echo "rank count, 20 steps of SGD: largest weight difference from 1 rank, relative to the largest"
run one 1 --steps 20 --seed 1 --optimizer sgd --lr 0.1
for ranks in 2 4; do
    run "f$ranks" "$ranks" --steps 20 --seed 1 --optimizer sgd --lr 0.1
    run "g$ranks" "$ranks" --steps 20 --seed 1 --optimizer sgd --lr 0.1 --grad-precision bf16
    for kind in f g; do
        rel=$("$COMPARE" "$tmp/one.h5" "$tmp/$kind$ranks.h5" 1 | sed 's/.* = \([^ ]*\) relative.*/\1/')
        printf '%d ranks, %-15s %s\n' "$ranks" "$([ $kind = f ] && echo "fp32 sums" || echo "bf16 sums")" "$rel"
    done
done
