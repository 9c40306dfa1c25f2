# A summed gradient that overflows although every rank's part is finite: 2 ranks hold 16
# samples each (32 samples make four stripes, two per rank) with the feature 2e37 and label 0,
# and the initial weights put class 1 far ahead (a finite loss of 20 a sample), so each rank's dW
# is about -3.2e38 (finite) and their sum -6.4e38 (-inf in float32). On every path of the
# gradient's sum (one allreduce, the node-shared sharded update, the reduce-scatter one,
# --overlap) the step must be skipped before the update: the saved weights are the initial
# ones, bitwise.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
if ! "$PY" -c 'import h5py, numpy' 2> /dev/null; then
    echo "SKIP: /usr/bin/python3 lacks h5py or numpy"
    exit 77
fi
"$PY" - "$WORK/big.h5" "$WORK/init.h5" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["X"] = np.full((32, 1), 2e37, np.float32)
    f["y"] = np.zeros(32, np.int32)
with h5py.File(sys.argv[2], "w") as f:
    f["model/layer_0/W"] = np.array([[0.0], [1e-36]], np.float32)
    f["model/layer_0/b"] = np.zeros(2, np.float32)
PYEOF
for path in replicated sharded reduce-scatter overlap; do
    args=(train --data "$WORK/big.h5" --layers 1,2 --batch 32 --steps 1 --no-shuffle --lr 0.1
          --init "$WORK/init.h5" --max-bad-steps 2 --save "$WORK/$path.h5" --no-progress)
    case $path in
        replicated) NNDIST_UPDATE=replicated run 2 "${args[@]}" > "$WORK/$path.log" 2>&1 ;;
        sharded) run 2 "${args[@]}" > "$WORK/$path.log" 2>&1 ;;
        reduce-scatter) NNDIST_UPDATE=reduce-scatter run 2 "${args[@]}" > "$WORK/$path.log" 2>&1 ;;
        overlap) run 2 "${args[@]}" --overlap > "$WORK/$path.log" 2>&1 ;;
    esac || fail "$path: the run failed: $(tail -n 5 "$WORK/$path.log")"
    grep -q "hold no data" "$WORK/$path.log" && fail "$path: a rank holds no data"
    grep -q "step 1: the gradient is not finite; step skipped" "$WORK/$path.log" ||
        fail "$path: the overflowing step was not skipped: $(cat "$WORK/$path.log")"
    "$COMPARE_MODELS" "$WORK/init.h5" "$WORK/$path.h5" 0 ||
        fail "$path: the weights changed in a skipped step"
    echo "$path: skipped before the update"
done
# One rank's part alone (a batch of 16) is finite: a real update.
run 1 "${args[@]}" --batch 16 --save "$WORK/one.h5" > "$WORK/one.log" 2>&1 ||
    fail "1 rank: $(tail -n 5 "$WORK/one.log")"
grep -q "not finite" "$WORK/one.log" && fail "1 rank: a finite gradient was skipped"
"$COMPARE_MODELS" "$WORK/init.h5" "$WORK/one.h5" 0 > /dev/null 2>&1 &&
    fail "1 rank: the weights did not change"
echo "1 passed, 0 failed"
