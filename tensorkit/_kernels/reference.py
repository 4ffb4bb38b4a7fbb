"""Plain-numpy reference kernels: slow, obviously right, the oracle for the others."""

from __future__ import annotations

import numpy as np


def mttkrp_coo(indices, values, factors, mode, n_rows):
    """COO MTTKRP by forming each nonzero's row product and scattering with ``np.add.at``."""
    rank = factors[0].shape[1]
    dtype = np.result_type(values, *factors)
    rows = np.repeat(values.astype(dtype)[:, None], rank, axis=1)
    for k, factor in enumerate(factors):
        if k != mode:
            rows *= factor[indices[:, k], :]
    out = np.zeros((n_rows, rank), dtype=dtype)
    np.add.at(out, indices[:, mode], rows)
    return out
