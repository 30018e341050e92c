# SPDX-License-Identifier: MIT
"""Communicators, policies, errors and the array call (NumPy and PyTorch CPU)."""
from __future__ import annotations

import atexit
import collections
import dataclasses
import enum
import threading
import weakref
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from . import _signvote as _C

__all__ = [
    "Result", "DataType", "Tie", "Zero", "Nan", "Algorithm", "Config", "Stats",
    "SignvoteError", "Communicator", "allreduce_sign", "world", "version",
]


# ---- Enumerations (values are those of signvote.h) -------------------------

class Result(enum.IntEnum):
    """svResult_t: the code of a SignvoteError (values of ncclResult_t)."""
    SUCCESS = 0
    UNHANDLED_CUDA_ERROR = 1
    SYSTEM_ERROR = 2
    INTERNAL_ERROR = 3
    INVALID_ARGUMENT = 4
    INVALID_USAGE = 5
    REMOTE_ERROR = 6
    IN_PROGRESS = 7
    TIMEOUT = 8


class DataType(enum.IntEnum):
    """svDataType_t."""
    FLOAT16 = 6
    FLOAT32 = 7
    FLOAT64 = 8
    BFLOAT16 = 9


class Tie(enum.IntEnum):
    """svTiePolicy_t: what a tie (as many +1 as -1 votes) yields (env SV_TIE)."""
    POSITIVE = 0  #: +scale, as the paper's reference code (default)
    ZERO = 1      #: 0
    RANDOM = 2    #: +-scale from (seed, call number, element index), same on every rank


class Zero(enum.IntEnum):
    """svZeroPolicy_t: what an exact zero contributes (env SV_ZERO)."""
    POSITIVE = 0  #: votes +1, since 0 >= 0 (default)
    ABSTAIN = 1   #: does not vote; an element nobody votes on is a tie


class Nan(enum.IntEnum):
    """svNanPolicy_t: what a NaN contributes (env SV_NAN)."""
    AS_ZERO = 0  #: votes as a zero would, counted in Stats.last_nan_count (default)
    ERROR = 1    #: the call raises SignvoteError(INVALID_ARGUMENT) on every rank


class Algorithm(enum.IntEnum):
    """svAlgorithm_t: the exchange (env SV_ALGO); the output never depends on it."""
    AUTO = 0
    ALLTOALL = 1
    ALLGATHER = 2
    HIERARCHICAL = 3  # reported by stats only: the hierarchical vote (SV_HIERARCHY)


def _as_enum(cls, value, field: str):
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return cls[value.strip().upper()]
        except KeyError:
            names = ", ".join(m.name.lower() for m in cls)
            raise ValueError(f"signvote: {field}={value!r} is not one of {names}") from None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"signvote: {field} must be a {cls.__name__}, its name or its number, not {value!r}")
    try:
        return cls(int(value))
    except ValueError:
        raise ValueError(f"signvote: {field}={value!r} is not a {cls.__name__}") from None


@dataclasses.dataclass(frozen=True)
class Config:
    """svConfig_t. A field left None is unset: it takes its SV_* environment
    variable when the communicator is created, else the library's default
    (docs/env.md). An explicit field wins over the environment."""
    tie: Optional[Tie] = None
    zero: Optional[Zero] = None
    nan: Optional[Nan] = None
    algorithm: Optional[Algorithm] = None
    scale: Optional[float] = None
    seed: Optional[int] = None
    chunk_bytes: Optional[int] = None
    allgather_threshold: Optional[int] = None

    def __post_init__(self) -> None:
        # Normalize (names and numbers to enums, numbers to float/int) so
        # equal configurations compare and hash equal.
        set_ = object.__setattr__
        set_(self, "tie", _as_enum(Tie, self.tie, "tie"))
        set_(self, "zero", _as_enum(Zero, self.zero, "zero"))
        set_(self, "nan", _as_enum(Nan, self.nan, "nan"))
        set_(self, "algorithm", _as_enum(Algorithm, self.algorithm, "algorithm"))
        if self.scale is not None:
            set_(self, "scale", float(self.scale))
        for name in ("seed", "chunk_bytes", "allgather_threshold"):
            v = getattr(self, name)
            if v is not None:
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                    raise TypeError(f"signvote: {name} must be an int, not {v!r}")
                set_(self, name, int(v))

    def replace(self, **changes: Any) -> "Config":
        """A copy with the fields given (None values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return dataclasses.replace(self, **changes) if changes else self


@dataclasses.dataclass(frozen=True)
class Stats:
    """svCommStats_t of one communicator, on this rank."""
    calls: int
    bytes_sent: int
    last_bytes_sent: int
    last_nan_count: int
    total_nan_count: int
    last_algorithm: Algorithm
    bytes_sent_other_nodes: int = 0
    last_bytes_sent_other_nodes: int = 0


class SignvoteError(RuntimeError):
    """A signvote call failed. ``code`` is the svResult_t (a Result) and
    ``message`` the one-line reason of svGetLastError."""

    def __init__(self, code: Union[Result, int], message: str = "") -> None:
        self.code = Result(int(code))
        self.message = message or f"signvote: {_C.error_string(int(code))}"
        super().__init__(self.message)

    def __reduce__(self):  # picklable (e.g. across mpi4py's object calls)
        return (SignvoteError, (int(self.code), self.message))


def version() -> Tuple[int, int, int]:
    """The loaded library's version, (major, minor, patch)."""
    v = _C.version()
    return (v // 10000, v // 100 % 100, v % 100)


# ---- Communicator ------------------------------------------------------------

# Live communicators, in creation order: closed at interpreter exit, children
# before parents, before mpi4py finalizes MPI (its finalizer is a Py_AtExit
# hook, which runs after every atexit function).
_live: "weakref.WeakValueDictionary[int, Communicator]" = weakref.WeakValueDictionary()
_live_counter = [0]


@atexit.register
def _close_all() -> None:
    for key in sorted(_live.keys(), reverse=True):
        comm = _live.get(key)
        if comm is not None:
            try:
                comm.close()
            except Exception:  # nothing to report to at exit
                pass


_MAX_DERIVED = 8


class Communicator:
    """A signvote communicator over MPI ranks (svCommInitMPI).

    ``Communicator()`` spans MPI's world (``mpi4py.MPI.COMM_WORLD``);
    ``Communicator(comm)`` spans an mpi4py communicator (``Split`` one for a
    data-parallel group); ``Communicator.from_torch()`` spans the processes
    of ``torch.distributed``, which must also be the MPI ranks (see
    :meth:`from_torch`). Creating one is collective over its ranks.

    Policies are fixed per communicator (like svConfig_t); keyword fields
    (``tie``, ``zero``, ``nan``, ``algorithm``, ``scale``, ``seed``,
    ``chunk_bytes``, ``allgather_threshold``) or ``config=Config(...)`` set
    them; unset ones come from ``SV_*`` environment variables or defaults.

    Close it with :meth:`close` (or ``with Communicator() as comm:``); what is
    still open at interpreter exit is closed before MPI is finalized.
    """

    def __init__(self, mpi_comm: Any = None, *, config: Optional[Config] = None, **fields: Any) -> None:
        from mpi4py import MPI  # initializes MPI (thread level "multiple") if needed

        if mpi_comm is None:
            mpi_comm = MPI.COMM_WORLD
        if not isinstance(mpi_comm, MPI.Comm):
            raise TypeError(f"signvote: Communicator needs an mpi4py communicator, not {type(mpi_comm).__name__}")
        if mpi_comm == MPI.COMM_NULL:
            raise ValueError("signvote: Communicator(MPI.COMM_NULL)")
        self._config = (config or Config()).replace(**fields)
        self._lock = threading.Lock()
        self._derived: "collections.OrderedDict[Config, Communicator]" = collections.OrderedDict()
        self._h: Optional[_C.Comm] = None
        # Our own duplicate: derived communicators (per-call policies) are
        # created from it later, whatever the caller does with mpi_comm.
        self._mpi = mpi_comm.Dup()
        c = self._config
        code, h = _C.Comm.init_mpi(
            MPI._addressof(self._mpi), c.tie, c.zero, c.nan, c.algorithm, c.scale, c.seed,
            c.chunk_bytes, c.allgather_threshold, None)
        if code != 0:
            self._mpi.Free()
            raise SignvoteError(code, _C.last_error_thread())
        self._h = h
        self._rank = self._get(h.rank)
        self._size = self._get(h.count)
        _live_counter[0] += 1
        _live[_live_counter[0]] = self

    # -- construction paths --

    @classmethod
    def from_mpi(cls, mpi_comm: Any = None, **fields: Any) -> "Communicator":
        """The same as ``Communicator(mpi_comm, **fields)``."""
        return cls(mpi_comm, **fields)

    @classmethod
    def from_torch(cls, group: Any = None, **fields: Any) -> "Communicator":
        """A communicator over the processes of a ``torch.distributed`` group.

        signvote's only host transport is MPI, so the torch processes must
        also be the MPI ranks, started by ``mpirun`` (torch.distributed may be
        initialized on any backend, e.g. gloo). This checks, collectively,
        that torch's world is MPI's world rank for rank (torch rank r is MPI
        rank r) and raises SignvoteError(INVALID_USAGE) on every rank if not.
        ``group`` None is the default (world) group; another group becomes the
        MPI group of the same ranks (collective over its members only).
        """
        import torch.distributed as dist
        from mpi4py import MPI

        if not (dist.is_available() and dist.is_initialized()):
            raise SignvoteError(Result.INVALID_USAGE,
                                "signvote: Communicator.from_torch: torch.distributed is not initialized")
        world = MPI.COMM_WORLD
        pairs = world.allgather((dist.get_rank(), dist.get_world_size()))
        bad = [(m, t) for m, (t, _) in enumerate(pairs) if t != m]
        sizes = {s for _, s in pairs}
        if bad or sizes != {world.Get_size()}:
            raise SignvoteError(
                Result.INVALID_USAGE,
                "signvote: Communicator.from_torch: the torch.distributed processes are not the MPI ranks "
                f"(MPI world size {world.Get_size()}, torch world sizes {sorted(sizes)}; "
                f"(MPI rank, torch rank) mismatches {bad[:4]}); start them with mpirun and "
                "initialize torch.distributed with rank = MPI rank")
        if group is None or group is dist.group.WORLD:
            return cls(world, **fields)
        if group is dist.GroupMember.NON_GROUP_MEMBER:
            raise ValueError("signvote: Communicator.from_torch: this process is not in the group")
        ranks = list(dist.get_process_group_ranks(group))  # global ranks, in group-rank order
        sub = world.Create_group(world.Get_group().Incl(ranks))
        try:
            if sub.Get_rank() != dist.get_rank(group):
                raise SignvoteError(Result.INTERNAL_ERROR, "signvote: from_torch: group rank mismatch")
            return cls(sub, **fields)
        finally:
            sub.Free()

    @classmethod
    def from_unique_id(cls, unique_id: bytes, nranks: int, rank: int, **fields: Any) -> "Communicator":
        """Device communicators bootstrapped from a unique id (svGetUniqueId /
        svCommInitRank, the NCCL transport) are not in this version of the
        library: this raises SignvoteError(INVALID_USAGE). Hook: when the
        extension exports ``init_rank``, this is where it is called."""
        init_rank = getattr(_C, "init_rank", None)
        if init_rank is None:
            raise SignvoteError(Result.INVALID_USAGE,
                                "signvote: Communicator.from_unique_id: this build has no unique-id "
                                "(CUDA/NCCL) communicators; use Communicator() over MPI")
        raise NotImplementedError("signvote: from_unique_id: wire _signvote.init_rank here")

    # -- properties --

    @staticmethod
    def _get(fn) -> int:
        code, value = fn()
        if code != 0:
            raise SignvoteError(code, _C.last_error_thread())
        return value

    @property
    def rank(self) -> int:
        """This process's rank, 0..size-1."""
        return self._rank

    @property
    def size(self) -> int:
        """The number of ranks P."""
        return self._size

    @property
    def config(self) -> Config:
        """The fields set explicitly at creation (unset ones: env or default)."""
        return self._config

    @property
    def mpi_comm(self) -> Any:
        """signvote's own mpi4py duplicate of the communicator it was built on
        (for the caller's MPI traffic among the same ranks, e.g. broadcasts)."""
        return self._mpi

    @property
    def device(self) -> int:
        """The CUDA device, or -1 (host): always -1 in this version."""
        return self._get(self._live().cu_device)

    @property
    def closed(self) -> bool:
        return self._h is None

    def stats(self) -> Stats:
        """This rank's statistics (svCommGetStats)."""
        code, d = self._live().stats()
        if code != 0:
            raise SignvoteError(code, self._h.last_error() if self._h else "")
        d["last_algorithm"] = Algorithm(d["last_algorithm"])
        return Stats(**d)

    def last_error(self) -> str:
        """svGetLastError of this communicator ('' until something failed)."""
        return self._h.last_error() if self._h is not None else _C.last_error_thread()

    def _live(self) -> _C.Comm:
        if self._h is None:
            raise SignvoteError(Result.INVALID_USAGE, "signvote: the communicator is closed")
        return self._h

    # -- lifetime --

    def close(self) -> None:
        """Destroy the communicator (svCommDestroy) and the ones derived from it
        for per-call policies. Idempotent."""
        for child in reversed(list(self._derived.values())):
            child.close()
        self._derived.clear()
        if self._h is not None:
            h, self._h = self._h, None
            code = h.destroy()
            try:
                from mpi4py import MPI
                if not MPI.Is_finalized():
                    self._mpi.Free()
            except Exception:
                pass
            if code != 0:
                raise SignvoteError(code, _C.last_error_thread())

    def abort(self) -> None:
        """Release without communicating (svCommAbort), e.g. after an error."""
        for child in self._derived.values():
            child.abort()
        self._derived.clear()
        if self._h is not None:
            h, self._h = self._h, None
            h.abort()

    def __enter__(self) -> "Communicator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._h is None else f"rank {self._rank} of {self._size}"
        return f"<signvote.Communicator {state}, {self._config}>"

    def _with(self, **changes: Any) -> "Communicator":
        """The communicator with these policies: self, or a derived one created
        (collectively) at first use and cached, at most 8, least recently
        used first out. Every rank must make the same calls."""
        cfg = self._config.replace(**changes)
        if cfg == self._config:
            return self
        child = self._derived.get(cfg)
        if child is None:
            child = Communicator(self._mpi, config=cfg)
            self._derived[cfg] = child
            if len(self._derived) > _MAX_DERIVED:
                _, old = self._derived.popitem(last=False)
                old.close()
        else:
            self._derived.move_to_end(cfg)
        return child

    # -- the collective --

    def allreduce_sign(self, x: Any, *, out: Any = None, inplace: bool = False,
                       tie: Any = None, zero: Any = None, nan: Any = None, algorithm: Any = None,
                       scale: Optional[float] = None, seed: Optional[int] = None) -> Any:
        """The sign-majority all-reduce of ``x`` across the ranks (svAllReduceSign).

        Returns ``scale * sign(sum over ranks of vote(x))`` element by element,
        bitwise identical on every rank, as an array or tensor of ``x``'s
        type, dtype and shape. Collective: every rank calls it with the same
        shape, dtype and keyword arguments.

        x
            A NumPy array (float16, float32, float64) or a PyTorch CPU tensor
            (also bfloat16). Other sequences are converted with
            ``numpy.asarray`` (not with ``inplace``). CUDA tensors raise
            SignvoteError(INVALID_USAGE): they need the device communicators
            of a later version.
        out
            Write the result here: same type, dtype and shape as ``x``,
            C-contiguous and writable (TypeError / ValueError otherwise).
            May be ``x`` itself (the same as ``inplace=True``).
        inplace
            Write the result into ``x`` (which must be writable).
        tie, zero, nan, algorithm, scale, seed
            Per-call policies. A value other than the communicator's is
            served by a communicator derived with that configuration, created
            collectively at first use and cached (at most 8). For a scale
            that changes every step (a learning-rate schedule) multiply
            afterwards instead.

        Non-contiguous (or misaligned) ``x`` is copied to a contiguous
        temporary first (C order; with ``inplace`` the result is copied back
        through the view). The GIL is released during the exchange. Not
        differentiable (autograd does not see it).

        Raises SignvoteError with the library's code and svGetLastError's line.
        """
        comm = self._with(tie=tie, zero=zero, nan=nan, algorithm=algorithm, scale=scale, seed=seed)
        return comm._allreduce(x, out, inplace)

    def lion_step(self, params: Any, grads: Any, momentum: Any, *, lr: float, beta1: float, beta2: float,
                  weight_decay: float = 0.0) -> None:
        """One step of Lion with majority vote (svLionStep), in place, on flat
        contiguous PyTorch CPU tensors of the same length: ``params`` and
        ``grads`` of one dtype (float32, float64, or float16/bfloat16 with a
        float32 ``momentum``), ``momentum`` this rank's state. Collective::

            c        = beta1 * momentum + (1 - beta1) * grads
            vote     = sign-majority over ranks of c
            momentum = beta2 * momentum + (1 - beta2) * grads
            params   = params * (1 - lr * weight_decay) - lr * vote

        Raises SignvoteError with the library's code and line.
        """
        import torch

        dts = {torch.float16: DataType.FLOAT16, torch.float32: DataType.FLOAT32,
               torch.float64: DataType.FLOAT64, torch.bfloat16: DataType.BFLOAT16}
        for name, t in (("params", params), ("grads", grads), ("momentum", momentum)):
            if not _is_torch_tensor(t):
                raise TypeError(f"signvote: lion_step {name} must be a torch tensor, not {type(t).__name__}")
            if t.device.type != "cpu":
                raise SignvoteError(Result.INVALID_USAGE, f"signvote: lion_step {name} is a {t.device.type} tensor: "
                                    "host communicators take CPU tensors")
            if not t.is_contiguous():
                raise ValueError(f"signvote: lion_step {name} must be contiguous")
        dt = dts.get(params.dtype)
        if dt is None:
            raise TypeError(f"signvote: lion_step dtype {params.dtype} is not supported")
        state = torch.float32 if params.dtype in (torch.float16, torch.bfloat16) else params.dtype
        if grads.dtype != params.dtype or momentum.dtype != state:
            raise TypeError(f"signvote: lion_step wants grads of {params.dtype} and momentum of {state}, "
                            f"got {grads.dtype} and {momentum.dtype}")
        n = params.numel()
        if grads.numel() != n or momentum.numel() != n:
            raise ValueError(f"signvote: lion_step lengths differ: {n}, {grads.numel()}, {momentum.numel()}")
        with self._lock:
            h = self._live()
            code = h.lion_step(params.data_ptr(), grads.data_ptr(), momentum.data_ptr(), n, int(dt), float(lr),
                               float(beta1), float(beta2), float(weight_decay))
            if code != 0:
                raise SignvoteError(code, h.last_error())

    def _allreduce(self, x: Any, out: Any, inplace: bool) -> Any:
        if _is_torch_tensor(x):
            send, recv, result, writeback, dt, count = _prepare_torch(x, out, inplace)
            sptr, rptr = send.data_ptr(), recv.data_ptr()
        else:
            send, recv, result, writeback, dt, count = _prepare_numpy(x, out, inplace)
            sptr, rptr = send.ctypes.data, recv.ctypes.data
        with self._lock:
            h = self._live()
            code = h.allreduce_sign(sptr, rptr, count, int(dt))
            if code != 0:
                raise SignvoteError(code, h.last_error())
        if writeback is not None:
            writeback()
        return result


# ---- Arrays and tensors --------------------------------------------------------

_NP_DTYPES = {np.dtype(np.float16): DataType.FLOAT16, np.dtype(np.float32): DataType.FLOAT32,
              np.dtype(np.float64): DataType.FLOAT64}


def _is_torch_tensor(x: Any) -> bool:
    # Without importing torch (it is optional and slow to import).
    mod = type(x).__module__
    if not (mod == "torch" or mod.startswith("torch.")):
        return False
    import torch
    return isinstance(x, torch.Tensor)


def _prepare_numpy(x: Any, out: Any, inplace: bool):
    if not isinstance(x, np.ndarray):
        if inplace:
            raise TypeError("signvote: inplace=True needs a NumPy array or a torch tensor")
        x = np.asarray(x)
    if out is x:
        inplace, out = True, None
    dt = _NP_DTYPES.get(x.dtype)
    if dt is None:
        raise TypeError(f"signvote: dtype {x.dtype} is not supported: float16, float32, float64 "
                        "(bfloat16 as a torch tensor)")
    direct = x.flags.c_contiguous and x.flags.aligned
    writeback = None
    if inplace:
        if out is not None:
            raise ValueError("signvote: give out or inplace=True, not both")
        if not x.flags.writeable:
            raise ValueError("signvote: inplace=True on a read-only array")
        if direct:
            send = recv = result = x
        else:
            tmp = np.ascontiguousarray(x)
            if tmp is x or not tmp.flags.aligned:
                tmp = x.copy(order="C")
            send = recv = tmp
            result = x

            def writeback() -> None:
                x[...] = tmp
    else:
        send = x if direct else x.copy(order="C")
        if out is None:
            recv = result = np.empty(x.shape, dtype=x.dtype)
        else:
            if not isinstance(out, np.ndarray):
                raise TypeError(f"signvote: out must be a NumPy array like x, not {type(out).__name__}")
            if out.dtype != x.dtype:
                raise TypeError(f"signvote: out has dtype {out.dtype}, x has {x.dtype}")
            if out.shape != x.shape:
                raise ValueError(f"signvote: out has shape {out.shape}, x has {x.shape}")
            if not out.flags.writeable:
                raise ValueError("signvote: out is read-only")
            if not (out.flags.c_contiguous and out.flags.aligned):
                raise ValueError("signvote: out must be C-contiguous and aligned")
            recv = result = out
    return send, recv, result, writeback, dt, int(x.size)


def _prepare_torch(x: Any, out: Any, inplace: bool):
    import torch

    dts = {torch.float16: DataType.FLOAT16, torch.float32: DataType.FLOAT32,
           torch.float64: DataType.FLOAT64, torch.bfloat16: DataType.BFLOAT16}
    if x.device.type != "cpu":
        raise SignvoteError(Result.INVALID_USAGE,
                            f"signvote: a {x.device.type} tensor: this version has host (MPI) communicators "
                            "only, which take CPU tensors; device communicators come with the CUDA path "
                            "(copy to CPU with .cpu() meanwhile)")
    if x.layout != torch.strided:
        raise TypeError(f"signvote: {x.layout} tensors are not supported (use .to_dense())")
    if out is x:
        inplace, out = True, None
    dt = dts.get(x.dtype)
    if dt is None:
        raise TypeError(f"signvote: dtype {x.dtype} is not supported: float16, bfloat16, float32, float64")
    xd = x.detach()
    writeback = None
    if inplace:
        if out is not None:
            raise ValueError("signvote: give out or inplace=True, not both")
        if xd.is_contiguous():
            send = recv = xd
        else:
            tmp = xd.contiguous()
            send = recv = tmp

            def writeback() -> None:
                xd.copy_(tmp)
        result = x
    else:
        send = xd.contiguous()
        if out is None:
            recv = result = torch.empty(x.shape, dtype=x.dtype)
        else:
            if not _is_torch_tensor(out):
                raise TypeError(f"signvote: out must be a torch tensor like x, not {type(out).__name__}")
            if out.device.type != "cpu":
                raise SignvoteError(Result.INVALID_USAGE, "signvote: out is not a CPU tensor")
            if out.dtype != x.dtype:
                raise TypeError(f"signvote: out has dtype {out.dtype}, x has {x.dtype}")
            if out.shape != x.shape:
                raise ValueError(f"signvote: out has shape {tuple(out.shape)}, x has {tuple(x.shape)}")
            if not out.is_contiguous():
                raise ValueError("signvote: out must be contiguous")
            recv = out.detach()
            result = out
    return send, recv, result, writeback, dt, int(x.numel())


# ---- Module-level convenience --------------------------------------------------

_world: List[Optional[Communicator]] = [None]
_world_lock = threading.Lock()


def world() -> Communicator:
    """The default communicator over MPI's world, created (collectively) at
    first use with the SV_* environment's policies."""
    with _world_lock:
        if _world[0] is None or _world[0].closed:
            _world[0] = Communicator()
        return _world[0]


def allreduce_sign(x: Any, comm: Optional[Communicator] = None, *, out: Any = None, inplace: bool = False,
                   tie: Any = None, zero: Any = None, nan: Any = None, algorithm: Any = None,
                   scale: Optional[float] = None, seed: Optional[int] = None) -> Any:
    """``(comm or signvote.world()).allreduce_sign(x, ...)``; see
    :meth:`Communicator.allreduce_sign`."""
    c = comm if comm is not None else world()
    return c.allreduce_sign(x, out=out, inplace=inplace, tie=tie, zero=zero, nan=nan,
                            algorithm=algorithm, scale=scale, seed=seed)
