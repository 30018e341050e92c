# SPDX-License-Identifier: MIT
# Run under mpirun: every rank runs the same tests in the same order (they
# are collective). Assertions that could differ between ranks go through
# assert_all, so a failure on one rank fails the test on every rank instead
# of leaving the others waiting in the next collective.
import hashlib

import numpy as np
import pytest
from mpi4py import MPI

import signvote


@pytest.fixture(scope="session")
def mpi():
    return MPI.COMM_WORLD


@pytest.fixture(scope="session")
def comm():
    c = signvote.Communicator()
    yield c
    c.close()


def assert_all(ok, what=""):
    oks = MPI.COMM_WORLD.allgather(bool(ok))
    bad = [r for r, o in enumerate(oks) if not o]
    assert not bad, f"{what}: failed on rank(s) {bad}"


def assert_same_on_all_ranks(raw_bytes, what=""):
    digests = MPI.COMM_WORLD.allgather(hashlib.sha256(bytes(raw_bytes)).hexdigest())
    assert len(set(digests)) == 1, f"{what}: ranks differ"


def rank_input(seed, rank, n, zeros=0.1, nans=0.0):
    """Rank `rank`'s input of test `seed`: any rank can regenerate any other's."""
    rng = np.random.default_rng([seed, rank])
    x = rng.standard_normal(n)
    u = rng.random(n)
    x[u < zeros] = 0.0
    x[(u >= zeros) & (u < zeros + zeros / 2)] = -0.0
    if nans:
        x[rng.random(n) < nans] = np.nan
    return x


def oracle(inputs, tie="positive", zero="positive", scale=1.0):
    """Integer vote count of every rank's input, then the output as float64
    (+scale, -scale, +0) and a mask of ties (for tie='random')."""
    count = np.zeros(inputs[0].shape, dtype=np.int64)
    for x in inputs:
        isnan = np.isnan(x)
        iszero = (x == 0) | isnan  # a NaN votes as a zero would (SV_NAN_AS_ZERO)
        vote = np.where(x < 0, -1, 1)
        if zero == "abstain":
            vote = np.where(iszero, 0, vote)
        else:
            vote = np.where(iszero, 1, vote)
        count += vote
    ties = count == 0
    tie_value = {"positive": scale, "zero": 0.0, "random": np.nan}[tie]
    out = np.where(count > 0, scale, np.where(count < 0, -scale, tie_value))
    return out, ties
