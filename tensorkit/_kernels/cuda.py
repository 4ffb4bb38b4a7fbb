"""GPU kernels: CuPy built-ins where they exist, ``numba.cuda`` for the rest.

The ``numba.cuda`` kernels take any arrays with ``__cuda_array_interface__`` (CuPy) on a GPU, and
numpy arrays under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``), where the tests run them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

_THREADS = 128


def mttkrp_coo(indices, values, factors, mode, n_rows):
    """COO MTTKRP on the GPU; see :func:`tensorkit._kernels.mttkrp_coo`.

    One thread per nonzero, atomic adds into the output rows. Complex data (which
    ``cuda.atomic.add`` does not support) goes through real and imaginary parts separately.
    """
    xp = _namespace(values)
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


def _namespace(x):
    if type(x).__module__.startswith("cupy"):
        import cupy

        return cupy
    return np
