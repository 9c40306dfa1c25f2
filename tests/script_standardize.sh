#!/usr/bin/env bash
# train --standardize: the statistics equal NumPy's and are the same bits on 1, 2 and 3 ranks
# (and in a sweep fold's subset); they are stored in the model, and eval and predict apply them
# (predict against a NumPy forward pass of (x - mean) / std); a constant feature keeps std 1; the
# training file is never written; unscaled features are pointed out once; a resume must keep
# the setting and the data.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import numpy, h5py' 2> /dev/null || { echo "SKIP: needs python3-numpy and python3-h5py"; exit 77; }
cd "$WORK"
# 3000 x 8 features: two around 1e3 with an offset, one constant, the rest of unit scale.
"$PY" - << 'PYEOF'
import numpy as np, h5py
rng = np.random.default_rng(3)
x = rng.normal(size=(3000, 8))
y = (x[:, :4] @ np.array([1.0, -1.0, 0.5, 2.0]) > 0).astype(np.int32) + 2 * (x[:, 4] > 0)
x[:, 0] = x[:, 0] * 1500 + 4000
x[:, 1] = x[:, 1] * 700 - 300
x[:, 5] = 7.25
with h5py.File("raw.h5", "w") as f:
    f["X"] = x.astype(np.float32)
    f["y"] = y.astype(np.int32)
PYEOF
sum_before=$(md5sum < raw.h5)
common=(train --data raw.h5 --layers 8,16,4 --lr 0.1 --epochs 2 --no-progress)

run 2 "${common[@]}" > plain.log 2>&1 || true # it may well diverge: that is the point
[ "$(grep -c 'features are not scaled.*add --standardize' plain.log)" -eq 1 ] ||
    fail "no single warning about unscaled features: $(cat plain.log)"
for np in 1 2 3; do
    run $np "${common[@]}" --standardize --save m$np.h5 > s$np.log 2>&1 || fail "--standardize at $np ranks"
    ! grep -q "not scaled" s$np.log || fail "warned with --standardize at $np ranks"
done
[ "$(md5sum < raw.h5)" = "$sum_before" ] || fail "training changed raw.h5"

"$PY" - << 'PYEOF' || fail "the stored statistics differ from NumPy's or between rank counts"
import numpy as np, h5py, sys
x = h5py.File("raw.h5", "r")["X"][()].astype(np.float64)
s = [h5py.File(f"m{n}.h5", "r") for n in (1, 2, 3)]
mean = [f["standardize/mean"][()] for f in s]
std = [f["standardize/std"][()] for f in s]
ok = all(np.array_equal(mean[0], m) and np.array_equal(std[0], d) for m, d in zip(mean, std))
want_std = x.std(axis=0)
want_std[want_std == 0] = 1.0
ok &= mean[0].dtype == np.float32 and np.allclose(mean[0], x.mean(axis=0), rtol=1e-6, atol=1e-6)
ok &= np.allclose(std[0], want_std, rtol=1e-6) and std[0][5] == 1.0
# the weights then agree across rank counts to round-off
w = [f["model/layer_0/W"][()] for f in s]
ok &= np.allclose(w[0], w[2], rtol=1e-4, atol=1e-5)
sys.exit(not ok)
PYEOF
grep -q "acc 0\.[6-9]" s2.log || fail "standardized training did not learn: $(cat s2.log)"

# predict applies them: its probabilities equal a NumPy forward pass of (x - mean) / std.
run 3 predict --model m2.h5 --data raw.h5 --out p.csv > /dev/null || fail "predict failed"
"$PY" - << 'PYEOF' || fail "predict's probabilities differ from NumPy's standardized forward pass"
import numpy as np, h5py, sys
m = h5py.File("m2.h5", "r")
x = h5py.File("raw.h5", "r")["X"][()]
a = ((x - m["standardize/mean"][()]) / m["standardize/std"][()]).astype(np.float64)
for i in range(2):
    a = a @ m[f"model/layer_{i}/W"][()].astype(np.float64).T + m[f"model/layer_{i}/b"][()]
    if i == 0: a = np.maximum(a, 0)
e = np.exp(a - a.max(axis=1, keepdims=True)); e /= e.sum(axis=1, keepdims=True)
p = np.loadtxt("p.csv", delimiter=",", skiprows=1)
sys.exit(not np.allclose(p[:, 1:], e, atol=1e-5))
PYEOF
# eval applies them too: its accuracy is predict's.
acc=$(run 2 eval --model m2.h5 --data raw.h5 | sed -n 's/^accuracy \([0-9.]*\).*/\1/p')
"$PY" - "$acc" << 'PYEOF' || fail "eval's accuracy $acc differs from predict's classes"
import sys, numpy as np, h5py
p = np.loadtxt("p.csv", delimiter=",", skiprows=1)[:, 0]
y = h5py.File("raw.h5", "r")["y"][()]
sys.exit(not abs((p == y).mean() - float(sys.argv[1])) < 6e-5)
PYEOF

# A resume keeps the setting and the data.
run 2 "${common[@]}" --standardize --checkpoint-dir ck > /dev/null 2>&1 || fail "checkpointed run"
rc=0
run 2 "${common[@]}" --epochs 3 --checkpoint-dir ck --resume auto > mismatch.log 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -q "standardize" mismatch.log || fail "resumed without --standardize: rc $rc, $(cat mismatch.log)"
ckpt=$(ls ck/*.h5 | tail -n 1)
"$PY" -c 'import h5py; f = h5py.File("raw.h5", "r"); g = h5py.File("raw2.h5", "w"); g["X"] = f["X"][()] * 2; g["y"] = f["y"][()]'
rc=0
run 2 train --data raw2.h5 --layers 8,16,4 --lr 0.1 --epochs 3 --no-progress --standardize \
    --resume "$ckpt" > changed.log 2>&1 || rc=$?
[ "$rc" -ne 0 ] && grep -q "standardization differs" changed.log || fail "resumed on changed data: rc $rc, $(cat changed.log)"
run 3 "${common[@]}" --epochs 3 --standardize --checkpoint-dir ck --resume auto > resumed.log 2>&1 ||
    fail "resume with --standardize: $(cat resumed.log)"
grep -q "^epoch 3/3" resumed.log || fail "the resumed run did not train: $(cat resumed.log)"

# --init takes the weights and says that they met standardized features.
run 1 train --data raw.h5 --layers 8,16,4 --lr 1e-6 --steps 2 --no-progress --init m2.h5 \
    > init.log 2>&1 || fail "--init from a standardized model: $(cat init.log)"
grep -q "trained on standardized features" init.log || fail "no note on --init: $(cat init.log)"

# A sweep standardizes each fold on its own training rows.
run 2 sweep --data raw.h5 --layers 8,16,4 --optimizers sgd --lrs 0.1 --epochs 2 --folds 2 \
    --standardize --out sweep > sweep.log 2>&1 || fail "sweep --standardize: $(cat sweep.log)"
"$PY" - << 'PYEOF' || fail "the standardized sweep did not learn: $(cat sweep/sweep.csv)"
import csv, sys
row = next(csv.DictReader(open("sweep/sweep.csv")))
sys.exit(not float(row["val_acc_mean"]) > 0.45)  # chance: 0.25
PYEOF
echo "ok"
