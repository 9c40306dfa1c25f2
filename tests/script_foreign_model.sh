# A model written by another tool (numpy + h5py) as /model/layer_<i>/{W,b} evaluates in nndist to
# the accuracy that tool computes, and trains from it with --init.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
if ! "$PY" -c 'import h5py, numpy' 2> /dev/null; then
    echo "SKIP: /usr/bin/python3 lacks h5py or numpy"
    exit 77
fi
"$MAKE_DATASET" "$WORK/test.h5" 600 10 3 4
"$PY" - "$WORK/test.h5" "$WORK/foreign.h5" > "$WORK/py.txt" <<'PYEOF'
import sys, h5py, numpy as np
rng = np.random.default_rng(5)
sizes = [10, 20, 3]
with h5py.File(sys.argv[1], "r") as f:
    X, y = f["X"][...].astype(np.float64), f["y"][...]
a, params = X, []
with h5py.File(sys.argv[2], "w") as f:
    for i in range(len(sizes) - 1):
        W = rng.normal(0, 0.5, (sizes[i + 1], sizes[i])).astype(np.float32)
        b = rng.normal(0, 0.1, sizes[i + 1]).astype(np.float32)
        f[f"model/layer_{i}/W"], f[f"model/layer_{i}/b"] = W, b
        a = a @ W.T.astype(np.float64) + b
        if i < len(sizes) - 2:
            a = np.tanh(a)
    f.attrs["activation"] = "tanh"
z = a - a.max(axis=1, keepdims=True)
loss = np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y])
print(f"{np.mean(a.argmax(axis=1) == y):.6f} {loss:.6f}")
PYEOF
read -r py_acc py_loss < "$WORK/py.txt"
run 2 eval --model "$WORK/foreign.h5" --data "$WORK/test.h5" --json > "$WORK/eval.json"
acc=$(sed -E 's/.*"accuracy": ([0-9.]+).*/\1/' "$WORK/eval.json")
loss=$(sed -E 's/.*"loss": ([0-9.]+).*/\1/' "$WORK/eval.json")
awk -v a="$acc" -v b="$py_acc" 'BEGIN { d = a - b; exit !(d < 1e-6 && d > -1e-6) }' ||
    fail "accuracy $acc, numpy says $py_acc"
awk -v a="$loss" -v b="$py_loss" 'BEGIN { d = (a - b) / b; exit !(d < 1e-4 && d > -1e-4) }' ||
    fail "loss $loss, numpy says $py_loss"
run 1 train --data "$WORK/test.h5" --layers 10,20,3 --activation tanh --init "$WORK/foreign.h5" \
    --steps 5 --save "$WORK/continued.h5" > /dev/null || fail "--init from the foreign file failed"
echo "nndist $acc / $loss, numpy $py_acc / $py_loss"
echo "1 passed, 0 failed"
