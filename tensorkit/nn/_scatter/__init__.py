"""Row scatter-add behind one dispatch function: the adjoint of a row gather (an embedding lookup).

Laid out as :mod:`tensorkit._kernels`: :mod:`.reference` (plain numpy, the oracle in tests),
:mod:`.cpu` (Numba) and :mod:`.cuda` (``numba.cuda`` atomics, also runnable under the CUDA
simulator) hold the same function; the dispatch takes checked arguments and a resolved backend name.
"""

from __future__ import annotations

from typing import Any

from ...backend import kernel_implementation

__all__ = ["scatter_add_rows"]


def scatter_add_rows(out: Any, indices: Any, rows: Any, backend: str) -> Any:
    """Accumulate ``out[indices[e], :] += rows[e, :]`` for every ``e``, in place; returns ``out``.

    Repeated indices add up (unlike ``out[indices] += rows``, which keeps one of them).

    Parameters
    ----------
    out : array (n, d), C-contiguous, updated in place
    indices : int64 array (m,), entries in ``[0, n)`` (checked by the caller)
    rows : array (m, d) of ``out``'s dtype
    backend : "numpy", "numba" or "cupy"

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.nn._scatter import scatter_add_rows
    >>> out = np.zeros((3, 2))
    >>> scatter_add_rows(out, np.array([2, 0, 2]), np.ones((3, 2)), "numpy")
    array([[1., 1.],
           [0., 0.],
           [2., 2.]])
    """
    return kernel_implementation(__name__, "scatter_add_rows", backend)(out, indices, rows)
