# DESIGN invariant 1: the same global batch gives the same run at 1, 2, 3 and 4 ranks (N not
# divisible by the rank counts nor the batch), equal within float round-off.
source "$(dirname "$0")/lib.sh"
"$MAKE_DATASET" "$WORK/train.h5" 1003 12 4 7
for np in 1 2 3 4; do
    run $np train --data "$WORK/train.h5" --layers 12,16,8,4 --batch 32 --steps 70 --lr 0.2 \
        --seed 3 --save "$WORK/model-$np.h5" > "$WORK/log-$np.txt" || fail "np=$np: train failed"
done
for np in 2 3 4; do
    "$COMPARE_MODELS" "$WORK/model-1.h5" "$WORK/model-$np.h5" 1e-5 ||
        fail "np=$np: weights differ from np=1 by more than 1e-5 relative"
done
# The same rank count twice is bitwise identical.
run 2 train --data "$WORK/train.h5" --layers 12,16,8,4 --batch 32 --steps 70 --lr 0.2 --seed 3 \
    --save "$WORK/again.h5" > /dev/null
"$COMPARE_MODELS" "$WORK/model-2.h5" "$WORK/again.h5" 0 || fail "np=2 twice: not bitwise equal"
# More ranks than samples in a batch, and a short last batch: still the same run.
run 4 train --data "$WORK/train.h5" --layers 12,8,4 --batch 3 --steps 20 --lr 0.1 --seed 3 \
    --save "$WORK/tiny-4.h5" > /dev/null
run 1 train --data "$WORK/train.h5" --layers 12,8,4 --batch 3 --steps 20 --lr 0.1 --seed 3 \
    --save "$WORK/tiny-1.h5" > /dev/null
"$COMPARE_MODELS" "$WORK/tiny-1.h5" "$WORK/tiny-4.h5" 1e-5 || fail "batch 3 at 4 ranks differs"
echo "1 passed, 0 failed"
