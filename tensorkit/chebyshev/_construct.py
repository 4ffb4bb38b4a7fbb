"""Building the coefficient tensor of a Chebyshev-Tucker function, as a :class:`TuckerTensor`.

Two routes, both ending in the same truncated HOSVD (:func:`compress`):

- from samples of a function on the tensor grid of Chebyshev points (:func:`function_coefficients`):
  each axis doubles its degree on nested grids until its trailing coefficients fall below the chop
  level, as Chebfun does, and is then chopped;
- from ``R`` separable terms (:func:`cp_factor_coefficients`, then :func:`rhosvd`): per axis the
  terms' coefficient columns span a subspace kept to well below ``tol``, and only the projected
  ``r_1 x ... x r_d`` core is ever formed (reduced HOSVD), never the ``prod(m_k)`` tensor.

The public entry points, with the error bounds, are :meth:`ChebTucker.from_function`,
:meth:`ChebTucker.from_values` and :meth:`ChebTucker.from_cp`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._validation import as_float_array, check_allocation, check_int, device_of
from ..decomposition import check_multilinear_rank, tucker
from ..decomposition.linalg import leading_subspace, safe_scale
from ..decomposition.linalg import norm as scaled_norm
from ..formats import TuckerTensor
from ._transform import chebyshev_points, values_to_coefficients

__all__ = [
    "check_degree",
    "check_rank",
    "compress",
    "constant_tucker",
    "cp_factor_coefficients",
    "function_coefficients",
    "rhosvd",
]

# Adaptive construction starts from 17 points per axis and doubles the degree (nested grids).
START_POINTS = 17
# Temporary arrays an adaptive build holds at once, in units of the grid: x, y, z, values, coefficients
# and one transform workspace.
_GRID_COPIES = 6
# Bytes one block of terms may hold in the largest intermediate of the projected CP core.
_BLOCK_BYTES = 32 * 2**20
# Trailing Chebyshev coefficients are chopped below this fraction of tol (times the largest).
_CHOP_MARGIN = 1e-2
# from_cp keeps per-axis subspaces to this fraction of the tolerance before the exact HOSVD.
_SUBSPACE_MARGIN = 1e-2
_GRID_ALTERNATIVE = ("lower degree/max_degree, or build from separable terms with ChebTucker.from_cp, "
                     "which never forms the full grid")


def check_degree(value: Any, name: str) -> int:
    """A polynomial degree: an int >= 0."""
    return check_int(value, name, minimum=0)


def check_rank(value: Any, name: str) -> int:
    """A Tucker rank of the coefficient tensor: an int >= 1."""
    return check_int(value, name, minimum=1)


def compress(coefficients: Any, tol: float, rank: Sequence[int] | None, xp: Any) -> TuckerTensor:
    """Truncated HOSVD of a coefficient tensor to relative accuracy ``tol`` or to ``rank``.

    The ranks by tolerance are :func:`tensorkit.decomposition.tucker`'s per-mode rule
    (``sqrt(sum_{i > r_k} sigma_i^2) <= tol ||C||_F / sqrt(d)``); a fixed ``rank`` is clipped to the
    shape and then to a multilinear rank (``r_k <= prod_{l != k} r_l``: no tensor has more). A vector
    is one normalised column; the zero tensor is the rank-1 zero.
    """
    if coefficients.ndim == 1:
        return _normalized_vector(coefficients, xp)
    if rank is not None:
        ranks = [min(r, s) for r, s in zip(rank, coefficients.shape, strict=True)]
        return tucker(coefficients, rank=check_multilinear_rank(ranks, clip=True))
    if not bool(xp.any(coefficients != 0)):
        return constant_tucker(0.0, coefficients.ndim, coefficients.dtype, xp)
    return tucker(coefficients, tol=tol)


def constant_tucker(value: float, d: int, dtype: Any, xp: Any) -> TuckerTensor:
    """The constant ``value`` as a degree-0, rank-1 coefficient tensor of ``d`` axes."""
    ones = xp.ones((1, 1), dtype=dtype)
    return TuckerTensor(xp.full((1,) * d, value, dtype=dtype), [ones] * d)


def function_coefficients(
    f: Callable[..., Any],
    domain: tuple[tuple[float, float], ...],
    *,
    tol: float,
    degrees: tuple[int, ...] | None,
    max_degree: int,
    dtype: Any,
    xp: Any,
) -> Any:
    """The dense coefficient tensor of ``f`` at the given ``degrees``, or adaptively (then chopped).

    With ``degrees=None`` every axis starts at :data:`START_POINTS` points and unresolved axes grow
    ``m -> 2m - 1`` (nested grids) up to ``max_degree``; a ``RuntimeWarning`` says when that limit
    left an axis unresolved.
    """
    if degrees is not None:
        return values_to_coefficients(_sample(f, domain, tuple(k + 1 for k in degrees), dtype, xp))
    sizes = [min(START_POINTS, max_degree + 1)] * len(domain)
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
                    stacklevel=3,
                )
            break
        for k in growable:
            sizes[k] = min(2 * sizes[k] - 1, max_degree + 1)
    return _chop(coefficients, tol, xp)


def cp_factor_coefficients(
    weights: Any,
    factors: Sequence[Any],
    domain: tuple[tuple[float, float], ...],
    *,
    tol: float,
    degrees: tuple[int, ...] | None,
    max_degree: int,
    xp: Any,
) -> list[Any]:
    """Per axis, the Chebyshev coefficients ``(m_k, R)`` of the ``R`` terms' factors.

    Array factors are the terms' values at the Chebyshev points; callable factors are sampled on
    the device and in the precision of ``weights``, at ``degrees`` or adaptively (each term's
    trailing coefficients, relative to the largest term, fall below the chop level).
    """
    n_terms = weights.shape[0]
    values = []
    for k, g in enumerate(factors):
        if callable(g):
            m = min(START_POINTS, max_degree + 1) if degrees is None else degrees[k] + 1
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
    return coefficients


def rhosvd(weights: Any, coefficients: Sequence[Any], tol: float, rank: Sequence[int] | None,
           xp: Any) -> TuckerTensor:
    """Reduced HOSVD of ``sum_r w_r c_{1,r} o ... o c_{d,r}`` (see :meth:`ChebTucker.from_cp`).

    Per axis the columns ``c_{k,r}``, scaled by ``|w_r| prod_{l != k} ||c_{l,r}||``, give a leading
    subspace ``Q_k`` kept to ``tol / 100``; the projected core is compressed by :func:`compress`
    and the factors are ``Q_k U_k``.
    """
    d = len(coefficients)
    norms = [_column_norms(c, xp) for c in coefficients]
    bases = []
    for k in range(d):
        size = xp.abs(weights)
        for l in range(d):
            if l != k:
                size = size * norms[l]
        scaled = coefficients[k] * size[None, :]
        total = scaled_norm(scaled)
        if total == 0.0:
            return constant_tucker(0.0, d, weights.dtype, xp)
        # The subspaces only have to carry what the final HOSVD keeps: a threshold 100x below
        # tol keeps the projection error negligible against the truncation error.
        threshold = _SUBSPACE_MARGIN * tol * total / math.sqrt(d)
        q, _ = leading_subspace(scaled, threshold=threshold, xp=xp)
        bases.append(q)
    projected = [xp.conj(q).T @ c for q, c in zip(bases, coefficients, strict=True)]
    core = _cp_to_dense(weights, projected, xp)
    if rank is None and not bool(xp.any(core != 0)):
        return constant_tucker(0.0, d, weights.dtype, xp)
    small = compress(core, tol, rank, xp)
    return TuckerTensor(small.core, [q @ u for q, u in zip(bases, small.factors, strict=True)])


# ---------------------------------------------------------------------- sampling
def _sample(f, domain, sizes, dtype, xp):
    check_allocation(sizes, dtype, "the grid", alternative=_GRID_ALTERNATIVE, device=device_of(xp),
                     count=_GRID_COPIES)
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
    check_allocation((m, n_terms), weights.dtype, f"the sample of factors[{k}]",
                     alternative="lower degree/max_degree or split the terms into batches",
                     device=device_of(xp), count=4)
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
                    # points at the caller of ChebTucker.from_cp's caller, as before the split
                    warnings.warn(f"factors[{k}] is not resolved to tol={tol:g} at max_degree="
                                  f"{max_degree}", RuntimeWarning, stacklevel=5)
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


# ---------------------------------------------------------------------- resolution and chopping
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


# ---------------------------------------------------------------------- small dense pieces
def _cp_to_dense(weights, factors, xp):
    """``sum_r w_r a_1r o a_2r o ...`` for small factors, in blocks of terms (bounded memory)."""
    shape = tuple(int(f.shape[0]) for f in factors)
    if len(factors) == 1:
        return factors[0] @ weights
    rest = math.prod(shape[1:])
    block = max(1, _BLOCK_BYTES // max(1, rest * factors[0].dtype.itemsize))
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


def _column_norms(c, xp):
    """Column norms of ``c``, formed from ``c`` times a power of two when its scale needs it."""
    s = safe_scale(c, xp)
    return xp.linalg.vector_norm(c * s, axis=0) / s if s != 1.0 else xp.linalg.vector_norm(c, axis=0)


def _normalized_vector(c, xp):
    """A coefficient vector as ``n * (c / n)``: core ``(n,)``, one unit column (zero: core 0)."""
    n = scaled_norm(c)
    if n == 0.0:
        return TuckerTensor(xp.zeros((1,), dtype=c.dtype), [xp.ones((c.shape[0], 1), dtype=c.dtype)])
    return TuckerTensor(xp.asarray([n], dtype=c.dtype), [(c / n)[:, None]])

