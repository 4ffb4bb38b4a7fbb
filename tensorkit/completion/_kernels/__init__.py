"""Kernels of tensor completion, behind one dispatch function each.

Every kernel has a plain-numpy reference (:mod:`.reference`, the oracle of the tests), a Numba CPU
version (:mod:`.cpu`, parallel over factor rows) and a GPU version (:mod:`.cuda`: CuPy built-ins and
``numba.cuda`` kernels, which also run under the CUDA simulator). Arguments arrive validated, on
one device, with a resolved backend name.

The row-wise least-squares kernels take the observations sorted by their index in one mode (a
CSR-like layout computed once per mode with :func:`row_groups`): those of row ``i`` are the run
``rowptr[i]:rowptr[i + 1]``. A model's values at cells are the core's kernels
:func:`tensorkit._kernels.cp_values` and :func:`tensorkit._kernels.tucker_values`.
"""

from __future__ import annotations

from typing import Any

from ...backend import kernel_implementation

__all__ = ["cp_rows", "row_groups", "solve_rows", "sort_by_row"]


def _implementation(name: str, backend: str):
    return kernel_implementation(__name__, name, backend)


def row_groups(keys: Any, n_rows: int, backend: str) -> tuple[Any, Any]:
    """``(perm, rowptr)``: a stable ordering of the observations by ``keys`` (their index in one
    mode, in ``[0, n_rows)``) and the start of each row's run, ``rowptr`` of length ``n_rows + 1``."""
    return _implementation("row_groups", backend)(keys, n_rows)


def sort_by_row(indices: Any, values: Any, mode: int, n_rows: int, index_dtype: Any,
                backend: str) -> tuple[Any, Any, Any]:
    """``(indices, values, rowptr)`` of the observations in the stable order of
    :func:`row_groups` by their index in ``mode``, the indices cast to ``index_dtype``: the layout
    of the row-wise kernels, without the permutation array (one pass on the CPU)."""
    return _implementation("sort_by_row", backend)(indices, values, mode, n_rows, index_dtype)


def cp_rows(
    indices: Any, values: Any, rowptr: Any, factors: list[Any], mode: int, reg: float, backend: str, *,
    residual: bool = False,
) -> tuple[Any, ...]:
    """New rows of factor ``mode`` of a CP model fitted to the observed cells, the others fixed.

    For every row ``i``, with ``z_e = *_{k != mode} A_k[i_k(e), :]`` (Hadamard product of the other
    factors' rows) over the row's observations ``e``, solve

    ``(sum_e z_e z_e^T + reg * n_i * I) a_i = sum_e y_e z_e``    (``n_i`` observations).

    A row without observations becomes zero.

    Returns
    -------
    factor : array (n_rows, R)
    singular : bool array (n_rows,), True where the normal equations could not be factored (the
        row is then zero); only possible with ``reg == 0``.
    sse : float, only with ``residual=True``
        ``sum_e (y_e - z_e . a_{i(e)})^2`` with the new rows: after the last mode of a sweep, the
        training error of the model, at a fraction of the cost of evaluating the model anew.
    """
    return _implementation("cp_rows", backend)(indices, values, rowptr, factors, mode, reg, residual)


def solve_rows(Z: Any, values: Any, rowptr: Any, reg: float, backend: str) -> tuple[Any, Any]:
    """The same row-wise ridge solves for given design rows ``Z`` (nnz, R), sorted by row: for row ``i``,
    ``(sum_e Z_e Z_e^T + reg * n_i * I) a_i = sum_e y_e Z_e``; returns ``(rows, singular)`` as
    :func:`cp_rows`."""
    return _implementation("solve_rows", backend)(Z, values, rowptr, reg)

