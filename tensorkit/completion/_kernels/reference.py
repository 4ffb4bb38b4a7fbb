"""Plain-numpy completion kernels: slow, obviously right, the oracle of the tests."""

from __future__ import annotations

import numpy as np


def row_groups(keys, n_rows):
    """``(perm, rowptr)``; see :func:`tensorkit.completion._kernels.row_groups`."""
    perm = np.argsort(keys, kind="stable")
    rowptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n_rows), out=rowptr[1:])
    return perm, rowptr


def sort_by_row(indices, values, mode, n_rows, index_dtype):
    """Sorted layout of the row-wise kernels; see :func:`tensorkit.completion._kernels.sort_by_row`."""
    perm, rowptr = row_groups(indices[:, mode], n_rows)
    return indices[perm].astype(index_dtype), values[perm], rowptr


def cp_rows(indices, values, rowptr, factors, mode, reg, residual=False):
    """Row-wise ridge solves of CP; see :func:`tensorkit.completion._kernels.cp_rows`."""
    dtype = np.result_type(values, *factors)
    Z = np.ones((indices.shape[0], factors[0].shape[1]), dtype=dtype)
    for k, factor in enumerate(factors):
        if k != mode:
            Z *= factor[indices[:, k]]
    out, singular = solve_rows(Z, values, rowptr, reg)
    if not residual:
        return out, singular
    rows = np.repeat(np.arange(rowptr.shape[0] - 1), np.diff(rowptr))
    return out, singular, float(np.sum((values - np.sum(Z * out[rows], axis=1)) ** 2))


def solve_rows(Z, values, rowptr, reg):
    """Row-wise ridge solves; see :func:`tensorkit.completion._kernels.solve_rows`."""
    n_rows, rank = rowptr.shape[0] - 1, Z.shape[1]
    counts = np.diff(rowptr)
    rows = np.repeat(np.arange(n_rows), counts)
    Zs, ys = Z, values
    G = np.zeros((n_rows, rank, rank), dtype=Z.dtype)
    np.add.at(G, rows, Zs[:, :, None] * Zs[:, None, :])
    b = np.zeros((n_rows, rank), dtype=Z.dtype)
    np.add.at(b, rows, ys[:, None] * Zs)
    G += (reg * counts)[:, None, None] * np.eye(rank, dtype=Z.dtype)
    out = np.zeros((n_rows, rank), dtype=Z.dtype)
    singular = np.zeros(n_rows, dtype=bool)
    for i in np.flatnonzero(counts):
        try:
            L = np.linalg.cholesky(G[i])
        except np.linalg.LinAlgError:
            singular[i] = True
            continue
        out[i] = np.linalg.solve(L.T, np.linalg.solve(L, b[i]))
    return out, singular

