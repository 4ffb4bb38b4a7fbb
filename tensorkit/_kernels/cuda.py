"""GPU kernels: CuPy built-ins where they exist, ``numba.cuda`` for the rest.

The ``numba.cuda`` kernels take any arrays with ``__cuda_array_interface__`` (CuPy) on a GPU, and
numpy arrays under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``), where the tests run them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from ..backend import array_module

_THREADS = 128


def mttkrp_coo(indices, values, factors, mode, n_rows):
    """COO MTTKRP on the GPU; see :func:`tensorkit._kernels.mttkrp_coo`.

    One thread per nonzero, atomic adds into the output rows. Complex data (which
    ``cuda.atomic.add`` does not support) goes through real and imaginary parts separately.
    """
    xp = array_module(values)
    dtype = xp.result_type(values, *factors)
    if xp.dtype(dtype).kind == "c":
        return _mttkrp_coo_scatter(xp, indices, values, factors, mode, n_rows, dtype)
    offsets = np.zeros(len(factors) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([f.shape[0] for f in factors])
    stacked = xp.ascontiguousarray(xp.concatenate(factors, axis=0).astype(dtype))
    out = xp.zeros((n_rows, stacked.shape[1]), dtype=dtype)
    nnz = indices.shape[0]
    if nnz:
        blocks = math.ceil(nnz / _THREADS)
        mttkrp_coo_kernel[blocks, _THREADS](
            xp.ascontiguousarray(indices.astype(xp.int64)),
            xp.ascontiguousarray(values.astype(dtype)),
            stacked,
            xp.asarray(offsets),
            mode,
            out,
        )
    return out


@cuda.jit
def mttkrp_coo_kernel(indices, values, stacked, offsets, mode, out):
    """One thread per nonzero: ``out[i_mode, r] += v * prod_{k != mode} A_k[i_k, r]`` (atomics)."""
    e = cuda.grid(1)
    if e >= indices.shape[0]:
        return
    order = indices.shape[1]
    target = indices[e, mode]
    for r in range(stacked.shape[1]):
        p = values[e]
        for k in range(order):
            if k != mode:
                p *= stacked[offsets[k] + indices[e, k], r]
        cuda.atomic.add(out, (target, r), p)


def _mttkrp_coo_scatter(xp, indices, values, factors, mode, n_rows, dtype):
    """Complex data: form the row products, scatter real and imaginary parts separately."""
    rank = factors[0].shape[1]
    rows = xp.repeat(values.astype(dtype)[:, None], rank, axis=1)
    for k, factor in enumerate(factors):
        if k != mode:
            rows *= factor[indices[:, k], :]
    real_dtype = rows.real.dtype
    parts = []
    for part in (xp.ascontiguousarray(rows.real), xp.ascontiguousarray(rows.imag)):
        acc = xp.zeros((n_rows, rank), dtype=real_dtype)
        if xp is np:
            np.add.at(acc, indices[:, mode], part)
        else:
            import cupyx

            cupyx.scatter_add(acc, indices[:, mode], part)
        parts.append(acc)
    return parts[0] + 1j * parts[1]


# --- sketching and least squares (tensorkit.sketch) ---------------------------------------------


def fwht(X):
    """In-place Walsh-Hadamard transform along axis 0 on the GPU; one launch per butterfly level.

    Each level is a grid of ``n/2 * k`` independent butterflies; launches on one stream run in
    order, so no global synchronisation is needed between levels.
    """
    n, k = X.shape
    pairs = (n // 2) * k
    if pairs == 0:
        return X
    blocks = math.ceil(pairs / _THREADS)
    h = 1
    while h < n:
        fwht_level_kernel[blocks, _THREADS](X, h)
        h *= 2
    return X


@cuda.jit
def fwht_level_kernel(X, h):
    """One butterfly per thread: rows ``i`` and ``i + h`` of column ``c`` become sum and difference."""
    t = cuda.grid(1)
    n, k = X.shape
    if t >= (n // 2) * k:
        return
    pair = t // k
    c = t - pair * k
    i = (pair // h) * 2 * h + pair % h
    a = X[i, c]
    b = X[i + h, c]
    X[i, c] = a + b
    X[i + h, c] = a - b


def sparse_sketch(A, rows, signs, n_out):
    """Sparse sketch on the GPU with CuPy's ``scatter_add`` (atomic adds into the output rows)."""
    import cupy
    import cupyx

    out = cupy.zeros((n_out, A.shape[1]), dtype=A.dtype)
    for j in range(rows.shape[1]):
        cupyx.scatter_add(out, rows[:, j], signs[:, j, None] * A)
    return out


def normal_matvec(A, W, B):
    """``A.T @ (A @ W - B)`` with cuBLAS (two passes; GPU bandwidth makes fusion less critical)."""
    R = A @ W
    if B is not None:
        R = R - B
    return A.T @ R, (R * R).sum(axis=0)


def gelu_shifted(x, bias=None, residual=None, gate=None, *, overwrite_x=False, slope=None):
    """GELU and its slope at the shifted input with CuPy built-ins (elementwise kernels and
    ``cupyx.scipy.special.erf``); see :func:`tensorkit._kernels.gelu_shifted`."""
    from .reference import gelu_shifted as reference

    return reference(x, bias, residual, gate, overwrite_x=overwrite_x, slope=slope)


def conv_taps(flat, taps, offsets, out):
    """Convolution taps by cuBLAS batched matmuls; see :func:`tensorkit._kernels.conv_taps`."""
    from .reference import conv_taps as reference

    return reference(flat, taps, offsets, out)


def conv_taps_adjoint(flat, taps, offsets, gflat, dflat, dtaps):
    """Adjoint of :func:`conv_taps` by cuBLAS; see :func:`tensorkit._kernels.conv_taps_adjoint`."""
    from .reference import conv_taps_adjoint as reference

    return reference(flat, taps, offsets, gflat, dflat, dtaps)


def adam_step(p, g, m, v, **hyper):
    """One Adam step with CuPy built-ins; see :func:`tensorkit._kernels.adam_step`."""
    from .reference import adam_step as reference

    return reference(p, g, m, v, **hyper)


def cp_values(indices, weights, factors):
    """Values of a CP model at cells, one thread per cell; see :func:`tensorkit._kernels.cp_values`."""
    xp = array_module(weights)
    dtype = xp.result_type(weights, *factors)
    if xp.dtype(dtype).kind == "c":
        from .reference import cp_values as reference

        return reference(indices, weights, factors)
    offsets = np.zeros(len(factors) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([f.shape[0] for f in factors])
    stacked = xp.ascontiguousarray(xp.concatenate(factors, axis=0).astype(dtype))
    out = xp.empty(indices.shape[0], dtype=dtype)
    if indices.shape[0]:
        cp_values_kernel[math.ceil(indices.shape[0] / _THREADS), _THREADS](
            xp.ascontiguousarray(indices), xp.ascontiguousarray(weights.astype(dtype)), stacked,
            xp.asarray(offsets), out)
    return out


@cuda.jit
def cp_values_kernel(indices, weights, stacked, offsets, out):
    """One thread per cell: ``out[e] = sum_r w_r prod_k A_k[i_k(e), r]``."""
    e = cuda.grid(1)
    if e >= indices.shape[0]:
        return
    total = 0.0
    for r in range(stacked.shape[1]):
        p = weights[r]
        for k in range(indices.shape[1]):
            p *= stacked[offsets[k] + indices[e, k], r]
        total += p
    out[e] = total


def tucker_values(indices, core, factors):
    """Values of a Tucker model at cells: the reference's chunked Kronecker rows times the core,
    on CuPy (BLAS); see :func:`tensorkit._kernels.tucker_values`."""
    from .reference import tucker_values as chunked

    return chunked(indices, core, factors)


def winograd_input(x, pads, mode, m, bt, out):
    """Winograd input tiles by CuPy einsums; see :func:`tensorkit._kernels.winograd_input`."""
    from .reference import winograd_input as reference

    return reference(x, pads, mode, m, bt, out)


def winograd_input_adjoint(dv, pads, mode, m, bt, dx):
    """Adjoint of :func:`winograd_input` by CuPy array code."""
    from .reference import winograd_input_adjoint as reference

    return reference(dv, pads, mode, m, bt, dx)


def winograd_output(mprod, m, at, bias, y):
    """Winograd output tiles by CuPy einsums; see :func:`tensorkit._kernels.winograd_output`."""
    from .reference import winograd_output as reference

    return reference(mprod, m, at, bias, y)


def winograd_output_adjoint(dy, m, at, out):
    """Adjoint of :func:`winograd_output` by CuPy array code."""
    from .reference import winograd_output_adjoint as reference

    return reference(dy, m, at, out)
