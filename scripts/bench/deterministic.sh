#!/usr/bin/env bash
# What --deterministic costs and changes, against the default mode in the same session, on
# Fashion-MNIST (784,512,256,10, adam):
#
#   scripts/bench/deterministic.sh [--batches "1024 128"] [--ranks P] [--epochs E] [--repeats R]
#                                  [--units U] [--accuracy]
#
# Speed: for each batch, R rounds of (default, deterministic) runs of E epochs at P ranks x 1
# thread, interleaved; an epoch's time is samples / samples_per_s from the metrics, the first
# epoch left out (it touches fresh memory). Prints the median epoch time of each mode, the
# phases of the last round and the overhead (deterministic / default - 1).
# --accuracy also trains 10 epochs of sgd (lr 0.1) and adam (lr 0.001) at batch 128 in both
# modes and prints the test accuracy (nndist eval) and its difference.
# Defaults: batches 1024 and 128, 2 ranks, 4 epochs, 3 repeats, --units 8.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/mpi-env.sh
batches="1024 128" ranks=2 epochs=4 repeats=3 units=8 accuracy=0
while [ $# -gt 0 ]; do
    case $1 in
    --batches) batches=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --units) units=$2; shift 2 ;;
    --accuracy) accuracy=1; shift ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "deterministic.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ "$epochs" -ge 2 ] || { echo "deterministic.sh: --epochs must be at least 2" >&2; exit 2; }
scripts/install-deps.sh build quickstart > /dev/null
scripts/build.sh > /dev/null
N=build/nndist
mkdir -p datasets
for split in train:train t10k:test; do
    data=datasets/fashion-mnist-${split#*:}.h5
    [ -f "$data" ] || "$N" convert idx \
        --images "/usr/share/datasets/fashion-mnist/${split%:*}-images-idx3-ubyte.gz" \
        --labels "/usr/share/datasets/fashion-mnist/${split%:*}-labels-idx1-ubyte.gz" \
        --out "$data" > /dev/null
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
det=(--deterministic --units "$units")

# train TAG BATCH EPOCHS ARGS...: one run at $ranks ranks x 1 thread, metrics in $tmp/TAG.csv.
train() {
    local tag=$1 batch=$2 ep=$3
    shift 3
    mpirun -np "$ranks" --map-by slot:PE=1 "$N" train --data datasets/fashion-mnist-train.h5 \
        --layers 784,512,256,10 --batch "$batch" --epochs "$ep" --threads 1 --no-progress \
        --metrics "$tmp/$tag.csv" "$@" > "$tmp/$tag.log"
}
# epoch_s CSV: the mean epoch time of epochs 2.. (samples / samples_per_s).
epoch_s() { awk -F, 'NR > 2 { t += $8 / $9; n++ } END { printf "%.3f", t / n }' "$1"; }
median() { tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "784,512,256,10 adam, $ranks ranks x 1 thread, $epochs epochs (first not counted), $repeats rounds, --units $units"
printf '%-6s %-14s %10s %10s %10s %10s\n' batch mode "epoch s" "compute s" "allred. s" "update s"
for b in $batches; do
    declare -A times=([default]="" [deterministic]="")
    for r in $(seq "$repeats"); do
        train "def-$b-$r" "$b" "$epochs" --optimizer adam --lr 0.001
        train "det-$b-$r" "$b" "$epochs" --optimizer adam --lr 0.001 "${det[@]}"
        times[default]+=" $(epoch_s "$tmp/def-$b-$r.csv")"
        times[deterministic]+=" $(epoch_s "$tmp/det-$b-$r.csv")"
    done
    for mode in default deterministic; do
        csv="$tmp/${mode:0:3}-$b-$repeats.csv"
        printf '%-6s %-14s %10s %s\n' "$b" "$mode" "$(echo ${times[$mode]} | median)" \
            "$(awk -F, 'NR > 2 { c += $10; a += $11; u += $12; n++ }
                END { printf "%10.3f %10.3f %10.3f", c / n, a / n, u / n }' "$csv")"
    done
    awk -v d="$(echo ${times[default]} | median)" -v x="$(echo ${times[deterministic]} | median)" \
        -v b="$b" 'BEGIN { printf "batch %s: --deterministic costs %+.1f%% per epoch\n", b, 100 * (x / d - 1) }'
    unset times
done
grep -o -m1 "GEMM kernel [a-z0-9-]*" "$tmp/def-${batches%% *}-1.log"

if [ "$accuracy" = 1 ]; then
    echo "test accuracy after 10 epochs, batch 128 (nndist eval on fashion-mnist-test)"
    for opt in "sgd 0.1" "adam 0.001"; do
        read -r name lr <<< "$opt"
        declare -A acc=()
        for mode in default deterministic; do
            flags=()
            [ "$mode" = deterministic ] && flags=("${det[@]}")
            train "acc-$name-$mode" 128 10 --optimizer "$name" --lr "$lr" "${flags[@]}" \
                --save "$tmp/acc-$name-$mode.h5"
            acc[$mode]=$("$N" eval --model "$tmp/acc-$name-$mode.h5" \
                --data datasets/fashion-mnist-test.h5 | sed -n 's/.*accuracy \([0-9.]*\).*/\1/p')
        done
        awk -v n="$name" -v a="${acc[default]}" -v b="${acc[deterministic]}" \
            'BEGIN { printf "%-5s default %.4f  deterministic %.4f  difference %+.2f points\n", n, a, b, 100 * (b - a) }'
        unset acc
    done
fi
