# SPDX-License-Identifier: MIT
"""Horovod's PyTorch API over signvote: a Horovod script runs with its import
line changed, ``import horovod.torch as hvd`` -> ``import signvote.horovod as
hvd``, and its gradients are then voted (sign majority, one bit per element)
instead of averaged: with SGD that is signSGD with majority vote.

What differs from Horovod (docs/python.md, "Horovod"):

- ``DistributedOptimizer`` votes the gradients (or, with ``vote="momentum"``
  and a signvote ``Lion`` or ``Signum``, each rank's momentum); ``compression`` (``none`` or
  ``fp16``) and ``op`` / ``gradient_predivide_factor`` are accepted and have
  no effect (one bit per element is less than fp16, and the vote replaces
  the reduction); Adasum is refused.
- ``allreduce`` is a plain fp32 (or the tensor's dtype) MPI all-reduce, for
  metrics: ``op=Average`` (default) or ``Sum``; CPU tensors.
- The ranks are MPI's (mpirun), not horovodrun's; ``init()`` starts MPI
  through mpi4py if it is not already.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch

from . import _core
from .torch import (DistributedOptimizer, broadcast_object, broadcast_optimizer_state,  # noqa: F401
                    broadcast_parameters)

__all__ = ["init", "shutdown", "is_initialized", "rank", "size", "local_rank", "local_size", "allreduce",
           "Average", "Sum", "Compression", "DistributedOptimizer", "broadcast_parameters",
           "broadcast_optimizer_state", "broadcast_object"]

Average = "Average"
Sum = "Sum"


class Compression:
    """Horovod's compression choices, accepted by DistributedOptimizer and
    without effect there (the vote already sends one bit per element)."""

    class NoneCompressor:
        pass

    class FP16Compressor:
        pass

    none = NoneCompressor
    fp16 = FP16Compressor


_local = [None]  # (local rank, local size), computed at first use


def _mpi():
    from mpi4py import MPI
    return MPI


def init(comm: Any = None) -> None:
    """Start MPI (mpi4py does at import) and signvote's world communicator.
    ``comm`` (Horovod: a list of ranks or an mpi4py communicator) must be
    None or MPI's world in this version."""
    MPI = _mpi()
    if comm is not None and comm != MPI.COMM_WORLD:
        raise ValueError("signvote.horovod.init: only MPI's world communicator is supported")
    if not MPI.Is_initialized():
        MPI.Init_thread()
    _core.world()


def shutdown() -> None:
    """Close signvote's world communicator (MPI stays up until exit)."""
    w = _core._world[0]
    if w is not None and not w.closed:
        w.close()


def is_initialized() -> bool:
    return _core._world[0] is not None and not _core._world[0].closed


def rank() -> int:
    return _mpi().COMM_WORLD.Get_rank()


def size() -> int:
    return _mpi().COMM_WORLD.Get_size()


def _local_info():
    if _local[0] is None:
        MPI = _mpi()
        node = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED)
        _local[0] = (node.Get_rank(), node.Get_size())
        node.Free()
    return _local[0]


def local_rank() -> int:
    return _local_info()[0]


def local_size() -> int:
    return _local_info()[1]


def allreduce(tensor: torch.Tensor, average: Optional[bool] = None, name: Optional[str] = None,
              op: Any = None, prescale_factor: float = 1.0, postscale_factor: float = 1.0) -> torch.Tensor:
    """The sum or average of ``tensor`` over the ranks (a new CPU tensor of
    its dtype), as ``hvd.allreduce``: for metrics, not gradients. ``name`` is
    accepted and unused."""
    del name
    if op is None:
        op = Average if average is None or average else Sum
    if op not in (Average, Sum):
        raise ValueError(f"signvote.horovod.allreduce: op={op!r} (Average or Sum)")
    if tensor.device.type != "cpu":
        raise _core.SignvoteError(_core.Result.INVALID_USAGE,
                                  "signvote.horovod.allreduce: CPU tensors only in this version")
    a = (tensor.detach().to(torch.float64) * prescale_factor).contiguous().numpy()
    out = np.empty_like(a)
    MPI = _mpi()
    MPI.COMM_WORLD.Allreduce(a, out, op=MPI.SUM)
    if op == Average:
        out /= size()
    out = np.asarray(out * postscale_factor, dtype=np.float64).reshape(a.shape)  # a 0-d result stays an array
    return torch.from_numpy(out).to(tensor.dtype)
