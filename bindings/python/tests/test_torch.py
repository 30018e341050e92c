# SPDX-License-Identifier: MIT
# The DDP comm hook, Signum and the Horovod-style DistributedOptimizer: voted
# gradients equal the oracle (every rank's local gradients gathered over MPI
# and counted), models stay identical on every rank, and training lowers the
# loss.
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist
import torch.nn as nn

import signvote
import signvote.torch as svt
from conftest import assert_all, assert_same_on_all_ranks, oracle


@pytest.fixture(scope="module")
def pg(mpi):
    if not dist.is_initialized():
        svt.init_process_group_from_mpi("gloo")
    yield
    # The process group stays until exit (gloo teardown is not collective-safe mid-session).


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 1))


def _data(rank, n=64, seed=1):
    g = torch.Generator().manual_seed(1000 * seed + rank)
    x = torch.randn(n, 8, generator=g)
    w = torch.arange(1.0, 9.0) / 8
    y = torch.sin(x @ w).unsqueeze(1)
    return x, y


def _local_grads(model, x, y):
    model.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    return [p.grad.detach().clone() for p in model.parameters()]


def _voted_oracle(mpi, grads, **policies):
    flat = torch.cat([g.reshape(-1) for g in grads]).double().numpy()
    every = mpi.allgather(flat)
    exp, _ = oracle(every, **policies)
    return exp


def _params_bytes(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy().tobytes()


def _global_loss(mpi, model, x, y):
    with torch.no_grad():
        return mpi.allreduce(float(nn.functional.mse_loss(model(x), y))) / mpi.size


def test_from_torch_matches_mpi(mpi, pg):
    with signvote.Communicator.from_torch() as c:
        assert c.rank == dist.get_rank() == mpi.rank and c.size == dist.get_world_size()


def test_from_torch_subgroup(mpi, pg):
    members = list(range(0, mpi.size, 2))  # the even ranks
    group = dist.new_group(members)  # collective over all ranks
    if mpi.rank % 2:
        with pytest.raises(ValueError, match="not in the group"):
            signvote.Communicator.from_torch(group)
        return
    with signvote.Communicator.from_torch(group) as c:
        assert c.size == len(members) and c.rank == dist.get_rank(group)
        x = np.array([1.0 if mpi.rank == 0 else -1.0])
        votes = sum(1 if r == 0 else -1 for r in members)
        assert c.allreduce_sign(x)[0] == (1.0 if votes >= 0 else -1.0)


@pytest.mark.parametrize("asynchronous", [True, False])
def test_ddp_hook_votes_each_bucket(mpi, pg, asynchronous, monkeypatch):
    from torch.nn.parallel import DistributedDataParallel as DDP
    x, y = _data(mpi.rank)
    ref = _model()
    exp = _voted_oracle(mpi, _local_grads(ref, x, y))
    monkeypatch.setattr(dist, "_DEFAULT_FIRST_BUCKET_BYTES", 1024)  # several buckets from the start
    model = DDP(_model(), bucket_cap_mb=0.001)
    state = svt.SignVoteState(asynchronous=asynchronous, scale=0.5)
    model.register_comm_hook(state, svt.sign_vote_hook)
    # No step, so every iteration has the same gradients.
    for it in range(3):
        model.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        got = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).double().numpy()
        assert_all(np.array_equal(got, exp * 0.5), f"DDP bucket votes vs oracle, iteration {it}")
    assert state.buckets_voted > 3  # more than one bucket per iteration
    state.comm.close()


def test_ddp_hook_trains_with_signum(mpi, pg):
    from torch.nn.parallel import DistributedDataParallel as DDP
    x, y = _data(mpi.rank, n=128)
    model = DDP(_model())
    model.register_comm_hook(svt.SignVoteState(), svt.sign_vote_hook)
    opt = svt.Signum(model.parameters(), lr=3e-3, momentum=0.9, weight_decay=1e-4)
    first = _global_loss(mpi, model, x, y)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    last = _global_loss(mpi, model, x, y)
    assert_same_on_all_ranks(_params_bytes(model.module), "DDP replicas")
    assert last < 0.7 * first, f"loss {first:.4f} -> {last:.4f}"


@pytest.mark.parametrize("asynchronous", [True, False])
def test_distributed_optimizer_votes(mpi, asynchronous):
    x, y = _data(mpi.rank, seed=2)
    exp = _voted_oracle(mpi, _local_grads(_model(), x, y))
    model = _model()
    opt = svt.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.0),
                                   named_parameters=model.named_parameters(), bucket_bytes=600,
                                   asynchronous=asynchronous)
    assert len(opt._sv_buckets) >= 3
    opt.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    opt.synchronize()
    got = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).double().numpy()
    assert_all(np.array_equal(got, exp), "DistributedOptimizer votes vs oracle")
    with opt.skip_synchronize():
        opt.step()


def test_distributed_optimizer_backward_passes(mpi):
    model = _model()
    opt = svt.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.0),
                                   named_parameters=model.named_parameters(), backward_passes_per_step=2)
    x1, y1 = _data(mpi.rank, seed=3)
    x2, y2 = _data(mpi.rank, seed=4)
    ref = _model()
    g1 = _local_grads(ref, x1, y1)
    g2 = _local_grads(ref, x2, y2)
    exp = _voted_oracle(mpi, [a + b for a, b in zip(g1, g2)])
    opt.zero_grad()
    nn.functional.mse_loss(model(x1), y1).backward()
    nn.functional.mse_loss(model(x2), y2).backward()
    opt.step()
    got = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).double().numpy()
    assert_all(np.array_equal(got, exp), "accumulated two passes")


def test_distributed_optimizer_trains(mpi):
    torch.manual_seed(100 + mpi.rank)  # different starts: broadcast_parameters must align them
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 1))
    svt.broadcast_parameters(model.state_dict(), root_rank=0)
    assert_same_on_all_ranks(_params_bytes(model), "after broadcast")
    opt = svt.DistributedOptimizer(svt.Signum(model.parameters(), lr=3e-3, momentum=0.9),
                                   named_parameters=model.named_parameters(), bucket_bytes=2048)
    svt.broadcast_optimizer_state(opt, root_rank=0)
    x, y = _data(mpi.rank, n=128, seed=5)
    first = _global_loss(mpi, model, x, y)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    last = _global_loss(mpi, model, x, y)
    assert_same_on_all_ranks(_params_bytes(model), "replicas")
    assert last < 0.7 * first, f"loss {first:.4f} -> {last:.4f}"


def test_signum_with_vote(mpi, comm):
    model = _model()
    x, y = _data(mpi.rank, seed=6)
    grads = _local_grads(model, x, y)
    opt = svt.Signum(model.parameters(), lr=0.5, momentum=0.5, comm=comm)
    before = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double().numpy()
    opt.step()
    after = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double().numpy()
    # m = (1 - 0.5) * g after one step from zero: the vote is on sign(g).
    exp = _voted_oracle(mpi, grads)
    assert_all(np.allclose(before - after, 0.5 * exp, atol=1e-6), "Signum with majority vote")
    assert_same_on_all_ranks(_params_bytes(model), "Signum replicas")


def test_horovod_arguments():
    model = _model()
    with pytest.raises(ValueError, match="compression"):
        svt.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), compression=object())
    with pytest.raises(ValueError, match="unique"):
        svt.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1),
                                 named_parameters=[("a", p) for p in model.parameters()])


def test_ddp_hook_error_surfaces(mpi, pg):
    from torch.nn.parallel import DistributedDataParallel as DDP
    model = DDP(_model())
    state = svt.SignVoteState(nan="error")
    model.register_comm_hook(state, svt.sign_vote_hook)
    x, y = _data(mpi.rank)
    if mpi.rank == 0:
        x[0, 0] = float("nan")
    with pytest.raises(Exception) as e:
        nn.functional.mse_loss(model(x), y).backward()
    assert "SV_NAN_ERROR" in str(e.value)
    state.comm.close()


def test_distributed_optimizer_error_has_code(mpi):
    model = _model()
    with signvote.Communicator(nan=signvote.Nan.ERROR) as c:
        opt = svt.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1),
                                       named_parameters=model.named_parameters(), comm=c)
        x, y = _data(mpi.rank)
        if mpi.rank == 0:
            x[0, 0] = float("nan")
        nn.functional.mse_loss(model(x), y).backward()
        with pytest.raises(signvote.SignvoteError) as e:
            opt.step()
        assert e.value.code == signvote.Result.INVALID_ARGUMENT and "SV_NAN_ERROR" in e.value.message


def _lion_reference(mpi, model, grads, steps_grads, lr, b1, b2, wd):
    """Distributed Lion MaVo from the formulas, in numpy float32, every rank's
    momentum simulated from all ranks' gradients (gathered over MPI)."""
    x = [p.detach().reshape(-1).numpy().astype(np.float32).copy() for p in model.parameters()]
    x = np.concatenate(x)
    m = [np.zeros_like(x) for _ in range(mpi.size)]
    f32 = np.float32
    for g_mine in steps_grads:
        every = mpi.allgather(g_mine)
        cs = [f32(b1) * m[r] + f32(1 - b1) * every[r] for r in range(mpi.size)]
        plus = sum((c >= 0).astype(np.int64) for c in cs)  # -0 and +0 vote +1
        minus = mpi.size - plus
        vote = np.where(plus > minus, f32(1), np.where(minus > plus, f32(-1), f32(0)))
        x = x * f32(1 - lr * wd) - f32(lr) * vote
        for r in range(mpi.size):
            m[r] = f32(b2) * m[r] + f32(1 - b2) * every[r]
    return x, m[mpi.rank]


def test_lion_with_vote_matches_mavo_reference(mpi):
    # tie "zero": an even split leaves a weight alone (the reference's 0).
    comm = signvote.Communicator(tie="zero")
    model = _model(seed=3)
    lr, b1, b2, wd = 0.01, 0.9, 0.99, 0.1
    opt = svt.Lion(model.parameters(), lr=lr, betas=(b1, b2), weight_decay=wd, comm=comm)
    steps_grads = []
    start = [p.detach().clone() for p in model.parameters()]
    for k in range(3):
        x, y = _data(mpi.rank, seed=10 + k)
        grads = _local_grads(model, x, y)
        steps_grads.append(torch.cat([g.reshape(-1) for g in grads]).numpy().astype(np.float32))
        opt.step()
    with torch.no_grad():
        ref_model = _model(seed=3)
        for p, s in zip(ref_model.parameters(), start):
            p.copy_(s)
    want_x, want_m = _lion_reference(mpi, ref_model, None, steps_grads, lr, b1, b2, wd)
    got_x = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()
    got_m = torch.cat([opt.state[p]["exp_avg"].reshape(-1) for p in model.parameters()]).numpy()
    assert_all(np.array_equal(got_x.view(np.uint32), want_x.view(np.uint32)), "Lion MaVo params bit for bit")
    assert_all(np.array_equal(got_m.view(np.uint32), want_m.view(np.uint32)), "Lion MaVo momentum bit for bit")
    assert_same_on_all_ranks(_params_bytes(model), "Lion replicas")
    # The state round-trips.
    sd = opt.state_dict()
    opt2 = svt.Lion(model.parameters(), lr=lr, betas=(b1, b2), weight_decay=wd, comm=comm)
    opt2.load_state_dict(sd)
    for p in model.parameters():
        assert torch.equal(opt2.state[p]["exp_avg"], opt.state[p]["exp_avg"])
    comm.close()


def test_lion_without_comm_is_plain_lion():
    model = _model(seed=4)
    x, y = _data(0, seed=4)
    ref = [p.detach().clone() for p in model.parameters()]
    opt = svt.Lion(model.parameters(), lr=0.02, betas=(0.9, 0.99), weight_decay=0.05)
    grads = _local_grads(model, x, y)
    opt.step()
    for p, p0, g in zip(model.parameters(), ref, grads):
        c = 0.1 * g  # beta1 * 0 + (1 - beta1) * g
        want = p0 * (1 - 0.02 * 0.05) - 0.02 * torch.sign(c)
        assert torch.allclose(p.detach(), want, atol=1e-7)
    with pytest.raises(ValueError, match="betas"):
        svt.Lion(model.parameters(), betas=(0.9, 1.5))


def test_signvote_state_close(mpi, pg):
    from torch.nn.parallel import DistributedDataParallel as DDP
    model = DDP(_model())
    with svt.SignVoteState() as state:
        model.register_comm_hook(state, svt.sign_vote_hook)
        x, y = _data(mpi.rank)
        nn.functional.mse_loss(model(x), y).backward()
        assert state.buckets_voted >= 1
        comm = state.comm
    assert state.closed and comm.closed  # it created the communicator: closed with it
    state.close()  # idempotent
    own = signvote.Communicator()
    s2 = svt.SignVoteState(own)
    s2.close()
    assert not own.closed  # a communicator given to it stays the caller's
    own.close()


def test_horovod_module(mpi):
    import signvote.horovod as hvd
    hvd.init()
    assert hvd.is_initialized()
    assert (hvd.rank(), hvd.size()) == (mpi.rank, mpi.size)
    assert 0 <= hvd.local_rank() < hvd.local_size() <= hvd.size()
    t = torch.tensor([float(mpi.rank), 1.0])
    avg = hvd.allreduce(t, name="x")
    assert torch.allclose(avg, torch.tensor([(mpi.size - 1) / 2, 1.0]))
    s = hvd.allreduce(t, op=hvd.Sum)
    assert torch.allclose(s, torch.tensor([mpi.size * (mpi.size - 1) / 2, float(mpi.size)]))
    assert hvd.allreduce(torch.tensor(2.0)).shape == torch.Size([])
    with pytest.raises(ValueError, match="op="):
        hvd.allreduce(t, op="Adasum")
    model = _model()
    for c in (hvd.Compression.none, hvd.Compression.fp16):
        opt = hvd.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1),
                                       named_parameters=model.named_parameters(), compression=c)
        assert opt is not None


# ---- The optimizer inside DDP (MomentumVoteState + momentum_vote_hook) ----------------

def _ddp_momentum_run(mpi, state_kwargs, steps, seed_model=5, start=None, load=None, buckets=True, monkeypatch=None):
    """DDP with the momentum-vote hook for `steps` steps (data seed 20 + k);
    returns the module, the state and the per-step flat local gradients."""
    from torch.nn.parallel import DistributedDataParallel as DDP
    net = _model(seed=seed_model)
    if start is not None:
        with torch.no_grad():
            for p, s in zip(net.parameters(), start):
                p.copy_(s)
    if buckets and monkeypatch is not None:
        monkeypatch.setattr(dist, "_DEFAULT_FIRST_BUCKET_BYTES", 1024)  # several buckets, rebuilt after step 1
    model = DDP(net, bucket_cap_mb=0.001 if buckets else 25)
    state = svt.MomentumVoteState(model, **state_kwargs)
    if load is not None:
        state.load_state_dict(load)
    model.register_comm_hook(state, svt.momentum_vote_hook)
    k0 = 0 if load is None else load["steps_taken"]
    for k in range(k0, k0 + steps):
        x, y = _data(mpi.rank, seed=20 + k)
        nn.functional.mse_loss(model(x), y).backward()
        assert all(float(p.grad.abs().sum()) == 0 for p in model.parameters())  # the hook leaves zero gradients
    return net, state


def _lion_opt_run(mpi, comm, steps, lr, b1, b2, wd, seed_model=5):
    """The same steps through Lion(comm=...) (tested against the numpy MaVo reference above)."""
    net = _model(seed=seed_model)
    opt = svt.Lion(net.parameters(), lr=lr, betas=(b1, b2), weight_decay=wd, comm=comm)
    grads = []
    for k in range(steps):
        x, y = _data(mpi.rank, seed=20 + k)
        g = _local_grads(net, x, y)
        grads.append(torch.cat([t.reshape(-1) for t in g]).numpy().astype(np.float32))
        opt.step()
    return net, opt, grads


@pytest.mark.parametrize("asynchronous", [True, False])
def test_ddp_lion_hook_is_distributed_lion(mpi, pg, asynchronous, monkeypatch):
    lr, b1, b2, wd = 0.01, 0.9, 0.99, 0.1
    with signvote.Communicator(tie="zero") as comm:
        net, state = _ddp_momentum_run(
            mpi, dict(optimizer="lion", lr=lr, betas=(b1, b2), weight_decay=wd, comm=comm, asynchronous=asynchronous),
            3, monkeypatch=monkeypatch)
        ref, opt, grads = _lion_opt_run(mpi, comm, 3, lr, b1, b2, wd)
        assert state.buckets_voted > 3  # several buckets a step
        got = _params_bytes(net)
        assert_all(got == _params_bytes(ref), "DDP Lion hook vs Lion(comm=...) bit for bit")
        # And against the numpy MaVo reference directly.
        with torch.no_grad():
            start = _model(seed=5)
        want_x, want_m = _lion_reference(mpi, start, None, grads, lr, b1, b2, wd)
        got_x = np.frombuffer(got, dtype=np.float32)
        assert_all(np.array_equal(got_x.view(np.uint32), want_x.view(np.uint32)), "DDP Lion hook vs MaVo reference")
        sd = state.state_dict()
        got_m = torch.cat([sd["momenta"][j].reshape(-1) for j in range(len(list(net.parameters())))]).numpy()
        assert_all(np.array_equal(got_m.view(np.uint32), want_m.view(np.uint32)), "momentum vs MaVo reference")
        assert_same_on_all_ranks(got, "DDP Lion replicas")


def test_ddp_signum_hook_is_signum_with_vote(mpi, pg, monkeypatch):
    lr, mom, wd = 0.003, 0.9, 1e-3
    with signvote.Communicator() as comm:
        net, state = _ddp_momentum_run(
            mpi, dict(optimizer="signum", lr=lr, momentum=mom, weight_decay=wd, comm=comm), 3, monkeypatch=monkeypatch)
        ref = _model(seed=5)
        opt = svt.Signum(ref.parameters(), lr=lr, momentum=mom, weight_decay=wd, comm=comm)
        for k in range(3):
            x, y = _data(mpi.rank, seed=20 + k)
            _local_grads(ref, x, y)
            opt.step()
        assert_all(_params_bytes(net) == _params_bytes(ref), "DDP Signum hook vs Signum(comm=...) bit for bit")
        assert_same_on_all_ranks(_params_bytes(net), "DDP Signum replicas")


def test_ddp_momentum_hook_checkpoint_round_trips(mpi, pg, monkeypatch):
    kw = dict(optimizer="lion", lr=0.01, betas=(0.9, 0.99), weight_decay=0.1, tie="zero")
    straight, _ = _ddp_momentum_run(mpi, kw, 4, monkeypatch=monkeypatch)
    first, state = _ddp_momentum_run(mpi, kw, 2, monkeypatch=monkeypatch)
    sd = state.state_dict()
    sd["steps_taken"] = 2
    params = [p.detach().clone() for p in first.parameters()]
    state.close()
    # A new DDP (a new bucket layout, rebuilt again after its first step) from the checkpoint.
    resumed, state2 = _ddp_momentum_run(mpi, kw, 2, start=params, load=sd, monkeypatch=monkeypatch)
    assert_all(_params_bytes(resumed) == _params_bytes(straight), "resumed from a checkpoint vs straight through")
    # One bucket instead of several: the per-parameter momenta load into any layout.
    resumed1, _ = _ddp_momentum_run(mpi, kw, 2, start=params, load=sd, buckets=False)
    assert_all(_params_bytes(resumed1) == _params_bytes(straight), "checkpoint into a one-bucket layout")
    with pytest.raises(ValueError, match="lion"):
        svt.MomentumVoteState(first, "signum", comm=state2.comm).load_state_dict(sd)
    with pytest.raises(ValueError, match="optimizer"):
        svt.MomentumVoteState(first, "adam", comm=state2.comm)


def test_distributed_optimizer_votes_the_momentum(mpi):
    lr, b1, b2, wd = 0.01, 0.9, 0.99, 0.1
    with signvote.Communicator(tie="zero") as comm:
        net = _model(seed=5)
        opt = svt.DistributedOptimizer(svt.Lion(net.parameters(), lr=lr, betas=(b1, b2), weight_decay=wd),
                                       named_parameters=net.named_parameters(), comm=comm, vote="momentum")
        for k in range(3):
            x, y = _data(mpi.rank, seed=20 + k)
            opt.zero_grad()
            nn.functional.mse_loss(net(x), y).backward()
            opt.step()
        ref, _, grads = _lion_opt_run(mpi, comm, 3, lr, b1, b2, wd)
        assert_all(_params_bytes(net) == _params_bytes(ref), "DistributedOptimizer(vote='momentum') vs Lion(comm)")
        want_x, _ = _lion_reference(mpi, _model(seed=5), None, grads, lr, b1, b2, wd)
        got_x = np.frombuffer(_params_bytes(net), dtype=np.float32)
        assert_all(np.array_equal(got_x.view(np.uint32), want_x.view(np.uint32)), "vs the MaVo reference")
        with pytest.raises(ValueError, match="Lion or Signum"):
            svt.DistributedOptimizer(torch.optim.SGD(net.parameters(), lr=0.1), comm=comm, vote="momentum")
        with pytest.raises(ValueError, match="vote="):
            svt.DistributedOptimizer(torch.optim.SGD(net.parameters(), lr=0.1), comm=comm, vote="both")
