#!/usr/bin/python3
"""PyTorch reference for scripts/bench/train_vs_torch.sh: the same MLP, data, batch and optimizer
as `nndist train`, timed over its training loop only (data already in memory as tensors).

  /usr/bin/python3 scripts/bench/torch_reference.py --data datasets/fashion-mnist-train.h5 \
      --layers 784,512,256,10 --batch 128 --epochs 1 --threads 1 [--optimizer sgd|adam] [--ddp N]
      [--bf16]

Prints one line: `torch samples/s <rate> threads <t> processes <p>`. With --ddp N it starts N
processes (DistributedDataParallel over gloo, each with --threads threads and 1/N of each batch).
With --bf16 the forward pass and the loss run under torch.autocast("cpu", dtype=torch.bfloat16):
the Linear layers' products in bf16 (oneDNN), float32 parameters and optimizer, as PyTorch's
documentation recommends for CPU mixed precision.
Set OMP_WAIT_POLICY=PASSIVE and OPENBLAS_NUM_THREADS like the threads (the shell script does):
Debian's torch computes with OpenBLAS, whose thread pool otherwise spins against torch's.
"""
import argparse
import os
import time

import h5py
import numpy as np
import torch


def build(layers):
    mods = []
    for i in range(len(layers) - 1):
        mods.append(torch.nn.Linear(layers[i], layers[i + 1]))
        if i < len(layers) - 2:
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods)


def train(rank, world, args):
    torch.set_num_threads(args.threads)
    if world > 1:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29517")
        torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    with h5py.File(args.data, "r") as f:
        X = torch.from_numpy(np.ascontiguousarray(f["X"][...], dtype=np.float32))
        y = torch.from_numpy(f["y"][...].astype(np.int64))
    torch.manual_seed(1)
    model = build([int(v) for v in args.layers.split(",")])
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    opt = (torch.optim.SGD(model.parameters(), lr=0.1) if args.optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=1e-3))
    loss_fn = torch.nn.CrossEntropyLoss()
    n = X.shape[0]
    per = args.batch // world
    g = torch.Generator().manual_seed(2)
    seen = 0
    start = time.perf_counter()
    for _ in range(args.epochs):
        perm = torch.randperm(n, generator=g)
        for b in range(0, n - args.batch + 1, args.batch):
            idx = perm[b + rank * per: b + (rank + 1) * per]
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
            seen += args.batch
    elapsed = time.perf_counter() - start
    if rank == 0:
        print(f"torch samples/s {seen / elapsed:.0f} threads {args.threads} processes {world}"
              f" precision {'bf16' if args.bf16 else 'fp32'}", flush=True)
    if world > 1:
        torch.distributed.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--layers", default="784,512,256,10")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--ddp", type=int, default=1, help="processes (DistributedDataParallel, gloo)")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast on the CPU")
    args = p.parse_args()
    if args.ddp > 1:
        torch.multiprocessing.spawn(train, args=(args.ddp, args), nprocs=args.ddp)
    else:
        train(0, 1, args)


if __name__ == "__main__":
    main()
