#!/usr/bin/python3
"""The PyTorch equivalent of an nndist recipe (scripts/fashion-mnist-recipe.sh): the same MLP
(optional Dropout on the input; Linear, then optional BatchNorm1d or LayerNorm, ReLU and Dropout
per hidden layer), the features standardized with the training set's mean and population std,
AdamW, a cosine learning rate over every step (torch.optim.lr_scheduler.CosineAnnealingLR),
cross-entropy with label smoothing, shuffled batches, the test accuracy after the last epoch.

  /usr/bin/python3 scripts/recipe_torch.py --train datasets/fashion-mnist-train.h5 \
      --test datasets/fashion-mnist-test.h5 --layers 784,1024,512,10 --dropout 0.3 \
      [--input-dropout 0.2] \
      [--norm none|batch|layer] --epochs 40 --batch 128 --lr 1e-3 --weight-decay 0.01 \
      --label-smoothing 0.1 --threads 2 --seed 1

Prints `torch test accuracy <acc> train seconds <s> threads <t>`; the seconds are the training
loop's (data in memory as tensors). Set OMP_WAIT_POLICY=PASSIVE and OPENBLAS_NUM_THREADS like the
threads (Debian's torch computes with OpenBLAS, whose pool otherwise spins against torch's).
"""
import argparse
import time

import h5py
import numpy as np
import torch


def build(layers, dropout, norm, input_dropout):
    mods = [torch.nn.Dropout(input_dropout)] if input_dropout > 0 else []
    for i in range(len(layers) - 1):
        mods.append(torch.nn.Linear(layers[i], layers[i + 1]))
        if i < len(layers) - 2:
            if norm == "batch":
                mods.append(torch.nn.BatchNorm1d(layers[i + 1]))
            elif norm == "layer":
                mods.append(torch.nn.LayerNorm(layers[i + 1]))
            mods.append(torch.nn.ReLU())
            if dropout > 0:
                mods.append(torch.nn.Dropout(dropout))
    return torch.nn.Sequential(*mods)


def load(path):
    with h5py.File(path, "r") as f:
        return (np.ascontiguousarray(f["X"][...], dtype=np.float32),
                torch.from_numpy(f["y"][...].astype(np.int64)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--layers", default="784,1024,512,10")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--input-dropout", type=float, default=0.0)
    p.add_argument("--norm", choices=["none", "batch", "layer"], default="none")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x_train, y_train = load(args.train)
    x_test, y_test = load(args.test)
    mean = x_train.mean(axis=0, dtype=np.float64)
    std = x_train.std(axis=0, dtype=np.float64)
    std[std == 0] = 1.0  # a constant feature keeps its scale, as nndist's --standardize
    X = torch.from_numpy(((x_train - mean) / std).astype(np.float32))
    Xt = torch.from_numpy(((x_test - mean) / std).astype(np.float32))
    model = build([int(v) for v in args.layers.split(",")], args.dropout, args.norm,
                  args.input_dropout)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    n = X.shape[0]
    steps_per_epoch = (n + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * steps_per_epoch)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    g = torch.Generator().manual_seed(args.seed + 1)
    start = time.perf_counter()
    for _ in range(args.epochs):
        model.train()
        perm = torch.randperm(n, generator=g)
        for b in range(0, n, args.batch):
            idx = perm[b:b + args.batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(X[idx]), y_train[idx]).backward()
            opt.step()
            sched.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        acc = (model(Xt).argmax(dim=1) == y_test).double().mean().item()
    print(f"torch test accuracy {acc:.4f} train seconds {seconds:.1f} threads {args.threads}",
          flush=True)


if __name__ == "__main__":
    main()
