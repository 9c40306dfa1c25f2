#!/usr/bin/env bash
# What --grad-precision bf16 saves where the network limits the gradient sum: 2 emulated nodes x
# 1 rank (scripts/mpirun-fake-nodes: TCP between them over loopback), the loopback's bandwidth
# capped with a token bucket (tc qdisc tbf) for the runs and restored after, Fashion-MNIST
# 784-512-256-10, batch 128, SGD, bf16 products, 1 epoch, float32 sums against bf16 sums in
# alternating rounds:
#
#   sudo scripts/bench/grad_sums_network.sh [--rate 2gbit] [--rounds R] [--epochs E]
#
# Prints each run's `allreduce` seconds (the epoch line's: the sum with its rounding pass and the
# weights' allgather), the medians and their ratio; the bytes a step moves predict 0.75 (6 bytes
# a parameter instead of 8). Needs root, unshare --uts and tc (iproute2); exits 77 without them.
# The cap applies to everything on loopback while it runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/mpi-env.sh
rate=2gbit rounds=2 epochs=1
while [ $# -gt 0 ]; do
    case $1 in
    --rate) rate=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "grad_sums_network.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" -ne 0 ] || ! command -v tc > /dev/null; then
    echo "grad_sums_network.sh: SKIP: needs root and tc (iproute2)" >&2
    exit 77
fi
if ! tc qdisc show dev lo | grep -q '^qdisc noqueue'; then
    echo "grad_sums_network.sh: loopback already has a queueing discipline; not touching it" >&2
    exit 2
fi
scripts/install-deps.sh build quickstart > /dev/null
scripts/build.sh > /dev/null
N=build/nndist
data=datasets/fashion-mnist-train.h5
[ -f "$data" ] || "$N" convert idx \
    --images /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz \
    --labels /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz --out "$data" > /dev/null
tmp=$(mktemp -d)
trap 'tc qdisc del dev lo root 2> /dev/null || true; rm -rf "$tmp"' EXIT
tc qdisc add dev lo root tbf rate "$rate" burst 256kb latency 50ms

# sum_s PRECISION: one run; prints its epochs' allreduce seconds summed
sum_s() {
    scripts/mpirun-fake-nodes 2 1 "$N" train --data "$data" --layers 784,512,256,10 --batch 128 \
        --optimizer sgd --lr 0.1 --epochs "$epochs" --threads 1 --no-progress --precision bf16 \
        --grad-precision "$1" > "$tmp/$1.log"
    awk '/^epoch/ { for (i = 1; i < NF; i++) if ($i == "allreduce") { s += $(i + 1) } } END { print s + 0 }' \
        "$tmp/$1.log"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "2 emulated nodes x 1 rank, loopback capped at $rate; 784-512-256-10, batch 128, sgd, bf16 products, $epochs epoch(s)"
f="" b=""
for r in $(seq "$rounds"); do
    f+=" $(sum_s fp32)"
    b+=" $(sum_s bf16)"
done
mf=$(echo $f | median) mb=$(echo $b | median)
printf 'float32 sums: allreduce %s s  (runs:%s)\n' "$mf" "$f"
printf 'bf16 sums:    allreduce %s s  (runs:%s)\n' "$mb" "$b"
awk -v a="$mb" -v b="$mf" 'BEGIN { printf "bf16 / float32: %.3f (the bytes predict 0.75)\n", a / b }'
grep -m1 '^epoch' "$tmp/fp32.log" | sed 's/^/float32: /'
grep -m1 '^epoch' "$tmp/bf16.log" | sed 's/^/bf16:    /'
