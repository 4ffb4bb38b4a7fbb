"""Numba CPU kernels (``nogil`` so that dask workers and threads can run them side by side)."""

from __future__ import annotations

import numpy as np
from numba import njit


def stack_factors(factors, dtype):
    """All factor matrices stacked row-wise, with the row offset of each mode.

    Numba cannot index a tuple of differently laid-out arrays with a runtime index; one
    contiguous block plus offsets keeps the kernel simple and cache-friendly.
    """
    offsets = np.zeros(len(factors) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([f.shape[0] for f in factors])
    stacked = np.ascontiguousarray(np.concatenate(factors, axis=0), dtype=dtype)
    return stacked, offsets


def mttkrp_coo(indices, values, factors, mode, n_rows):
    """COO MTTKRP; see :func:`tensorkit._kernels.mttkrp_coo`."""
    dtype = np.result_type(values, *factors)
    stacked, offsets = stack_factors(factors, dtype)
    out = np.zeros((n_rows, stacked.shape[1]), dtype=dtype)
    _mttkrp_coo(
        np.ascontiguousarray(indices, dtype=np.int64),
        np.ascontiguousarray(values, dtype=dtype),
        stacked,
        offsets,
        mode,
        out,
    )
    return out


@njit(cache=True, nogil=True)
def _mttkrp_coo(indices, values, stacked, offsets, mode, out):
    """Accumulate ``out[i_mode, :] += v * prod_{k != mode} A_k[i_k, :]`` over the nonzeros.

    Serial by design: each nonzero scatters into a row that others may share, and the loop is
    memory-bound; parallelism comes from running blocks in separate threads or dask tasks.
    """
    nnz, order = indices.shape
    rank = stacked.shape[1]
    row = np.empty(rank, dtype=out.dtype)
    for e in range(nnz):
        v = values[e]
        for r in range(rank):
            row[r] = v
        for k in range(order):
            if k == mode:
                continue
            base = offsets[k] + indices[e, k]
            for r in range(rank):
                row[r] *= stacked[base, r]
        target = indices[e, mode]
        for r in range(rank):
            out[target, r] += row[r]
