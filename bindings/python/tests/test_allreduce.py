# SPDX-License-Identifier: MIT
# signvote.allreduce_sign against a NumPy oracle: every rank regenerates all
# ranks' inputs and counts the votes with integers.
import numpy as np
import pytest

try:
    import torch
except ImportError:  # the NumPy tests run without PyTorch
    torch = None

import signvote
from conftest import assert_all, assert_same_on_all_ranks, oracle, rank_input

NP_DTYPES = [np.float16, np.float32, np.float64]
TORCH_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64] if torch else []
needs_torch = pytest.mark.skipif(torch is None, reason="no PyTorch")
COUNTS = [0, 1, 33, 1000, 4099]


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.itemsize])


def _expect_np(mpi, seed, n, dtype, tie, zero, scale, nans=0.0):
    inputs = [rank_input(seed, r, n, nans=nans) for r in range(mpi.size)]
    exp, ties = oracle(inputs, tie, zero, scale)
    mine = inputs[mpi.rank].astype(dtype)
    return mine, exp, ties


def _check(result, exp, ties, dtype, tie, scale=1.0):
    if tie == "random":
        # A tie is +-scale drawn by the library; the rest is the oracle's.
        got = result.astype(np.float64)
        s = float(np.asarray(scale, dtype=dtype))
        return np.array_equal(got[~ties], exp[~ties]) and bool(np.all(np.abs(got[ties]) == s))
    return np.array_equal(_bits(result), _bits(exp.astype(dtype)))


@pytest.mark.parametrize("dtype", NP_DTYPES)
@pytest.mark.parametrize("n", COUNTS)
def test_numpy_default_policies(mpi, comm, dtype, n):
    x, exp, ties = _expect_np(mpi, 100 + n, n, dtype, "positive", "positive", 1.0)
    out = signvote.allreduce_sign(x, comm)
    assert out.dtype == x.dtype and out.shape == x.shape and out is not x
    assert_all(_check(out, exp, ties, dtype, "positive"), "vote vs oracle")
    assert_same_on_all_ranks(out.tobytes(), "output")


@pytest.mark.parametrize("dtype", NP_DTYPES)
@pytest.mark.parametrize("tie", ["positive", "zero", "random"])
@pytest.mark.parametrize("zero", ["positive", "abstain"])
def test_numpy_policies_and_scale(mpi, comm, dtype, tie, zero):
    n, scale = 777, 0.25
    x, exp, ties = _expect_np(mpi, 7, n, dtype, tie, zero, scale)
    out = comm.allreduce_sign(x, tie=tie, zero=signvote.Zero[zero.upper()], scale=scale, seed=11)
    assert_all(_check(out, exp, ties, dtype, tie, scale), f"tie={tie} zero={zero}")
    assert_same_on_all_ranks(out.tobytes(), "output")
    if tie == "random" and ties.sum() > 20:
        # Both outcomes appear among many ties (a coin, not a constant).
        assert_all(len(set(np.sign(out[ties].astype(np.float64)))) == 2, "random ties")


def test_inplace_and_out(mpi, comm):
    x, exp, ties = _expect_np(mpi, 3, 1001, np.float32, "positive", "positive", 1.0)
    want = exp.astype(np.float32)
    y = x.copy()
    r = comm.allreduce_sign(y, inplace=True)
    assert_all(r is y and np.array_equal(y, want), "inplace")
    o = np.full_like(x, 7.0)
    r = comm.allreduce_sign(x, out=o)
    assert_all(r is o and np.array_equal(o, want) and not np.array_equal(x, want), "out")
    z = x.copy()
    r = comm.allreduce_sign(z, out=z)
    assert_all(r is z and np.array_equal(z, want), "out=x")


def test_noncontiguous_and_readonly(mpi, comm):
    base = np.stack([rank_input(5, r, 600, zeros=0) for r in range(mpi.size)])  # (P, 600)
    inputs = [b.reshape(20, 30).T for b in base]  # Fortran-ordered views
    exp, _ = oracle([np.ascontiguousarray(i) for i in inputs])
    mine = base[mpi.rank].reshape(20, 30).T.astype(np.float64, order="K")
    assert not mine.flags.c_contiguous
    out = comm.allreduce_sign(mine)
    assert_all(out.flags.c_contiguous and np.array_equal(out, exp), "non-contiguous copy")
    strided = np.zeros((30, 40))
    strided[:, ::2] = mine
    view = strided[:, ::2]
    r = comm.allreduce_sign(view, inplace=True)
    assert_all(r is view and np.array_equal(view, exp) and np.all(strided[:, 1::2] == 0), "inplace writes back")
    ro = np.ascontiguousarray(mine)
    ro.flags.writeable = False
    out = comm.allreduce_sign(ro)  # read-only input is fine
    assert_all(np.array_equal(out, exp), "read-only input")
    with pytest.raises(ValueError, match="read-only"):
        comm.allreduce_sign(ro, inplace=True)


def test_argument_errors(comm):
    x = np.ones(10, np.float32)
    with pytest.raises(TypeError, match="dtype"):
        comm.allreduce_sign(x, out=np.empty(10, np.float64))
    with pytest.raises(ValueError, match="shape"):
        comm.allreduce_sign(x, out=np.empty(11, np.float32))
    with pytest.raises(ValueError, match="contiguous"):
        comm.allreduce_sign(x, out=np.empty(20, np.float32)[::2])
    ro = np.empty(10, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        comm.allreduce_sign(x, out=ro)
    with pytest.raises(TypeError, match="not supported"):
        comm.allreduce_sign(np.ones(4, np.int32))
    with pytest.raises(TypeError, match="inplace"):
        comm.allreduce_sign([1.0, -1.0], inplace=True)
    with pytest.raises(ValueError, match="tie"):
        comm.allreduce_sign(x, tie="sometimes")


def test_list_input(mpi, comm):
    out = comm.allreduce_sign([mpi.rank - 0.5, -1.0])
    exp, _ = oracle([np.array([r - 0.5, -1.0]) for r in range(mpi.size)])
    assert_all(out.dtype == np.float64 and np.array_equal(out, exp), "list input")


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("n", [0, 65, 5000])
def test_torch_cpu(mpi, comm, dtype, n):
    inputs = [rank_input(900 + n, r, n) for r in range(mpi.size)]
    exp, _ = oracle(inputs, "zero", "abstain", 0.5)
    x = torch.tensor(inputs[mpi.rank]).to(dtype)
    out = comm.allreduce_sign(x, tie="zero", zero="abstain", scale=0.5)
    want = torch.tensor(exp).to(dtype)
    ibits = {2: torch.int16, 4: torch.int32, 8: torch.int64}[x.element_size()]
    assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.shape == x.shape
    assert_all(torch.equal(out.view(ibits), want.view(ibits)), f"torch {dtype}")
    # in place on a non-contiguous tensor, and out=
    y = torch.zeros(n, 2, dtype=dtype)
    y[:, 0] = x
    col = y[:, 0]
    if n > 1:
        assert not col.is_contiguous()
    r = comm.allreduce_sign(col, inplace=True, tie="zero", zero="abstain", scale=0.5)
    assert_all(r is col and torch.equal(y[:, 0].contiguous().view(ibits), want.view(ibits))
               and bool((y[:, 1] == 0).all()),
               "torch in place, strided")
    o = torch.empty_like(x)
    r = comm.allreduce_sign(x, out=o, tie="zero", zero="abstain", scale=0.5)
    assert_all(r is o and torch.equal(o.view(ibits), want.view(ibits)), "torch out")
    assert_same_on_all_ranks(out.view(ibits).numpy().tobytes(), "torch output")


@needs_torch
def test_torch_requires_grad_leaf(mpi, comm):
    w = torch.full((5,), -1.0 if mpi.rank % 2 else 2.0, requires_grad=True)
    out = comm.allreduce_sign(w)
    assert not out.requires_grad
    pos = sum(1 for r in range(mpi.size) if r % 2 == 0)
    assert_all(bool((out == (1.0 if 2 * pos >= mpi.size else -1.0)).all()), "leaf tensor")


def test_alltoall_large(mpi, comm):
    # Large enough for the all-to-all path under auto for P >= 3, and forced.
    n = 300_001
    x, exp, ties = _expect_np(mpi, 42, n, np.float32, "positive", "positive", 1.0)
    for algo in (None, signvote.Algorithm.ALLTOALL):
        out = comm.allreduce_sign(x, algorithm=algo)
        assert_all(np.array_equal(out, exp.astype(np.float32)), f"algorithm {algo}")
    if mpi.size >= 3:
        assert comm.stats().last_algorithm == signvote.Algorithm.ALLTOALL


def test_stats_and_properties(mpi, comm):
    assert comm.rank == mpi.rank and comm.size == mpi.size and comm.device == -1
    before = comm.stats().calls
    x = rank_input(1, mpi.rank, 100, nans=0.1).astype(np.float32)
    comm.allreduce_sign(x)
    s = comm.stats()
    assert s.calls == before + 1
    assert s.last_nan_count == int(np.isnan(x).sum())
    assert signvote.version() == tuple(int(v) for v in signvote.__version__.split("."))  # library == package
