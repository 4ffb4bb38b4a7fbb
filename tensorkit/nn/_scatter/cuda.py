"""GPU scatter-add with ``numba.cuda`` atomics (CuPy arrays on a GPU, numpy under the simulator)."""

from __future__ import annotations

import math

from numba import cuda

from ...backend import array_module

_THREADS = 128


def scatter_add_rows(out, indices, rows):
    """One thread per entry of ``rows``, atomic adds into ``out``; see
    :func:`tensorkit.nn._scatter.scatter_add_rows`."""
    xp = array_module(rows)
    if rows.size:
        blocks = math.ceil(rows.size / _THREADS)
        _scatter_add_rows_kernel[blocks, _THREADS](
            out, xp.ascontiguousarray(indices.astype(xp.int64)), xp.ascontiguousarray(rows)
        )
    return out


@cuda.jit
def _scatter_add_rows_kernel(out, indices, rows):
    """Thread ``t`` adds ``rows[e, j]`` into ``out[indices[e], j]`` for ``(e, j) = divmod(t, d)``."""
    t = cuda.grid(1)
    dim = rows.shape[1]
    if t >= indices.shape[0] * dim:
        return
    e = t // dim
    cuda.atomic.add(out, (indices[e], t - e * dim), rows[e, t - e * dim])
