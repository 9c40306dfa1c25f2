#!/usr/bin/python3
"""Reference trajectories of every nndist optimizer, computed with PyTorch in float64.

Run with Debian's PyTorch (python3-torch, 1.13):   /usr/bin/python3 scripts/optim_reference.py

Writes tests/optim_ref/:
  data.h5        64 samples x 8 features, 4 classes (/X float32, /y int32)
  init.h5        the initial model 8-16-4 (tanh), /model/layer_<i>/{W,b} float32
  <case>.h5      the model after 100 full-batch steps of the case, float32
  cases.txt      one line per case: name, a tab, the nndist flags of the case; the line
                 named "common" holds the flags every case shares

tests/script_optim_reference.sh trains every case with nndist (1 and 2 ranks) and compares
with these files (1e-5 relative); the test suite itself does not need PyTorch.

The hidden activation is tanh: with ReLU, a pre-activation that passes within float32 round-off
of the kink (it happens: |z| = 2e-8 at step 90 of one case with this data) lands on either side
in float32 and float64, and the gradients then differ by a whole sample's contribution. That
would test the kink, not the optimizer; tanh is smooth, so the comparison isolates the update.

torch.optim covers sgd, rmsprop, adam, adamw, adamax, nadam, adagrad and adadelta; the
gradient clipping is torch.nn.utils.clip_grad_norm_, the schedules torch.optim.lr_scheduler.
LARS and LAMB have no torch.optim class: their update is written out below in numpy (float64),
from the formulas documented in include/nndist/optim.h, with the gradients from torch autograd.
"""
import math
import os
import sys

import h5py
import numpy as np
import torch

from reference_h5 import blobs

torch.set_default_dtype(torch.float64)

STEPS = 100
SIZES = [8, 16, 4]
N = 64
ACTIVATION = "tanh"
COMMON = f"--layers {','.join(map(str, SIZES))} --activation {ACTIVATION} --batch {N} " \
         f"--steps {STEPS} --no-shuffle"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "optim_ref")


def make_data():
    return blobs(1234, N, SIZES[0], SIZES[-1], spread=1.0, noise=0.6)


def make_init():
    """torch.nn.Linear's default init, U(-1/sqrt(in), 1/sqrt(in)), from a fixed numpy seed."""
    rng = np.random.RandomState(99)
    layers = []
    for i in range(len(SIZES) - 1):
        fan_in, fan_out = SIZES[i], SIZES[i + 1]
        bound = 1.0 / math.sqrt(fan_in)
        w = rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, size=(fan_out,)).astype(np.float32)
        layers.append((w, b))
    return layers


def write_model(path, layers):
    with h5py.File(path, "w", libver="latest") as f:
        f.attrs["activation"] = ACTIVATION
        for i, (w, b) in enumerate(layers):
            f[f"model/layer_{i}/W"] = np.asarray(w, dtype=np.float32)
            f[f"model/layer_{i}/b"] = np.asarray(b, dtype=np.float32)


def loss_of(params, x, y):
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = h @ params[2 * i].T + params[2 * i + 1]
        if i < n_layers - 1:
            h = torch.tanh(h)
    return torch.nn.functional.cross_entropy(h, y)


# ---- LARS and LAMB in numpy (float64), per parameter tensor ----


class Lars:
    """You, Gitman, Ginsburg 2017, Algorithm 1 (see include/nndist/optim.h)."""

    def __init__(self, lr, momentum=0.9, weight_decay=0.0, trust_coefficient=1e-3):
        self.lr, self.mu, self.wd, self.eta = lr, momentum, weight_decay, trust_coefficient
        self.buf = None

    def step(self, ws, gs, lr):
        if self.buf is None:
            self.buf = [np.zeros_like(w) for w in ws]
        for k, (w, g) in enumerate(zip(ws, gs)):
            wn, gn = np.linalg.norm(w), np.linalg.norm(g)
            denom = gn + self.wd * wn
            local = self.eta * wn / denom if wn > 0 and denom > 0 else 1.0
            d = lr * local * (g + self.wd * w)
            if self.mu != 0:
                self.buf[k] = self.mu * self.buf[k] + d
                d = self.buf[k]
            w -= d


class Lamb:
    """You et al. 2020, Algorithm 2 with phi(z) = z (see include/nndist/optim.h)."""

    def __init__(self, lr, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=0.01):
        self.lr, self.b1, self.b2, self.eps, self.wd = lr, beta1, beta2, eps, weight_decay
        self.m = self.v = None
        self.t = 0

    def step(self, ws, gs, lr):
        if self.m is None:
            self.m = [np.zeros_like(w) for w in ws]
            self.v = [np.zeros_like(w) for w in ws]
        self.t += 1
        bc1, bc2 = 1 - self.b1**self.t, 1 - self.b2**self.t
        for k, (w, g) in enumerate(zip(ws, gs)):
            self.m[k] = self.b1 * self.m[k] + (1 - self.b1) * g
            self.v[k] = self.b2 * self.v[k] + (1 - self.b2) * g * g
            r = (self.m[k] / bc1) / (np.sqrt(self.v[k] / bc2) + self.eps)
            u = r + self.wd * w
            wn, un = np.linalg.norm(w), np.linalg.norm(u)
            ratio = wn / un if wn > 0 and un > 0 else 1.0
            w -= lr * ratio * u


# ---- the cases: name, nndist flags, how torch (or numpy) runs them ----
# make(params) returns (optimizer, scheduler or None); numpy cases return a Lars/Lamb object.
O = torch.optim
S = torch.optim.lr_scheduler


def warmup_cosine(warmup, total, lr0, lr_min):
    """The closed form of include/nndist/schedule.h, as a LambdaLR factor."""

    def factor(s):
        span = total - warmup

        def after(sp):
            if sp >= span:
                return lr_min / lr0
            return (lr_min + (lr0 - lr_min) * (1 + math.cos(math.pi * sp / span)) / 2) / lr0

        return after(0) * (s + 1) / warmup if s < warmup else after(s - warmup)

    return factor


CASES = [
    ("sgd", "--optimizer sgd --lr 0.1", lambda p: (O.SGD(p, lr=0.1), None)),
    ("sgd-default-lr", "--optimizer sgd", lambda p: (O.SGD(p, lr=0.01), None)),
    ("momentum", "--optimizer momentum", lambda p: (O.SGD(p, lr=0.01, momentum=0.9), None)),
    ("sgd-momentum-dampening-wd",
     "--optimizer sgd --lr 0.05 --momentum 0.8 --dampening 0.1 --weight-decay 1e-3",
     lambda p: (O.SGD(p, lr=0.05, momentum=0.8, dampening=0.1, weight_decay=1e-3), None)),
    ("nesterov-wd", "--optimizer nesterov --lr 0.05 --weight-decay 1e-3",
     lambda p: (O.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3), None)),
    ("rmsprop", "--optimizer rmsprop", lambda p: (O.RMSprop(p), None)),
    ("rmsprop-centered-momentum",
     "--optimizer rmsprop --lr 1e-3 --alpha 0.9 --centered --momentum 0.9 --weight-decay 1e-3",
     lambda p: (O.RMSprop(p, lr=1e-3, alpha=0.9, centered=True, momentum=0.9,
                          weight_decay=1e-3), None)),
    ("rmsprop-momentum-eps", "--optimizer rmsprop --lr 3e-3 --momentum 0.5 --eps 1e-4",
     lambda p: (O.RMSprop(p, lr=3e-3, momentum=0.5, eps=1e-4), None)),
    ("adam", "--optimizer adam", lambda p: (O.Adam(p), None)),
    ("adam-amsgrad-wd",
     "--optimizer adam --lr 3e-3 --beta1 0.8 --beta2 0.99 --amsgrad --weight-decay 1e-2",
     lambda p: (O.Adam(p, lr=3e-3, betas=(0.8, 0.99), amsgrad=True, weight_decay=1e-2), None)),
    ("adamw", "--optimizer adamw", lambda p: (O.AdamW(p), None)),
    ("adamw-amsgrad", "--optimizer adamw --lr 3e-3 --weight-decay 0.1 --amsgrad --eps 1e-6",
     lambda p: (O.AdamW(p, lr=3e-3, weight_decay=0.1, amsgrad=True, eps=1e-6), None)),
    ("adamax", "--optimizer adamax", lambda p: (O.Adamax(p), None)),
    ("adamax-wd", "--optimizer adamax --beta1 0.8 --eps 1e-6 --weight-decay 1e-2",
     lambda p: (O.Adamax(p, betas=(0.8, 0.999), eps=1e-6, weight_decay=1e-2), None)),
    ("nadam", "--optimizer nadam", lambda p: (O.NAdam(p), None)),
    ("nadam-wd", "--optimizer nadam --lr 5e-3 --momentum-decay 1e-2 --weight-decay 1e-2",
     lambda p: (O.NAdam(p, lr=5e-3, momentum_decay=1e-2, weight_decay=1e-2), None)),
    ("adagrad", "--optimizer adagrad", lambda p: (O.Adagrad(p), None)),
    ("adagrad-decay",
     "--optimizer adagrad --lr 0.05 --lr-decay 0.01 --initial-accumulator 0.1 --weight-decay 1e-3",
     lambda p: (O.Adagrad(p, lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1,
                          weight_decay=1e-3), None)),
    ("adadelta", "--optimizer adadelta", lambda p: (O.Adadelta(p), None)),
    ("adadelta-wd", "--optimizer adadelta --lr 0.5 --rho 0.95 --eps 1e-5 --weight-decay 1e-3",
     lambda p: (O.Adadelta(p, lr=0.5, rho=0.95, eps=1e-5, weight_decay=1e-3), None)),
    ("lars", "--optimizer lars", lambda p: (Lars(lr=1.0), None)),
    ("lars-wd", "--optimizer lars --momentum 0.5 --weight-decay 1e-3 --trust-coefficient 5e-3",
     lambda p: (Lars(lr=1.0, momentum=0.5, weight_decay=1e-3, trust_coefficient=5e-3), None)),
    ("lars-no-momentum", "--optimizer lars --momentum 0 --weight-decay 5e-4 --trust-coefficient 1e-2",
     lambda p: (Lars(lr=1.0, momentum=0.0, weight_decay=5e-4, trust_coefficient=1e-2), None)),
    ("lamb", "--optimizer lamb", lambda p: (Lamb(lr=1e-3), None)),
    ("lamb-nowd", "--optimizer lamb --lr 1e-2 --weight-decay 0 --beta1 0.8",
     lambda p: (Lamb(lr=1e-2, weight_decay=0.0, beta1=0.8), None)),
    ("momentum-clip", "--optimizer momentum --lr 0.1 --clip-norm 0.5",
     lambda p: (O.SGD(p, lr=0.1, momentum=0.9), None)),
    ("adam-clip", "--optimizer adam --lr 1e-2 --clip-norm 0.1", lambda p: (O.Adam(p, lr=1e-2), None)),
    ("lamb-clip", "--optimizer lamb --lr 1e-2 --clip-norm 0.2", lambda p: (Lamb(lr=1e-2), None)),
    ("step-schedule", "--optimizer momentum --lr 0.1 --lr-schedule step --lr-step-size 30 "
     "--lr-gamma 0.5",
     lambda p: (lambda o: (o, S.StepLR(o, step_size=30, gamma=0.5)))(O.SGD(p, lr=0.1,
                                                                          momentum=0.9))),
    ("exponential-schedule", "--optimizer adam --lr 1e-2 --lr-schedule exponential --lr-gamma 0.97",
     lambda p: (lambda o: (o, S.ExponentialLR(o, gamma=0.97)))(O.Adam(p, lr=1e-2))),
    ("cosine-schedule", "--optimizer momentum --lr 0.1 --lr-schedule cosine --lr-min 1e-3",
     lambda p: (lambda o: (o, S.CosineAnnealingLR(o, T_max=STEPS, eta_min=1e-3)))(
         O.SGD(p, lr=0.1, momentum=0.9))),
    ("warmup-cosine", "--optimizer nesterov --lr 0.1 --lr-schedule cosine --lr-min 1e-3 "
     "--warmup-steps 10",
     lambda p: (lambda o: (o, S.LambdaLR(o, warmup_cosine(10, STEPS, 0.1, 1e-3))))(
         O.SGD(p, lr=0.1, momentum=0.9, nesterov=True))),
    ("lr-scale-linear", "--optimizer sgd --lr 0.05 --lr-scale linear --lr-base-batch 32",
     lambda p: (O.SGD(p, lr=0.05 * N / 32), None)),
]


def clip_of(flags):
    words = flags.split()
    return float(words[words.index("--clip-norm") + 1]) if "--clip-norm" in words else None


def run_case(make, flags, x, y, init, round_weights=False):
    """100 steps of the case; round_weights rounds the weights to float32 after every step (the
    sensitivity probe: a float32 implementation cannot be closer than that)."""
    params = []
    for w, b in init:
        params.append(torch.tensor(w.astype(np.float64), requires_grad=True))
        params.append(torch.tensor(b.astype(np.float64), requires_grad=True))
    opt, sched = make(params)
    clip = clip_of(flags)
    numpy_opt = isinstance(opt, (Lars, Lamb))
    for _ in range(STEPS):
        for p in params:
            p.grad = None
        loss = loss_of(params, x, y)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        if numpy_opt:
            ws = [p.detach().numpy() for p in params]  # views: updated in place
            gs = [p.grad.detach().numpy().copy() for p in params]
            opt.step(ws, gs, opt.lr)
        else:
            opt.step()
            if sched is not None:
                sched.step()
        if round_weights:
            with torch.no_grad():
                for p in params:
                    p.copy_(p.float().double())
    final = loss_of(params, x, y).item()
    layers = [(params[2 * i].detach().numpy(), params[2 * i + 1].detach().numpy())
              for i in range(len(params) // 2)]
    return layers, final


def main():
    os.makedirs(OUT, exist_ok=True)
    x32, y32 = make_data()
    with h5py.File(os.path.join(OUT, "data.h5"), "w", libver="latest") as f:
        f["X"] = x32
        f["y"] = y32
    init = make_init()
    write_model(os.path.join(OUT, "init.h5"), init)
    x = torch.tensor(x32.astype(np.float64))
    y = torch.tensor(y32.astype(np.int64))
    print(f"torch {torch.__version__}; initial loss {loss_of([torch.tensor(a.astype(np.float64)) for l in init for a in l], x, y).item():.6f}")
    lines = ["# generated by scripts/optim_reference.py: name<TAB>nndist flags (100 full-batch "
             "steps from init.h5 on data.h5)", f"common\t{COMMON}"]
    # A case whose result moves by more than this when the weights are merely rounded to float32
    # is chaotic (e.g. LARS without momentum at a large trust coefficient): no float32 code can
    # match it to 1e-5, so it does not belong in the reference set.
    max_sensitivity = 2e-6
    bad = []
    for name, flags, make in CASES:
        layers, final = run_case(make, flags, x, y, init)
        rounded, _ = run_case(make, flags, x, y, init, round_weights=True)
        a = np.concatenate([t.ravel() for l in layers for t in l])
        b = np.concatenate([t.ravel() for l in rounded for t in l])
        sens = np.abs(a - b).max() / np.abs(a).max()
        if sens > max_sensitivity:
            bad.append(name)
        write_model(os.path.join(OUT, f"{name}.h5"), layers)
        lines.append(f"{name}\t{flags}")
        print(f"{name:28s} loss after {STEPS} steps {final:.6f}   float32 rounding moves it "
              f"{sens:.2g}")
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if bad:
        print(f"too sensitive to float32 rounding (> {max_sensitivity:g}): {', '.join(bad)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
