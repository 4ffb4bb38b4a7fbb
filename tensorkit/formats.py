"""Low-rank tensor formats: Tucker, CP (canonical polyadic) and TT (tensor train).

All are plain containers of arrays (numpy or CuPy), picklable so that dask can ship them, and save
to versioned ``.npz`` archives. Results of decompositions also carry an :class:`~tensorkit.Info`
record (``DecompositionInfo`` is the same class under its older name).

Constructors take arrays, or nested lists and tuples of numbers, which become numpy arrays.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import array_api_compat
import numpy as np

from . import _kernels
from ._info import Info
from ._validation import check_allocation
from .backend import get_namespace, resolve_backend
from .io import load_archive, save_archive
from .tenalg import fold, khatri_rao, multi_mode_dot

__all__ = ["CPTensor", "DecompositionInfo", "Info", "TTTensor", "TuckerTensor"]


# The record every decomposition result carries (the name predates the shared Info).
DecompositionInfo = Info


def _as_arrays(named: list[tuple[str, Any]]) -> list[Any]:
    """The arrays of ``named`` (name, value) pairs: arrays pass through with a dtype check only
    (formats are built in inner loops, by factorized layers), lists and tuples of numbers become arrays of the
    namespace of the arrays among them (numpy when there are none)."""
    xp = get_namespace(*(v for _, v in named if array_api_compat.is_array_api_obj(v)))
    return [_as_array(v, name, xp) for name, v in named]


def _as_array(x: Any, name: str, xp: Any) -> Any:
    if array_api_compat.is_array_api_obj(x):
        # the dtype only (constant cost): a string or object array would fail later, in a kernel
        if getattr(x.dtype, "kind", "f") not in "biufc":
            raise TypeError(f"{name} must hold numbers, got dtype {x.dtype}")
        return x
    try:
        out = xp.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array, got {type(x).__name__}: {exc}") from None
    if out.dtype.kind not in "biufc":
        raise TypeError(f"{name} must hold numbers, got {type(x).__name__} of dtype {out.dtype}")
    return out


def _numbered_pairs(name: str, values: Any) -> list[tuple[str, Any]]:
    try:
        return [(f"{name}[{k}]", v) for k, v in enumerate(values)]
    except TypeError:
        raise TypeError(f"{name} must be a sequence of arrays, got {type(values).__name__}") from None


def _cells(indices: Any, shape: tuple[int, ...], xp: Any) -> Any:
    """``indices`` as an int64 array (nnz, order) of in-range cells, on the model's device."""
    if not array_api_compat.is_array_api_obj(indices):
        indices = np.asarray(indices)
    indices = xp.asarray(indices)
    if indices.ndim == 1 and indices.shape[0] == len(shape):
        indices = xp.reshape(indices, (1, -1))
    if indices.ndim != 2 or indices.shape[1] != len(shape):
        raise ValueError(f"indices must have shape (nnz, {len(shape)}), got {tuple(indices.shape)}")
    if not xp.isdtype(indices.dtype, "integral"):
        raise TypeError(f"indices must be integers, got dtype {indices.dtype}")
    if indices.shape[0]:
        low = xp.min(indices, axis=0)
        high = xp.max(indices, axis=0)
        for k, n in enumerate(shape):
            if int(low[k]) < 0 or int(high[k]) >= n:
                raise ValueError(f"indices of mode {k} must lie in [0, {n}), got "
                                 f"[{int(low[k])}, {int(high[k])}]")
    return xp.astype(indices, xp.int64)


class _LowRankFormat:
    """What every format shares: sizes, dense reconstruction guarded by a memory check, and
    versioned ``.npz`` archives of the stored arrays. Subclasses define ``shape``,
    ``_stored()`` (name -> array), ``_from_stored(data)`` and ``_dense()``."""

    _FORMAT: str
    _VERSION = 1

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes stored."""
        return int(sum(a.nbytes for a in self._stored().values()))

    @property
    def compression_ratio(self) -> float:
        """Dense size over stored size (numbers, not bytes)."""
        return math.prod(self.shape) / sum(int(a.size) for a in self._stored().values())

    def to_dense(self) -> Any:
        """The full tensor (on the device of the stored arrays); refused before allocating when it
        cannot fit in memory."""
        check_allocation(self.shape, self.dtype, "the dense tensor",
                         alternative="work with the factored form instead")
        return self._dense()

    def save(self, path: str | os.PathLike) -> None:
        """Write a versioned ``.npz`` archive atomically (arrays moved to the host)."""
        save_archive(path, self._FORMAT, self._VERSION, **self._stored())

    @classmethod
    def load(cls, path: str | os.PathLike):
        """Read an archive written by :meth:`save` (numpy arrays).

        Raises
        ------
        ValueError
            Naming the file and the array, for an archive that is unreadable, of another format,
            missing an array, holding non-numbers or non-finite entries, or inconsistent shapes.
        """
        return cls._from_archive(read_archive(path, cls._FORMAT, cls._VERSION), path)

    @classmethod
    def _from_archive(cls, data: dict[str, Any], path: str | os.PathLike):
        """``_from_stored(data)`` with every failure of a malformed archive as one ValueError."""
        where = f"{str(path)!r} is not a valid {cls._FORMAT} archive"
        for key, value in data.items():
            if value.dtype.kind not in "biufc":
                raise ValueError(f"{where}: array {key!r} holds {value.dtype}, not numbers")
            if value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
                n_bad = int(np.sum(~np.isfinite(value)))
                raise ValueError(f"{where}: array {key!r} has {n_bad} non-finite (NaN or Inf) entries")
        try:
            return cls._from_stored(data)
        except KeyError as exc:
            if isinstance(exc, ValueError):  # io's archive already names the file and the key
                raise ValueError(str(exc)) from None
            raise ValueError(f"{where}: no array {exc.args[0]!r} (it holds {sorted(data)})") from None
        except (TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"{where}: {exc}") from exc


def read_archive(path: str | os.PathLike, format_name: str, version: int) -> dict[str, Any]:
    """:func:`tensorkit.io.load_archive` for formats, which refuse non-finite arrays themselves
    (:meth:`_LowRankFormat._from_archive`): a warning before that error would say it twice."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return load_archive(path, format_name, version)


def _numbered(data: dict[str, Any], prefix: str) -> list[Any]:
    """``[data["prefix0"], data["prefix1"], ...]`` for as many as the archive holds (a missing
    number is a ``KeyError`` naming it)."""
    return [data[f"{prefix}{k}"] for k in range(sum(1 for key in data if key.startswith(prefix)))]


class TuckerTensor(_LowRankFormat):
    """A tensor ``X = G x_1 U_1 x_2 U_2 ... x_N U_N`` held as a core and factor matrices.

    Parameters
    ----------
    core : array of shape ``(R_1, ..., R_N)``
    factors : sequence of arrays ``(I_k, R_k)``

    Examples
    --------
    >>> import numpy as np, tensorkit
    >>> X = tensorkit.TuckerTensor(np.ones((2, 2, 2)), [np.eye(4, 2)] * 3)
    >>> X.shape, X.ranks
    ((4, 4, 4), (2, 2, 2))
    """

    _FORMAT = "tensorkit.TuckerTensor"
    _VERSION = 1

    def __init__(self, core: Any, factors: Any, *, info: Info | None = None):
        core, *factors = _as_arrays([("core", core), *_numbered_pairs("factors", factors)])
        if core.ndim != len(factors):
            raise ValueError(f"core has {core.ndim} modes but {len(factors)} factors were given")
        for k, f in enumerate(factors):
            if f.ndim != 2 or f.shape[1] != core.shape[k]:
                raise ValueError(
                    f"factors[{k}] must have shape (I_{k}, {core.shape[k]}), got {tuple(f.shape)}"
                )
        self.core = core
        self.factors = factors
        self.info = info

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(f.shape[0]) for f in self.factors)

    @property
    def ranks(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.core.shape)

    @property
    def dtype(self):
        return self.core.dtype

    def _dense(self) -> Any:
        return multi_mode_dot(self.core, self.factors)  # G x_1 U_1 ... x_N U_N

    def at(self, indices: Any, *, backend: str | None = None) -> Any:
        """Values at cells ``indices`` (nnz, order) without forming the dense tensor: per cell the
        core contracted with the cell's factor rows, ``prod(ranks)`` multiply-adds (a kernel).

        Examples
        --------
        >>> import numpy as np, tensorkit
        >>> T = tensorkit.TuckerTensor(np.ones((1, 1)), [np.arange(3.0)[:, None], np.ones((2, 1))])
        >>> T.at([[2, 0], [1, 1]])
        array([2., 1.])
        """
        xp = get_namespace(self.core, *self.factors)
        indices = _cells(indices, self.shape, xp)
        backend = resolve_backend(backend, self.core, *self.factors)
        return _kernels.tucker_values(indices, self.core, list(self.factors), backend)

    def to_tensorly(self):
        """As a ``tensorly.tucker_tensor.TuckerTensor`` (arrays are shared, not copied)."""
        from tensorly.tucker_tensor import TuckerTensor as TlTucker

        return TlTucker((self.core, list(self.factors)))

    @classmethod
    def from_tensorly(cls, tucker: Any) -> TuckerTensor:
        """From a tensorly ``TuckerTensor`` or a ``(core, factors)`` pair."""
        core, factors = tucker
        return cls(core, factors)

    def _stored(self) -> dict[str, Any]:
        return {"core": self.core, **{f"factor_{k}": f for k, f in enumerate(self.factors)}}

    @classmethod
    def _from_stored(cls, data: dict[str, Any]) -> TuckerTensor:
        return cls(data["core"], _numbered(data, "factor_"))

    def __iter__(self):
        # Unpacks like tensorly's: core, factors = tucker_tensor
        return iter((self.core, self.factors))

    def __repr__(self) -> str:
        return f"TuckerTensor(shape={self.shape}, ranks={self.ranks}, dtype={self.dtype})"


class CPTensor(_LowRankFormat):
    """A tensor ``X = sum_r w_r a^(1)_r o a^(2)_r o ... o a^(N)_r`` (canonical polyadic format).

    Parameters
    ----------
    weights : array of shape ``(R,)``
    factors : sequence of arrays ``(I_k, R)``

    Examples
    --------
    >>> import numpy as np, tensorkit
    >>> C = tensorkit.CPTensor([2.0], [np.ones((3, 1)), np.ones((4, 1))])
    >>> C.shape, C.rank, float(C.to_dense()[0, 0])
    ((3, 4), 1, 2.0)
    """

    _FORMAT = "tensorkit.CPTensor"
    _VERSION = 1

    def __init__(self, weights: Any, factors: Any, *, info: Info | None = None):
        weights, *factors = _as_arrays([("weights", weights), *_numbered_pairs("factors", factors)])
        if not factors:
            raise ValueError("a CPTensor needs at least one factor")
        rank = weights.shape[0] if weights.ndim == 1 else -1
        for k, f in enumerate(factors):
            if f.ndim != 2 or f.shape[1] != rank:
                raise ValueError(
                    f"factors[{k}] must have shape (I_{k}, {rank}) to match weights of shape "
                    f"{tuple(weights.shape)}, got {tuple(f.shape)}"
                )
        self.weights = weights
        self.factors = factors
        self.info = info

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(f.shape[0]) for f in self.factors)

    @property
    def rank(self) -> int:
        return int(self.weights.shape[0])

    @property
    def dtype(self):
        return self.factors[0].dtype

    def _dense(self) -> Any:
        # fold((A_1 W) khatri_rao(A_2..A_N)^T)
        first = self.factors[0] * self.weights[None, :]
        if len(self.factors) == 1:
            return first.sum(axis=1)
        unfolded = first @ khatri_rao(self.factors[1:]).T
        return fold(unfolded, 0, self.shape)

    def at(self, indices: Any, *, backend: str | None = None) -> Any:
        """Values at cells ``indices`` (nnz, order) without forming the dense tensor:
        ``sum_r w_r prod_k A_k[i_k, r]`` per cell (a kernel).

        Examples
        --------
        >>> import numpy as np, tensorkit
        >>> C = tensorkit.CPTensor([2.0], [np.arange(3.0)[:, None], np.ones((4, 1))])
        >>> C.at([[2, 0], [1, 3]])
        array([4., 2.])
        """
        xp = get_namespace(self.weights, *self.factors)
        indices = _cells(indices, self.shape, xp)
        backend = resolve_backend(backend, self.weights, *self.factors)
        return _kernels.cp_values(indices, self.weights, list(self.factors), backend)

    def to_tensorly(self):
        """As a ``tensorly.cp_tensor.CPTensor``."""
        from tensorly.cp_tensor import CPTensor as TlCP

        return TlCP((self.weights, list(self.factors)))

    @classmethod
    def from_tensorly(cls, cp: Any) -> CPTensor:
        """From a tensorly ``CPTensor`` or a ``(weights, factors)`` pair."""
        weights, factors = cp
        if weights is None:
            xp = get_namespace(*factors)
            weights = xp.ones(factors[0].shape[1], dtype=factors[0].dtype)
        return cls(weights, factors)

    def _stored(self) -> dict[str, Any]:
        return {"weights": self.weights, **{f"factor_{k}": f for k, f in enumerate(self.factors)}}

    @classmethod
    def _from_stored(cls, data: dict[str, Any]) -> CPTensor:
        return cls(data["weights"], _numbered(data, "factor_"))

    def __iter__(self):
        return iter((self.weights, self.factors))

    def __repr__(self) -> str:
        return f"CPTensor(shape={self.shape}, rank={self.rank}, dtype={self.dtype})"


class TTTensor(_LowRankFormat):
    r"""A tensor in tensor-train (matrix product state) format.

    ``X[i_1, ..., i_N] = G_1[:, i_1, :] G_2[:, i_2, :] ... G_N[:, i_N, :]``, a product of matrices
    taken from cores ``G_k`` of shape ``(r_{k-1}, I_k, r_k)`` with ``r_0 = r_N = 1``.

    Parameters
    ----------
    cores : sequence of 3-way arrays ``(r_{k-1}, I_k, r_k)`` (numpy or CuPy, one device)
    info : Info, optional

    Examples
    --------
    >>> import numpy as np, tensorkit
    >>> cores = [np.ones((1, 4, 2)), np.ones((2, 5, 3)), np.ones((3, 6, 1))]
    >>> T = tensorkit.TTTensor(cores)
    >>> T.shape, T.ranks, float(T.to_dense()[0, 0, 0])
    ((4, 5, 6), (1, 2, 3, 1), 6.0)

    References
    ----------
    I. V. Oseledets, "Tensor-train decomposition", SIAM J. Sci. Comput. 33 (2011) 2295-2317.
    """

    _FORMAT = "tensorkit.TTTensor"
    _VERSION = 1

    def __init__(self, cores: Any, *, info: Info | None = None):
        cores = _as_arrays(_numbered_pairs("cores", cores))
        if not cores:
            raise ValueError("a TTTensor needs at least one core")
        for k, c in enumerate(cores):
            if getattr(c, "ndim", None) != 3:
                raise ValueError(
                    f"cores[{k}] must be 3-way (r_{k}, I_{k + 1}, r_{k + 1}), got shape "
                    f"{tuple(getattr(c, 'shape', ()))}"
                )
        if cores[0].shape[0] != 1 or cores[-1].shape[2] != 1:
            raise ValueError(
                f"cores: the boundary ranks must be 1, got r_0={cores[0].shape[0]}, r_N={cores[-1].shape[2]}"
            )
        for k in range(len(cores) - 1):
            if cores[k].shape[2] != cores[k + 1].shape[0]:
                raise ValueError(
                    f"cores[{k}] has right rank {cores[k].shape[2]} but cores[{k + 1}] has left rank "
                    f"{cores[k + 1].shape[0]}"
                )
        self.cores = cores
        self.info = info

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(c.shape[1]) for c in self.cores)

    @property
    def ranks(self) -> tuple[int, ...]:
        """``(1, r_1, ..., r_{N-1}, 1)``, as tensorly's ``rank``."""
        return (1, *(int(c.shape[2]) for c in self.cores))

    @property
    def dtype(self):
        return self.cores[0].dtype

    def _dense(self) -> Any:
        # contract the cores left to right: O(prod I r) memory at most
        result = self.cores[0].reshape(self.cores[0].shape[1], -1)
        for core in self.cores[1:]:
            r, n, r_next = core.shape
            result = (result @ core.reshape(r, n * r_next)).reshape(-1, r_next)
        return result.reshape(self.shape)

    def to_tensorly(self):
        """As a ``tensorly.tt_tensor.TTTensor`` (arrays are shared, not copied)."""
        from tensorly.tt_tensor import TTTensor as TlTT

        return TlTT(list(self.cores))

    @classmethod
    def from_tensorly(cls, tt: Any) -> TTTensor:
        """From a tensorly ``TTTensor`` or a list of cores."""
        return cls(list(tt))

    def _stored(self) -> dict[str, Any]:
        return {f"core_{k}": c for k, c in enumerate(self.cores)}

    @classmethod
    def _from_stored(cls, data: dict[str, Any]) -> TTTensor:
        return cls(_numbered(data, "core_"))

    def __iter__(self):
        return iter(self.cores)

    def __len__(self) -> int:
        return len(self.cores)

    def __repr__(self) -> str:
        return f"TTTensor(shape={self.shape}, ranks={self.ranks}, dtype={self.dtype})"
