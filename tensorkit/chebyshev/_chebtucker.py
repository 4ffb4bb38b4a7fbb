"""The hybrid Chebyshev-Tucker format: a smooth function on a box as a Tucker tensor of coefficients.

A function of ``d`` variables on ``[a_1, b_1] x ... x [a_d, b_d]`` is held as

.. math:: f(x) = \\sum_{i_1 \\dots i_d} C_{i_1 \\dots i_d} \\prod_k T_{i_k}(\\hat x_k), \\qquad
          C = G \\times_1 V_1 \\times_2 V_2 \\cdots \\times_d V_d,

with ``\\hat x_k = (2 x_k - a_k - b_k) / (b_k - a_k)`` in ``[-1, 1]``, Chebyshev polynomials ``T_i``,
a core ``G`` of shape ``(r_1, ..., r_d)`` and coefficient factors ``V_k`` of shape ``(m_k, r_k)``
(``m_k - 1`` is the polynomial degree along axis ``k``). Storage is ``prod(r) + sum(m_k r_k)``
numbers instead of ``prod(m)``.

References
----------
Benner, Khoromskij, Khoromskaia, Sun, "Hybrid Chebyshev-Tucker tensor format ...",
arXiv:2503.01696; Hashemi and Trefethen, "Chebfun in three dimensions", SIAM J. Sci. Comput. 39
(2017).
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._validation import as_float_array
from ..backend import get_namespace
from ..decomposition import tucker
from ..decomposition.linalg import leading_subspace
from ..formats import TuckerTensor
from ..io import load_archive, save_archive
from ..tenalg import mode_dot, multi_mode_dot
from ._transform import (
    chebyshev_points,
    chebyshev_vandermonde,
    check_interval,
    values_to_coefficients,
)

__all__ = ["ChebTucker", "check_domain", "grid_fits_in_memory"]

# Adaptive construction starts from 17 points per axis and doubles the degree (nested grids).
_START_POINTS = 17
# Temporary arrays an adaptive build holds at once, in units of the grid: x, y, z, values, coefficients
# and one transform workspace.
_GRID_COPIES = 6
# Bytes one batch of an evaluation may hold in its largest intermediate.
_BATCH_BYTES = 32 * 2**20
# Trailing Chebyshev coefficients are chopped below this fraction of tol (times the largest).
_CHOP_MARGIN = 1e-2
# from_cp keeps per-axis subspaces to this fraction of the tolerance before the exact HOSVD.
_SUBSPACE_MARGIN = 1e-2
# Largest Kronecker core a pointwise product may form (entries).
_MAX_PRODUCT_CORE = 50_000_000


class ChebTucker:
    """A smooth function on a box in Chebyshev-Tucker format (see the module docstring).

    Parameters
    ----------
    core : array ``(r_1, ..., r_d)``
    factors : sequence of ``d`` arrays ``(m_k, r_k)``: Chebyshev coefficients along axis ``k``
    domain : sequence of ``d`` pairs ``(a_k, b_k)`` with ``a_k < b_k``
    tol : float
        Relative accuracy that arithmetic results are rounded to (``round`` default).

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.chebyshev import ChebTucker
    >>> f = ChebTucker.from_function(lambda x, y, z: np.exp(x + y + z), [(-1, 1)] * 3, tol=1e-12)
    >>> f.ranks
    (1, 1, 1)
    >>> round(f.integrate(), 10) == round((np.e - 1 / np.e) ** 3, 10)
    True
    """

    _FORMAT = "tensorkit.ChebTucker"
    _VERSION = 1

    def __init__(self, core: Any, factors: Sequence[Any], domain: Any, *, tol: float = 1e-10):
        factors = list(factors)
        xp = get_namespace(core, *factors)
        domain = check_domain(domain, len(factors))
        if core.ndim != len(factors):
            raise ValueError(f"core has {core.ndim} modes but {len(factors)} factors were given")
        for k, f in enumerate(factors):
            if f.ndim != 2 or f.shape[1] != core.shape[k] or f.shape[0] < 1:
                raise ValueError(
                    f"factors[{k}] must have shape (m_{k}, {core.shape[k]}), got {tuple(f.shape)}"
                )
        self.core = core
        self.factors = factors
        self.domain = domain
        self.tol = _check_tol(tol)
        self._xp = xp

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_function(
        cls,
        f: Callable[..., Any],
        domain: Any,
        *,
        tol: float = 1e-10,
        degree: int | Sequence[int] | None = None,
        max_degree: int = 256,
        rank: int | Sequence[int] | None = None,
        dtype: Any = np.float64,
        xp: Any = None,
    ) -> ChebTucker:
        """Interpolate ``f`` at a tensor grid of Chebyshev points and compress by truncated HOSVD.

        Parameters
        ----------
        f : callable
            ``f(x, y, z)`` (one argument per axis) takes arrays of one shape and returns values of
            that shape.
        domain : pair ``(a, b)`` (a cube in 3D) or sequence of pairs, one per axis
        tol : float in (0, 1)
            With ``degree=None``, each axis grows (``m -> 2m - 1`` points, nested grids) until its
            trailing coefficients fall below ``tol * max|C|``, as Chebfun does, and is then chopped
            to the last coefficient above it. The Tucker ranks are the smallest with
            ``sqrt(sum_{i > r_k} sigma_i^2) <= tol ||C||_F / sqrt(d)`` per mode, so the coefficient
            tensor is kept to relative accuracy ``tol``.
        degree : int or sequence of int, optional
            Polynomial degree per axis (``degree + 1`` points); skips the adaptive search.
        max_degree : int
            Upper limit for the adaptive search (a ``RuntimeWarning`` says when it was hit).
        rank : int or sequence of int, optional
            Fixed Tucker ranks instead of ranks by tolerance.
        dtype : float32 or float64
            Precision of the grid handed to ``f``.
        xp : array namespace, optional
            ``numpy`` (default) or ``cupy``: where the grid is built.

        Raises
        ------
        ValueError
            Bad domain or degrees, ``f`` returning the wrong shape or non-finite values, or a grid
            that would not fit in memory (refused before it is allocated, with its size).
        """
        if not callable(f):
            raise TypeError(f"f must be callable, got {type(f).__name__}")
        domain = check_domain(domain, None)
        d = len(domain)
        tol = _check_tol(tol)
        xp = _namespace(xp)
        dtype = _check_dtype(dtype)
        max_degree = _check_degree(max_degree, "max_degree")
        if degree is not None:
            sizes = tuple(k + 1 for k in _per_axis(degree, d, "degree", _check_degree))
            values = _sample(f, domain, sizes, dtype, xp)
            coefficients = values_to_coefficients(values)
        else:
            sizes = [min(_START_POINTS, max_degree + 1)] * d
            while True:
                values = _sample(f, domain, tuple(sizes), dtype, xp)
                coefficients = values_to_coefficients(values)
                del values
                unresolved = _unresolved_axes(coefficients, tol, xp)
                growable = [k for k in unresolved if sizes[k] - 1 < max_degree]
                if not growable:
                    if unresolved:
                        warnings.warn(
                            f"f is not resolved to tol={tol:g} along axes {unresolved} at "
                            f"max_degree={max_degree}; the result is less accurate than asked",
                            RuntimeWarning,
                            stacklevel=2,
                        )
                    break
                for k in growable:
                    sizes[k] = min(2 * sizes[k] - 1, max_degree + 1)
            coefficients = _chop(coefficients, tol, xp)
        return cls._from_coefficients(coefficients, domain, tol, rank)

    @classmethod
    def from_values(
        cls,
        values: Any,
        domain: Any,
        tol: float = 1e-10,
        *,
        rank: int | Sequence[int] | None = None,
    ) -> ChebTucker:
        """From samples on the tensor grid of :func:`chebyshev_points` (``m_k`` points on axis ``k``).

        The coefficient tensor is computed by DCT-I along every axis and compressed by truncated
        HOSVD to relative accuracy ``tol`` (or to ``rank``).
        """
        xp = get_namespace(values)
        values = as_float_array(values, "values", allow_complex=False, xp=xp)
        domain = check_domain(domain, values.ndim)
        if values.size == 0:
            raise ValueError(f"values is empty: shape {tuple(values.shape)}")
        return cls._from_coefficients(values_to_coefficients(values), domain, _check_tol(tol), rank)

    @classmethod
    def from_cp(
        cls,
        weights: Any,
        factors: Sequence[Any],
        domain: Any,
        tol: float = 1e-10,
        *,
        degree: int | Sequence[int] | None = None,
        max_degree: int = 512,
        rank: int | Sequence[int] | None = None,
        xp: Any = None,
    ) -> ChebTucker:
        """A sum of ``R`` separable terms ``f(x) = sum_r w_r prod_k g_{k,r}(x_k)`` by reduced HOSVD.

        The full coefficient tensor (``prod(m_k)`` numbers, ``R prod(m_k)`` work) is never formed.
        Per axis, the coefficient columns ``c_{k,r}`` of the terms (DCT-I of their values) are
        scaled by the size of the term they belong to, ``|w_r| prod_{l != k} ||c_{l,r}||``, and
        their leading subspace ``Q_k`` is kept to well below ``tol``. The core of the projected
        tensor, ``sum_r w_r (Q_1^T c_{1,r}) o ... o (Q_d^T c_{d,r})``, is assembled in blocks of
        terms and compressed by an exact truncated HOSVD with the rule of :meth:`from_function`,
        so ranks and error match the full route.

        Parameters
        ----------
        weights : array ``(R,)``
        factors : sequence of ``d`` entries, each either an array ``(m_k, R)`` of the terms'
            values at the ``m_k`` Chebyshev points of axis ``k``, or a callable ``g_k(x)`` taking
            an array of ``n`` points and returning ``(n, R)`` values.
        domain, tol, rank : as in :meth:`from_function`
        degree : int or sequence of int, optional
            Degrees for callable factors; by default chosen adaptively per axis (each term's
            trailing coefficients, relative to the largest term, fall below ``tol``).
        max_degree : int
            Upper limit of the adaptive degree.
        xp : array namespace, optional
            Where callable factors are sampled (numpy by default; array factors decide for
            themselves).
        """
        domain = check_domain(domain, None if not isinstance(factors, Sequence) else len(factors))
        d = len(domain)
        if not isinstance(factors, Sequence) or len(factors) != d:
            raise ValueError(f"factors must be a sequence of {d} arrays or callables")
        tol = _check_tol(tol)
        max_degree = _check_degree(max_degree, "max_degree")
        arrays = [f for f in factors if not callable(f)]
        xp = get_namespace(weights, *arrays) if xp is None else _namespace(xp)
        weights = as_float_array(xp.asarray(weights), "weights", allow_complex=False, xp=xp)
        if weights.ndim != 1 or weights.shape[0] < 1:
            raise ValueError(f"weights must have shape (R,) with R >= 1, got {tuple(weights.shape)}")
        n_terms = weights.shape[0]
        degrees = None if degree is None else _per_axis(degree, d, "degree", _check_degree)
        values = []
        for k, g in enumerate(factors):
            if callable(g):
                m = min(_START_POINTS, max_degree + 1) if degrees is None else degrees[k] + 1
                values.append(_sample_factor(g, k, domain[k], m, weights, xp))
            else:
                a = as_float_array(g, f"factors[{k}]", allow_complex=False, xp=xp)
                if a.ndim != 2 or a.shape[1] != n_terms or a.shape[0] < 1:
                    raise ValueError(
                        f"factors[{k}] must have shape (m_{k}, {n_terms}) (values of the R terms at "
                        f"the Chebyshev points), got {tuple(a.shape)}"
                    )
                values.append(a)
        coefficients = [_flush_tiny(values_to_coefficients(v, axes=0), xp) for v in values]
        if degrees is None:
            coefficients = _adapt_factors(factors, coefficients, weights, domain, tol, max_degree, xp)
        return cls._from_cp_coefficients(weights, coefficients, domain, tol, rank, xp)

    @classmethod
    def _from_coefficients(cls, coefficients, domain, tol, rank):
        xp = get_namespace(coefficients)
        if coefficients.ndim == 1:
            core, factor = _normalize_vector(coefficients, xp)
            return cls(core, [factor], domain, tol=tol)
        if rank is not None:
            ranks = _per_axis(rank, coefficients.ndim, "rank", _check_degree)
            ranks = tuple(min(r, s) for r, s in zip(ranks, coefficients.shape, strict=True))
            t = tucker(coefficients, rank=ranks)
        elif not bool(xp.any(coefficients != 0)):
            return cls.zeros(domain, dtype=coefficients.dtype, xp=xp, tol=tol)
        else:
            t = tucker(coefficients, tol=tol)
        return cls(t.core, t.factors, domain, tol=tol)

    @classmethod
    def _from_cp_coefficients(cls, weights, coefficients, domain, tol, rank, xp):
        d = len(coefficients)
        norms = [xp.linalg.vector_norm(c, axis=0) for c in coefficients]
        bases = []
        for k in range(d):
            size = xp.abs(weights)
            for l in range(d):
                if l != k:
                    size = size * norms[l]
            scaled = coefficients[k] * size[None, :]
            total = float(xp.linalg.vector_norm(scaled))
            if total == 0.0:
                return cls.zeros(domain, dtype=weights.dtype, xp=xp, tol=tol)
            # The subspaces only have to carry what the final HOSVD keeps: a threshold 100x below
            # tol keeps the projection error negligible against the truncation error.
            threshold = _SUBSPACE_MARGIN * tol * total / math.sqrt(d)
            q, _ = leading_subspace(scaled, threshold=threshold, xp=xp)
            bases.append(q)
        projected = [xp.conj(q).T @ c for q, c in zip(bases, coefficients, strict=True)]
        core = _cp_to_dense(weights, projected, xp)
        if rank is None and not bool(xp.any(core != 0)):
            return cls.zeros(domain, dtype=weights.dtype, xp=xp, tol=tol)
        small = cls._from_coefficients(core, [(-1.0, 1.0)] * d, tol, rank)
        factors = [q @ u for q, u in zip(bases, small.factors, strict=True)]
        return cls(small.core, factors, domain, tol=tol)

    @classmethod
    def zeros(cls, domain: Any, *, dtype: Any = np.float64, xp: Any = None, tol: float = 1e-10):
        """The zero function on ``domain`` (ranks 1, degree 0)."""
        xp = _namespace(xp)
        domain = check_domain(domain, None)
        d = len(domain)
        return cls(xp.zeros((1,) * d, dtype=dtype), [xp.ones((1, 1), dtype=dtype)] * d, domain, tol=tol)

    @classmethod
    def constant(cls, value: float, domain: Any, *, dtype: Any = np.float64, xp: Any = None,
                 tol: float = 1e-10) -> ChebTucker:
        """The constant function ``value`` on ``domain``."""
        xp = _namespace(xp)
        domain = check_domain(domain, None)
        d = len(domain)
        return cls(xp.full((1,) * d, value, dtype=dtype), [xp.ones((1, 1), dtype=dtype)] * d, domain,
                   tol=tol)

    # ------------------------------------------------------------------ properties
    @property
    def ndim(self) -> int:
        return len(self.factors)

    @property
    def ranks(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.core.shape)

    @property
    def degrees(self) -> tuple[int, ...]:
        """Polynomial degree per axis (``m_k - 1``)."""
        return tuple(int(f.shape[0]) - 1 for f in self.factors)

    @property
    def dtype(self):
        return self.core.dtype

    @property
    def nbytes(self) -> int:
        """Bytes stored (core plus coefficient factors)."""
        return int(self.core.nbytes + sum(f.nbytes for f in self.factors))

    def __repr__(self) -> str:
        return (f"ChebTucker(domain={self.domain}, degrees={self.degrees}, ranks={self.ranks}, "
                f"dtype={self.dtype})")

    # ------------------------------------------------------------------ evaluation
    def __call__(self, points: Any, *, extrapolate: bool = False) -> Any:
        """Values at scattered ``points`` of shape ``(M, d)`` (mesh-free).

        Per batch of points, ``P_k = T(x_k)^T V_k`` (``M x r_k``, a GEMM) and the core is contracted
        largest rank first: one GEMM ``P_a G_(a)`` of ``M r_1 ... r_d`` flops, then batched
        matrix-vector products over the remaining modes. Cost per point is about
        ``prod(r) + sum(m_k r_k)``, independent of how the function was built.

        Parameters
        ----------
        points : array ``(M, d)`` on the device of the format
        extrapolate : bool
            Points outside the domain raise ``ValueError`` unless this is True (then the
            polynomial is evaluated there as it stands).
        """
        xp = self._xp
        points = _check_points(points, self.ndim, xp)
        points = xp.asarray(points, dtype=_result_dtype(points.dtype, self.dtype, xp))
        mapped = [self._map(points[:, k], k, extrapolate, "points") for k in range(self.ndim)]
        n = points.shape[0]
        order = sorted(range(self.ndim), key=lambda k: -self.ranks[k])
        first = order[0]
        rest = max(1, math.prod(self.ranks) // self.ranks[first])
        per_point = max(rest, max(self.degrees) + 1, 1) * points.dtype.itemsize
        batch = max(1, _BATCH_BYTES // per_point)
        core = xp.asarray(xp.moveaxis(self.core, first, 0), dtype=points.dtype)
        core_mat = xp.reshape(core, (self.ranks[first], rest))
        tail_ranks = [self.ranks[k] for k in range(self.ndim) if k != first]
        tail_modes = [k for k in range(self.ndim) if k != first]
        factors = [xp.asarray(v, dtype=points.dtype) for v in self.factors]
        out = xp.empty(n, dtype=points.dtype)
        for start in range(0, n, batch):
            stop = min(n, start + batch)
            size = stop - start
            p = [chebyshev_vandermonde(mapped[k][start:stop], factors[k].shape[0], xp=xp).T @ factors[k]
                 for k in range(self.ndim)]
            acc = p[first] @ core_mat  # (size, rest)
            width = rest
            for k, r in zip(tail_modes, tail_ranks, strict=True):
                width //= r
                acc = xp.matmul(p[k][:, None, :], xp.reshape(acc, (size, r, width)))[:, 0, :]
            out[start:stop] = acc[:, 0]
        return out

    def on_grid(self, *grids: Any) -> TuckerTensor:
        """The values on the tensor grid ``grids[0] x grids[1] x ...`` as a :class:`TuckerTensor`.

        Factors ``T(grid_k)^T V_k`` (``n_k x r_k``) and the same core: the two-level format, whose
        cost and storage are separable (``sum n_k m_k r_k`` to build).
        """
        xp = self._xp
        if len(grids) != self.ndim:
            raise ValueError(f"on_grid needs {self.ndim} 1-D grids, got {len(grids)}")
        factors = []
        for k, g in enumerate(grids):
            g = as_float_array(xp.asarray(g), f"grids[{k}]", allow_complex=False, xp=xp)
            if g.ndim != 1 or g.shape[0] < 1:
                raise ValueError(f"grids[{k}] must be a non-empty 1-D array, got shape {tuple(g.shape)}")
            g = xp.asarray(g, dtype=_result_dtype(g.dtype, self.dtype, xp))
            t = chebyshev_vandermonde(self._map(g, k, False, f"grids[{k}]"), self.factors[k].shape[0], xp=xp)
            factors.append(t.T @ xp.asarray(self.factors[k], dtype=g.dtype))
        return TuckerTensor(xp.asarray(self.core, dtype=factors[0].dtype), factors)

    # ------------------------------------------------------------------ calculus
    def integrate(self, axes: int | Sequence[int] | None = None) -> Any:
        """Integral over the whole box (a float), or over ``axes`` (a ChebTucker of the others).

        Uses ``int_{-1}^{1} T_j = 2 / (1 - j^2)`` for even ``j`` (0 for odd), scaled by
        ``(b - a) / 2`` per axis: ``int f = G x_1 (w_1^T V_1) ... x_d (w_d^T V_d)``.
        """
        xp = self._xp
        axes = self._check_axes(axes)
        vectors = [xp.asarray(_integral_weights(self.factors[k].shape[0]), dtype=self.dtype)
                   * (0.5 * (self.domain[k][1] - self.domain[k][0])) @ self.factors[k] for k in axes]
        core = multi_mode_dot(self.core, vectors, axes)
        keep = [k for k in range(self.ndim) if k not in axes]
        if not keep:
            return float(core)
        return ChebTucker(core, [self.factors[k] for k in keep], [self.domain[k] for k in keep],
                          tol=self.tol)

    def diff(self, axis: int, order: int = 1) -> ChebTucker:
        """Partial derivative of ``order`` along ``axis`` (exact on the coefficients).

        The Chebyshev derivative recurrence ``c'_{j-1} = c'_{j+1} + 2 j c_j`` is applied to the
        columns of ``V_axis``, times ``2 / (b - a)`` per derivative; the degree drops by one each
        time (to a constant at least).
        """
        (axis,) = self._check_axes(axis)
        if isinstance(order, bool) or not isinstance(order, numbers.Integral) or order < 0:
            raise ValueError(f"order must be a non-negative int, got {order!r}")
        a, b = self.domain[axis]
        v = self.factors[axis]
        for _ in range(int(order)):
            v = _chebder(v, self._xp) * (2.0 / (b - a))
        factors = list(self.factors)
        factors[axis] = v
        return ChebTucker(self.core, factors, self.domain, tol=self.tol)

    def laplacian(self) -> ChebTucker:
        """``sum_k d^2 f / dx_k^2``, rounded to ``self.tol``."""
        return _sum([self.diff(k, 2) for k in range(self.ndim)], self.tol)

    def norm(self) -> float:
        """The L2 norm ``sqrt(int f^2)`` over the box (exact for the stored polynomial).

        ``int f^2 = <G, G x_1 M_1 ... x_d M_d>`` with ``M_k = V_k^T W V_k (b_k - a_k)/2`` and
        ``W_ij = int_{-1}^{1} T_i T_j = (w_{i+j} + w_{|i-j|}) / 2``.
        """
        xp = self._xp
        grams = []
        for k, v in enumerate(self.factors):
            m = v.shape[0]
            w = _integral_weights(2 * m - 1)
            i = np.arange(m)
            gram = 0.5 * (w[i[:, None] + i[None, :]] + w[np.abs(i[:, None] - i[None, :])])
            scale = 0.5 * (self.domain[k][1] - self.domain[k][0])
            grams.append(xp.conj(v).T @ (xp.asarray(gram, dtype=v.dtype) @ v) * scale)
        value = float(xp.sum(xp.conj(self.core) * multi_mode_dot(self.core, grams)).real)
        return math.sqrt(max(value, 0.0))

    # ------------------------------------------------------------------ arithmetic
    def round(self, tol: float | None = None, *, rank: int | Sequence[int] | None = None) -> ChebTucker:
        """Recompress to relative accuracy ``tol`` (default ``self.tol``) or to ``rank``.

        Orthonormalise each factor by QR (``V_k = Q_k R_k``), truncate the small core
        ``G x_k R_k`` by HOSVD (the rule of :meth:`from_function`), and drop trailing coefficient
        rows that carry less than ``tol / 10`` of the norm.
        """
        tol = self.tol if tol is None else _check_tol(tol)
        return self._round(tol, rank, None)

    def _round(self, tol, rank, scale):
        """Round with the threshold ``tol * scale`` (``scale`` = own coefficient norm when None).

        Sums pass the largest operand's norm as ``scale``, so that cancellation (``f - f``) leaves
        zero rather than noise blown up to relative size ``tol``.
        """
        xp = self._xp
        qs, core = [], self.core
        for k, v in enumerate(self.factors):
            q, r = xp.linalg.qr(v)
            qs.append(q)
            core = mode_dot(core, r, k)
        norm = float(xp.linalg.vector_norm(core))
        level = tol if scale is None or norm == 0.0 else tol * scale / norm
        if rank is None and (norm == 0.0 or level >= 1.0):
            return ChebTucker.zeros(self.domain, dtype=self.dtype, xp=xp, tol=tol)
        small = ChebTucker._from_coefficients(core, [(-1.0, 1.0)] * self.ndim, level, rank)
        factors = [q @ u for q, u in zip(qs, small.factors, strict=True)]
        return ChebTucker(small.core, _chop_rows(factors, small.core, level, xp), self.domain, tol=tol)

    def coefficient_norm(self) -> float:
        """Frobenius norm of the coefficient tensor ``||G x_1 V_1 ... x_d V_d||_F``."""
        xp = self._xp
        core = self.core
        for k, v in enumerate(self.factors):
            core = mode_dot(core, xp.linalg.qr(v)[1], k)
        return float(xp.linalg.vector_norm(core))

    def __add__(self, other: Any) -> ChebTucker:
        if isinstance(other, numbers.Number):
            other = ChebTucker.constant(other, self.domain, dtype=self.dtype, xp=self._xp, tol=self.tol)
        if not isinstance(other, ChebTucker):
            return NotImplemented
        self._check_compatible(other)
        return _sum([self, other], max(self.tol, other.tol))

    __radd__ = __add__

    def __neg__(self) -> ChebTucker:
        return ChebTucker(-self.core, self.factors, self.domain, tol=self.tol)

    def __sub__(self, other: Any) -> ChebTucker:
        if isinstance(other, (numbers.Number, ChebTucker)):
            return self + (-other)
        return NotImplemented

    def __rsub__(self, other: Any) -> ChebTucker:
        return (-self) + other

    def __mul__(self, other: Any) -> ChebTucker:
        """Scalar multiple (exact), or pointwise product with another ChebTucker (recompressed).

        The product of degrees ``p`` and ``q`` has degree ``p + q``: both are sampled on that grid in
        Tucker form (factors ``T(x)^T V_k``), the product's factors are the row-wise Kronecker
        products and its core the Kronecker product of the cores, transformed back to coefficients
        and rounded to ``max(tol)``.
        """
        if isinstance(other, numbers.Number):
            return ChebTucker(self.core * other, self.factors, self.domain, tol=self.tol)
        if not isinstance(other, ChebTucker):
            return NotImplemented
        self._check_compatible(other)
        return _product(self.round(), other.round(), max(self.tol, other.tol))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> ChebTucker:
        if isinstance(other, numbers.Number):
            if other == 0:
                raise ZeroDivisionError("division of a ChebTucker by zero")
            return self * (1.0 / other)
        return NotImplemented

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> None:
        """Write a versioned ``.npz`` archive atomically (arrays moved to the host)."""
        arrays = {f"factor_{k}": f for k, f in enumerate(self.factors)}
        save_archive(path, self._FORMAT, self._VERSION, core=self.core,
                     domain=np.asarray(self.domain, dtype=np.float64), tol=np.asarray(self.tol),
                     **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ChebTucker:
        """Read an archive written by :meth:`save` (numpy arrays)."""
        data = load_archive(path, cls._FORMAT, cls._VERSION)
        n = sum(1 for k in data if k.startswith("factor_"))
        return cls(data["core"], [data[f"factor_{k}"] for k in range(n)],
                   [tuple(row) for row in data["domain"].tolist()], tol=float(data["tol"]))

    # ------------------------------------------------------------------ helpers
    def _map(self, x, k, extrapolate, name):
        """Map coordinates along axis ``k`` to ``[-1, 1]``; refuse points outside unless asked."""
        xp = self._xp
        a, b = self.domain[k]
        t = (2 * x - (a + b)) / (b - a)
        if extrapolate:
            return t
        slack = 100 * float(np.finfo(t.dtype).eps)
        outside = xp.abs(t) > 1 + slack
        if bool(xp.any(outside)):
            count = int(xp.sum(outside))
            first = float(x[xp.argmax(outside)])
            raise ValueError(
                f"{name}: {count} coordinate(s) along axis {k} lie outside the domain [{a}, {b}] "
                f"(e.g. {first}); pass extrapolate=True to evaluate the polynomial there"
            )
        return xp.clip(t, -1, 1)

    def _check_axes(self, axes):
        if axes is None:
            return list(range(self.ndim))
        if isinstance(axes, numbers.Integral) and not isinstance(axes, bool):
            axes = [axes]
        out = []
        for a in axes:
            if isinstance(a, bool) or not isinstance(a, numbers.Integral) or not -self.ndim <= a < self.ndim:
                raise ValueError(f"axis {a!r} is out of range for a function of {self.ndim} variables")
            out.append(int(a) % self.ndim)
        if len(set(out)) != len(out) or not out:
            raise ValueError(f"axes must be distinct and non-empty, got {axes!r}")
        return out

    def _check_compatible(self, other):
        if other.ndim != self.ndim or not np.allclose(other.domain, self.domain, rtol=1e-14, atol=0):
            raise ValueError(
                f"cannot combine functions on different domains: {self.domain} and {other.domain}"
            )
        get_namespace(self.core, other.core)


# ---------------------------------------------------------------------- module helpers
def check_domain(domain: Any, ndim: int | None) -> tuple[tuple[float, float], ...]:
    """Validate a box: a pair ``(a, b)`` (a cube of ``ndim`` axes, 3 when None) or a pair per axis."""
    try:
        items = list(domain)
    except TypeError:
        raise ValueError(f"domain must be a pair (a, b) or a sequence of pairs, got {domain!r}") from None
    if len(items) == 2 and all(isinstance(v, numbers.Real) for v in items):
        box = (check_interval(items, "domain"),) * (3 if ndim is None else ndim)
    else:
        box = tuple(check_interval(item, f"domain[{k}]") for k, item in enumerate(items))
    if not box:
        raise ValueError("domain must have at least one axis")
    if ndim is not None and len(box) != ndim:
        raise ValueError(f"domain has {len(box)} axes but {ndim} are needed")
    return box


def grid_fits_in_memory(shape: Sequence[int], itemsize: int, xp: Any, *, copies: int = _GRID_COPIES,
                        what: str = "grid") -> None:
    """Raise ``ValueError`` (with the size) when ``copies`` arrays of ``shape`` would not fit."""
    points = math.prod(int(s) for s in shape)
    need = points * int(itemsize) * copies
    free = _available_memory(xp)
    if need > free:
        raise ValueError(
            f"the {what} of shape {tuple(int(s) for s in shape)} ({points:,} points, "
            f"{need / 2**30:.1f} GiB with workspace) does not fit in the {free / 2**30:.1f} GiB of "
            "memory available; lower degree/max_degree, or build from separable terms with "
            "ChebTucker.from_cp, which never forms the full grid"
        )


def _available_memory(xp):
    if xp is not np and "cupy" in getattr(xp, "__name__", ""):
        import cupy

        free, _ = cupy.cuda.runtime.memGetInfo()
        return int(free)
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def _sample(f, domain, sizes, dtype, xp):
    grid_fits_in_memory(sizes, np.dtype(dtype).itemsize, xp)
    axes = [xp.asarray(chebyshev_points(m, domain[k]), dtype=dtype) for k, m in enumerate(sizes)]
    grids = xp.meshgrid(*axes, indexing="ij")
    values = f(*grids)
    del grids
    shape = getattr(values, "shape", None)
    if shape is None or tuple(shape) != tuple(sizes):
        raise ValueError(
            f"f must return an array of the grid's shape {tuple(sizes)}, got "
            f"{'a ' + type(values).__name__ if shape is None else tuple(shape)}"
        )
    return as_float_array(values, "f(x, y, z)" if len(sizes) == 3 else "f(...)", allow_complex=False,
                          xp=xp)


def _sample_factor(g, k, interval, m, weights, xp):
    """Values of the callable factor ``g`` at ``m`` Chebyshev points, in the weights' precision."""
    n_terms = weights.shape[0]
    # values, coefficients and the caller's temporaries: refuse before g allocates them
    grid_fits_in_memory((m, n_terms), weights.dtype.itemsize, xp, copies=4, what=f"sample of factors[{k}]")
    x = xp.asarray(chebyshev_points(m, interval), dtype=weights.dtype)
    a = g(x)
    shape = getattr(a, "shape", None)
    if shape is None or tuple(shape) != (m, n_terms):
        raise ValueError(f"factors[{k}](x) must return shape ({m}, {n_terms}) for {m} points, got "
                         f"{'a ' + type(a).__name__ if shape is None else tuple(shape)}")
    return as_float_array(a, f"factors[{k}](x)", allow_complex=False, xp=xp)


def _adapt_factors(factors, coefficients, weights, domain, tol, max_degree, xp):
    """Grow each callable factor's degree until every term is resolved to ``tol``; then chop."""
    out = list(coefficients)
    for k, g in enumerate(factors):
        if not callable(g):
            continue
        while True:
            sizes = _term_sizes(weights, out, k, xp)
            env = xp.max(xp.abs(out[k]) * sizes[None, :], axis=1)
            scale = float(xp.max(sizes * xp.max(xp.abs(out[k]), axis=0)))
            m = out[k].shape[0]
            resolved = _tail_small(env, _chop_level(tol, env.dtype) * scale, xp)
            if resolved or m - 1 >= max_degree:
                if not resolved:
                    warnings.warn(f"factors[{k}] is not resolved to tol={tol:g} at max_degree="
                                  f"{max_degree}", RuntimeWarning, stacklevel=4)
                break
            m = min(2 * m - 1, max_degree + 1)
            out[k] = _flush_tiny(
                values_to_coefficients(_sample_factor(g, k, domain[k], m, weights, xp), axes=0), xp)
        keep = _last_above(env, _chop_level(tol, env.dtype) * scale, xp) + 1
        out[k] = out[k][:keep]
    return out


def _flush_tiny(c, xp):
    """Zero the entries below ``1e-30`` of the largest: far below any tolerance, and it keeps
    subnormal numbers (far tails of Gaussians) out of the factorizations, where each costs a
    hundred times a normal flop."""
    level = 1e-30 * float(xp.max(xp.abs(c))) if c.size else 0.0
    return xp.where(xp.abs(c) < level, xp.zeros_like(c), c)


def _term_sizes(weights, coefficients, k, xp):
    """``|w_r| prod_{l != k} max|c_{l,r}|``: how large term ``r`` is, apart from axis ``k``."""
    size = xp.abs(weights)
    for l, c in enumerate(coefficients):
        if l != k:
            size = size * xp.sum(xp.abs(c), axis=0)
    return size


def _unresolved_axes(coefficients, tol, xp):
    scale = float(xp.max(xp.abs(coefficients)))
    if scale == 0.0:
        return []
    out = []
    for k in range(coefficients.ndim):
        env = _envelope(coefficients, k, xp)
        if not _tail_small(env, _chop_level(tol, env.dtype) * scale, xp):
            out.append(k)
    return out


def _envelope(coefficients, k, xp):
    others = tuple(a for a in range(coefficients.ndim) if a != k)
    return xp.max(xp.abs(coefficients), axis=others) if others else xp.abs(coefficients)


def _tail_small(env, level, xp):
    """Resolved when the last few coefficients (at least 2, to see past even/odd symmetry) are tiny."""
    m = env.shape[0]
    if m < 5:
        return False
    tail = max(2, m // 8)
    return bool(xp.all(env[-tail:] <= level))


def _chop_level(tol, dtype=np.float64):
    """Coefficients below this fraction of the largest are dropped: well under ``tol``, so that the
    degree truncation stays small against the Tucker truncation (which is measured in norm), but
    above the rounding noise of ``dtype`` (where the coefficients plateau)."""
    return max(_CHOP_MARGIN * tol, 16 * float(np.finfo(dtype).eps))


def _last_above(env, level, xp):
    above = xp.nonzero(env > level)[0]
    return int(above[-1]) if above.shape[0] else 0


def _chop(coefficients, tol, xp):
    scale = float(xp.max(xp.abs(coefficients)))
    if scale == 0.0:
        return coefficients[(slice(0, 1),) * coefficients.ndim]
    index = []
    for k in range(coefficients.ndim):
        env = _envelope(coefficients, k, xp)
        index.append(slice(0, _last_above(env, _chop_level(tol, env.dtype) * scale, xp) + 1))
    return coefficients[tuple(index)]


def _chop_rows(factors, core, tol, xp):
    """Drop trailing coefficient rows whose contribution is below ``tol / 10`` of the norm."""
    norm = float(xp.linalg.vector_norm(core))
    if norm == 0.0:
        return factors
    out = []
    d = len(factors)
    for k, v in enumerate(factors):
        # Error of zeroing rows >= j of V_k: ||V_k[j:] G_(k)||_F (the Q factors are orthonormal).
        moved = xp.reshape(xp.moveaxis(core, k, 0), (core.shape[k], -1))
        rows = xp.linalg.vector_norm(v @ moved, axis=1) ** 2
        tails = xp.flip(xp.cumsum(xp.flip(rows)))
        ok = xp.nonzero(tails <= (0.1 * tol * norm / math.sqrt(d)) ** 2)[0]
        keep = max(1, int(ok[0])) if ok.shape[0] else v.shape[0]
        out.append(v[:keep])
    return out


def _cp_to_dense(weights, factors, xp):
    """``sum_r w_r a_1r o a_2r o ...`` for small factors, in blocks of terms (bounded memory)."""
    shape = tuple(int(f.shape[0]) for f in factors)
    if len(factors) == 1:
        return factors[0] @ weights
    rest = math.prod(shape[1:])
    block = max(1, _BATCH_BYTES // max(1, rest * factors[0].dtype.itemsize))
    n_terms = weights.shape[0]
    out = xp.zeros((shape[0], rest), dtype=factors[0].dtype)
    for start in range(0, n_terms, block):
        stop = min(n_terms, start + block)
        kr = factors[-1][:, start:stop]
        for f in reversed(factors[1:-1]):
            # column-wise Kronecker product, the last mode varying fastest (C order)
            kr = xp.reshape(f[:, None, start:stop] * kr[None, :, :], (-1, stop - start))
        out += (factors[0][:, start:stop] * weights[None, start:stop]) @ kr.T
    return xp.reshape(out, shape)


def _sum(terms, tol):
    """Sum of ChebTuckers on one domain: block-diagonal core, stacked factors, then rounded."""
    xp = terms[0]._xp
    d = terms[0].ndim
    dtype = xp.result_type(*[t.core for t in terms])
    ranks = [sum(t.ranks[k] for t in terms) for k in range(d)]
    sizes = [max(t.factors[k].shape[0] for t in terms) for k in range(d)]
    core = xp.zeros(tuple(ranks), dtype=dtype)
    factors = [xp.zeros((sizes[k], ranks[k]), dtype=dtype) for k in range(d)]
    offsets = [0] * d
    for t in terms:
        index = tuple(slice(offsets[k], offsets[k] + t.ranks[k]) for k in range(d))
        core[index] = t.core
        for k in range(d):
            factors[k][: t.factors[k].shape[0], index[k]] = t.factors[k]
            offsets[k] += t.ranks[k]
    scale = max(t.coefficient_norm() for t in terms)
    return ChebTucker(core, factors, terms[0].domain, tol=tol)._round(tol, None, scale)


def _product(a, b, tol):
    xp = a._xp
    d = a.ndim
    big = math.prod(ra * rb for ra, rb in zip(a.ranks, b.ranks, strict=True))
    if big > _MAX_PRODUCT_CORE:
        raise ValueError(
            f"the pointwise product of ranks {a.ranks} and {b.ranks} needs a Kronecker core of "
            f"{big:,} entries (more than {_MAX_PRODUCT_CORE:,}); round the factors to a looser tol first"
        )
    # core[(i1 j1), (i2 j2), ...] = a[i1, i2, ...] b[j1, j2, ...]
    core = xp.tensordot(a.core, b.core, axes=0)
    perm = [p for k in range(d) for p in (k, d + k)]
    shape = tuple(ra * rb for ra, rb in zip(a.ranks, b.ranks, strict=True))
    core = xp.reshape(xp.permute_dims(core, perm), shape)
    factors = []
    for k in range(d):
        m = a.factors[k].shape[0] + b.factors[k].shape[0] - 1
        x = xp.asarray(chebyshev_points(m), dtype=a.dtype)
        t = chebyshev_vandermonde(x, m, xp=xp).T
        va = t[:, : a.factors[k].shape[0]] @ a.factors[k]
        vb = t[:, : b.factors[k].shape[0]] @ b.factors[k]
        values = xp.reshape(va[:, :, None] * vb[:, None, :], (m, -1))
        factors.append(values_to_coefficients(values, axes=0))
    return ChebTucker(core, factors, a.domain, tol=tol).round(tol)


def _normalize_vector(c, xp):
    n = float(xp.linalg.vector_norm(c))
    if n == 0.0:
        return xp.zeros((1,), dtype=c.dtype), xp.ones((c.shape[0], 1), dtype=c.dtype)
    return xp.asarray([n], dtype=c.dtype), (c / n)[:, None]


def _chebder(v, xp):
    """Derivative of the Chebyshev series in each column of ``v`` (``m`` rows -> ``m - 1``)."""
    m = v.shape[0]
    if m == 1:
        return xp.zeros_like(v)
    out = xp.zeros((m - 1, v.shape[1]), dtype=v.dtype)
    # d_{j-1} = d_{j+1} + 2 j c_j, from the top down; d_0 is halved at the end.
    for j in range(m - 1, 0, -1):
        nxt = out[j + 1, :] if j + 1 <= m - 2 else 0
        out[j - 1, :] = nxt + 2 * j * v[j, :]
    out[0, :] = out[0, :] / 2
    return out


def _integral_weights(m):
    """``int_{-1}^{1} T_j(x) dx`` for ``j < m``: ``2 / (1 - j^2)`` for even ``j``, 0 for odd."""
    j = np.arange(m, dtype=np.float64)
    w = np.zeros(m)
    even = j % 2 == 0
    w[even] = 2.0 / (1.0 - j[even] ** 2)
    return w


def _check_points(points, d, xp):
    points = as_float_array(points if hasattr(points, "shape") else np.asarray(points), "points",
                            allow_complex=False, xp=xp)
    if points.ndim != 2 or points.shape[1] != d:
        raise ValueError(f"points must have shape (M, {d}), got {tuple(points.shape)}")
    return points


def _result_dtype(a, b, xp):
    return xp.result_type(a, b)


def _namespace(xp):
    """The array-API namespace for a user's ``xp`` (numpy when None, or the module itself)."""
    if xp is None:
        xp = np
    return get_namespace(xp.empty(0))


def _check_tol(tol):
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
        raise TypeError(f"tol must be a float, got {type(tol).__name__}")
    if not 0 < float(tol) < 1:
        raise ValueError(f"tol must lie in (0, 1), got {tol}")
    return float(tol)


def _check_dtype(dtype):
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _check_degree(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)


def _per_axis(value, d, name, check):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (check(value, name),) * d
    try:
        items = tuple(value)
    except TypeError:
        raise ValueError(f"{name} must be an int or a sequence of {d} ints, got {value!r}") from None
    if len(items) != d:
        raise ValueError(f"{name} needs {d} entries (one per axis), got {value!r}")
    return tuple(check(v, f"{name}[{k}]") for k, v in enumerate(items))
