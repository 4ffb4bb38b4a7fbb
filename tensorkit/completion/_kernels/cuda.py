"""GPU completion kernels: CuPy built-ins (gathers, sorting, batched solves) and ``numba.cuda``
kernels for the per-row Gram matrices and the values at cells.

The ``numba.cuda`` kernels take CuPy arrays on a GPU and numpy arrays under the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``), where the tests run them; the glue uses the arrays' own module.
"""

from __future__ import annotations

from numba import cuda

from ...backend import array_module

_THREADS = 128


def row_groups(keys, n_rows):
    """``(perm, rowptr)`` by a stable sort on the device; see
    :func:`tensorkit.completion._kernels.row_groups`."""
    xp = array_module(keys)
    perm = xp.argsort(keys, kind="stable")
    rowptr = xp.zeros(n_rows + 1, dtype=xp.int64)
    xp.cumsum(xp.bincount(keys, minlength=n_rows), out=rowptr[1:])
    return perm, rowptr


def sort_by_row(indices, values, mode, n_rows, index_dtype):
    """Sorted layout of the row-wise kernels; see :func:`tensorkit.completion._kernels.sort_by_row`."""
    xp = array_module(values)
    perm, rowptr = row_groups(indices[:, mode], n_rows)
    return xp.take(indices.astype(index_dtype, copy=False), perm, axis=0), xp.take(values, perm), rowptr


def cp_rows(indices, values, rowptr, factors, mode, reg, residual=False):
    """Row-wise ridge solves of CP; see :func:`tensorkit.completion._kernels.cp_rows`.

    The design rows ``z_e`` are formed by gathers on the device (nnz x R: GPU memory is ample for
    it), then :func:`solve_rows` does the rest.
    """
    xp = array_module(values)
    dtype = xp.result_type(values, *factors)
    Z = xp.ones((indices.shape[0], factors[0].shape[1]), dtype=dtype)
    for k, factor in enumerate(factors):
        if k != mode:
            Z *= factor[indices[:, k]]
    values = values.astype(dtype, copy=False)
    out, singular = solve_rows(Z, values, rowptr, reg)
    if not residual:
        return out, singular
    # the row of each observation (CuPy's repeat takes no array of counts)
    rows = xp.searchsorted(rowptr, xp.arange(values.shape[0]), side="right") - 1
    return out, singular, float(xp.sum((values - xp.sum(Z * out[rows], axis=1)) ** 2))


def solve_rows(Z, values, rowptr, reg):
    """Row-wise ridge solves; see :func:`tensorkit.completion._kernels.solve_rows`.

    One thread block per row accumulates its Gram matrix and right-hand side (``gram_rows_kernel``),
    then one batched ``linalg.solve`` solves all rows. Rows without observations solve ``I x = 0``.
    """
    xp = array_module(Z)
    n_rows, rank = rowptr.shape[0] - 1, Z.shape[1]
    G = xp.empty((n_rows, rank, rank), dtype=Z.dtype)
    b = xp.empty((n_rows, rank), dtype=Z.dtype)
    if n_rows:
        gram_rows_kernel[n_rows, _THREADS](xp.ascontiguousarray(Z), xp.ascontiguousarray(values),
                                           rowptr, G, b)
    counts = xp.diff(rowptr).astype(Z.dtype)
    G += xp.where(counts > 0, reg * counts, 1.0)[:, None, None] * xp.eye(rank, dtype=Z.dtype)
    singular = xp.zeros(n_rows, dtype=bool)
    if reg == 0 and n_rows:
        # Only unregularized rows can fail; they are swapped for I x = 0 so that the batched solve
        # (which does not report singular members on the GPU) stays finite.
        eig = xp.linalg.eigvalsh(G)
        singular = eig[:, 0] <= 1e-12 * xp.abs(eig[:, -1])
        G[singular] = xp.eye(rank, dtype=Z.dtype)
        b[singular] = 0
    out = xp.linalg.solve(G, b[:, :, None])[:, :, 0] if n_rows else b
    return out, singular


@cuda.jit
def gram_rows_kernel(Z, values, rowptr, G, b):
    """Block ``i`` fills ``G[i] = sum_e Z_e Z_e^T`` and ``b[i] = sum_e y_e Z_e`` over row ``i``'s
    observations; each thread owns entries of ``G[i]`` / ``b[i]`` (no atomics)."""
    i = cuda.blockIdx.x
    rank = Z.shape[1]
    start = rowptr[i]
    stop = rowptr[i + 1]
    for entry in range(cuda.threadIdx.x, rank * rank + rank, cuda.blockDim.x):
        acc = 0.0
        if entry < rank * rank:
            a = entry // rank
            c = entry % rank
            for e in range(start, stop):
                acc += Z[e, a] * Z[e, c]
            G[i, a, c] = acc
        else:
            a = entry - rank * rank
            for e in range(start, stop):
                acc += values[e] * Z[e, a]
            b[i, a] = acc

