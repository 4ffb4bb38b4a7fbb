"""Numba CPU completion kernels: parallel over factor rows (``prange``), ``nogil``.

Each factor row owns its normal equations, so rows are independent: threads never write to the same
memory and no atomics or reductions across threads are needed. ``cp_rows`` gives each thread one
run of rows holding an equal share of the observations (rows are skewed in real data).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange


def row_groups(keys, n_rows):
    """``(perm, rowptr)`` by a counting sort, O(nnz); see
    :func:`tensorkit.completion._kernels.row_groups`."""
    keys = np.ascontiguousarray(keys, dtype=np.int64)
    perm = np.empty(keys.shape[0], dtype=np.int64)
    rowptr = np.zeros(n_rows + 1, dtype=np.int64)
    _counting_sort(keys, perm, rowptr)
    return perm, rowptr


@njit(cache=True, nogil=True)
def _counting_sort(keys, perm, rowptr):
    """Stable counting sort: ``rowptr`` from the counts, then each key placed at its row's cursor."""
    n_rows = rowptr.shape[0] - 1
    for e in range(keys.shape[0]):
        rowptr[keys[e] + 1] += 1
    for i in range(n_rows):
        rowptr[i + 1] += rowptr[i]
    cursor = rowptr[:-1].copy()
    for e in range(keys.shape[0]):
        perm[cursor[keys[e]]] = e
        cursor[keys[e]] += 1


def sort_by_row(indices, values, mode, n_rows, index_dtype):
    """Sorted layout of the row-wise kernels; see :func:`tensorkit.completion._kernels.sort_by_row`.

    A counting sort that moves the observations themselves (measured at 10^7 observations: 0.1 s
    per mode instead of 0.43 s for the permutation and two gathers)."""
    rowptr = np.zeros(n_rows + 1, dtype=np.int64)
    out_indices = np.empty(indices.shape, dtype=index_dtype)
    out_values = np.empty_like(values)
    _scatter_sort(indices, values, mode, rowptr, out_indices, out_values)
    return out_indices, out_values, rowptr


@njit(cache=True, nogil=True)
def _scatter_sort(indices, values, mode, rowptr, out_indices, out_values):
    """Stable counting sort of the observations by ``indices[:, mode]`` into the ``out`` arrays."""
    n_rows = rowptr.shape[0] - 1
    for e in range(indices.shape[0]):
        rowptr[indices[e, mode] + 1] += 1
    for i in range(n_rows):
        rowptr[i + 1] += rowptr[i]
    cursor = rowptr[:-1].copy()
    for e in range(indices.shape[0]):
        p = cursor[indices[e, mode]]
        cursor[indices[e, mode]] = p + 1
        for k in range(indices.shape[1]):
            out_indices[p, k] = indices[e, k]
        out_values[p] = values[e]


def cp_rows(indices, values, rowptr, factors, mode, reg, residual=False):
    """Row-wise ridge solves of CP; see :func:`tensorkit.completion._kernels.cp_rows`."""
    dtype = np.result_type(values, *factors)
    stacked, offsets = _stack(factors, dtype)
    n_rows = rowptr.shape[0] - 1
    out = np.empty((n_rows, stacked.shape[1]), dtype=dtype)
    singular = np.zeros(n_rows, dtype=np.bool_)
    sse = np.zeros(n_rows, dtype=dtype)
    args = (np.ascontiguousarray(indices), np.ascontiguousarray(values, dtype=dtype), rowptr, stacked,
            offsets, mode, reg, residual, out, singular, sse)
    if _parallel_pays(indices.shape[0], stacked.shape[1]):
        # one chunk per thread: Numba's threading layers hand out prange iterations statically
        # (measured: numba.parallel_chunksize does not make the "omp" layer dynamic)
        _cp_rows(_balanced_chunks(rowptr, numba.get_num_threads()), *args)
    else:
        _cp_rows_chunk(0, n_rows, *args)
    return (out, singular, float(sse.sum())) if residual else (out, singular)


def solve_rows(Z, values, rowptr, reg):
    """Row-wise ridge solves; see :func:`tensorkit.completion._kernels.solve_rows`."""
    n_rows = rowptr.shape[0] - 1
    out = np.empty((n_rows, Z.shape[1]), dtype=Z.dtype)
    singular = np.zeros(n_rows, dtype=np.bool_)
    kernel = _solve_rows if _parallel_pays(Z.shape[0], Z.shape[1]) else _solve_rows_serial
    kernel(np.ascontiguousarray(Z), np.ascontiguousarray(values, dtype=Z.dtype), rowptr, reg, out,
           singular)
    return out, singular


def _parallel_pays(nnz, rank):
    """Threads only for enough work: on a loaded machine a parallel region of a small problem
    waits for its threads (measured 35 ms instead of 0.1 ms for 1,600 observations at rank 3)."""
    return nnz * rank * rank > 4_000_000


def _stack(factors, dtype):
    """All factors in one contiguous block with each mode's first row: Numba cannot index a list of
    differently shaped arrays by a runtime mode number."""
    offsets = np.zeros(len(factors) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([f.shape[0] for f in factors])
    return np.ascontiguousarray(np.concatenate(factors, axis=0), dtype=dtype), offsets


def _balanced_chunks(rowptr, n_chunks):
    """Row bounds of at most ``n_chunks`` runs of rows holding about equally many observations
    (rows are skewed in real data: equal numbers of rows would not balance the work)."""
    nnz = rowptr[-1]
    targets = np.linspace(0, nnz, n_chunks + 1)[1:-1]
    inner = np.searchsorted(rowptr, targets, side="left")
    return np.unique(np.concatenate(([0], inner, [rowptr.shape[0] - 1]))).astype(np.int64)


# Observations are gathered in blocks of this many before their outer products are summed: the
# Gram update becomes R(R+1)/2 contiguous dot products of this length, which vectorize (measured:
# 3x faster than one rank-1 update per observation at R = 16).
_BLOCK = 64


@njit(cache=True, nogil=True, parallel=True)
def _cp_rows(bounds, indices, values, rowptr, stacked, offsets, mode, reg, residual, out, singular, sse):
    """The chunks of rows in parallel. Each chunk is one call of :func:`_cp_rows_chunk` (its scratch
    arrays allocated once per chunk, its rows independent of every other chunk's)."""
    for c in prange(bounds.shape[0] - 1):
        _cp_rows_chunk(bounds[c], bounds[c + 1], indices, values, rowptr, stacked, offsets, mode, reg,
                       residual, out, singular, sse)


@njit(cache=True, nogil=True, fastmath=True)
def _cp_rows_chunk(first, stop, indices, values, rowptr, stacked, offsets, mode, reg, residual, out,
                   singular, sse):
    """Rows ``first:stop``: per row the Gram matrix and right-hand side from the row's
    observations, with the design rows ``z`` built on the fly block by block (never an nnz x R
    array), then a Cholesky solve. The data arrive sorted by row: gathered through a permutation
    instead, each observation cost two cache misses (measured 5x slower at 10^6 observations).

    With ``residual``, ``sse[i]`` is the row's sum of squared residuals with its new solution ``a``:
    ``y.y - 2 a.b + a^T G a`` from the row's Gram matrix (O(R^2) per row; forming the residuals
    again cost 60% of the solve), or, where that difference cancels (less than ``_EXACT_BELOW`` of
    ``y.y`` left), the residuals themselves.
    """
    rank = stacked.shape[1]
    G = np.empty((rank, rank), dtype=out.dtype)
    b = np.empty(rank, dtype=out.dtype)
    G0 = np.empty((rank, rank), dtype=out.dtype)
    b0 = np.empty(rank, dtype=out.dtype)
    z = np.empty(rank, dtype=out.dtype)
    ZT = np.empty((rank, _BLOCK), dtype=out.dtype)
    y = np.empty(_BLOCK, dtype=out.dtype)
    for i in range(first, stop):
        G[:] = 0.0
        b[:] = 0.0
        yy = 0.0
        for start in range(rowptr[i], rowptr[i + 1], _BLOCK):
            n = min(_BLOCK, rowptr[i + 1] - start)
            _design_block(indices, values, stacked, offsets, mode, start, n, z, ZT, y)
            _accumulate_block(G, b, ZT, y, n)
            if residual:
                for j in range(n):
                    yy += y[j] * y[j]
        if residual:
            G0[:] = G
            b0[:] = b
        singular[i] = _finish_row(G, b, reg * (rowptr[i + 1] - rowptr[i]), out[i])
        if residual:
            sse[i] = _gram_sse(G0, b0, yy, out[i])
            if sse[i] < _EXACT_BELOW * yy:
                sse[i] = _row_sse(indices, values, stacked, offsets, mode, rowptr[i], rowptr[i + 1], out[i])


# Below this fraction of ``y.y``, ``y.y - 2 a.b + a^T G a`` has lost too many digits (float64:
# ~1e-16 / 1e-3 relative error at worst; float32 ~1e-4): the residuals are formed instead.
_EXACT_BELOW = 1e-3


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _gram_sse(G, b, yy, a):
    """``yy - 2 a.b + a^T G a`` with ``G`` given by its lower triangle."""
    rank = a.shape[0]
    total = yy
    for r in range(rank):
        s = 0.5 * G[r, r] * a[r]
        for c in range(r):
            s += G[r, c] * a[c]
        total += 2.0 * a[r] * (s - b[r])
    return total


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _design_block(indices, values, stacked, offsets, mode, start, n, z, ZT, y):
    """Columns ``0:n`` of ``ZT`` = the design rows of observations ``start:start + n``, ``y`` their
    values. Each row is formed in the contiguous ``z`` and then stored as a column (measured 1.3x
    faster than multiplying into the strided column)."""
    rank = ZT.shape[0]
    for j in range(n):
        e = start + j
        y[j] = values[e]
        z[:] = 1.0
        for k in range(indices.shape[1]):
            if k != mode:
                base = offsets[k] + indices[e, k]
                for r in range(rank):
                    z[r] *= stacked[base, r]
        for r in range(rank):
            ZT[r, j] = z[r]


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _row_sse(indices, values, stacked, offsets, mode, start, stop, a):
    """``sum_e (y_e - a . z_e)^2`` over observations ``start:stop``."""
    rank = a.shape[0]
    total = 0.0
    for e in range(start, stop):
        m = 0.0
        for r in range(rank):
            p = a[r]
            for k in range(indices.shape[1]):
                if k != mode:
                    p *= stacked[offsets[k] + indices[e, k], r]
            m += p
        d = values[e] - m
        total += d * d
    return total


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _accumulate_block(G, b, ZT, y, n):
    """``G += Z^T Z`` (lower triangle: Cholesky reads no more) and ``b += Z^T y`` for the first
    ``n`` columns of ``ZT``."""
    rank = ZT.shape[0]
    for a in range(rank):
        s = 0.0
        for j in range(n):
            s += ZT[a, j] * y[j]
        b[a] += s
        for c in range(a + 1):
            s = 0.0
            for j in range(n):
                s += ZT[a, j] * ZT[c, j]
            G[a, c] += s


@njit(cache=True, nogil=True, parallel=True)
def _solve_rows(Z, values, rowptr, reg, out, singular):
    """Per row (in parallel): the Gram matrix of its rows of ``Z``, then a Cholesky solve."""
    n_rows = rowptr.shape[0] - 1
    rank = Z.shape[1]
    for i in prange(n_rows):
        G = np.zeros((rank, rank), dtype=out.dtype)
        b = np.zeros(rank, dtype=out.dtype)
        for e in range(rowptr[i], rowptr[i + 1]):
            _accumulate(G, b, Z[e], values[e])
        singular[i] = _finish_row(G, b, reg * (rowptr[i + 1] - rowptr[i]), out[i])


_solve_rows_serial = njit(cache=True, nogil=True)(_solve_rows.py_func)


@njit(cache=True, nogil=True, inline="always")
def _accumulate(G, b, z, y):
    """``G += z z^T`` (lower triangle only: Cholesky reads no more), ``b += y z``."""
    rank = z.shape[0]
    for a in range(rank):
        za = z[a]
        b[a] += y * za
        for c in range(a + 1):
            G[a, c] += za * z[c]


@njit(cache=True, nogil=True)
def _finish_row(G, b, lam, out_row):
    """Solve ``(G + lam I) x = b`` into ``out_row`` by Cholesky (lower triangle of ``G``, in place).

    Returns True when the matrix is not positive definite (``out_row`` is then zero). An empty row
    (``G == 0``, ``lam == 0``) is not an error: its solution is taken as zero.
    """
    rank = b.shape[0]
    empty = True
    for a in range(rank):
        G[a, a] += lam
        if G[a, a] != 0.0:
            empty = False
    if empty:
        out_row[:] = 0.0
        return False
    for j in range(rank):
        d = G[j, j]
        for m in range(j):
            d -= G[j, m] * G[j, m]
        if not d > 0.0:
            out_row[:] = 0.0
            return True
        d = np.sqrt(d)
        G[j, j] = d
        for a in range(j + 1, rank):
            s = G[a, j]
            for m in range(j):
                s -= G[a, m] * G[j, m]
            G[a, j] = s / d
    for a in range(rank):  # L y = b
        s = b[a]
        for m in range(a):
            s -= G[a, m] * b[m]
        b[a] = s / G[a, a]
    for a in range(rank - 1, -1, -1):  # L^T x = y
        s = b[a]
        for m in range(a + 1, rank):
            s -= G[m, a] * b[m]
        b[a] = s / G[a, a]
    out_row[:] = b
    return False

