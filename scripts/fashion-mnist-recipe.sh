#!/usr/bin/env bash
# The Fashion-MNIST recipe of the README: an MLP trained by nndist on 2 ranks in about 90 s to a
# test accuracy of 0.91, and with --torch the same recipe in PyTorch (scripts/recipe_torch.py,
# 2 threads) beside it.
#
#   scripts/fashion-mnist-recipe.sh [--torch] [--seed S]
#
# Installs what is missing, builds, converts the data (as quickstart.sh), trains with the flags
# in RECIPE below (the test set as --val: its accuracy is printed each epoch), then prints the
# training's wall time (mpirun's, start-up included) and the test accuracy of the final model
# (nndist eval). Outputs go to runs/recipe/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/mpi-env.sh
torch=0 seed=1
while [ $# -gt 0 ]; do
    case $1 in
    --torch) torch=1; shift ;;
    --seed) seed=$2; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fashion-mnist-recipe.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
purposes=(build quickstart)
[ "$torch" -eq 0 ] || purposes+=(bench)
scripts/install-deps.sh "${purposes[@]}"
scripts/build.sh > /dev/null
N=build/nndist
src=/usr/share/datasets/fashion-mnist
mkdir -p datasets
for split in train:train test:t10k; do
    out=datasets/fashion-mnist-${split%%:*}.h5
    [ -f "$out" ] || "$N" convert idx --images "$src/${split##*:}-images-idx3-ubyte.gz" \
        --labels "$src/${split##*:}-labels-idx1-ubyte.gz" --out "$out" > /dev/null
done

# The recipe: two hidden layers, standardized inputs, dropout on the inputs and the hidden
# layers, AdamW with a cosine learning rate, label smoothing.
LAYERS=784,1024,512,10 DROPOUT=0.3 INPUT_DROPOUT=0.2 EPOCHS=44 BATCH=256 LR=2e-3 WD=0.01
SMOOTHING=0.1
RECIPE=(--layers "$LAYERS" --standardize --input-dropout "$INPUT_DROPOUT" --dropout "$DROPOUT"
        --optimizer adamw --lr "$LR" --weight-decay "$WD" --lr-schedule cosine
        --label-smoothing "$SMOOTHING" --batch "$BATCH" --epochs "$EPOCHS")

run=runs/recipe
mkdir -p "$run"
mpi_opts 2
echo "== nndist train ${RECIPE[*]} --seed $seed (2 ranks)"
t0=$EPOCHREALTIME
mpirun "${MPIRUN_OPTS[@]}" "$N" train --data datasets/fashion-mnist-train.h5 \
    --val datasets/fashion-mnist-test.h5 "${RECIPE[@]}" --seed "$seed" --no-progress \
    --metrics "$run/metrics.csv" --save "$run/model.h5"
t1=$EPOCHREALTIME
acc=$(mpirun "${MPIRUN_OPTS[@]}" "$N" eval --model "$run/model.h5" \
    --data datasets/fashion-mnist-test.h5 | awk '/^accuracy/ { print $2 }')
awk -v a="$t0" -v b="$t1" -v acc="$acc" \
    'BEGIN { printf "nndist: test accuracy %s, training %.1f s (2 ranks x 1 thread, mpirun wall time)\n", acc, b - a }'

if [ "$torch" -eq 1 ]; then
    # Debian's OpenBLAS 0.3.21 misdetects newer CPUs: name the best core type (as
    # scripts/bench/train_vs_torch.sh does).
    coretype=""
    if grep -qw avx512f /proc/cpuinfo; then coretype=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo; then coretype=Haswell; fi
    echo "== PyTorch, the same recipe (2 threads)"
    OPENBLAS_CORETYPE=$coretype OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 \
        /usr/bin/python3 scripts/recipe_torch.py --train datasets/fashion-mnist-train.h5 \
        --test datasets/fashion-mnist-test.h5 --layers "$LAYERS" --dropout "$DROPOUT" \
        --input-dropout "$INPUT_DROPOUT" --epochs "$EPOCHS" --batch "$BATCH" --lr "$LR" \
        --weight-decay "$WD" --label-smoothing "$SMOOTHING" --threads 2 --seed "$seed"
fi
