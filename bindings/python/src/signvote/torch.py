# SPDX-License-Identifier: MIT
"""PyTorch integration: DDP comm hooks, the Signum and Lion optimizers, a
Horovod-style DistributedOptimizer, and start-up broadcasts.

    import signvote.torch as svt
    model = DDP(model)                                         # gloo backend, CPU
    model.register_comm_hook(svt.SignVoteState(), svt.sign_vote_hook)
    opt = svt.Signum(model.parameters(), lr=1e-3, momentum=0.9)

    # or the optimizer inside the hook, each rank's momentum voted (D-Lion):
    state = svt.MomentumVoteState(model, "lion", lr=1e-4, betas=(0.9, 0.99))
    model.register_comm_hook(state, svt.momentum_vote_hook)   # no optimizer.step()

    # or, Horovod style (no DDP):
    opt = svt.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=1e-3),
                                   named_parameters=model.named_parameters())
    svt.broadcast_parameters(model.state_dict(), root_rank=0)

The processes are MPI ranks (started by mpirun): MPI is signvote's host
transport. Tensors are CPU tensors in this version. See docs/python.md.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import os
import socket
import threading
import weakref
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
import torch.distributed as dist

from ._core import Communicator, Result, SignvoteError, world

__all__ = ["SignVoteState", "sign_vote_hook", "MomentumVoteState", "momentum_vote_hook", "Signum", "Lion", "DistributedOptimizer", "broadcast_parameters",
           "broadcast_optimizer_state", "broadcast_object", "init_process_group_from_mpi"]


def _mpi_threads_multiple() -> bool:
    from mpi4py import MPI
    return MPI.Query_thread() >= MPI.THREAD_MULTIPLE


class _Worker:
    """One thread that runs votes in submission order. Collectives on one
    communicator must be made in the same order on every rank, and the
    submitters (DDP's bucket order, DistributedOptimizer's bucket index) fix
    that order; one FIFO thread keeps it. The C call releases the GIL, so
    the backward pass goes on while the bits travel."""

    def __init__(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="signvote")

    def submit(self, fn: Callable[[], Any]) -> "concurrent.futures.Future[Any]":
        return self._pool.submit(fn)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


# ---- DDP comm hook -----------------------------------------------------------------

class SignVoteState:
    """State of :func:`sign_vote_hook` (``model.register_comm_hook(state, hook)``).

    comm
        The signvote Communicator; default ``Communicator.from_torch(process_group)``:
        the torch.distributed processes, which must be the MPI ranks in the
        same order (created here, collectively).
    scale
        Each bucket becomes ``scale * vote`` (the communicator's output
        scale; default 1.0, so the optimizer's learning rate sets the step).
    asynchronous
        True (default, when MPI runs with MPI_THREAD_MULTIPLE as mpi4py
        starts it): the hook returns at once and a worker thread votes the
        buckets in order, overlapping the rest of the backward pass. False:
        the hook votes before it returns.
    policies (tie, zero, nan, algorithm, seed, chunk_bytes, ...)
        Communicator fields, when ``comm`` is not given.

    ``close()`` (or ``with SignVoteState(...) as state:``) waits for the votes
    in flight, stops the worker thread and closes the communicator when the
    state created it; the hook then raises SignvoteError(INVALID_USAGE).
    """

    def __init__(self, comm: Optional[Communicator] = None, *, scale: float = 1.0, process_group: Any = None,
                 asynchronous: Optional[bool] = None, **policies: Any) -> None:
        self._owned = comm is None
        self._closed = False
        if comm is None:
            comm = Communicator.from_torch(process_group, **policies)
        elif policies:
            raise TypeError("signvote: give policies or comm, not both")
        self._scale = float(scale)
        self._base = comm
        self.comm = comm._with(scale=self._scale) if comm.config.scale != self._scale else comm
        if asynchronous is None:
            asynchronous = _mpi_threads_multiple()
        self.asynchronous = bool(asynchronous)
        self._worker = _Worker() if self.asynchronous else None
        self.buckets_voted = 0

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Drain and stop the worker, then close the communicator if this
        state created it (collective then, like its creation). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._worker.shutdown()
        if self._owned:
            self._base.close()

    def __enter__(self) -> "SignVoteState":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


_default_states: Dict[Any, SignVoteState] = {}
_states_by_comm: "weakref.WeakKeyDictionary[Communicator, SignVoteState]" = weakref.WeakKeyDictionary()


def _state_of(state: Any) -> SignVoteState:
    if isinstance(state, SignVoteState):
        return state
    if state is None:
        key = None
        if key not in _default_states:
            _default_states[key] = SignVoteState()
        return _default_states[key]
    if isinstance(state, Communicator):
        s = _states_by_comm.get(state)
        if s is None:
            s = _states_by_comm[state] = SignVoteState(state)
        return s
    raise TypeError(f"signvote: sign_vote_hook's state must be a SignVoteState, a Communicator or None, "
                    f"not {type(state).__name__}")


def sign_vote_hook(state: Any, bucket: Any) -> "torch.futures.Future[torch.Tensor]":
    """DDP comm hook: each gradient bucket becomes the sign-majority vote of
    the ranks' buckets (times ``state.scale``), instead of their average.

        model.register_comm_hook(signvote.torch.SignVoteState(), signvote.torch.sign_vote_hook)

    ``state``: a SignVoteState, a Communicator, or None (a default state over
    the default process group). Bitwise identical on every rank, so the
    replicas stay in sync. CPU buckets only in this version (gloo backend).
    Errors arrive through the future (DDP re-raises them from backward()).
    """
    st = _state_of(state)
    buf = bucket.buffer() if hasattr(bucket, "buffer") else bucket.get_tensor()
    return _bucket_future(st, buf, "sign_vote_hook", lambda: st.comm.allreduce_sign(buf, inplace=True))


def _bucket_future(st: SignVoteState, buf: torch.Tensor, hook: str,
                   work: Callable[[], Any]) -> "torch.futures.Future[torch.Tensor]":
    """A hook's future for bucket `buf`: `work()` runs on the state's worker
    (or here), then the future holds `buf`; a closed state, a device bucket
    or an error of `work` arrive as the future's exception."""
    fut: "torch.futures.Future[torch.Tensor]" = torch.futures.Future()
    if st.closed:
        fut.set_exception(SignvoteError(Result.INVALID_USAGE, f"signvote: {hook}: its {type(st).__name__} is closed"))
        return fut
    if buf.device.type != "cpu":
        fut.set_exception(SignvoteError(
            Result.INVALID_USAGE,
            f"signvote: {hook}: a {buf.device.type} bucket; this version votes on CPU tensors only "
            "(DDP on the gloo backend with a CPU model)"))
        return fut

    def run() -> None:
        try:
            work()
            st.buckets_voted += 1
            fut.set_result(buf)
        except BaseException as e:  # delivered to DDP through the future
            fut.set_exception(e)

    if st._worker is not None:
        st._worker.submit(run)
    else:
        run()
    return fut


# DDP checks the hook's annotations against the real objects (with postponed
# evaluation above they would be strings).
sign_vote_hook.__annotations__ = {"state": object, "bucket": dist.GradBucket,
                                  "return": torch.futures.Future[torch.Tensor]}


# ---- The optimizer inside DDP: momentum, vote, step per bucket -----------------------

class MomentumVoteState(SignVoteState):
    """State of :func:`momentum_vote_hook`: DDP's comm hook owns the optimizer,
    so each rank's *momentum* is voted, as the paper's Signum with majority
    vote and Distributed Lion ("MaVo") do, not its raw gradient::

        model = DDP(net)
        state = signvote.torch.MomentumVoteState(model, "lion", lr=1e-4, betas=(0.9, 0.99))
        model.register_comm_hook(state, signvote.torch.momentum_vote_hook)
        for x, y in data:
            loss_fn(model(x), y).backward()   # each bucket: momentum, vote, step
            # no optimizer.step(): the parameters have moved already

    Per bucket, on its flat gradient ``g``, this rank's flat momentum ``m``
    and the bucket's parameters ``p`` (each rank's momentum its own):

    - ``"lion"`` (lr, betas, weight_decay): the step of ``Lion(comm=...)``
      through the fused svLionStep, bit for bit.
    - ``"signum"`` (lr, momentum, weight_decay): the step of
      ``Signum(comm=...)``: ``m <- momentum*m + (1-momentum)*(g + wd*p)``,
      ``p <- p - lr * vote(m)``.

    The parameters then stay bitwise identical on every rank. ``lr`` (and the
    other hyper-parameters) may be changed between steps (a schedule). The
    gradients DDP leaves in ``p.grad`` are zero. The momentum is kept per
    bucket (keyed by the bucket index) and follows the parameters when DDP
    rebuilds its buckets after the first iteration; ``state_dict()`` saves it
    per parameter (its index in ``model.parameters()``), so a checkpoint
    restores into any bucket layout with ``load_state_dict()``.

    model
        The module whose parameters DDP buckets (the DDP wrapper or the
        module itself).
    comm, process_group, asynchronous, policies
        As for :class:`SignVoteState` (policies: tie, zero, nan, ...).
    """

    def __init__(self, model: Any, optimizer: str = "lion", *, lr: float = 1e-4,
                 betas: Tuple[float, float] = (0.9, 0.99), momentum: float = 0.9, weight_decay: float = 0.0,
                 comm: Optional[Communicator] = None, process_group: Any = None,
                 asynchronous: Optional[bool] = None, **policies: Any) -> None:
        if optimizer not in ("lion", "signum"):
            raise ValueError(f"signvote: MomentumVoteState optimizer={optimizer!r}: 'lion' or 'signum'")
        if lr < 0.0 or weight_decay < 0.0:
            raise ValueError(f"signvote: MomentumVoteState lr={lr}, weight_decay={weight_decay}: both must be >= 0")
        if len(betas) != 2 or not all(0.0 <= b <= 1.0 for b in betas):
            raise ValueError(f"signvote: MomentumVoteState betas={betas} outside [0, 1]")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"signvote: MomentumVoteState momentum={momentum} outside [0, 1)")
        super().__init__(comm, process_group=process_group, asynchronous=asynchronous, **policies)
        module = model.module if hasattr(model, "module") and isinstance(model.module, torch.nn.Module) else model
        self._params = list(module.parameters())
        self._index = {id(p): i for i, p in enumerate(self._params)}
        self.optimizer = optimizer
        self.lr, self.betas, self.momentum, self.weight_decay = float(lr), tuple(betas), float(momentum), float(weight_decay)
        # bucket index -> (parameter indices, flat momentum); parameter index
        # -> (bucket index, offset) of its momentum; momenta not in a bucket
        # yet (from load_state_dict, or left by a rebuilt bucket).
        self._buckets: Dict[int, Tuple[Tuple[int, ...], torch.Tensor]] = {}
        self._where: Dict[int, Tuple[int, int]] = {}
        self._loose: Dict[int, torch.Tensor] = {}
        self.steps = 0  # buckets stepped

    def _momentum(self, index: int, layout: Tuple[int, ...], sizes: List[int], dtype: torch.dtype) -> torch.Tensor:
        have = self._buckets.get(index)
        if have is not None and have[0] == layout:
            return have[1]
        if have is not None:  # a rebuilt bucket: what it held goes loose first
            for j in have[0]:
                b, o = self._where.get(j, (None, 0))
                if b == index:  # not taken by a bucket rebuilt before this one
                    self._loose[j] = have[1][o:o + self._params[j].numel()]
                    del self._where[j]
        flat = torch.zeros(sum(sizes), dtype=dtype)
        off = 0
        for j, n in zip(layout, sizes):
            src = self._loose.pop(j, None)
            if src is None and j in self._where:  # still in a bucket not rebuilt yet
                b, o = self._where[j]
                src = self._buckets[b][1][o:o + n]
            if src is not None:
                flat[off:off + n].copy_(src.reshape(-1))
            self._where[j] = (index, off)
            off += n
        self._buckets[index] = (layout, flat)
        live = {b for b, _ in self._where.values()}
        for b in [b for b in self._buckets if b not in live]:  # every parameter moved on
            del self._buckets[b]
        return flat

    def _step(self, index: int, params: List[torch.Tensor], g: torch.Tensor) -> None:
        try:
            layout = tuple(self._index[id(p)] for p in params)
        except KeyError:
            raise ValueError("signvote: momentum_vote_hook: a bucket holds a parameter not in the model given to "
                             "MomentumVoteState") from None
        sizes = [p.numel() for p in params]
        if sum(sizes) != g.numel() or any(p.dtype != g.dtype for p in params):
            raise ValueError(f"signvote: momentum_vote_hook: bucket {index} does not hold its parameters' "
                             "gradients end to end in their dtype")
        state_dtype = torch.float32 if g.dtype in (torch.float16, torch.bfloat16) else g.dtype
        m = self._momentum(index, layout, sizes, state_dtype)
        flat_p = torch.cat([p.detach().reshape(-1) for p in params])
        if self.optimizer == "lion":
            self.comm.lion_step(flat_p, g, m, lr=self.lr, beta1=self.betas[0], beta2=self.betas[1],
                                weight_decay=self.weight_decay)
        else:
            vote = _signum_direction(g, flat_p, m, self.momentum, self.weight_decay).clone()
            self.comm.allreduce_sign(vote, inplace=True)
            flat_p.add_(vote, alpha=-self.lr)
        off = 0
        for p, n in zip(params, sizes):
            p.detach().copy_(flat_p[off:off + n].view_as(p))
            off += n
        g.zero_()
        self.steps += 1

    def state_dict(self) -> Dict[str, Any]:
        """Hyper-parameters and every parameter's momentum (by its index in
        ``model.parameters()``), independent of DDP's bucket layout."""
        mom: Dict[int, torch.Tensor] = {j: t.clone() for j, t in self._loose.items()}
        for j, (b, o) in self._where.items():
            mom[j] = self._buckets[b][1][o:o + self._params[j].numel()].clone()
        return {"optimizer": self.optimizer, "lr": self.lr, "betas": self.betas, "momentum": self.momentum,
                "weight_decay": self.weight_decay, "steps": self.steps, "momenta": mom}

    def load_state_dict(self, sd: Dict[str, Any]) -> None:
        if sd.get("optimizer") != self.optimizer:
            raise ValueError(f"signvote: MomentumVoteState.load_state_dict: a {sd.get('optimizer')!r} state "
                             f"for a {self.optimizer!r} one")
        self.lr, self.betas = float(sd["lr"]), tuple(sd["betas"])
        self.momentum, self.weight_decay, self.steps = float(sd["momentum"]), float(sd["weight_decay"]), sd["steps"]
        self._buckets, self._where = {}, {}
        self._loose = {int(j): t.clone() for j, t in sd["momenta"].items()}


def momentum_vote_hook(state: MomentumVoteState, bucket: Any) -> "torch.futures.Future[torch.Tensor]":
    """DDP comm hook that owns the optimizer (see :class:`MomentumVoteState`):
    per bucket, this rank's momentum, its majority vote across the ranks and
    the step on the bucket's parameters. Errors arrive through the future
    (DDP re-raises them from backward())."""
    fut: "torch.futures.Future[torch.Tensor]" = torch.futures.Future()
    if not isinstance(state, MomentumVoteState):
        fut.set_exception(TypeError(f"signvote: momentum_vote_hook's state must be a MomentumVoteState, not "
                                    f"{type(state).__name__}"))
        return fut
    buf = bucket.buffer() if hasattr(bucket, "buffer") else bucket.get_tensor()
    index, params = bucket.index(), list(bucket.parameters())

    def step() -> None:
        with torch.no_grad():
            state._step(index, params, buf)

    return _bucket_future(state, buf, "momentum_vote_hook", step)


momentum_vote_hook.__annotations__ = {"state": object, "bucket": dist.GradBucket,
                                      "return": torch.futures.Future[torch.Tensor]}


# ---- Signum ----------------------------------------------------------------------

def _signum_direction(grad: torch.Tensor, p: torch.Tensor, m: Optional[torch.Tensor], momentum: float,
                      weight_decay: float) -> torch.Tensor:
    """Signum's update before the sign: ``m <- momentum * m + (1 - momentum)
    * (grad + weight_decay * p)`` in place, returned (``grad + weight_decay
    * p`` when momentum is 0). Shared by Signum and MomentumVoteState."""
    d = grad.add(p, alpha=weight_decay) if weight_decay != 0 else grad
    if momentum != 0:
        m.mul_(momentum).add_(d, alpha=1 - momentum)
        d = m
    return d


class Signum(torch.optim.Optimizer):
    """Signum (Bernstein et al., 2018/2019): momentum, then a sign step.

        m <- momentum * m + (1 - momentum) * (grad + weight_decay * p)
        p <- p - lr * sign(m)

    as the reference code of *signSGD with Majority Vote*. The sign is taken
    by one of:

    - ``comm=None`` (default): ``torch.sign(m)`` locally. Use it behind the
      DDP hook or the DistributedOptimizer: their gradients are already the
      voted signs, identical on every rank, so m and the step are too.
    - ``comm=Communicator``: the majority vote of the ranks' ``sign(m)`` (the
      paper's Signum with majority vote; each rank keeps its own momentum).
      Every rank must have gradients for the same parameters.
    """

    def __init__(self, params: Any, lr: float = 1e-4, momentum: float = 0.9, weight_decay: float = 0.0,
                 comm: Optional[Communicator] = None) -> None:
        if lr < 0.0:
            raise ValueError(f"signvote: Signum lr={lr} < 0")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"signvote: Signum momentum={momentum} outside [0, 1)")
        if weight_decay < 0.0:
            raise ValueError(f"signvote: Signum weight_decay={weight_decay} < 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))
        self.comm = comm

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        todo: List[Tuple[torch.Tensor, torch.Tensor, float]] = []
        for group in self.param_groups:
            mom, wd = group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("signvote: Signum does not take sparse gradients")
                buf = None
                if mom != 0:
                    st = self.state[p]
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = st["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                todo.append((p, _signum_direction(p.grad, p, buf, mom, wd), group["lr"]))
        if self.comm is None:
            for p, d, lr in todo:
                p.add_(torch.sign(d), alpha=-lr)
        else:
            for dtype, items in _by_dtype(todo).items():
                flat = torch.cat([d.reshape(-1) for _, d, _ in items])
                self.comm.allreduce_sign(flat, inplace=True)
                off = 0
                for p, _, lr in items:
                    n = p.numel()
                    p.add_(flat[off:off + n].view_as(p), alpha=-lr)
                    off += n
        return loss


class Lion(torch.optim.Optimizer):
    """Lion (Chen et al. 2023), with lion-pytorch's signature and update::

        c  <- beta1 * m + (1 - beta1) * grad
        p  <- p * (1 - lr * weight_decay) - lr * sign(c)
        m  <- beta2 * m + (1 - beta2) * grad

    - ``comm=None`` (default): plain Lion, ``torch.sign(c)`` locally.
    - ``comm=Communicator``: Distributed Lion with majority vote ("MaVo", Liu
      et al. 2024): the sign is the ranks' majority vote of ``sign(c)``, each
      rank keeping its own momentum, through the fused ``svLionStep`` (one
      exchange per parameter group and dtype: the group's parameters,
      gradients and momenta are copied into flat buffers for it and back).
      A tie follows the communicator's tie policy (``tie="zero"``: no move).
      Every rank must have gradients for the same parameters. Parameters
      then stay bitwise identical on every rank.

    float16 and bfloat16 parameters keep a float32 momentum (``state[p]
    ["exp_avg"]``), as mixed-precision training does; the state round-trips
    through ``state_dict()`` / ``load_state_dict()``.
    """

    def __init__(self, params: Any, lr: float = 1e-4, betas: Tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0, comm: Optional[Communicator] = None) -> None:
        if lr < 0.0:
            raise ValueError(f"signvote: Lion lr={lr} < 0")
        if not all(0.0 <= b <= 1.0 for b in betas) or len(betas) != 2:
            raise ValueError(f"signvote: Lion betas={betas} outside [0, 1]")
        if weight_decay < 0.0:
            raise ValueError(f"signvote: Lion weight_decay={weight_decay} < 0")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay))
        self.comm = comm

    def _momentum(self, p: torch.Tensor) -> torch.Tensor:
        st = self.state[p]
        if "exp_avg" not in st:
            dt = torch.float32 if p.dtype in (torch.float16, torch.bfloat16) else p.dtype
            st["exp_avg"] = torch.zeros(p.shape, dtype=dt, device=p.device)
        return st["exp_avg"]

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (b1, b2), wd = group["lr"], group["betas"], group["weight_decay"]
            ps = [p for p in group["params"] if p.grad is not None]
            for p in ps:
                if p.grad.is_sparse:
                    raise RuntimeError("signvote: Lion does not take sparse gradients")
            if self.comm is None:
                for p in ps:
                    m = self._momentum(p)
                    g = p.grad.to(m.dtype)
                    c = m.mul(b1).add_(g, alpha=1 - b1)
                    p.mul_(1 - lr * wd)
                    p.add_(torch.sign(c).to(p.dtype), alpha=-lr)
                    m.mul_(b2).add_(g, alpha=1 - b2)
                continue
            by: Dict[torch.dtype, List[torch.Tensor]] = {}
            for p in ps:
                by.setdefault(p.dtype, []).append(p)
            for items in by.values():
                flat_p = torch.cat([p.detach().reshape(-1) for p in items])
                flat_g = torch.cat([p.grad.detach().reshape(-1) for p in items])
                flat_m = torch.cat([self._momentum(p).reshape(-1) for p in items])
                self.comm.lion_step(flat_p, flat_g, flat_m, lr=lr, beta1=b1, beta2=b2, weight_decay=wd)
                off = 0
                for p in items:
                    n = p.numel()
                    p.copy_(flat_p[off:off + n].view_as(p))
                    self._momentum(p).copy_(flat_m[off:off + n].view_as(p))
                    off += n
        return loss


def _by_dtype(items):
    out: Dict[torch.dtype, list] = {}
    for it in items:
        out.setdefault(it[1].dtype, []).append(it)
    return out


# ---- Horovod-style DistributedOptimizer ----------------------------------------------

class _Bucket:
    __slots__ = ("index", "params", "pending")

    def __init__(self, index: int, params: List[torch.Tensor]) -> None:
        self.index = index
        self.params = params
        self.pending = len(params)


class _DistributedOptimizer(torch.optim.Optimizer):
    # Methods are copied into a subclass of the wrapped optimizer's class (as
    # Horovod does), so they use super(self.__class__, self), never super().

    def __init__(self, params, named_parameters, comm, backward_passes_per_step, num_groups, groups,
                 sparse_as_dense, bucket_bytes, asynchronous, vote):
        super(self.__class__, self).__init__(params)
        self._sv_comm = comm
        # vote="momentum": the wrapped Lion or Signum votes its momentum in
        # step() (comm=...), and no gradient is voted.
        self._sv_momentum = vote == "momentum"
        if self._sv_momentum:
            self.comm = comm
        self._sv_passes = int(backward_passes_per_step)
        if self._sv_passes < 1:
            raise ValueError("signvote: backward_passes_per_step must be >= 1")
        self._sv_sparse_as_dense = bool(sparse_as_dense)

        all_params = [p for g in self.param_groups for p in g["params"] if p.requires_grad]
        if named_parameters is not None:
            named = list(named_parameters)
            if any(not isinstance(t, tuple) or len(t) != 2 for t in named):
                raise ValueError("signvote: named_parameters must be (name, parameter) pairs, "
                                 "e.g. model.named_parameters()")
            names = [n for n, _ in named]
            dups = sorted({n for n in names if names.count(n) > 1})
            if dups:
                raise ValueError(f"signvote: parameter names are not unique: {', '.join(dups)}")
            self._sv_names = {id(p): n for n, p in named}
            unnamed = [p for p in all_params if id(p) not in self._sv_names]
            if unnamed:
                raise ValueError(f"signvote: named_parameters misses {len(unnamed)} of the optimizer's parameters")
        else:
            self._sv_names = {id(p): f"param.{i}" for i, p in enumerate(all_params)}

        self._sv_buckets = _make_buckets(all_params, num_groups, groups, bucket_bytes)
        self._sv_bucket_of = {id(p): b for b in self._sv_buckets for p in b.params}
        self._sv_delay = {id(p): self._sv_passes for p in all_params}
        self._sv_next = 0
        self._sv_futures: List[concurrent.futures.Future] = []
        self._sv_lock = threading.Lock()
        self._sv_should_sync = True
        if asynchronous is None:
            asynchronous = _mpi_threads_multiple()
        self._sv_worker = _Worker() if asynchronous else None
        self._sv_hooks = []
        for p in ([] if self._sv_momentum else all_params):
            # The AccumulateGrad node of p runs after p.grad is updated.
            acc = p.expand_as(p).grad_fn.next_functions[0][0]
            acc.register_hook(self._sv_make_hook(p))
            self._sv_hooks.append(acc)  # keep the nodes (and so the hooks) alive

    def _sv_make_hook(self, p):
        def hook(*_ignored):
            with self._sv_lock:
                key = id(p)
                if self._sv_delay[key] <= 0:
                    raise AssertionError(
                        f"signvote: gradients of {self._sv_names[key]} were computed more than "
                        "backward_passes_per_step times before step() or synchronize()")
                self._sv_delay[key] -= 1
                if self._sv_delay[key] == 0:
                    self._sv_bucket_of[key].pending -= 1
                    self._sv_launch(force=False)
        return hook

    def _sv_launch(self, force: bool) -> None:
        # Buckets go out in index order (the same on every rank) as soon as
        # they are complete: a later bucket that completes first waits.
        while self._sv_next < len(self._sv_buckets):
            b = self._sv_buckets[self._sv_next]
            if b.pending > 0 and not force:
                return
            self._sv_next += 1
            task = _BucketVote(self, b)
            if self._sv_worker is not None:
                self._sv_futures.append(self._sv_worker.submit(task))
            else:
                task()

    def synchronize(self) -> None:
        """Vote every gradient not voted yet (a parameter without a gradient
        on this rank votes zeros), and wait for all votes of this step.
        (Nothing to do with vote="momentum": step() votes.)"""
        if self._sv_momentum:
            return
        with self._sv_lock:
            self._sv_launch(force=True)
            futures, self._sv_futures = self._sv_futures, []
        try:
            for f in futures:
                f.result()
        finally:
            with self._sv_lock:
                for b in self._sv_buckets:
                    b.pending = len(b.params)
                for k in self._sv_delay:
                    self._sv_delay[k] = self._sv_passes
                self._sv_next = 0

    @contextlib.contextmanager
    def skip_synchronize(self):
        """For ``optimizer.synchronize(); clip...; with optimizer.skip_synchronize(): optimizer.step()``."""
        self._sv_should_sync = False
        try:
            yield
        finally:
            self._sv_should_sync = True

    def step(self, closure=None):
        if self._sv_should_sync:
            self.synchronize()
        return super(self.__class__, self).step(closure)

    def zero_grad(self, *args, **kwargs):
        if self._sv_futures:
            raise AssertionError("signvote: optimizer.zero_grad() was called after loss.backward() but before "
                                 "optimizer.step() or optimizer.synchronize(): the votes in flight would race")
        return super(self.__class__, self).zero_grad(*args, **kwargs)


class _BucketVote:
    """Flatten one bucket's gradients, vote, write the result back."""

    def __init__(self, opt: Any, bucket: _Bucket) -> None:
        self.opt, self.bucket = opt, bucket

    def __call__(self) -> None:
        opt, params = self.opt, self.bucket.params
        with torch.no_grad():
            grads = []
            for p in params:
                g = p.grad
                if g is None:
                    g = torch.zeros_like(p)
                elif g.is_sparse:
                    if not opt._sv_sparse_as_dense:
                        raise ValueError(f"signvote: {opt._sv_names[id(p)]} has a sparse gradient; "
                                         "pass sparse_as_dense=True")
                    g = g.to_dense()
                grads.append(g.reshape(-1))
            flat = torch.cat(grads) if len(grads) > 1 else grads[0].clone()
            opt._sv_comm.allreduce_sign(flat, inplace=True)
            off = 0
            for p in params:
                n = p.numel()
                v = flat[off:off + n].view_as(p)
                if p.grad is None or p.grad.is_sparse:
                    p.grad = v.clone()
                else:
                    p.grad.copy_(v)
                off += n


def _make_buckets(params: List[torch.Tensor], num_groups: int, groups: Any, bucket_bytes: int) -> List[_Bucket]:
    """Buckets of one dtype each, in reverse registration order (about the
    order in which backward produces gradients, as DDP assumes)."""
    lists: List[List[torch.Tensor]] = []
    if groups is not None:
        if num_groups:
            raise ValueError("signvote: give num_groups or groups, not both")
        seen = set()
        for g in groups:
            g = [p for p in g if p.requires_grad]
            seen.update(id(p) for p in g)
            lists.append(g)
        lists += [[p] for p in params if id(p) not in seen]
        lists.reverse()
    elif num_groups:
        rev = list(reversed(params))
        k = max(1, -(-len(rev) // int(num_groups)))
        lists = [rev[i:i + k] for i in range(0, len(rev), k)]
    else:
        cur: List[torch.Tensor] = []
        size = 0
        for p in reversed(params):
            nbytes = p.numel() * p.element_size()
            if cur and size + nbytes > bucket_bytes:
                lists.append(cur)
                cur, size = [], 0
            cur.append(p)
            size += nbytes
        if cur:
            lists.append(cur)
    buckets: List[_Bucket] = []
    for lst in lists:
        by: Dict[torch.dtype, List[torch.Tensor]] = {}
        for p in lst:
            by.setdefault(p.dtype, []).append(p)
        for ps in by.values():
            buckets.append(_Bucket(len(buckets), ps))
    return buckets


def _is_none_compression(c: Any) -> bool:
    if c is None:
        return True
    name = getattr(c, "__name__", type(c).__name__)
    # Horovod's Compression.none, and signvote.horovod's none and fp16
    # (the vote sends one bit per element: less than either).
    if name == "FP16Compressor" and getattr(c, "__module__", "") == "signvote.horovod":
        return True
    return name in ("NoneCompressor", "NoneCompression")


def DistributedOptimizer(optimizer: torch.optim.Optimizer, named_parameters: Optional[Iterable[Tuple[str, torch.Tensor]]] = None,
                         compression: Any = None, backward_passes_per_step: int = 1, op: Any = None,
                         gradient_predivide_factor: float = 1.0, num_groups: int = 0, groups: Any = None,
                         sparse_as_dense: bool = False, process_set: Any = None, *,
                         comm: Optional[Communicator] = None, scale: float = 1.0,
                         bucket_bytes: int = 25 * 2 ** 20, asynchronous: Optional[bool] = None,
                         vote: str = "gradient") -> torch.optim.Optimizer:
    """Wrap ``optimizer`` so that ``step()`` applies the sign-majority vote of
    every gradient (times ``scale``) across the ranks, with the calling shape
    of ``horovod.torch.DistributedOptimizer``:

        optimizer = signvote.torch.DistributedOptimizer(
            optimizer, named_parameters=model.named_parameters())

    Gradient hooks collect gradients into buckets (``bucket_bytes``, or
    Horovod's ``num_groups`` / ``groups``), and each bucket is voted, in
    bucket order, by a worker thread as soon as its gradients are all ready,
    so communication overlaps the rest of backward. ``step()`` (or
    ``synchronize()``) waits for the votes, then runs the wrapped
    optimizer's step on the voted gradients. With SGD that is signSGD with
    majority vote; with :class:`Signum`, Signum on voted signs.

    Horovod's arguments: ``backward_passes_per_step`` (accumulate that many
    backward passes locally, then vote), ``num_groups``, ``groups``,
    ``sparse_as_dense`` work as there. ``process_set`` takes a signvote
    Communicator (same as ``comm``; default ``signvote.world()``, MPI's
    world). ``compression`` must be None (or Horovod's Compression.none): the
    vote already sends one bit per element. ``op`` and
    ``gradient_predivide_factor`` are accepted and ignored, since the vote
    replaces the reduction (a positive factor does not change a sign);
    Adasum is refused.

    A parameter with no gradient on this rank at ``step()`` votes zeros (per
    the zero policy: pass ``comm=Communicator(zero="abstain", tie="zero")`` so
    a parameter nobody updated gets 0). Every rank must make the same
    backward/step calls.

    ``vote="momentum"`` (``optimizer`` a :class:`Lion` or :class:`Signum`):
    each rank's momentum is voted instead of its gradient, as the paper's
    Signum with majority vote and Distributed Lion do: ``step()`` runs the
    optimizer with ``comm`` (``Lion(comm=...)``: the fused svLionStep), and
    no gradient is voted (gradients accumulate locally over
    ``backward_passes_per_step`` passes as usual).
    """
    if vote not in ("gradient", "momentum"):
        raise ValueError(f"signvote: DistributedOptimizer vote={vote!r}: 'gradient' or 'momentum'")
    if vote == "momentum" and not isinstance(optimizer, (Lion, Signum)):
        raise ValueError(f"signvote: DistributedOptimizer vote='momentum' needs a signvote.torch.Lion or Signum, "
                         f"not {type(optimizer).__name__}")
    if not _is_none_compression(compression):
        raise ValueError("signvote: DistributedOptimizer: compression does not apply (the vote sends one bit "
                         "per element already); pass None")
    if op is not None and "adasum" in str(op).lower():
        raise ValueError("signvote: DistributedOptimizer: op=Adasum is not a sign vote")
    if gradient_predivide_factor <= 0:
        raise ValueError("signvote: gradient_predivide_factor must be > 0 (it would flip signs)")
    if comm is not None and process_set is not None and comm is not process_set:
        raise ValueError("signvote: give comm or process_set, not both")
    c = comm if comm is not None else process_set
    if c is None:
        c = world()
    elif not isinstance(c, Communicator):
        raise TypeError(f"signvote: process_set/comm must be a signvote.Communicator, not {type(c).__name__}")
    if c.config.scale != float(scale):
        c = c._with(scale=float(scale))
    cls = type(optimizer.__class__.__name__, (optimizer.__class__,), dict(_DistributedOptimizer.__dict__))
    return cls(optimizer.param_groups, named_parameters, c, backward_passes_per_step, num_groups, groups,
               sparse_as_dense, bucket_bytes, asynchronous, vote)


# ---- Broadcasts and start-up ----------------------------------------------------------

def _mpi_of(comm: Optional[Communicator]):
    if comm is not None:
        return comm.mpi_comm
    from mpi4py import MPI
    return MPI.COMM_WORLD


def broadcast_parameters(params: Any, root_rank: int, comm: Optional[Communicator] = None) -> None:
    """Copy tensors from ``root_rank`` to every rank, in place (MPI broadcast
    over ``comm``'s ranks, default MPI's world), as ``hvd.broadcast_parameters``:
    ``params`` is a ``state_dict()``, ``named_parameters()`` or a list of
    tensors. CPU tensors of any dtype."""
    if isinstance(params, dict):
        items = list(params.items())
    else:
        items = [p if isinstance(p, tuple) else (None, p) for p in params]
    mpi = _mpi_of(comm)
    with torch.no_grad():
        for name, t in items:
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"signvote: broadcast_parameters: {name or 'an item'} is not a tensor")
            if t.device.type != "cpu":
                raise SignvoteError(Result.INVALID_USAGE, "signvote: broadcast_parameters: CPU tensors only")
            d = t.detach()
            buf = d if d.is_contiguous() else d.contiguous()
            if buf.numel() == 0:
                continue
            arr = (buf.view(torch.int16) if buf.dtype == torch.bfloat16 else buf).numpy()
            mpi.Bcast(arr, root=root_rank)
            if buf is not d:
                d.copy_(buf)


def broadcast_object(obj: Any, root_rank: int = 0, comm: Optional[Communicator] = None) -> Any:
    """``obj`` of ``root_rank`` (pickled), returned on every rank."""
    return _mpi_of(comm).bcast(obj, root=root_rank)


def broadcast_optimizer_state(optimizer: torch.optim.Optimizer, root_rank: int,
                              comm: Optional[Communicator] = None) -> None:
    """Load ``root_rank``'s optimizer state (``state_dict``) on every rank."""
    mpi = _mpi_of(comm)
    state = optimizer.state_dict() if mpi.Get_rank() == root_rank else None
    optimizer.load_state_dict(mpi.bcast(state, root=root_rank))


def _ipv4_interfaces() -> List[Tuple[str, str]]:
    """(interface name, IPv4 address) of this process's network namespace
    (Linux: SIOCGIFADDR per interface)."""
    import fcntl
    import struct
    out: List[Tuple[str, str]] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            try:
                a = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))
            except OSError:
                continue  # no IPv4 address
            out.append((name, socket.inet_ntoa(a[20:24])))
    return out


def _interface_towards(addr: str) -> Optional[str]:
    """The interface this process would reach ``addr`` through."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((addr, 9))  # UDP: no packet is sent, only a route is chosen
            local = s.getsockname()[0]
    except OSError:
        return None
    for name, a in _ipv4_interfaces():
        if a == local:
            return name
    return None


def _reachable_address(w: Any, rank: int, one_host: bool) -> str:
    """An address of rank 0 that every rank can connect to: rank 0 listens on
    all its interfaces and offers its addresses (loopback first when every
    rank reports the same host name, since that is the common case; ranks in
    other network namespaces, or containers sharing a host name, cannot use
    it), and every rank tries each one. Collective."""
    listener = None
    offer: Any = None
    if rank == 0:
        listener = socket.socket()
        listener.bind(("", 0))
        listener.listen(1024)  # connections complete in the backlog: no accept needed
        addrs = [a for _, a in _ipv4_interfaces() if not a.startswith("127.")]
        try:
            addrs += [a for a in socket.gethostbyname_ex(socket.gethostname())[2]
                      if a not in addrs and not a.startswith("127.")]
        except OSError:
            pass
        offer = (listener.getsockname()[1], (["127.0.0.1"] if one_host else []) + addrs)
    port, candidates = w.bcast(offer, root=0)
    reach = []
    for a in candidates:
        try:
            with socket.create_connection((a, port), timeout=2.0):
                reach.append(True)
        except OSError:
            reach.append(False)
    every = w.allgather(reach)
    if listener is not None:
        listener.close()
    for i, a in enumerate(candidates):
        if all(r[i] for r in every):
            return a
    bad = [r for r, ok in enumerate(every) if not any(ok)]
    raise SignvoteError(Result.SYSTEM_ERROR,
                        f"signvote: init_process_group_from_mpi: no address of rank 0 ({', '.join(candidates)}) "
                        f"is reachable from every rank (rank(s) {bad} reach none); set MASTER_ADDR "
                        "(and GLOO_SOCKET_IFNAME)")


def init_process_group_from_mpi(backend: str = "gloo", **kwargs: Any) -> Tuple[int, int]:
    """``torch.distributed.init_process_group`` with rank and world size of
    MPI's world (so ``Communicator.from_torch`` matches). The address is
    MASTER_ADDR, else an address of rank 0 that every rank could connect to
    (tried from every rank: loopback first when all ranks report one host
    name, then rank 0's interfaces, so ranks in separate network namespaces
    or containers sharing a host name find each other); the port MASTER_PORT,
    else a free port rank 0 picks. With gloo, GLOO_SOCKET_IFNAME (when not
    set) becomes this rank's interface towards that address. Collective.
    Returns (rank, world size)."""
    from mpi4py import MPI
    w = MPI.COMM_WORLD
    rank, size = w.Get_rank(), w.Get_size()
    hosts = w.allgather(socket.gethostname())
    one_host = len(set(hosts)) == 1
    addr = os.environ.get("MASTER_ADDR") or _reachable_address(w, rank, one_host)
    if backend == "gloo" and "GLOO_SOCKET_IFNAME" not in os.environ:
        # Gloo binds to the address of the host name by default, which
        # containers often cannot resolve, or which is not the way to peers.
        iface = "lo" if addr.startswith("127.") else _interface_towards(addr)
        if iface:
            os.environ["GLOO_SOCKET_IFNAME"] = iface
    port = os.environ.get("MASTER_PORT")
    if not port:
        if rank == 0:
            with socket.socket() as s:
                s.bind(("", 0))
                port = str(s.getsockname()[1])
        port = w.bcast(port, root=0)
    dist.init_process_group(backend, init_method=f"tcp://{addr}:{port}", rank=rank, world_size=size, **kwargs)
    return rank, size
