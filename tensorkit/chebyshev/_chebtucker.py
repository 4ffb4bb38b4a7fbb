"""The hybrid Chebyshev-Tucker format: a smooth function on a box as a Tucker tensor of coefficients.

A function of ``d`` variables on ``[a_1, b_1] x ... x [a_d, b_d]`` is held as

.. math:: f(x) = \\sum_{i_1 \\dots i_d} C_{i_1 \\dots i_d} \\prod_k T_{i_k}(\\hat x_k), \\qquad
          C = G \\times_1 V_1 \\times_2 V_2 \\cdots \\times_d V_d,

with ``\\hat x_k = (2 x_k - a_k - b_k) / (b_k - a_k)`` in ``[-1, 1]``, Chebyshev polynomials ``T_i``,
a core ``G`` of shape ``(r_1, ..., r_d)`` and coefficient factors ``V_k`` of shape ``(m_k, r_k)``
(``m_k - 1`` is the polynomial degree along axis ``k``). Storage is ``prod(r) + sum(m_k r_k)``
numbers instead of ``prod(m)``.

This module holds the class and its evaluation; construction, calculus and arithmetic live in
``_construct``, ``_calculus`` and ``_arithmetic``, which work on the coefficient
:class:`~tensorkit.formats.TuckerTensor` alone.

References
----------
Benner, Khoromskij, Khoromskaia, Sun, "Hybrid Chebyshev-Tucker tensor format ...",
arXiv:2503.01696; Hashemi and Trefethen, "Chebfun in three dimensions", SIAM J. Sci. Comput. 39
(2017).
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._validation import as_float_array, check_dtype, check_int, check_real, check_tol, per_axis
from ..backend import get_namespace
from ..formats import TuckerTensor, read_archive
from ..io import save_archive
from . import _arithmetic, _calculus, _checks, _construct
from ._checks import check_axes, check_domain, check_points, namespace_for_device, to_reference
from ._evaluate import evaluate
from ._transform import chebyshev_vandermonde, values_to_coefficients

__all__ = ["ChebTucker"]


class ChebTucker:
    """A smooth function on a box in Chebyshev-Tucker format (see the module docstring).

    Parameters
    ----------
    core : array ``(r_1, ..., r_d)``
    factors : sequence of ``d`` arrays ``(m_k, r_k)``: Chebyshev coefficients along axis ``k``
    domain : sequence of ``d`` pairs ``(a_k, b_k)`` with ``a_k < b_k``
    tol : float
        Relative accuracy that arithmetic results are rounded to (``round`` default).

    Attributes
    ----------
    coefficients : TuckerTensor
        The coefficient tensor ``C`` (``core``, ``factors``, ``ranks``, ``nbytes`` are its own).
    domain : tuple of ``d`` pairs
    tol : float

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.chebyshev import ChebTucker
    >>> f = ChebTucker.from_function(lambda x, y, z: np.exp(x + y + z), [(-1, 1)] * 3, tol=1e-12)
    >>> f.ranks
    (1, 1, 1)
    >>> round(f.integrate(), 10) == round((np.e - 1 / np.e) ** 3, 10)
    True
    >>> f.coefficients.shape == tuple(m + 1 for m in f.degrees)
    True
    """

    _FORMAT = "tensorkit.ChebTucker"
    _VERSION = 1

    def __init__(self, core: Any, factors: Sequence[Any], domain: Any, *, tol: float = 1e-10):
        self._hold(TuckerTensor(core, factors), domain, tol)

    @classmethod
    def from_tucker(cls, coefficients: TuckerTensor, domain: Any, *, tol: float = 1e-10) -> ChebTucker:
        """Wrap a :class:`~tensorkit.formats.TuckerTensor` of Chebyshev coefficients (not copied)."""
        if not isinstance(coefficients, TuckerTensor):
            raise TypeError(f"coefficients must be a TuckerTensor, got {type(coefficients).__name__}")
        out = cls.__new__(cls)
        out._hold(coefficients, domain, tol)
        return out

    def _hold(self, coefficients, domain, tol):
        self.coefficients = _checks.check_coefficients(coefficients)
        self.domain = check_domain(domain, coefficients.ndim)
        self.tol = check_tol(tol)

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
        device: str | None = None,
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
        device : {None, "cpu", "gpu"}
            Where the grid is built (None is the CPU); the result stays there.

        Raises
        ------
        TypeError
            ``f`` not callable, a dtype other than float32/float64, non-int degrees or ranks.
        ValueError
            Bad domain or degrees, ``f`` returning the wrong shape or non-finite values.
        MemoryError
            A grid that would not fit in memory (refused before it is allocated, with its size).
        RuntimeError
            ``device="gpu"`` without a CUDA device.
        """
        if not callable(f):
            raise TypeError(f"f must be callable, got {type(f).__name__}")
        domain = check_domain(domain, None)
        d = len(domain)
        tol = check_tol(tol)
        dtype = check_dtype(dtype)
        max_degree = _construct.check_degree(max_degree, "max_degree")
        degrees = None if degree is None else per_axis(degree, d, "degree", _construct.check_degree)
        ranks = None if rank is None else per_axis(rank, d, "rank", _construct.check_rank)
        xp = namespace_for_device(device)
        coefficients = _construct.function_coefficients(f, domain, tol=tol, degrees=degrees,
                                                        max_degree=max_degree, dtype=dtype, xp=xp)
        return cls.from_tucker(_construct.compress(coefficients, tol, ranks, xp), domain, tol=tol)

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
        HOSVD to relative accuracy ``tol`` (or to ``rank``). The result is on the device of
        ``values``.
        """
        xp = get_namespace(values)
        values = as_float_array(values, "values", allow_complex=False, xp=xp)
        domain = check_domain(domain, values.ndim)
        if values.size == 0:
            raise ValueError(f"values is empty: shape {tuple(values.shape)}")
        tol = check_tol(tol)
        ranks = None if rank is None else per_axis(rank, values.ndim, "rank", _construct.check_rank)
        coefficients = _construct.compress(values_to_coefficients(values), tol, ranks, xp)
        return cls.from_tucker(coefficients, domain, tol=tol)

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
            Its device is the result's: callable factors are sampled there, array factors must
            be there too.
        factors : sequence of ``d`` entries, each either an array ``(m_k, R)`` of the terms'
            values at the ``m_k`` Chebyshev points of axis ``k``, or a callable ``g_k(x)`` taking
            an array of ``n`` points and returning ``(n, R)`` values.
        domain, tol, rank : as in :meth:`from_function`
        degree : int or sequence of int, optional
            Degrees for callable factors; by default chosen adaptively per axis (each term's
            trailing coefficients, relative to the largest term, fall below ``tol``).
        max_degree : int
            Upper limit of the adaptive degree.
        """
        domain = check_domain(domain, None if not isinstance(factors, Sequence) else len(factors))
        d = len(domain)
        if not isinstance(factors, Sequence) or len(factors) != d:
            raise ValueError(f"factors must be a sequence of {d} arrays or callables")
        tol = check_tol(tol)
        max_degree = _construct.check_degree(max_degree, "max_degree")
        degrees = None if degree is None else per_axis(degree, d, "degree", _construct.check_degree)
        ranks = None if rank is None else per_axis(rank, d, "rank", _construct.check_rank)
        xp = get_namespace(weights, *[g for g in factors if not callable(g)])
        weights = as_float_array(xp.asarray(weights), "weights", allow_complex=False, xp=xp)
        if weights.ndim != 1 or weights.shape[0] < 1:
            raise ValueError(f"weights must have shape (R,) with R >= 1, got {tuple(weights.shape)}")
        coefficients = _construct.cp_factor_coefficients(weights, factors, domain, tol=tol,
                                                         degrees=degrees, max_degree=max_degree, xp=xp)
        return cls.from_tucker(_construct.rhosvd(weights, coefficients, tol, ranks, xp), domain, tol=tol)

    @classmethod
    def zeros(cls, domain: Any, *, dtype: Any = np.float64, device: str | None = None,
              tol: float = 1e-10) -> ChebTucker:
        """The zero function on ``domain`` (ranks 1, degree 0), on ``device`` (None is the CPU)."""
        return cls.constant(0.0, domain, dtype=dtype, device=device, tol=tol)

    @classmethod
    def constant(cls, value: float, domain: Any, *, dtype: Any = np.float64, device: str | None = None,
                 tol: float = 1e-10) -> ChebTucker:
        """The constant function ``value`` on ``domain``, on ``device`` (None is the CPU).

        Examples
        --------
        >>> from tensorkit.chebyshev import ChebTucker
        >>> ChebTucker.constant(2.0, [(0, 1), (0, 3)]).integrate()
        6.0
        """
        value = check_real(value, "value")
        domain = check_domain(domain, None)
        xp = namespace_for_device(device)
        return cls.from_tucker(_construct.constant_tucker(value, len(domain), check_dtype(dtype), xp),
                               domain, tol=tol)

    # ------------------------------------------------------------------ properties
    @property
    def core(self) -> Any:
        """The core ``G`` of the coefficient tensor."""
        return self.coefficients.core

    @property
    def factors(self) -> list[Any]:
        """The coefficient factors ``V_k`` (``m_k x r_k``)."""
        return self.coefficients.factors

    @property
    def ndim(self) -> int:
        return self.coefficients.ndim

    @property
    def ranks(self) -> tuple[int, ...]:
        return self.coefficients.ranks

    @property
    def degrees(self) -> tuple[int, ...]:
        """Polynomial degree per axis (``m_k - 1``)."""
        return tuple(m - 1 for m in self.coefficients.shape)

    @property
    def dtype(self):
        return self.coefficients.dtype

    @property
    def nbytes(self) -> int:
        """Bytes stored (core plus coefficient factors)."""
        return self.coefficients.nbytes

    @property
    def compression_ratio(self) -> float:
        """Numbers of the full coefficient tensor over numbers stored."""
        return self.coefficients.compression_ratio

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
        xp = get_namespace(self.core)
        points = check_points(points, self.ndim, xp)
        points = xp.asarray(points, dtype=xp.result_type(points.dtype, self.dtype))
        mapped = [to_reference(points[:, k], self.domain[k], k, extrapolate=extrapolate, name="points",
                               xp=xp) for k in range(self.ndim)]
        return evaluate(self.coefficients, mapped, points.dtype, xp)

    def on_grid(self, *grids: Any) -> TuckerTensor:
        """The values on the tensor grid ``grids[0] x grids[1] x ...`` as a :class:`TuckerTensor`.

        Factors ``T(grid_k)^T V_k`` (``n_k x r_k``) and the same core: the two-level format, whose
        cost and storage are separable (``sum n_k m_k r_k`` to build).
        """
        xp = get_namespace(self.core)
        if len(grids) != self.ndim:
            raise ValueError(f"on_grid needs {self.ndim} 1-D grids, got {len(grids)}")
        factors = []
        for k, g in enumerate(grids):
            g = as_float_array(xp.asarray(g), f"grids[{k}]", allow_complex=False, xp=xp)
            if g.ndim != 1 or g.shape[0] < 1:
                raise ValueError(f"grids[{k}] must be a non-empty 1-D array, got shape {tuple(g.shape)}")
            g = xp.asarray(g, dtype=xp.result_type(g.dtype, self.dtype))
            t = to_reference(g, self.domain[k], k, extrapolate=False, name=f"grids[{k}]", xp=xp)
            factors.append(chebyshev_vandermonde(t, self.factors[k].shape[0], xp=xp).T
                           @ xp.asarray(self.factors[k], dtype=g.dtype))
        return TuckerTensor(xp.asarray(self.core, dtype=factors[0].dtype), factors)

    # ------------------------------------------------------------------ calculus
    def integrate(self, axes: int | Sequence[int] | None = None) -> Any:
        """Integral over the whole box (a float), or over ``axes`` (a ChebTucker of the others).

        Uses ``int_{-1}^{1} T_j = 2 / (1 - j^2)`` for even ``j`` (0 for odd), scaled by
        ``(b - a) / 2`` per axis: ``int f = G x_1 (w_1^T V_1) ... x_d (w_d^T V_d)``.
        """
        axes = check_axes(axes, self.ndim)
        out = _calculus.integral(self.coefficients, self.domain, axes, get_namespace(self.core))
        if not isinstance(out, TuckerTensor):
            return float(out)
        keep = [self.domain[k] for k in range(self.ndim) if k not in axes]
        return ChebTucker.from_tucker(out, keep, tol=self.tol)

    def diff(self, axis: int, order: int = 1) -> ChebTucker:
        """Partial derivative of ``order`` along ``axis`` (exact on the coefficients).

        The Chebyshev derivative recurrence ``c'_{j-1} = c'_{j+1} + 2 j c_j`` is applied to the
        columns of ``V_axis``, times ``2 / (b - a)`` per derivative; the degree drops by one each
        time (to a constant at least).
        """
        (axis,) = check_axes(axis, self.ndim)
        order = check_int(order, "order", minimum=0)
        factors = list(self.factors)
        factors[axis] = _calculus.derivative_factor(factors[axis], self.domain[axis], order,
                                                    get_namespace(self.core))
        return ChebTucker(self.core, factors, self.domain, tol=self.tol)

    def laplacian(self) -> ChebTucker:
        """``sum_k d^2 f / dx_k^2``, rounded to ``self.tol``."""
        second = [self.diff(k, 2).coefficients for k in range(self.ndim)]
        return self._like(_arithmetic.add(second, self.tol, get_namespace(self.core)), self.tol)

    def norm(self) -> float:
        """The L2 norm ``sqrt(int f^2)`` over the box (exact for the stored polynomial).

        ``int f^2 = <G, G x_1 M_1 ... x_d M_d>`` with ``M_k = V_k^T W V_k (b_k - a_k)/2`` and
        ``W_ij = int_{-1}^{1} T_i T_j = (w_{i+j} + w_{|i-j|}) / 2``.
        """
        return _calculus.l2_norm(self.coefficients, self.domain, get_namespace(self.core))

    # ------------------------------------------------------------------ arithmetic
    def round(self, tol: float | None = None, *, rank: int | Sequence[int] | None = None) -> ChebTucker:
        """Recompress to relative accuracy ``tol`` (default ``self.tol``) or to ``rank``.

        Orthonormalise each factor by QR (``V_k = Q_k R_k``), truncate the small core
        ``G x_k R_k`` by HOSVD (the rule of :meth:`from_function`), and drop trailing coefficient
        rows that carry less than ``tol / 10`` of the norm.
        """
        tol = self.tol if tol is None else check_tol(tol)
        ranks = None if rank is None else per_axis(rank, self.ndim, "rank", _construct.check_rank)
        return self._like(_arithmetic.rounded(self.coefficients, tol, ranks, get_namespace(self.core)),
                          tol)

    def coefficient_norm(self) -> float:
        """Frobenius norm of the coefficient tensor ``||G x_1 V_1 ... x_d V_d||_F``."""
        return _arithmetic.coefficient_norm(self.coefficients, get_namespace(self.core))

    def __add__(self, other: Any) -> ChebTucker:
        if isinstance(other, numbers.Number):
            xp = get_namespace(self.core)
            constant = _construct.constant_tucker(check_real(other, "other"), self.ndim, self.dtype, xp)
            return self._like(_arithmetic.add([self.coefficients, constant], self.tol, xp), self.tol)
        if not isinstance(other, ChebTucker):
            return NotImplemented
        xp = self._check_compatible(other)
        tol = max(self.tol, other.tol)
        return self._like(_arithmetic.add([self.coefficients, other.coefficients], tol, xp), tol)

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
            return self._scaled(check_real(other, "other"), divide=False)
        if not isinstance(other, ChebTucker):
            return NotImplemented
        xp = self._check_compatible(other)
        tol = max(self.tol, other.tol)
        a, b = self.round().coefficients, other.round().coefficients
        return self._like(_arithmetic.multiply(a, b, tol, xp), tol)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> ChebTucker:
        if isinstance(other, numbers.Number):
            other = check_real(other, "other")
            if other == 0:
                raise ZeroDivisionError("division of a ChebTucker by zero")
            return self._scaled(other, divide=True)  # not self * (1 / other): 1 / 1e-310 overflows
        return NotImplemented

    def _scaled(self, other: float, *, divide: bool) -> ChebTucker:
        with np.errstate(over="ignore"):
            core = self.core / other if divide else self.core * other
        if not bool(get_namespace(core).all(get_namespace(core).isfinite(core))):
            raise ValueError(f"this function {'divided by' if divide else 'times'} other={other!r} "
                             f"overflows {self.dtype}")
        return ChebTucker(core, self.factors, self.domain, tol=self.tol)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> None:
        """Write a versioned ``.npz`` archive atomically (arrays moved to the host): the
        coefficient :class:`TuckerTensor`'s arrays, the domain and ``tol``."""
        save_archive(path, self._FORMAT, self._VERSION, domain=np.asarray(self.domain, dtype=np.float64),
                     tol=np.asarray(self.tol), **self.coefficients._stored())

    @classmethod
    def load(cls, path: str | os.PathLike) -> ChebTucker:
        """Read an archive written by :meth:`save` (numpy arrays)."""
        data = read_archive(path, cls._FORMAT, cls._VERSION)
        where = f"{str(path)!r} is not a valid {cls._FORMAT} archive"
        if "domain" not in data or "tol" not in data:
            raise ValueError(f"{where}: it needs arrays 'domain' and 'tol', it holds {sorted(data)}")
        domain, tol = data.pop("domain"), data.pop("tol")
        coefficients = TuckerTensor._from_archive(data, path)
        try:  # every check of the domain, tol and coefficients, with the file named
            return cls.from_tucker(coefficients, [tuple(row) for row in domain.tolist()], tol=float(tol))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from exc

    # ------------------------------------------------------------------ helpers
    def _like(self, coefficients: TuckerTensor, tol: float) -> ChebTucker:
        """A result of an operation on ``self``: same box, new coefficients."""
        return ChebTucker.from_tucker(coefficients, self.domain, tol=tol)

    def _check_compatible(self, other):
        """The shared namespace of two operands on one box (``ValueError`` for different boxes,
        ``TypeError`` for different devices)."""
        if other.ndim != self.ndim or not np.allclose(other.domain, self.domain, rtol=1e-14, atol=0):
            raise ValueError(
                f"cannot combine functions on different domains: {self.domain} and {other.domain}"
            )
        return get_namespace(self.core, other.core)
