#!/usr/bin/env bash
# nndist export --format onnx: models trained with every hidden activation (relu, tanh, sigmoid,
# gelu, gelu-tanh, leaky-relu and elu with a parameter off the default, silu; exported with
# --softmax and without), a regression model and a model trained with --standardize (its graph
# starts with Sub and Div) pass ONNX's checker (full_check: shape inference too), and the graphs,
# evaluated node by node with NumPy in float32 on raw features, give nndist predict's numbers; a
# model with --norm layer (and dropout, which inference leaves out) exports LayerNormalization
# with its γ, β and eps in opset 17, one with --norm batch BatchNormalization with its running
# statistics (opset 13);
# the same bytes from 1 and 2 ranks; refusals with one message and exit 2, an existing file left
# as it was.
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import onnx, numpy, h5py' 2> /dev/null ||
    { echo "SKIP: needs python3-onnx, python3-numpy and python3-h5py"; exit 77; }
cd "$WORK"
"$MAKE_DATASET" train.h5 600 10 4 3 > /dev/null
"$MAKE_DATASET" reg.h5 600 10 3 5 targets > /dev/null
# The same features at scales from 1 to 1e3, some offset: a model trained with --standardize.
"$PY" - << 'PYEOF'
import numpy as np, h5py
f = h5py.File("train.h5", "r")
scale = np.array([1e3, 1, 250, 0.01, 1, 40, 1, 3e2, 1, 7], np.float32)
with h5py.File("scaled.h5", "w") as g:
    g["X"] = (f["X"][()] * scale + np.float32(500)).astype(np.float32)
    g["y"] = f["y"][()]
PYEOF

# name|train options|export options: each line a model, its export, and predict's CSV beside it.
cases=(
    "relu|--layers 10,16,12,4 --activation relu|--softmax"
    "tanh|--layers 10,16,4 --activation tanh|--softmax"
    "sigmoid|--layers 10,16,12,4 --activation sigmoid|--softmax"
    "logits|--layers 10,16,4 --activation tanh|"
    "reg|--layers 10,12,3 --loss mse|"
    "std|--layers 10,16,4 --activation sigmoid --standardize|--softmax"
    "gelu|--layers 10,16,12,4 --activation gelu|--softmax"
    "gelu-tanh|--layers 10,16,12,4 --activation gelu-tanh|--softmax"
    "leaky-relu|--layers 10,16,12,4 --activation leaky-relu --leaky-slope 0.2|--softmax"
    "silu|--layers 10,16,12,4 --activation silu|"
    "elu|--layers 10,16,12,4 --activation elu --elu-alpha 0.5|--softmax"
    "layernorm|--layers 10,16,12,4 --activation gelu --norm layer --dropout 0.3|--softmax"
    "batchnorm|--layers 10,16,12,4 --activation tanh --norm batch|--softmax"
)
for c in "${cases[@]}"; do
    IFS='|' read -r name train_opts export_opts <<< "$c"
    data=train.h5
    [ "$name" = reg ] && data=reg.h5
    [ "$name" = std ] && data=scaled.h5
    # shellcheck disable=SC2086
    run 2 train --data "$data" $train_opts --lr 0.1 --epochs 3 --no-progress --save "model_$name.h5" \
        > /dev/null || fail "$name: train failed"
    # shellcheck disable=SC2086
    run 2 export --model "model_$name.h5" --format onnx --out "$name.onnx" $export_opts > "$name.log" ||
        fail "$name: export failed: $(cat "$name.log")"
    opset=13
    [ "$name" = layernorm ] && opset=17
    grep -q "^wrote $name.onnx: ONNX opset $opset" "$name.log" || fail "$name: $(cat "$name.log")"
    run 2 predict --model "model_$name.h5" --data "$data" --out "$name.csv" > /dev/null ||
        fail "$name: predict failed"
done
run 1 export --model model_relu.h5 --format onnx --out relu1.onnx --softmax > /dev/null ||
    fail "export at 1 rank"
cmp -s relu.onnx relu1.onnx || fail "1 and 2 ranks export different bytes"

version=$("$NNDIST" --version | sed 's/^nndist //')
"$PY" - "$version" << 'PYEOF' || fail "an exported graph is refused by ONNX or differs from predict"
import math, sys, numpy as np, h5py, onnx
from onnx import numpy_helper, helper

# Tolerances. The graph's GEMMs sum in NumPy's order, nndist's in its kernel's (float32 both),
# and tanh/sigmoid/exp/erf come from different libraries (erf here is Python's in float64,
# rounded to float32): differences of a few float32 ulps that grow a little through the layers.
# gelu's graph divides by sqrt 2 where nndist multiplies by its reciprocal (torch's graph and
# torch's kernel): an ulp of the argument of erf at most. Probabilities and outputs: |a - b| <= ATOL + RTOL * |b|.
RTOL, ATOL = 1e-5, 1e-6

def evaluate(model, x):
    """The graph on x, node by node, every value float32 as an ONNX runtime holds it."""
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x.astype(np.float32)
    for n in model.graph.node:
        a = [env[i] for i in n.input]
        attrs = {at.name: helper.get_attribute_value(at) for at in n.attribute}
        op = n.op_type
        if op == "Gemm":
            assert attrs == {"transB": 1}, attrs
            y = a[0] @ a[1].T + a[2]
        elif op == "Relu":
            y = np.maximum(a[0], np.float32(0))
        elif op == "Tanh":
            y = np.tanh(a[0])
        elif op == "Sigmoid":
            y = np.float32(1) / (np.float32(1) + np.exp(-a[0]))
        elif op == "Softmax":
            assert attrs == {"axis": 1}, attrs
            e = np.exp(a[0] - a[0].max(axis=1, keepdims=True))
            y = e / e.sum(axis=1, keepdims=True)
        elif op == "Sub":
            y = a[0] - a[1]
        elif op == "Div":
            y = a[0] / a[1]
        elif op == "Mul":
            y = a[0] * a[1]
        elif op == "Add":
            y = a[0] + a[1]
        elif op == "Erf":
            y = np.vectorize(math.erf, otypes=[np.float64])(a[0].astype(np.float64))
            y = y.astype(np.float32)
        elif op == "LeakyRelu":
            alpha = np.float32(attrs["alpha"])
            y = np.where(a[0] < 0, a[0] * alpha, a[0])
        elif op == "Elu":
            alpha = np.float32(attrs["alpha"])
            y = np.where(a[0] < 0, alpha * (np.exp(a[0]) - np.float32(1)), a[0])
        elif op == "LayerNormalization":  # over the last axis; statistics in float64 as nndist's
            x64 = a[0].astype(np.float64)
            mean = x64.mean(axis=1, keepdims=True)
            var = ((x64 - mean) ** 2).mean(axis=1, keepdims=True)
            rstd = (1.0 / np.sqrt(var + float(np.float32(attrs["epsilon"])))).astype(np.float32)
            y = (a[0] - mean.astype(np.float32)) * rstd * a[1] + a[2]
        elif op == "BatchNormalization":  # inference: the running statistics, as nndist's
            rstd = (1.0 / np.sqrt(a[4].astype(np.float64) +
                                  float(np.float32(attrs["epsilon"])))).astype(np.float32)
            y = (a[0] - a[3]) * rstd * a[1] + a[2]
        else:
            raise AssertionError(f"unexpected op {op}")
        assert y.dtype == np.float32, (op, y.dtype)
        env[n.output[0]] = y
    return env[model.graph.output[0].name]

def check_header(model, name, d, k):
    norm = name == "layernorm"  # LayerNormalization: opset 17, IR version 8
    assert model.ir_version == (8 if norm else 7) and model.producer_name == "nndist", model.ir_version
    assert model.producer_version == sys.argv[1], model.producer_version
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17 if norm else 13)]
    for v, width, want in ((model.graph.input[0], d, "input"), (model.graph.output[0], k, "output")):
        dims = v.type.tensor_type.shape.dim
        assert v.name == want and v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        assert [dims[0].dim_param, dims[1].dim_value] == ["N", width], (name, dims)

def close(got, want, what):
    diff = np.abs(got.astype(np.float64) - want)
    bad = diff > ATOL + RTOL * np.abs(want)
    rel = diff / np.maximum(np.abs(want), 1e-30)
    print(f"{what}: max |diff| {diff.max():.3g}, max relative {rel.max():.3g}")
    assert not bad.any(), f"{what}: {bad.sum()} values out of tolerance"

ok = True
x = {d: h5py.File(f"{d}.h5", "r")["X"][()] for d in ("train", "reg", "scaled")}
for name, data, kind in [("relu", "train", "softmax"), ("tanh", "train", "softmax"),
                         ("sigmoid", "train", "softmax"), ("logits", "train", "logits"),
                         ("reg", "reg", "outputs"), ("std", "scaled", "softmax"),
                         ("gelu", "train", "softmax"), ("gelu-tanh", "train", "softmax"),
                         ("leaky-relu", "train", "softmax"), ("silu", "train", "logits"),
                         ("elu", "train", "softmax"), ("layernorm", "train", "softmax"),
                         ("batchnorm", "train", "softmax")]:
    try:
        model = onnx.load(f"{name}.onnx")
        onnx.checker.check_model(model, full_check=True)
        ops = [n.op_type for n in model.graph.node]
        assert ops[-1] == ("Softmax" if kind == "softmax" else "Gemm"), ops
        # the activation's nodes: its own operator, or its formula where opset 13 has none
        want_ops = {"gelu": "Erf", "gelu-tanh": "Tanh", "leaky-relu": "LeakyRelu",
                    "silu": "Sigmoid", "elu": "Elu", "layernorm": "LayerNormalization",
                    "batchnorm": "BatchNormalization"}
        if name in want_ops:
            assert ops.count(want_ops[name]) == 2, ops  # two hidden layers
        params = {"leaky-relu": 0.2, "elu": 0.5}
        if name in params:
            alphas = [helper.get_attribute_value(at) for n in model.graph.node
                      for at in n.attribute if at.name == "alpha"]
            assert alphas == [np.float32(params[name])] * 2, alphas
        # A model trained with --standardize starts with Sub and Div by its stored vectors (the
        # graph takes raw features, as predict does); the others start with the first Gemm.
        stored = h5py.File(f"model_{name}.h5", "r")
        if "standardize" in stored:
            assert ops[:3] == ["Sub", "Div", "Gemm"], ops
            init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
            for v in ("mean", "std"):
                assert np.array_equal(init[f"standardize_{v}"], stored[f"standardize/{v}"][()]), v
        else:
            assert ops[0] == "Gemm", ops
        want = np.loadtxt(f"{name}.csv", delimiter=",", skiprows=1, ndmin=2)
        k = want.shape[1] - (kind != "outputs")
        check_header(model, name, x[data].shape[1], k)
        got = evaluate(model, x[data])
        assert got.shape == (x[data].shape[0], k), got.shape
        if kind == "outputs":
            close(got, want, f"{name} outputs")
            continue
        probs = got
        if kind == "logits":  # the logits' softmax as predict computes it: in double
            z = got.astype(np.float64)
            e = np.exp(z - z.max(axis=1, keepdims=True))
            probs = e / e.sum(axis=1, keepdims=True)
        close(probs, want[:, 1:], f"{name} probabilities")
        # The classes are predict's wherever the top two probabilities are not within the
        # tolerance of each other (there, rounding may pick either).
        top2 = np.sort(probs, axis=1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > ATOL + RTOL * top2[:, 1]
        same = np.argmax(got, axis=1) == want[:, 0].astype(int)
        print(f"{name} classes: {same.sum()} of {len(same)} equal, {(~clear).sum()} near ties")
        assert same[clear].all(), f"{name}: {(~same & clear).sum()} classes differ"
    except Exception as e:
        print(f"FAIL {name}: {e!r}")
        ok = False
sys.exit(not ok)
PYEOF

# Refusals: exit 2, one message, the existing file untouched and no temporary left.
cp relu.onnx good.onnx
for case in "--model model_relu.h5 --format tflite --out good.onnx|--format: unknown 'tflite'; expected onnx" \
            "--model model_relu.h5 --format onnx|export needs --model, --format and --out" \
            "--model model_relu.h5 --format onnx --out nodir/x.onnx|--out nodir/x.onnx: the directory nodir does not exist" \
            "--model model_relu.h5 --format onnx --out $WORK|is a directory" \
            "--model missing.h5 --format onnx --out good.onnx|missing.h5: cannot open" \
            "--model train.h5 --format onnx --out good.onnx|train.h5: no /model/layer_0/W" \
            "--model model_reg.h5 --format onnx --out good.onnx --softmax|model_reg.h5 is a regression model" \
            "--model model_relu.h5 --format onnx --out good.onnx --activation swish|--activation: unknown 'swish'"; do
    args=${case%%|*} want=${case#*|}
    rc=0
    # shellcheck disable=SC2086
    run 2 export $args > refused.log 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || fail "$args: exit $rc: $(cat refused.log)"
    grep -qF -- "$want" refused.log || fail "$args: $(cat refused.log)"
    [ "$(grep -c 'nndist: error' refused.log)" -eq 1 ] || fail "$args: not one message: $(cat refused.log)"
    cmp -s relu.onnx good.onnx || fail "$args: good.onnx changed"
done
! compgen -G "*.tmp" > /dev/null || fail "a temporary was left: $(ls ./*.tmp)"
