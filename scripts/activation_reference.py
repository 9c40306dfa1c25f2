#!/usr/bin/python3
"""Reference values of nndist's hidden activations, computed with PyTorch in float64.

Run with Debian's PyTorch (python3-torch, 1.13):   /usr/bin/python3 scripts/activation_reference.py

Writes tests/act_ref/:
  data.h5      48 samples x 6 features, 3 classes (/X float32, /y int32)
  init.h5      the initial model 6-10-8-3, /model/layer_<i>/{W,b} float32, no activation
               attribute (so that it initialises a run of any activation)
  <case>.h5    per activation (and parameter): root attributes activation [activation_param];
               /reference: at init.h5's weights on all of data.h5, the logits (48, 3), the
               summed cross-entropy loss_sum and its gradient grad, float64, in nndist's
               layout of the parameters (layer 0's W (out, in) then its b, layer 1's, ...);
               /model: the weights after 20 full-batch SGD steps (lr 0.5), float32
  cases.txt    one line per case: name, a tab, the nndist flags of the case; the line named
               "common" holds the flags every case shares

tests/test_act_reference.c compares nndist's forward and backward with /reference, and
tests/script_act_reference.sh trains every case with nndist (1 and 2 ranks) and compares the
weights with /model; the test suite itself does not need PyTorch.

The torch modules are torch.nn's own: GELU() and GELU(approximate='tanh'), LeakyReLU, SiLU, ELU.
For the activations with a kink at 0 (leaky-relu, elu with alpha != 1) the script checks that
no hidden pre-activation comes within 20 times float32's error of 0 along the trajectory (the
error measured by the same run in float32: at most 1e-6 with these files, against a closest
|z| of 3.6e-5): nearer, float32 and float64 could land on different sides of the kink, which
would test the kink and not the function. A case whose
result moves by more than 2e-6 when the weights are merely rounded to float32 after every step is
refused too (no float32 code could match it to 1e-5).
"""
import math
import os
import sys

import h5py
import numpy as np
import torch

from reference_h5 import blobs, group, new_file, put

torch.set_default_dtype(torch.float64)

SIZES = [6, 10, 8, 3]
N = 48
STEPS = 20
LR = 0.5
COMMON = (f"--layers {','.join(map(str, SIZES))} --batch {N} --steps {STEPS} --no-shuffle "
          f"--optimizer sgd --lr {LR}")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "act_ref")
KINK_MARGIN = 20
MAX_SENSITIVITY = 2e-6

# name, nndist activation, its parameter (None: none), the torch module
CASES = [
    ("gelu", "gelu", None, lambda: torch.nn.GELU()),
    ("gelu-tanh", "gelu-tanh", None, lambda: torch.nn.GELU(approximate="tanh")),
    ("leaky-relu", "leaky-relu", 0.01, lambda: torch.nn.LeakyReLU()),
    ("leaky-relu-0.2", "leaky-relu", 0.2, lambda: torch.nn.LeakyReLU(negative_slope=0.2)),
    ("silu", "silu", None, lambda: torch.nn.SiLU()),
    ("elu", "elu", 1.0, lambda: torch.nn.ELU()),
    ("elu-0.5", "elu", 0.5, lambda: torch.nn.ELU(alpha=0.5)),
]
FLAG = {"leaky-relu": "--leaky-slope", "elu": "--elu-alpha"}


def make_data():
    return blobs(4321, N, SIZES[0], SIZES[-1], spread=1.5, noise=0.8)


def make_init():
    """torch.nn.Linear's default init, U(-1/sqrt(in), 1/sqrt(in)), from a fixed numpy seed."""
    rng = np.random.RandomState(77)
    layers = []
    for i in range(len(SIZES) - 1):
        bound = 1.0 / math.sqrt(SIZES[i])
        w = rng.uniform(-bound, bound, size=(SIZES[i + 1], SIZES[i])).astype(np.float32)
        b = rng.uniform(-bound, bound, size=(SIZES[i + 1],)).astype(np.float32)
        layers.append((w, b))
    return layers


def forward(params, x, act):
    """The logits, and every hidden layer's pre-activation."""
    h, zs = x, []
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = h @ params[2 * i].T + params[2 * i + 1]
        if i < n_layers - 1:
            zs.append(h.detach())
            h = act(h)
    return h, zs


def run_case(make_act, x, y, init, round_weights=False, dtype=torch.float64):
    """The first step's logits, loss and gradient, the weights after STEPS steps, the closest
    |z| to 0 along the way and every step's z (float64)."""
    params = [torch.tensor(a.astype(np.float64), dtype=dtype, requires_grad=True)
              for l in init for a in l]
    x = x.to(dtype)
    act = make_act()
    opt = torch.optim.SGD(params, lr=LR)
    closest = math.inf
    first = None
    trajectory = []
    for step in range(STEPS + 1):
        for p in params:
            p.grad = None
        logits, zs = forward(params, x, act)
        closest = min([closest] + [z.abs().min().item() for z in zs])
        trajectory.append([z.double() for z in zs])
        if step == STEPS:
            break
        loss_sum = torch.nn.functional.cross_entropy(logits, y, reduction="sum")
        # nndist's gradient is the sum over the samples; SGD steps with the mean
        loss_sum.backward()
        if first is None:
            first = (logits.detach().numpy().copy(), loss_sum.item(),
                     [p.grad.detach().numpy().copy() for p in params])
        with torch.no_grad():
            for p in params:
                p.grad /= N
        opt.step()
        if round_weights:
            with torch.no_grad():
                for p in params:
                    p.copy_(p.float().double())
    weights = [p.detach().numpy() for p in params]
    return first, weights, closest, trajectory


def write_model(path, layers, activation=None, param=None, reference=None):
    with new_file(path) as f:
        if activation:  # a fixed-length string: h5py's str would start a 4 KB global heap
            f.attrs["activation"] = np.bytes_(activation)
        if param is not None:
            f.attrs["activation_param"] = np.float64(param)
        model = group(f, "model")
        for i, (w, b) in enumerate(layers):
            g = group(model, f"layer_{i}")
            put(g, "W", np.asarray(w, dtype=np.float32))
            put(g, "b", np.asarray(b, dtype=np.float32))
        if reference:
            logits, loss_sum, grads = reference
            r = group(f, "reference")
            put(r, "logits", logits)
            r.attrs["loss_sum"] = np.float64(loss_sum)
            # nndist's layout of the gradient: layer 0's W (out, in) then b, layer 1's, ...
            put(r, "grad", np.concatenate([g.ravel() for g in grads]))


def main():
    os.makedirs(OUT, exist_ok=True)
    x32, y32 = make_data()
    with new_file(os.path.join(OUT, "data.h5")) as f:
        put(f, "X", x32)
        put(f, "y", y32)
    init = make_init()
    write_model(os.path.join(OUT, "init.h5"), init)
    x = torch.tensor(x32.astype(np.float64))
    y = torch.tensor(y32.astype(np.int64))
    print(f"torch {torch.__version__}")
    lines = [f"# generated by scripts/activation_reference.py: name<TAB>nndist flags ({STEPS} "
             "full-batch SGD steps from init.h5 on data.h5)", f"common\t{COMMON}"]
    bad = []
    for name, activation, param, make_act in CASES:
        (logits, loss_sum, grads), weights, closest, zs64 = run_case(make_act, x, y, init)
        _, rounded, _, _ = run_case(make_act, x, y, init, round_weights=True)
        _, _, _, zs32 = run_case(make_act, x, y, init, dtype=torch.float32)
        z_err = max((a - b).abs().max().item() for s64, s32 in zip(zs64, zs32)
                    for a, b in zip(s64, s32))
        a = np.concatenate([w.ravel() for w in weights])
        b = np.concatenate([w.ravel() for w in rounded])
        sens = np.abs(a - b).max() / np.abs(a).max()
        kinked = activation == "leaky-relu" or (activation == "elu" and param != 1.0)
        if sens > MAX_SENSITIVITY or (kinked and closest < KINK_MARGIN * z_err):
            bad.append(name)
        layers = [(weights[2 * i], weights[2 * i + 1]) for i in range(len(weights) // 2)]
        path = os.path.join(OUT, f"{name}.h5")
        write_model(path, layers, activation, param, (logits, loss_sum, grads))
        flags = f"--activation {activation}"
        if param is not None:
            flags += f" {FLAG[activation]} {param:g}"
        lines.append(f"{name}\t{flags}")
        final = torch.nn.functional.cross_entropy(
            forward([torch.tensor(w) for w in weights], x, make_act())[0], y).item()
        print(f"{name:16s} loss {loss_sum / N:.6f} -> {final:.6f} after {STEPS} steps; closest "
              f"|z| to 0 {closest:.2g} (float32's error {z_err:.2g}); float32 rounding moves "
              f"the weights {sens:.2g}")
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if bad:
        print(f"unusable cases (too close to a kink or too sensitive): {', '.join(bad)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
