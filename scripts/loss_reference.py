#!/usr/bin/python3
"""Reference trajectories of softmax cross-entropy with class weights and label smoothing,
computed with PyTorch in float64: torch.nn.functional.cross_entropy(weight=w, label_smoothing=eps,
reduction='mean').

Run with Debian's PyTorch (python3-torch, 1.13):   /usr/bin/python3 scripts/loss_reference.py

First checks the formula nndist implements (docs/design.md, "Class weights and label smoothing")
against torch on random logits, loss and gradient, and that the weighted mean divides by
sum_i w_{y_i}, not by N; then trains on the optimizer references' data and initial model
(tests/optim_ref/data.h5, init.h5: 64 samples, 8-16-4 tanh) and writes tests/loss_ref/:
  <case>.h5      the model after 50 full-batch steps of the case, float32
  cases.txt      one line per case: name, a tab, the nndist flags, a tab, torch's mean loss of
                 the final model on data.h5; the line named "common" holds the shared flags

tests/script_loss_reference.sh trains every case with nndist (1 and 2 ranks), compares the
weights with these files (1e-5 relative) and eval's loss with the final loss.
"""
import os
import sys

import h5py
import numpy as np
import torch

torch.set_default_dtype(torch.float64)

STEPS = 50
SIZES = [8, 16, 4]
N = 64
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "optim_ref")
OUT = os.path.join(HERE, "..", "tests", "loss_ref")
COMMON = f"--layers {','.join(map(str, SIZES))} --activation tanh --batch {N} --steps {STEPS} " \
         "--no-shuffle"
W = [0.5, 2.0, 1.5, 0.25]
W_TEXT = ",".join(f"{w:g}" for w in W)

# name, nndist flags, torch optimizer factory, weight (or None), label smoothing
CASES = [
    ("weights", f"--optimizer sgd --lr 0.1 --class-weights {W_TEXT}",
     lambda p: torch.optim.SGD(p, lr=0.1), W, 0.0),
    ("smoothing", "--optimizer sgd --lr 0.1 --label-smoothing 0.2",
     lambda p: torch.optim.SGD(p, lr=0.1), None, 0.2),
    ("weights-smoothing", f"--optimizer sgd --lr 0.1 --class-weights {W_TEXT} --label-smoothing 0.2",
     lambda p: torch.optim.SGD(p, lr=0.1), W, 0.2),
    ("weights-smoothing-momentum",
     f"--optimizer momentum --lr 0.05 --class-weights {W_TEXT} --label-smoothing 0.1",
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), W, 0.1),
]


def formula(z, y, w, eps):
    """nndist's loss (src/loss.c) written out: the summed numerator and the denominator."""
    k = z.shape[1]
    w = torch.ones(k) if w is None else w
    logp = torch.log_softmax(z, 1)
    nll = -logp[torch.arange(len(y)), y]
    num = ((1 - eps) * w[y] * nll + eps / k * (-(logp * w).sum(1))).sum()
    return num, w[y].sum()


def formula_grad(z, y, w, eps):
    """d(numerator)/dz, as src/loss.c computes it."""
    k = z.shape[1]
    w = torch.ones(k) if w is None else w
    p = torch.softmax(z, 1)
    wy = w[y][:, None]
    return p * ((1 - eps) * wy + eps / k * w.sum()) - (1 - eps) * wy * \
        torch.nn.functional.one_hot(y, k) - eps / k * w[None, :]


def verify_formula():
    """torch's definition against the formula, on random logits; returns False on a mismatch."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(7, 4, generator=gen, requires_grad=True)
    y = torch.tensor([0, 1, 3, 3, 2, 1, 3])
    ok = True
    for w in (None, torch.tensor(W)):
        for eps in (0.0, 0.1, 0.3):
            ref = torch.nn.functional.cross_entropy(z, y, weight=w, label_smoothing=eps)
            g, = torch.autograd.grad(ref, z)
            num, den = formula(z, y, w, eps)
            mine = num / den
            gmine = formula_grad(z.detach(), y, w, eps) / den
            by_n = (num / len(y)).item()
            err, gerr = abs(ref.item() - mine.item()), (g - gmine).abs().max().item()
            print(f"weights {'yes' if w is not None else 'no '} eps {eps}: torch {ref.item():.15f} "
                  f"formula {mine.item():.15f} (|diff| {err:.1e}; gradient {gerr:.1e}); "
                  f"sum / N would give {by_n:.15f}")
            ok = ok and err < 1e-14 and gerr < 1e-14
            if w is not None and abs(by_n - ref.item()) < 1e-6:
                ok = False  # the denominator claim would be untested
    return ok


def load_model(path):
    with h5py.File(path, "r") as f:
        return [(f[f"model/layer_{i}/W"][...], f[f"model/layer_{i}/b"][...])
                for i in range(len(SIZES) - 1)]


def write_model(path, layers):
    with h5py.File(path, "w", libver="latest") as f:
        f.attrs["activation"] = "tanh"
        for i, (w, b) in enumerate(layers):
            f[f"model/layer_{i}/W"] = np.asarray(w, dtype=np.float32)
            f[f"model/layer_{i}/b"] = np.asarray(b, dtype=np.float32)


def loss_of(params, x, y, w, eps):
    h = x
    for i in range(len(params) // 2):
        h = h @ params[2 * i].T + params[2 * i + 1]
        if i < len(params) // 2 - 1:
            h = torch.tanh(h)
    weight = None if w is None else torch.tensor(w)
    return torch.nn.functional.cross_entropy(h, y, weight=weight, label_smoothing=eps)


def run_case(make, w, eps, x, y, init, round_weights=False):
    params = []
    for wt, b in init:
        params.append(torch.tensor(wt.astype(np.float64), requires_grad=True))
        params.append(torch.tensor(b.astype(np.float64), requires_grad=True))
    opt = make(params)
    for _ in range(STEPS):
        opt.zero_grad()
        loss_of(params, x, y, w, eps).backward()
        opt.step()
        if round_weights:
            with torch.no_grad():
                for p in params:
                    p.copy_(p.float().double())
    final = loss_of(params, x, y, w, eps).item()
    layers = [(params[2 * i].detach().numpy(), params[2 * i + 1].detach().numpy())
              for i in range(len(params) // 2)]
    return layers, final


def main():
    print(f"torch {torch.__version__}")
    if not verify_formula():
        print("the formula does not match torch's definition", file=sys.stderr)
        return 1
    with h5py.File(os.path.join(DATA, "data.h5"), "r") as f:
        x = torch.tensor(f["X"][...].astype(np.float64))
        y = torch.tensor(f["y"][...].astype(np.int64))
    init = load_model(os.path.join(DATA, "init.h5"))
    os.makedirs(OUT, exist_ok=True)
    lines = [f"# generated by scripts/loss_reference.py: name<TAB>nndist flags<TAB>torch's loss "
             f"after {STEPS} full-batch steps from optim_ref/init.h5 on optim_ref/data.h5",
             f"common\t{COMMON}"]
    worst = 0.0
    for name, flags, make, w, eps in CASES:
        layers, final = run_case(make, w, eps, x, y, init)
        rounded, _ = run_case(make, w, eps, x, y, init, round_weights=True)
        a = np.concatenate([t.ravel() for l in layers for t in l])
        b = np.concatenate([t.ravel() for l in rounded for t in l])
        sens = np.abs(a - b).max() / np.abs(a).max()
        worst = max(worst, sens)
        write_model(os.path.join(OUT, f"{name}.h5"), layers)
        lines.append(f"{name}\t{flags}\t{final:.17g}")
        print(f"{name:28s} loss after {STEPS} steps {final:.9f}   float32 rounding moves the "
              f"weights {sens:.2g}")
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if worst > 2e-6:
        print("a case is too sensitive to float32 rounding for a 1e-5 comparison", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
