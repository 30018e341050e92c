# SPDX-License-Identifier: MIT
"""DDP + signvote: each gradient bucket is replaced by the sign-majority vote
of the ranks (signSGD with majority vote), and Signum takes the step.

    mpirun -np 4 .venv/bin/python examples/python/ddp_signum.py [--steps 200]

Ranks are started by mpirun (MPI is signvote's transport); torch.distributed
runs on gloo, initialized from Open MPI's OMPI_COMM_WORLD_* variables and a
master on localhost. The data is Fashion-MNIST when present
(/usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist, or
--data DIR), else a synthetic task. Exits 1 if the loss did not go down.
"""
import argparse
import os

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

import signvote.torch as svt
from idx_file import read_idx


def load(data_dir, rank, world):
    """This rank's shard of the training images, and a common test set."""
    def idx(name):
        return read_idx(data_dir, name)

    if os.path.exists(os.path.join(data_dir, "train-images-idx3-ubyte.gz")):
        xs = torch.tensor(idx("train-images-idx3-ubyte.gz")[:12000].reshape(-1, 784) / 255.0, dtype=torch.float32)
        ys = torch.tensor(idx("train-labels-idx1-ubyte.gz")[:12000], dtype=torch.long)
        xt = torch.tensor(idx("t10k-images-idx3-ubyte.gz")[:2000].reshape(-1, 784) / 255.0, dtype=torch.float32)
        yt = torch.tensor(idx("t10k-labels-idx1-ubyte.gz")[:2000], dtype=torch.long)
        source = "Fashion-MNIST"
    else:  # synthetic: 10 classes from a fixed random linear map
        g = torch.Generator().manual_seed(0)
        w = torch.randn(784, 10, generator=g)
        xs, xt = torch.rand(12000, 784, generator=g), torch.rand(2000, 784, generator=g)
        ys, yt = (xs - 0.5).matmul(w).argmax(1), (xt - 0.5).matmul(w).argmax(1)
        source = "synthetic data"
    return xs[rank::world], ys[rank::world], xt, yt, source


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()

    # torch.distributed from Open MPI's environment and a localhost master.
    rank = int(os.environ["OMPI_COMM_WORLD_RANK"])
    world = int(os.environ["OMPI_COMM_WORLD_SIZE"])
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # one host: gloo on loopback
    if "MASTER_PORT" not in os.environ:  # a free port chosen by rank 0, shared over MPI
        from mpi4py import MPI
        import socket
        port = None
        if rank == 0:
            with socket.socket() as s:
                s.bind(("", 0))
                port = s.getsockname()[1]
        os.environ["MASTER_PORT"] = str(MPI.COMM_WORLD.bcast(port, root=0))
    dist.init_process_group("gloo", rank=rank, world_size=world)

    xs, ys, xt, yt, source = load(args.data, rank, world)
    torch.manual_seed(0)  # the same initial model on every rank (DDP also broadcasts it)
    model = DDP(nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)))

    # The two lines that make this signSGD with majority vote:
    model.register_comm_hook(svt.SignVoteState(), svt.sign_vote_hook)
    opt = svt.Signum(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)

    def test_loss():
        with torch.no_grad():
            out = model.module(xt)
            return nn.functional.cross_entropy(out, yt).item(), (out.argmax(1) == yt).float().mean().item()

    loss0, acc0 = test_loss()
    g = torch.Generator().manual_seed(rank)
    for step in range(args.steps):
        i = torch.randint(0, len(xs), (args.batch,), generator=g)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xs[i]), ys[i])
        loss.backward()  # DDP calls sign_vote_hook on each bucket
        opt.step()
        if rank == 0 and (step + 1) % max(1, args.steps // 5) == 0:
            print(f"step {step + 1:4d}  train loss {loss.item():.4f}", flush=True)
    loss1, acc1 = test_loss()
    if rank == 0:
        print(f"{source}, {world} ranks: test loss {loss0:.4f} -> {loss1:.4f}, accuracy {acc0:.3f} -> {acc1:.3f}")
    dist.destroy_process_group()
    return 0 if loss1 < loss0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
