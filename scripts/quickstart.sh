#!/usr/bin/env bash
# The first run: installs what is missing, builds, converts Fashion-MNIST (Debian's
# dataset-fashion-mnist) to HDF5 under datasets/, trains 784-512-256-10 with 2 MPI ranks and
# prints the test accuracy.  EPOCHS=N changes the number of epochs (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
EPOCHS=${EPOCHS:-5}

echo "== installing missing packages"
scripts/install-deps.sh build quickstart
echo "== building (Release)"
scripts/build.sh
NNDIST=build/nndist

src=/usr/share/datasets/fashion-mnist
mkdir -p datasets
for split in train:train test:t10k; do
    name=${split%%:*} prefix=${split##*:}
    out=datasets/fashion-mnist-$name.h5
    if [ ! -f "$out" ]; then
        echo "== converting Fashion-MNIST $name split to $out"
        "$NNDIST" convert idx --images "$src/$prefix-images-idx3-ubyte.gz" \
            --labels "$src/$prefix-labels-idx1-ubyte.gz" --out "$out"
    fi
done

mpi_opts 2
run=runs/quickstart
# Each quickstart trains anew: the previous run's checkpoints would belong to another run (a
# checkpoint directory holds one run; docs/reliability.md), so they go first.
rm -rf "$run/checkpoints"
mkdir -p "$run"
echo "== training 784-512-256-10 ReLU, SGD lr 0.1, global batch 128, $EPOCHS epochs, 2 ranks"
mpirun "${MPIRUN_OPTS[@]}" "$NNDIST" train \
    --data datasets/fashion-mnist-train.h5 --val datasets/fashion-mnist-test.h5 \
    --layers 784,512,256,10 --activation relu --optimizer sgd --lr 0.1 --batch 128 \
    --epochs "$EPOCHS" --seed 1 --metrics "$run/metrics.csv" \
    --checkpoint-dir "$run/checkpoints" --save "$run/model.h5"
echo "== test accuracy (nndist eval)"
mpirun "${MPIRUN_OPTS[@]}" "$NNDIST" eval --model "$run/model.h5" \
    --data datasets/fashion-mnist-test.h5
echo "model: $run/model.h5   metrics: $run/metrics.csv   checkpoints: $run/checkpoints/"
