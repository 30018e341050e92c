# SPDX-License-Identifier: MIT
"""signvote: the sign-majority all-reduce of signSGD with majority vote.

    import numpy as np, signvote
    g = np.random.randn(1000).astype(np.float32)    # this rank's gradient
    v = signvote.allreduce_sign(g)                  # +1/-1, the same on every rank

Run under mpirun (MPI is the host transport). ``signvote.torch`` has the
PyTorch DDP comm hook, the Signum optimizer and a Horovod-style
DistributedOptimizer. Documentation: docs/python.md.
"""
from ._core import (Algorithm, Communicator, Config, DataType, Nan, Result, SignvoteError, Stats, Tie,
                    Zero, allreduce_sign, version, world)

__version__ = "0.3.0"

__all__ = ["Algorithm", "Communicator", "Config", "DataType", "Nan", "Result", "SignvoteError", "Stats",
           "Tie", "Zero", "allreduce_sign", "version", "world", "__version__"]
