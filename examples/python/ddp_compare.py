# SPDX-License-Identifier: MIT
"""One model, DDP's gradient exchanges side by side: step time and accuracy.

    mpirun -np 4 .venv/bin/python examples/python/ddp_compare.py --method lion --epochs 2 --csv out.csv

A small CNN on Fashion-MNIST (Debian's dataset-fashion-mnist), data-parallel
with torch's DistributedDataParallel on gloo, started from MPI
(signvote.torch.init_process_group_from_mpi), one torch thread per rank.
--method picks what DDP does with each gradient bucket:

    allreduce    DDP's default fp32 all-reduce (mean), then SGD with momentum
    fp16         torch's fp16_compress_hook, then SGD with momentum
    powersgd1/4  torch's PowerSGD hook, rank 1 / 4, error feedback and warm
                 start (the stock hook, each bucket waited for in the hook:
                 with several buckets on gloo it can deadlock otherwise)
    signum       signvote.torch.momentum_vote_hook, Signum with majority vote
    lion         signvote.torch.momentum_vote_hook, Distributed Lion (MaVo)
    local-sgd    no communication: the hook hands each rank its own gradient
    local-signum the signum hook on a one-rank communicator (MPI_COMM_SELF)
    local-lion   the lion hook on a one-rank communicator

The local-* methods are the same steps with no communication at all, the
baselines of the step-time ratios (each rank then trains its own model;
the accuracy printed is rank 0's). Every rank takes the same number of
steps; the first --warmup steps (DDP's bucket rebuild, PowerSGD's start) are
not timed. step_ms is the slowest rank's mean wall time per timed step
(forward, backward with its exchange, optimizer step), test_acc rank 0's on
the 10,000 test images after each epoch. Exits 1 when, over 2+ epochs, the
last epoch's mean train loss is not below the first's. docs/reproduction.md (g).
"""
import argparse
import time

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

import signvote
import signvote.torch as svt
from idx_file import read_idx

METHODS = ("allreduce", "fp16", "powersgd1", "powersgd4", "signum", "lion", "local-sgd", "local-signum",
           "local-lion")
LR = {"sgd": 0.05, "signum": 1e-4, "lion": 3e-4}  # those of examples/train (the MLP's, tuned there)


def load(data_dir):
    def idx(name):
        return read_idx(data_dir, name)

    def images(name):  # the normalization of examples/train
        x = torch.tensor(idx(name), dtype=torch.float32).div_(255.0).sub_(0.2860).div_(0.3530)
        return x.unsqueeze(1)

    return (images("train-images-idx3-ubyte.gz"), torch.tensor(idx("train-labels-idx1-ubyte.gz"), dtype=torch.long),
            images("t10k-images-idx3-ubyte.gz"), torch.tensor(idx("t10k-labels-idx1-ubyte.gz"), dtype=torch.long))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(1600, 256), nn.ReLU(), nn.Linear(256, 10))


def no_comm_hook(state, bucket):
    fut = torch.futures.Future()
    fut.set_result(bucket.buffer())
    return fut


def waited(hook):
    """The hook, its result waited for before it returns (see the docstring)."""
    def run(state, bucket):
        out = torch.futures.Future()
        out.set_result(hook(state, bucket).wait())
        return out
    return run


def payload_bytes(method, model, P):
    """Bytes a rank hands to the all-reduce per step (a model: before the
    algorithm's 2(P-1)/P; signvote's own counts are measured, see below)."""
    n = sum(p.numel() for p in model.parameters())
    if method == "allreduce":
        return 4 * n
    if method == "fp16":
        return 2 * n
    if method.startswith("powersgd"):
        r = int(method[-1])
        total = 0
        for p in model.parameters():  # torch's rule: matrices (2+ dims) compressed when it saves 2x
            if p.dim() > 1:
                rows, cols = p.shape[0], p.numel() // p.shape[0]
                rr = min(r, rows, cols)
                if rows * cols >= 2 * rr * (rows + cols):
                    total += 4 * rr * (rows + cols)
                    continue
            total += 4 * p.numel()
        return total
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--method", choices=METHODS, required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--global-batch", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--steps-per-epoch", type=int, default=0, help="0: one pass over the shard")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--csv", default="")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()

    torch.set_num_threads(1)
    rank, world = svt.init_process_group_from_mpi("gloo")
    if args.global_batch % world:
        raise SystemExit(f"--global-batch {args.global_batch} is not a multiple of {world} ranks")
    xs, ys, xt, yt = load(args.data)
    perm = torch.randperm(len(xs), generator=torch.Generator().manual_seed(args.seed))
    shard = perm[rank::world]
    B = args.global_batch // world
    steps = len(perm) // world // B
    if args.steps_per_epoch:
        steps = min(steps, args.steps_per_epoch)

    torch.manual_seed(args.seed)  # the same initial model everywhere (DDP broadcasts it too)
    net = cnn()
    model = DDP(net)
    m = args.method
    opt, state = None, None
    if m in ("allreduce", "fp16", "local-sgd") or m.startswith("powersgd"):
        opt = torch.optim.SGD(model.parameters(), lr=LR["sgd"], momentum=0.9)
        if m == "fp16":
            from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
            model.register_comm_hook(None, default_hooks.fp16_compress_hook)
        elif m.startswith("powersgd"):
            from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as psgd
            state = psgd.PowerSGDState(process_group=None, matrix_approximation_rank=int(m[-1]),
                                       start_powerSGD_iter=2, use_error_feedback=True, warm_start=True,
                                       random_seed=args.seed)
            model.register_comm_hook(state, waited(psgd.powerSGD_hook))
        elif m == "local-sgd":
            model.register_comm_hook(None, no_comm_hook)
    else:
        kind = m.split("-")[-1]
        comm = None
        if m.startswith("local-"):
            from mpi4py import MPI
            comm = signvote.Communicator.from_mpi(MPI.COMM_SELF, tie=signvote.Tie.ZERO)
        kw = dict(tie=signvote.Tie.ZERO) if comm is None else dict(comm=comm)
        if kind == "lion":
            state = svt.MomentumVoteState(model, "lion", lr=LR["lion"], betas=(0.9, 0.99), **kw)
        else:
            state = svt.MomentumVoteState(model, "signum", lr=LR["signum"], momentum=0.9, **kw)
        model.register_comm_hook(state, svt.momentum_vote_hook)

    if rank == 0:
        n = sum(p.numel() for p in net.parameters())
        print(f"ddp_compare: {m}, {world} ranks, {n} parameters, batch {B} per rank, {steps} steps per epoch",
              flush=True)
    out = open(args.csv, "w") if args.csv and rank == 0 else None
    if out:
        out.write("tag,method,P,epoch,steps,timed_steps,step_ms,test_acc,train_loss,payload_bytes,sv_bytes_sent\n")
    g = torch.Generator().manual_seed(args.seed * 1000003 + rank)
    sent_before = 0
    losses = []
    for epoch in range(1, args.epochs + 1):
        order = shard[torch.randperm(len(shard), generator=g)]
        loss_sum, timed, t0 = 0.0, 0, None
        dist.barrier()
        for s in range(steps):
            if s == (args.warmup if epoch == 1 else 0):
                dist.barrier()
                t0 = time.perf_counter()
            i = order[s * B:(s + 1) * B]
            if opt:
                opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xs[i]), ys[i])
            loss.backward()
            if opt:
                opt.step()
            loss_sum += loss.item()
            timed += t0 is not None
        losses.append(loss_sum / steps)
        elapsed = torch.tensor([time.perf_counter() - t0 if t0 else 0.0])
        dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
        with torch.no_grad():
            acc = (net(xt).argmax(1) == yt).float().mean().item() if rank == 0 else 0.0
        sv_bytes = 0  # signvote's measured bytes sent per step, this epoch (rank 0)
        if isinstance(state, svt.MomentumVoteState):
            total = state.comm.stats().bytes_sent
            sv_bytes, sent_before = (total - sent_before) / steps, total
        if rank == 0:
            step_ms = 1e3 * elapsed.item() / max(1, timed)
            print(f"epoch {epoch}: {step_ms:.2f} ms/step over {timed} steps, test acc {acc:.4f}, "
                  f"train loss {loss_sum / steps:.4f}", flush=True)
            if out:
                out.write(f"{args.tag},{m},{world},{epoch},{steps},{timed},{step_ms:.4f},{acc:.4f},"
                          f"{loss_sum / steps:.5f},{payload_bytes(m, net, world)},{sv_bytes:.0f}\n")
                out.flush()
    if isinstance(state, svt.MomentumVoteState):
        state.close()
    if out:
        out.close()
    dist.destroy_process_group()
    if rank == 0 and len(losses) >= 2 and not losses[-1] < losses[0]:
        print(f"ddp_compare: {m} did not learn: train loss {losses[0]:.4f} -> {losses[-1]:.4f}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
