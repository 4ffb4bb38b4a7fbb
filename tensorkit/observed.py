"""Observed cells of a partially known tensor: :class:`ObservedTensor` and its text formats.

A tensor with most cells missing is stored as its observed cells only (COO): an ``(nnz, order)``
int64 index array and the ``(nnz,)`` values, on the device of the values (numpy or CuPy). This is
the input of :mod:`tensorkit.completion`. Files: versioned ``.npz`` (:meth:`ObservedTensor.save`),
the FROSTT ``.tns`` text format of sparse-tensor benchmarks (1-based indices, then the value, one
cell a line: :func:`read_tns`, :func:`write_tns`) and the same with 0-based indices
(:func:`read_coo_text`, :func:`write_coo_text`). Every writer is atomic.

Examples
--------
>>> import numpy as np
>>> from tensorkit.observed import ObservedTensor
>>> X = np.array([[1.0, np.nan], [np.nan, 4.0]])
>>> obs = ObservedTensor.from_dense(X)
>>> obs.nnz, obs.density, obs.indices.tolist()
(2, 0.5, [[0, 0], [1, 1]])
>>> obs.to_dense(fill=0.0).tolist()
[[1.0, 0.0], [0.0, 4.0]]
"""

from __future__ import annotations

import itertools
import math
import os
from typing import Any

import numpy as np

from ._validation import as_float_array, check_allocation, check_choice, check_int, device_of
from .backend import array_module, check_random_state, get_namespace, is_cupy_array, to_numpy
from .io import atomic_path, load_archive, save_archive

__all__ = ["ObservedTensor", "read_coo_text", "read_tns", "write_coo_text", "write_tns"]


class ObservedTensor:
    """The observed cells of a tensor of ``shape``: ``X[indices[e]] = values[e]``, the rest unknown.

    Parameters
    ----------
    indices : integer array of shape ``(nnz, order)``
        Cell coordinates, 0-based, each cell at most once (see :meth:`from_duplicates`).
    values : real array of shape ``(nnz,)``
        Finite values; integers become float64. The device of ``values`` is the device of the
        object (``indices`` are moved there).
    shape : tuple of int
        The full tensor's shape.

    Raises
    ------
    TypeError
        Boolean or floating ``indices``, non-numeric ``values``.
    ValueError
        Wrong array shapes, an index out of range (the first bad row is shown), a NaN or Inf
        value, a cell given twice.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.observed import ObservedTensor
    >>> obs = ObservedTensor([[0, 1, 2], [3, 0, 0]], [1.5, -2.0], (4, 2, 3))
    >>> obs
    ObservedTensor(shape=(4, 2, 3), nnz=2, density=0.0833, dtype=float64)
    >>> train, test = obs.split((0.5, 0.5), random_state=0)
    >>> train.nnz, test.nnz
    (1, 1)
    """

    _FORMAT = "tensorkit.ObservedTensor"
    _VERSION = 1

    def __init__(self, indices: Any, values: Any, shape: Any):
        shape = _check_shape(shape)
        values = _check_values(values)
        nxp = array_module(values)
        indices = _check_indices(indices, shape, values.shape[0], nxp)
        _refuse_duplicates(indices, shape, nxp)
        self.indices, self.values, self.shape = indices, values, shape

    @classmethod
    def _trusted(cls, indices: Any, values: Any, shape: tuple[int, ...]) -> ObservedTensor:
        """Wrap arrays already known to be valid (subsets of a checked object): no O(nnz) checks."""
        obs = cls.__new__(cls)
        obs.indices, obs.values, obs.shape = indices, values, shape
        return obs

    @classmethod
    def from_dense(cls, X: Any, mask: Any = None) -> ObservedTensor:
        """The observed cells of a dense array: its non-NaN cells, or the cells where ``mask`` is True.

        Examples
        --------
        >>> import numpy as np
        >>> from tensorkit.observed import ObservedTensor
        >>> ObservedTensor.from_dense(np.arange(4.0).reshape(2, 2), mask=np.eye(2, dtype=bool)).values
        array([0., 3.])
        """
        if not hasattr(X, "dtype"):
            X = np.asarray(X)
        xp = get_namespace(X)
        nxp = array_module(X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must be a real array, got dtype {X.dtype}")
        if X.ndim < 1:
            raise ValueError(f"X must have at least one mode, got shape {tuple(X.shape)}")
        if mask is None:
            keep = ~xp.isnan(X) if X.dtype.kind == "f" else xp.ones(X.shape, dtype=xp.bool)
        else:
            if not hasattr(mask, "dtype"):
                mask = nxp.asarray(mask)
            if mask.dtype.kind != "b":
                raise TypeError(f"mask must be a boolean array (True = observed), got dtype {mask.dtype}")
            if tuple(mask.shape) != tuple(X.shape):
                raise ValueError(f"mask has shape {tuple(mask.shape)}, X has shape {tuple(X.shape)}")
            keep = nxp.asarray(mask)
        indices = nxp.stack(nxp.nonzero(keep), axis=1).astype(nxp.int64)
        values = X[keep]
        if values.dtype.kind != "f":
            values = values.astype(nxp.float64)
        if not bool(xp.all(xp.isfinite(values))):
            raise ValueError("X has non-finite values (Inf, or NaN inside mask) at observed cells")
        return cls._trusted(indices, values, tuple(int(s) for s in X.shape))

    @classmethod
    def from_duplicates(
        cls, indices: Any, values: Any, shape: Any, *, reduce: str = "mean"
    ) -> ObservedTensor:
        """Like the constructor, but cells given more than once are merged by ``reduce``
        (``"mean"`` or ``"sum"``).

        Examples
        --------
        >>> from tensorkit.observed import ObservedTensor
        >>> ObservedTensor.from_duplicates([[0, 0], [1, 1], [0, 0]], [1.0, 5.0, 3.0], (2, 2)).values
        array([2., 5.])
        """
        reduce = check_choice(reduce, "reduce", ("mean", "sum"))
        shape = _check_shape(shape)
        values = _check_values(values)
        nxp = array_module(values)
        indices = _check_indices(indices, shape, values.shape[0], nxp)
        keys = _linear_keys(indices, shape, nxp)
        unique, first, inverse = nxp.unique(keys, return_index=True, return_inverse=True)[:3]
        inverse = inverse.reshape(-1)
        total = nxp.bincount(inverse, weights=values, minlength=unique.shape[0]).astype(values.dtype)
        if reduce == "mean":
            total /= nxp.bincount(inverse, minlength=unique.shape[0])
        return cls._trusted(indices[first], total, shape)

    # --- sizes -------------------------------------------------------------------------------------

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nnz(self) -> int:
        """Number of observed cells."""
        return int(self.values.shape[0])

    @property
    def density(self) -> float:
        """Observed fraction of the cells."""
        return self.nnz / math.prod(self.shape)

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def nbytes(self) -> int:
        return int(self.indices.nbytes + self.values.nbytes)

    # --- conversions ------------------------------------------------------------------------------

    def to_dense(self, fill: float = np.nan) -> Any:
        """The full array with ``fill`` at unobserved cells; refused before allocating when it
        cannot fit in memory."""
        xp = get_namespace(self.values)
        check_allocation(self.shape, self.dtype, "the dense tensor", device=device_of(xp),
                         alternative="keep the ObservedTensor (completion works on observed cells)")
        out = xp.full(self.shape, fill, dtype=self.dtype)
        out[tuple(self.indices[:, k] for k in range(self.ndim))] = self.values
        return out

    def split(self, fractions: Any, *, random_state: Any = None) -> tuple[ObservedTensor, ...]:
        """Disjoint random parts with about ``fractions[j] * nnz`` cells each (train / validation /
        test); ``fractions`` sum to 1 or less (cells beyond the sum are left out).

        Raises
        ------
        ValueError
            Negative fractions, a sum above 1, or a part that would be empty.
        """
        try:
            fractions = [float(f) for f in fractions]
        except TypeError:
            raise TypeError(f"fractions must be a sequence of numbers, got {fractions!r}") from None
        if not fractions or any(not 0 < f <= 1 for f in fractions) or sum(fractions) > 1 + 1e-12:
            raise ValueError(f"fractions must be in (0, 1] and sum to at most 1, got {fractions}")
        bounds = np.rint(np.cumsum([0.0, *fractions]) * self.nnz).astype(np.int64)
        sizes = np.diff(bounds)
        if np.any(sizes == 0):
            raise ValueError(
                f"split {fractions} of {self.nnz} observed cells leaves part "
                f"{int(np.argmin(sizes))} empty"
            )
        rng = check_random_state(random_state)
        order = rng.permutation(self.nnz)
        nxp = array_module(self.values)
        parts = []
        for lo, hi in itertools.pairwise(bounds):
            take = nxp.asarray(np.sort(order[lo:hi]))
            parts.append(ObservedTensor._trusted(self.indices[take], self.values[take], self.shape))
        return tuple(parts)

    # --- files ------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write a versioned ``.npz`` archive atomically (arrays moved to the host)."""
        save_archive(path, self._FORMAT, self._VERSION, indices=self.indices, values=self.values,
                     shape=np.asarray(self.shape, dtype=np.int64))

    @classmethod
    def load(cls, path: str | os.PathLike) -> ObservedTensor:
        """Read an archive written by :meth:`save` (numpy arrays), validated as on construction."""
        data = load_archive(path, cls._FORMAT, cls._VERSION)
        return cls(data["indices"], data["values"], tuple(int(s) for s in data["shape"]))

    def __repr__(self) -> str:
        return (f"ObservedTensor(shape={self.shape}, nnz={self.nnz}, density={self.density:.3g}, "
                f"dtype={self.dtype})")


# --- text formats -----------------------------------------------------------------------------------


def read_tns(path: str | os.PathLike, shape: Any = None) -> ObservedTensor:
    """Read a FROSTT ``.tns`` file: per line the 1-based indices of a cell, then its value.

    Blank lines and lines starting with ``#`` are skipped. ``shape`` defaults to the largest index
    of each mode.

    Raises
    ------
    ValueError
        A malformed line (its line number and text are shown), an index below 1 or beyond
        ``shape``, a duplicate cell.
    """
    return _read_text(path, shape, base=1)


def write_tns(path: str | os.PathLike, obs: ObservedTensor) -> None:
    """Write ``obs`` as a FROSTT ``.tns`` file (1-based indices, then the value), atomically."""
    _write_text(path, obs, base=1)


def read_coo_text(path: str | os.PathLike, shape: Any = None) -> ObservedTensor:
    """Read whitespace-separated lines ``i_1 ... i_N value`` with 0-based indices (see
    :func:`read_tns`)."""
    return _read_text(path, shape, base=0)


def write_coo_text(path: str | os.PathLike, obs: ObservedTensor) -> None:
    """Write ``obs`` as lines ``i_1 ... i_N value`` with 0-based indices, atomically."""
    _write_text(path, obs, base=0)


def _write_text(path, obs, *, base: int) -> None:
    if not isinstance(obs, ObservedTensor):
        raise TypeError(f"obs must be an ObservedTensor, got {type(obs).__name__}")
    indices = to_numpy(obs.indices) + base
    values = to_numpy(obs.values)
    int_fmt = " ".join(["%d"] * obs.ndim)
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        # repr precision: a written file reads back to the same floats
        for row, value in zip(indices.tolist(), values.tolist(), strict=True):
            fh.write(int_fmt % tuple(row) + f" {value!r}\n")


def _read_text(path, shape, *, base: int) -> ObservedTensor:
    rows, values = [], []
    order = None
    with open(path) as fh:
        for number, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if order is None:
                order = len(fields) - 1
            if len(fields) != order + 1 or order < 1:
                raise ValueError(
                    f"{str(path)!r} line {number}: expected {order} indices and a value, got "
                    f"{line.strip()!r}"
                )
            try:
                row = [int(f) - base for f in fields[:-1]]
                value = float(fields[-1])
            except ValueError:
                raise ValueError(
                    f"{str(path)!r} line {number}: expected integer indices and a number, got "
                    f"{line.strip()!r}"
                ) from None
            if min(row) < 0 or not math.isfinite(value):
                what = f"indices are {base}-based" if min(row) < 0 else "the value must be finite"
                raise ValueError(f"{str(path)!r} line {number}: {what}, got {line.strip()!r}")
            rows.append(row)
            values.append(value)
    if order is None:
        raise ValueError(f"{str(path)!r} holds no cells")
    indices = np.asarray(rows, dtype=np.int64)
    if shape is None:
        shape = tuple(int(m) + 1 for m in indices.max(axis=0))
    return ObservedTensor(indices, np.asarray(values), shape)


# --- validation -------------------------------------------------------------------------------------


def _check_shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    try:
        items = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of ints, got {shape!r}") from None
    if not items:
        raise ValueError("shape must have at least one mode, got ()")
    return tuple(check_int(s, f"shape[{k}]", minimum=1) for k, s in enumerate(items))


def _check_values(values: Any):
    if not hasattr(values, "dtype"):
        values = np.asarray(values)
    if values.dtype.kind == "c":
        raise TypeError(f"values must be real, got dtype {values.dtype}")
    values = as_float_array(values, "values", allow_complex=False)
    if values.ndim != 1:
        raise ValueError(f"values must be 1-D (nnz,), got shape {tuple(values.shape)}")
    return values


def _check_indices(indices: Any, shape: tuple[int, ...], nnz: int, nxp: Any):
    if not hasattr(indices, "dtype"):
        indices = np.asarray(indices)
        if indices.size == 0:
            indices = indices.reshape(0, len(shape)).astype(np.int64)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"indices must be an integer array, got dtype {indices.dtype}")
    if tuple(indices.shape) != (nnz, len(shape)):
        raise ValueError(
            f"indices must have shape (nnz, order) = ({nnz}, {len(shape)}), got {tuple(indices.shape)}"
        )
    if is_cupy_array(indices) and not hasattr(nxp, "cuda"):
        indices = to_numpy(indices)  # the values decide the device
    indices = nxp.ascontiguousarray(nxp.asarray(indices, dtype=nxp.int64))
    bad = (indices < 0) | (indices >= nxp.asarray(shape, dtype=nxp.int64))
    if bool(bad.any()):
        row = int(nxp.argmax(bad.any(axis=1)))
        raise ValueError(
            f"indices[{row}] = {tuple(int(i) for i in to_numpy(indices[row]))} is out of range for "
            f"shape {shape} ({int(bad.any(axis=1).sum())} rows out of range)"
        )
    return indices


def _linear_keys(indices, shape, nxp):
    """One int64 key per cell (row-major linear index); exact while the cell count fits in int64."""
    if math.prod(shape) >= 2**63:
        raise ValueError(f"shape {shape} has more cells than int64 can number")
    strides = np.ones(len(shape), dtype=np.int64)
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    return indices @ nxp.asarray(strides)


def _refuse_duplicates(indices, shape, nxp) -> None:
    keys = nxp.sort(_linear_keys(indices, shape, nxp))
    repeated = keys[1:] == keys[:-1]
    if bool(repeated.any()):
        key = int(keys[1:][repeated][0])
        cell = tuple(int(c) for c in np.unravel_index(key, shape))
        raise ValueError(
            f"indices hold {int(repeated.sum())} duplicate cells (first: {cell}); each cell must be "
            "observed once: merge them with ObservedTensor.from_duplicates(..., reduce='mean')"
        )
