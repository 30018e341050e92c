# SPDX-License-Identifier: MIT
"""The array call: every rank votes with its NumPy array, every rank gets the
same majority signs. Checked against a vote counted here from every rank's
input (gathered with mpi4py).

    mpirun -np 4 .venv/bin/python examples/python/allreduce_numpy.py
"""
import numpy as np
from mpi4py import MPI

import signvote

world = MPI.COMM_WORLD
rng = np.random.default_rng(world.rank)
grad = rng.standard_normal(1_000_003).astype(np.float32)  # this rank's "gradient"

with signvote.Communicator(tie="zero") as comm:           # MPI_COMM_WORLD, ties give 0
    vote = comm.allreduce_sign(grad)                      # new array; inplace=True or out= also work
    stats = comm.stats()

signs = np.where(grad < 0, -1, 1).astype(np.int64)
total = np.zeros_like(signs)
world.Allreduce(signs, total)                             # the int64 reference: 8 bytes an element
expected = np.sign(total).astype(np.float32)
bad = int(np.count_nonzero(vote != expected))
if world.rank == 0:
    print(f"{world.size} ranks, {grad.size} elements: {bad} differ from the reference; "
          f"rank 0 sent {stats.last_bytes_sent} bytes ({grad.nbytes * 2 * (world.size - 1) // world.size} "
          f"for an fp32 ring all-reduce)")
raise SystemExit(1 if world.allreduce(bad) else 0)
