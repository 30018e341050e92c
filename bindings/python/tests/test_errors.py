# SPDX-License-Identifier: MIT
# Library errors surface as signvote.SignvoteError with the code and
# svGetLastError's line.
import os

import numpy as np
import pytest

try:
    import torch
except ImportError:  # the NumPy tests run without PyTorch
    torch = None
from mpi4py import MPI

import signvote
from conftest import assert_all


def test_nan_error_on_every_rank(mpi):
    with signvote.Communicator(nan=signvote.Nan.ERROR) as c:
        x = np.ones(100, np.float32)
        if mpi.rank == 0:
            x[17] = np.nan
        keep = x.copy()
        with pytest.raises(signvote.SignvoteError) as e:
            c.allreduce_sign(x, inplace=True)
        assert e.value.code == signvote.Result.INVALID_ARGUMENT
        assert "SV_NAN_ERROR" in e.value.message and "rank(s) 0" in str(e.value)
        assert_all(np.array_equal(x, keep, equal_nan=True), "input untouched")
        assert c.last_error() == e.value.message
        # The communicator stays usable.
        assert_all(np.all(c.allreduce_sign(np.ones(5)) == 1), "usable after")


def test_bad_config_is_invalid_argument():
    with pytest.raises(signvote.SignvoteError) as e:
        signvote.Communicator(chunk_bytes=5)
    assert e.value.code == signvote.Result.INVALID_ARGUMENT
    assert "svCommInitMPI" in e.value.message and "invalid argument" in e.value.message


def test_bad_env_is_invalid_argument():
    os.environ["SV_TIE"] = "maybe"
    try:
        with pytest.raises(signvote.SignvoteError) as e:
            signvote.Communicator()
        assert e.value.code == signvote.Result.INVALID_ARGUMENT and "SV_TIE=maybe" in e.value.message
    finally:
        del os.environ["SV_TIE"]


def test_closed_communicator():
    c = signvote.Communicator()
    c.close()
    c.close()  # idempotent
    with pytest.raises(signvote.SignvoteError) as e:
        c.allreduce_sign(np.ones(3))
    assert e.value.code == signvote.Result.INVALID_USAGE and "closed" in str(e.value)


@pytest.mark.skipif(torch is None, reason="no PyTorch")
def test_device_tensor_is_refused(comm):
    t = torch.empty(4, device="meta")  # any non-CPU device takes this path (CUDA included)
    with pytest.raises(signvote.SignvoteError) as e:
        comm.allreduce_sign(t)
    assert e.value.code == signvote.Result.INVALID_USAGE and "CPU tensors" in str(e.value)


def test_unique_id_hook_not_in_this_version():
    with pytest.raises(signvote.SignvoteError) as e:
        signvote.Communicator.from_unique_id(b"", 1, 0)
    assert e.value.code == signvote.Result.INVALID_USAGE


def test_error_pickles():
    import pickle
    e = pickle.loads(pickle.dumps(signvote.SignvoteError(4, "x: y (invalid argument)")))
    assert e.code == signvote.Result.INVALID_ARGUMENT and str(e) == "x: y (invalid argument)"


def test_communicator_on_split(mpi):
    sub = mpi.Split(mpi.rank % 2, mpi.rank)
    with signvote.Communicator(sub) as c:
        assert c.size == sub.size and c.rank == sub.rank
        x = np.array([1.0 if mpi.rank < 2 else -1.0])
        members = [r for r in range(mpi.size) if r % 2 == mpi.rank % 2]
        votes = sum(1 if r < 2 else -1 for r in members)
        assert_all(c.allreduce_sign(x)[0] == (1.0 if votes >= 0 else -1.0), "split")
    sub.Free()
