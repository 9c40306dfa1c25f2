#!/usr/bin/env bash
# nndist predict and eval's report: the same predictions on 1 and 3 ranks, in input order; the
# classes agree with eval's accuracy and the probabilities sum to 1; data without labels; a
# regression model's outputs equal a NumPy forward pass of its weights; HDF5 output; refusals;
# eval's per-class figures, confusion matrix, PNG and regression errors against NumPy's.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import numpy, h5py' 2> /dev/null || { echo "SKIP: needs python3-numpy and python3-h5py"; exit 77; }
cd "$WORK"
"$MAKE_DATASET" train.h5 1000 12 4 7 > /dev/null
run 2 train --data train.h5 --layers 12,16,4 --lr 0.2 --epochs 3 --no-progress --save model.h5 \
    > /dev/null || fail "train failed"
for np in 1 3; do
    run $np predict --model model.h5 --data train.h5 --out p$np.csv > p$np.log || fail "predict at $np ranks"
done
cmp -s p1.csv p3.csv || fail "1 and 3 ranks predict otherwise"
head -n 1 p1.csv | grep -qx 'class,p0,p1,p2,p3' || fail "header: $(head -n 1 p1.csv)"
[ "$(wc -l < p1.csv)" -eq 1001 ] || fail "not 1000 rows"
acc=$(run 1 eval --model model.h5 --data train.h5 | sed -n 's/^accuracy \([0-9.]*\).*/\1/p')
"$PY" - "$acc" << 'PYEOF' || fail "the predictions do not match eval's accuracy or are not probabilities"
import sys, numpy as np, h5py
p = np.loadtxt("p1.csv", delimiter=",", skiprows=1)
y = h5py.File("train.h5", "r")["y"][()]
acc = float(sys.argv[1])
ok = abs((p[:, 0] == y).mean() - acc) < 6e-5
ok &= np.allclose(p[:, 1:].sum(axis=1), 1.0, atol=1e-5)
ok &= np.array_equal(p[:, 0], p[:, 1:].argmax(axis=1))
sys.exit(not ok)
PYEOF

# Data without labels, and HDF5 output.
"$PY" -c 'import h5py; f = h5py.File("train.h5", "r"); g = h5py.File("nolabel.h5", "w"); g["X"] = f["X"][()]'
run 2 predict --model model.h5 --data nolabel.h5 --out p.h5 > /dev/null || fail "predict without /y"
"$PY" - << 'PYEOF' || fail "the HDF5 predictions differ from the CSV's"
import numpy as np, h5py, sys
p = np.loadtxt("p1.csv", delimiter=",", skiprows=1)
f = h5py.File("p.h5", "r")
sys.exit(not (np.array_equal(f["class"][()], p[:, 0]) and np.allclose(f["probabilities"][()], p[:, 1:], rtol=1e-6)))
PYEOF

# A regression model: its outputs against NumPy's forward pass of the saved weights.
"$PY" - << 'PYEOF'
import numpy as np, h5py
rng = np.random.default_rng(1)
x = rng.normal(size=(500, 5)).astype(np.float32)
t = np.stack([x[:, 0] - x[:, 1], x[:, 2] * 0.5], axis=1).astype(np.float32)
with h5py.File("reg.h5", "w") as f:
    f["X"] = x
    f["y"] = t
PYEOF
run 1 train --data reg.h5 --loss mse --layers 5,8,2 --lr 0.05 --epochs 2 --no-progress --save reg_model.h5 \
    > /dev/null || fail "mse train failed"
run 2 predict --model reg_model.h5 --data reg.h5 --out r.csv > r.log || fail "predict mse"
grep -q "rows of outputs (mse model)" r.log || fail "mse: $(cat r.log)"
head -n 1 r.csv | grep -qx 'y0,y1' || fail "mse header: $(head -n 1 r.csv)"
"$PY" - << 'PYEOF' || fail "the regression outputs differ from NumPy's forward pass"
import numpy as np, h5py, sys
m = h5py.File("reg_model.h5", "r")
a = h5py.File("reg.h5", "r")["X"][()].astype(np.float64)
for i in range(2):
    W = m[f"model/layer_{i}/W"][()].astype(np.float64); b = m[f"model/layer_{i}/b"][()]
    a = a @ W.T + b
    if i == 0: a = np.maximum(a, 0)
p = np.loadtxt("r.csv", delimiter=",", skiprows=1)
sys.exit(not np.allclose(p, a, rtol=1e-4, atol=1e-5))
PYEOF

# Refusals: exit 2 with one message.
for case in "--out p.txt|expected a name ending in .csv or .h5" \
            "--data reg.h5 --out q.csv|samples have 5 features but model.h5 takes 12"; do
    args=${case%%|*} want=${case#*|}
    rc=0
    # shellcheck disable=SC2086
    run 1 predict --model model.h5 --data train.h5 $args > refused.log 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || fail "$args: exit $rc"
    grep -q -- "$want" refused.log || fail "$args: $(cat refused.log)"
done

# eval's report: per-class precision and recall and the confusion matrix against the same
# figures computed by NumPy from predict's classes; the PNG; top-k when asked.
# (a model trained briefly, so that the matrix is not diagonal)
run 1 train --data train.h5 --layers 12,16,4 --lr 0.003 --steps 3 --no-progress --save weak.h5 \
    > /dev/null || fail "weak train failed"
run 3 predict --model weak.h5 --data train.h5 --out weak.csv > /dev/null || fail "predict weak"
run 2 eval --model weak.h5 --data train.h5 --top-k 2 --confusion-png conf.png > report.txt ||
    fail "eval report failed"
grep -q "^top-2 accuracy " report.txt || fail "no top-2 accuracy: $(cat report.txt)"
head -c 8 conf.png | od -An -c | grep -q 'P   N   G' || fail "conf.png is not a PNG"
"$PY" - << 'PYEOF' || fail "eval's per-class figures or confusion matrix differ from NumPy's"
import numpy as np, h5py, sys
p = np.loadtxt("weak.csv", delimiter=",", skiprows=1)[:, 0].astype(int)
y = h5py.File("train.h5", "r")["y"][()]
lines = open("report.txt").read().splitlines()
first = lines.index(next(l for l in lines if l.startswith("class  precision")))
last = lines.index(next(l for l in lines if l.startswith("macro F1")))
rows = [l.split() for l in lines[first + 1:last]]
conf_start = lines.index(next(l for l in lines if l.startswith("confusion matrix")))
conf = np.array([[int(v) for v in l.split()[1:]] for l in lines[conf_start + 2:conf_start + 6]])
want = np.zeros((4, 4), int)
np.add.at(want, (y, p), 1)
ok = np.array_equal(conf, want)
for c, prec, rec, f1, sup in rows:
    c = int(c)
    tp = want[c, c]
    ok &= abs(float(prec) - (tp / want[:, c].sum() if want[:, c].sum() else 0)) < 6e-5
    ok &= abs(float(rec) - tp / want[c].sum()) < 6e-5 and int(sup) == want[c].sum()
sys.exit(not (ok and len(rows) == 4 and np.trace(want) < 1000))
PYEOF
run 2 eval --model reg_model.h5 --data reg.h5 --json > reg.json || fail "eval of the mse model"
"$PY" - << 'PYEOF' || fail "eval's MSE, MAE or R^2 differ from NumPy's: $(cat reg.json)"
import json, numpy as np, h5py, sys
r = json.load(open("reg.json"))
p = np.loadtxt("r.csv", delimiter=",", skiprows=1)
t = h5py.File("reg.h5", "r")["y"][()].astype(np.float64)
mse = ((p - t) ** 2).mean(axis=0); mae = np.abs(p - t).mean(axis=0)
r2w = 1 - ((p - t) ** 2).sum() / ((t - t.mean(axis=0)) ** 2).sum()  # variance-weighted
sys.exit(not (np.isclose(r["mse"], mse.mean(), rtol=1e-4) and np.isclose(r["mae"], mae.mean(), rtol=1e-4)
              and abs(r["r2"] - r2w) < 1e-4 and "accuracy" not in r))
PYEOF
