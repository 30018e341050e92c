# SPDX-License-Identifier: MIT
"""Reads the IDX files of MNIST and Fashion-MNIST (Debian's dataset-fashion-mnist
installs them gzipped under /usr/share/datasets/fashion-mnist)."""
import gzip
import os

import numpy as np


def read_idx(data_dir, name):
    """The array stored in data_dir/name (a gzipped IDX file of unsigned bytes)."""
    with gzip.open(os.path.join(data_dir, name)) as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)
