#!/usr/bin/python3
"""Reference trajectories of nndist's --norm layer and --norm batch, computed with PyTorch in
float64.

Run with Debian's PyTorch (python3-torch, 1.13):   /usr/bin/python3 scripts/norm_reference.py

Writes tests/norm_ref/layer/ and tests/norm_ref/batch/, each:
  data.h5      64 samples x 6 features, 3 classes (/X float32, /y int32)
  init.h5      the initial model 6-10-8-3 with the normalization: /model/layer_<i>/{W,b} and,
               for the hidden layers, {gamma,beta} (float32; γ and β drawn near 1 and 0 so that
               they matter from the first step), root attribute norm = "layer" or "batch" (batch
               norm's running statistics start at 0 and 1, as torch's)
  <case>.h5    the weights after 20 full-batch steps of the case's optimizer, float32 (and batch
               norm's running_mean, running_var), the root attribute activation (the first word
               of the case's name); for batch norm also the root attribute
               eval_loss (float64): the mean cross-entropy on data.h5 in eval mode (the running
               statistics), which nndist eval of the file must give
  cases.txt    one line per case: name, a tab, its nndist flags; "common" holds the shared ones

The torch model is Linear -> torch.nn.LayerNorm(width, eps=1e-5) or torch.nn.BatchNorm1d(width,
eps=1e-5, momentum=0.1) in training mode -> activation per hidden layer, then Linear; the loss is
the mean cross-entropy. nndist gives the bias before batch norm no gradient (it is exactly 0 in
exact arithmetic); torch computes round-off for it, which SGD and momentum turn into moves of
1e-9, so the batch-norm cases use those two. tests/script_norm_reference.sh trains every case
with nndist at 1 and 2 ranks and compares the weights (and running statistics); the suite itself
does not need PyTorch.
A case whose result moves by more than 2e-6 when the weights are merely rounded to float32 after
every step is refused (no float32 code could match it to the test's tolerance).
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
N = 64
STEPS = 20
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "norm_ref")
MAX_SENSITIVITY = 2e-6

# name, nndist flags, the torch activation, the torch optimizer
LAYER_CASES = [
    ("relu-sgd", "--optimizer sgd --lr 0.3", torch.nn.ReLU,
     lambda p: torch.optim.SGD(p, lr=0.3)),
    ("tanh-momentum", "--activation tanh --optimizer momentum --lr 0.1", torch.nn.Tanh,
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("gelu-adam", "--activation gelu --optimizer adam --lr 0.01", torch.nn.GELU,
     lambda p: torch.optim.Adam(p, lr=0.01)),
]
BATCH_CASES = [
    ("relu-sgd", "--optimizer sgd --lr 0.3", torch.nn.ReLU,
     lambda p: torch.optim.SGD(p, lr=0.3)),
    ("tanh-momentum", "--activation tanh --optimizer momentum --lr 0.1", torch.nn.Tanh,
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
]


def make_data():
    return blobs(2468, N, SIZES[0], SIZES[-1], spread=1.5, noise=0.8)


def make_init():
    """Per layer [W, b] (+ [gamma, beta] for the hidden ones), float32."""
    rng = np.random.RandomState(99)
    layers = []
    for i in range(len(SIZES) - 1):
        bound = 1.0 / math.sqrt(SIZES[i])
        out = SIZES[i + 1]
        layer = [rng.uniform(-bound, bound, size=(out, SIZES[i])).astype(np.float32),
                 rng.uniform(-bound, bound, size=(out,)).astype(np.float32)]
        if i + 1 < len(SIZES) - 1:
            layer += [rng.uniform(0.7, 1.3, size=(out,)).astype(np.float32),
                      rng.uniform(-0.2, 0.2, size=(out,)).astype(np.float32)]
        layers.append(layer)
    return layers


def run_case(norm, make_act, make_opt, x, y, init, round_weights=False):
    """Per layer [W, b (, gamma, beta (, running_mean, running_var))] after STEPS steps."""
    params = [torch.tensor(a.astype(np.float64), requires_grad=True) for l in init for a in l]
    running = [[torch.zeros(len(l[1])), torch.ones(len(l[1]))] for l in init if len(l) == 4]
    act = make_act()
    opt = make_opt(params)
    for _ in range(STEPS):
        opt.zero_grad()
        h, at, k = x, 0, 0
        for i, layer in enumerate(init):
            h = h @ params[at].T + params[at + 1]
            if len(layer) == 4:
                g, b = params[at + 2], params[at + 3]
                if norm == "layer":
                    h = torch.nn.functional.layer_norm(h, (h.shape[1],), g, b, eps=1e-5)
                else:
                    h = torch.nn.functional.batch_norm(h, running[k][0], running[k][1], g, b,
                                                       training=True, momentum=0.1, eps=1e-5)
                    k += 1
                h = act(h)
            at += len(layer)
        torch.nn.functional.cross_entropy(h, y).backward()
        opt.step()
        if round_weights:
            with torch.no_grad():
                for p in params:
                    p.copy_(p.float().double())
    out, at, k = [], 0, 0
    for layer in init:
        out.append([params[at + j].detach().numpy() for j in range(len(layer))])
        if len(layer) == 4 and norm == "batch":
            out[-1] += [running[k][0].numpy(), running[k][1].numpy()]
            k += 1
        at += len(layer)
    return out


def flat(layers):
    return np.concatenate([a.ravel() for l in layers for a in l])


def eval_loss(layers, make_act, x, y):
    """Batch norm in eval mode: the mean cross-entropy of the final model with its running
    statistics (float64)."""
    h = x
    act = make_act()
    for layer in layers:
        t = [torch.tensor(np.asarray(a, dtype=np.float64)) for a in layer]
        h = h @ t[0].T + t[1]
        if len(t) == 6:
            h = act(torch.nn.functional.batch_norm(h, t[4], t[5], t[2], t[3], training=False,
                                                   eps=1e-5))
    return torch.nn.functional.cross_entropy(h, y).item()


def write_model(path, norm, layers, loss=None, activation=None):
    with new_file(path) as f:
        f.attrs["norm"] = np.bytes_(norm)
        if activation:  # the case's, so that eval of the file needs no --activation
            f.attrs["activation"] = np.bytes_(activation)
        if loss is not None:
            f.attrs["eval_loss"] = np.float64(loss)
        model = group(f, "model")
        for i, layer in enumerate(layers):
            g = group(model, f"layer_{i}")
            if norm == "batch" and len(layer) == 4:  # the running statistics as torch starts them
                layer = layer + [np.zeros(len(layer[1])), np.ones(len(layer[1]))]
            names = ("W", "b", "gamma", "beta", "running_mean", "running_var")
            for name, a in zip(names, layer):
                put(g, name, np.asarray(a, dtype=np.float32))


def write_set(norm, cases, x32, y32, init):
    """One directory of reference files; returns the names of unusable cases."""
    out = os.path.join(OUT, norm)
    os.makedirs(out, exist_ok=True)
    with new_file(os.path.join(out, "data.h5")) as f:
        put(f, "X", x32)
        put(f, "y", y32)
    write_model(os.path.join(out, "init.h5"), norm, init)
    x = torch.tensor(x32.astype(np.float64))
    y = torch.tensor(y32.astype(np.int64))
    common = (f"--layers {','.join(map(str, SIZES))} --norm {norm} --batch {N} --steps {STEPS} "
              "--no-shuffle")
    lines = [f"# generated by scripts/norm_reference.py: name<TAB>nndist flags ({STEPS} "
             "full-batch steps from init.h5 on data.h5)", f"common\t{common}"]
    bad = []
    for name, flags, make_act, make_opt in cases:
        weights = run_case(norm, make_act, make_opt, x, y, init)
        rounded = run_case(norm, make_act, make_opt, x, y, init, round_weights=True)
        a, b = flat(weights), flat(rounded)
        sens = np.abs(a - b).max() / np.abs(a).max()
        if sens > MAX_SENSITIVITY:
            bad.append(f"{norm}/{name}")
        # eval mode on the float32 weights the file holds, as nndist reads them
        stored = [[np.float32(a).astype(np.float64) for a in layer] for layer in weights]
        loss = eval_loss(stored, make_act, x, y) if norm == "batch" else None
        activation = name.split("-")[0]
        write_model(os.path.join(out, f"{name}.h5"), norm, weights, loss, activation)
        lines.append(f"{name}\t{flags}")
        moved = np.abs(flat(w[:4] for w in weights) - flat(init)).max() / np.abs(flat(init)).max()
        print(f"{norm:5s} {name:14s} the weights moved {moved:.3g} of their largest; float32 "
              f"rounding moves them {sens:.2g}")
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return bad


def main():
    x32, y32 = make_data()
    init = make_init()
    print(f"torch {torch.__version__}")
    bad = write_set("layer", LAYER_CASES, x32, y32, init)
    bad += write_set("batch", BATCH_CASES, x32, y32, init)
    if bad:
        print(f"too sensitive to float32 rounding: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
