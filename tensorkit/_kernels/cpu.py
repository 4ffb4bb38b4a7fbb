"""Numba CPU kernels (``nogil`` so that dask workers and threads can run them side by side).

The kernels of the neural-network layers live in :mod:`.nn_cpu` and are re-exported here.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .nn_cpu import adam_step, conv_taps, conv_taps_adjoint, gelu_shifted  # noqa: F401 (kernel names)
from .winograd_cpu import (  # noqa: F401 (kernel names)
    winograd_input,
    winograd_input_adjoint,
    winograd_output,
    winograd_output_adjoint,
)


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


# --- sketching and least squares (tensorkit.sketch) ---------------------------------------------


def fwht(X):
    """In-place Walsh-Hadamard transform along axis 0; see :func:`tensorkit._kernels.fwht`."""
    if not X.flags.c_contiguous:
        X = np.ascontiguousarray(X)
    _fwht(X)
    return X


@njit(cache=True, nogil=True)
def _fwht(X):
    """Butterflies on whole rows: each level pairs rows ``i`` and ``i + h`` (contiguous in C order)."""
    n, k = X.shape
    h = 1
    while h < n:
        for start in range(0, n, 2 * h):
            for i in range(start, start + h):
                for c in range(k):
                    a = X[i, c]
                    b = X[i + h, c]
                    X[i, c] = a + b
                    X[i + h, c] = a - b
        h *= 2


def sparse_sketch(A, rows, signs, n_out):
    """Sparse sketch ``S @ A``; see :func:`tensorkit._kernels.sparse_sketch`.

    A Fortran-ordered ``A`` is sketched through its transpose so that the inner loop always runs
    over contiguous memory and ``A`` is never copied.
    """
    if A.flags.c_contiguous:
        out = np.zeros((n_out, A.shape[1]), dtype=A.dtype)
        _sparse_sketch_rows(A, rows, signs, out)
        return out
    At = A.T if A.flags.f_contiguous else np.ascontiguousarray(A.T)
    out_t = np.zeros((A.shape[1], n_out), dtype=A.dtype)
    _sparse_sketch_cols(At, rows, signs, out_t)
    return out_t.T


@njit(cache=True, nogil=True, fastmath=True)
def _sparse_sketch_rows(A, rows, signs, out):
    """``out[rows[i, j], :] += signs[i, j] * A[i, :]``: one pass over ``A``, row by row."""
    n, d = A.shape
    for i in range(n):
        for j in range(rows.shape[1]):
            r = rows[i, j]
            v = signs[i, j]
            for c in range(d):
                out[r, c] += v * A[i, c]


@njit(cache=True, nogil=True, fastmath=True)
def _sparse_sketch_cols(At, rows, signs, out_t):
    """The same scatter on ``A.T`` (C-contiguous when ``A`` is Fortran-ordered)."""
    d, n = At.shape
    for c in range(d):
        for i in range(n):
            a = At[c, i]
            for j in range(rows.shape[1]):
                out_t[c, rows[i, j]] += signs[i, j] * a


def normal_matvec(A, W, B):
    """Fused ``A.T @ (A @ W - B)``; see :func:`tensorkit._kernels.normal_matvec`.

    Serial on purpose: measured on a 2-core machine shared with other jobs, a 2-thread ``prange``
    version took 0.38 s per call at 200000 x 100 against 0.04-0.07 s serially (threads stall
    waiting for each other), and the serial loop already runs near memory bandwidth. Parallelism
    comes from row blocks in separate dask tasks or threads (the kernel releases the GIL).
    """
    if not A.flags.c_contiguous:
        # Row-wise fusion needs rows in contiguous memory; two BLAS passes beat a copy per call.
        from .reference import normal_matvec as two_pass

        return two_pass(A, W, B)
    Wt = np.ascontiguousarray(W.T, dtype=A.dtype)
    has_b = B is not None
    Bt = np.ascontiguousarray(B, dtype=A.dtype) if has_b else np.zeros((1, W.shape[1]), A.dtype)
    out_t = np.zeros((W.shape[1], A.shape[1]), dtype=A.dtype)
    sq = np.zeros(W.shape[1], dtype=A.dtype)
    _normal_rows(A, Wt, Bt, has_b, 0, A.shape[0], out_t, sq)
    return out_t.T, sq


@njit(cache=True, nogil=True, fastmath=True)
def _normal_rows(A, Wt, B, has_b, start, stop, out, sq):
    """``out += A_i^T t`` with ``t = A_i W - B_i`` for rows ``start:stop``, each row read once."""
    d = A.shape[1]
    k = Wt.shape[0]
    t = np.empty(k, dtype=A.dtype)
    for i in range(start, stop):
        for j in range(k):
            s = -B[i, j] if has_b else 0.0
            for col in range(d):
                s += A[i, col] * Wt[j, col]
            t[j] = s
            sq[j] += s * s
        for j in range(k):
            tj = t[j]
            for col in range(d):
                out[j, col] += tj * A[i, col]


def cp_values(indices, weights, factors):
    """Values of a CP model at cells, parallel over cells; see :func:`tensorkit._kernels.cp_values`."""
    dtype = np.result_type(weights, *factors)
    if dtype.kind == "c":  # the compiled loop accumulates reals
        from .reference import cp_values as reference

        return reference(indices, weights, factors)
    stacked, offsets = stack_factors(factors, dtype)
    out = np.empty(indices.shape[0], dtype=dtype)
    kernel = _cp_values if indices.shape[0] * stacked.shape[1] > 1_000_000 else _cp_values_serial
    kernel(np.ascontiguousarray(indices), np.ascontiguousarray(weights, dtype=dtype), stacked, offsets,
           out)
    return out


@njit(cache=True, nogil=True, parallel=True)
def _cp_values(indices, weights, stacked, offsets, out):
    """``out[e] = sum_r w_r prod_k A_k[i_k(e), r]``, in parallel over cells."""
    rank = stacked.shape[1]
    order = indices.shape[1]
    for e in prange(indices.shape[0]):
        total = 0.0
        for r in range(rank):
            p = weights[r]
            for k in range(order):
                p *= stacked[offsets[k] + indices[e, k], r]
            total += p
        out[e] = total


# Small inputs run serially: a parallel region on a loaded machine waits for its threads.
_cp_values_serial = njit(cache=True, nogil=True)(_cp_values.py_func)


def tucker_values(indices, core, factors):
    """Values of a Tucker model at cells, parallel over cells; see
    :func:`tensorkit._kernels.tucker_values`."""
    dtype = np.result_type(core, *factors)
    if dtype.kind == "c":
        from .reference import tucker_values as reference

        return reference(indices, core, factors)
    width = max(f.shape[1] for f in factors)  # modes of different ranks, zero-padded to one block
    padded = [np.pad(np.asarray(f, dtype=dtype), ((0, 0), (0, width - f.shape[1]))) for f in factors]
    stacked, offsets = stack_factors(padded, dtype)
    ranks = np.array(core.shape, dtype=np.int64)
    out = np.empty(indices.shape[0], dtype=dtype)
    kernel = _tucker_values if indices.shape[0] * core.size > 1_000_000 else _tucker_values_serial
    kernel(np.ascontiguousarray(indices), np.ascontiguousarray(core, dtype=dtype).reshape(-1), ranks,
           stacked, offsets, out)
    return out


@njit(cache=True, nogil=True, parallel=True)
def _tucker_values(indices, core, ranks, stacked, offsets, out):
    """Per cell: contract the flattened core with the cell's factor rows from the last mode to the
    first, in a scratch buffer of the core's size (``prod(R)`` multiply-adds per cell, no
    Kronecker rows)."""
    order = indices.shape[1]
    size = core.shape[0]
    for e in prange(indices.shape[0]):
        buf = core.copy()
        n = size
        for k in range(order - 1, -1, -1):
            r_k = ranks[k]
            base = offsets[k] + indices[e, k]
            n //= r_k
            for j in range(n):
                s = 0.0
                for r in range(r_k):
                    s += buf[j * r_k + r] * stacked[base, r]
                buf[j] = s
        out[e] = buf[0]


_tucker_values_serial = njit(cache=True, nogil=True)(_tucker_values.py_func)
