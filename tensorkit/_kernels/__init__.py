"""Hot loops behind one dispatch function each.

Every kernel has a plain-numpy reference (:mod:`.reference`, the oracle in tests), a Numba CPU
version (:mod:`.cpu`) and a GPU version (:mod:`.cuda`, ``numba.cuda`` so that it also runs under the
CUDA simulator). The dispatch functions here take already-validated arguments and a resolved
backend name (see :func:`tensorkit.backend.resolve_backend`); validation belongs to the public
entry points.
"""

from __future__ import annotations

from typing import Any

__all__ = ["mttkrp_coo"]


def mttkrp_coo(
    indices: Any, values: Any, factors: list[Any], mode: int, n_rows: int, backend: str
) -> Any:
    """MTTKRP of a sparse COO tensor: ``M[i_mode, r] = sum_e v_e prod_{k != mode} A_k[i_k, r]``.

    Parameters
    ----------
    indices : int array (nnz, order), in range for every mode (checked by the caller)
    values : array (nnz,)
    factors : list of arrays (I_k, R), one per mode (the one at ``mode`` is not read)
    mode : int
    n_rows : int, the size of ``mode``
    backend : "numpy", "numba" or "cupy"
    """
    if backend == "numpy":
        from . import reference

        return reference.mttkrp_coo(indices, values, factors, mode, n_rows)
    if backend == "numba":
        from . import cpu

        return cpu.mttkrp_coo(indices, values, factors, mode, n_rows)
    if backend == "cupy":
        from . import cuda

        return cuda.mttkrp_coo(indices, values, factors, mode, n_rows)
    raise ValueError(f"unknown backend {backend!r}")
