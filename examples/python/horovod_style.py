# SPDX-License-Identifier: MIT
"""A Horovod-style script on signvote: the only change from Horovod is where
DistributedOptimizer and broadcast_parameters come from.

    mpirun -np 4 .venv/bin/python examples/python/horovod_style.py [--steps 200]

    # Horovod:                                # signvote:
    # import horovod.torch as hvd             import signvote.torch as hvd
    # hvd.init()                              (MPI is started by mpi4py)
    # optimizer = hvd.DistributedOptimizer(   optimizer = hvd.DistributedOptimizer(
    #     optimizer,                              optimizer,
    #     named_parameters=model.named_parameters())  named_parameters=model.named_parameters())

No torch.distributed: the ranks are MPI's. Each gradient is voted (sign
majority) in buckets while backward runs; SGD on the voted signs is signSGD
with majority vote. Exits 1 if the loss did not go down.
"""
import argparse

import torch
import torch.nn as nn
from mpi4py import MPI

import signvote.torch as hvd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--lr", type=float, default=2e-3)
    args = ap.parse_args()
    rank, size = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()

    # A regression task; each rank has its own samples.
    g = torch.Generator().manual_seed(1000 + rank)
    x = torch.randn(512, 16, generator=g)
    y = torch.sin(x[:, :4].sum(1, keepdim=True)) + 0.1 * x[:, 4:5]

    torch.manual_seed(rank)  # different on purpose: broadcast_parameters aligns them
    model = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.0)

    optimizer = hvd.DistributedOptimizer(optimizer, named_parameters=model.named_parameters())
    hvd.broadcast_parameters(model.state_dict(), root_rank=0)
    hvd.broadcast_optimizer_state(optimizer, root_rank=0)

    def global_loss():
        with torch.no_grad():
            return MPI.COMM_WORLD.allreduce(nn.functional.mse_loss(model(x), y).item()) / size

    loss0 = global_loss()
    for step in range(args.steps):
        i = torch.randint(0, len(x), (64,), generator=g)
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x[i]), y[i]).backward()
        optimizer.step()  # waits for the votes, then SGD on +-1 per element
    loss1 = global_loss()
    if rank == 0:
        print(f"{size} ranks, signSGD with majority vote: loss {loss0:.4f} -> {loss1:.4f}")
    return 0 if loss1 < loss0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
