"""Linear algebra for decompositions: leading singular subspaces, ranks chosen by a tail threshold.

Public so that other subpackages and upper layers (Chebyshev-Tucker, completion, dask) build on
the same subspace routine instead of their own.

The workhorse of every HOSVD-type method. Two routes:

- **Gram**: ``eigh(Y Y^H)``; about as many flops as one matrix product and the fastest route, but
  eigenvalues carry an absolute error of order ``eps * sigma_1^2``, so singular values below about
  ``sqrt(eps) * sigma_1`` are noise (the condition number is squared).
- **Accurate**: ``R`` from a QR factorization of ``Y^H`` (a tall matrix), then an SVD of the small
  square ``R^H``; singular values are accurate to ``eps * sigma_1``.

Gram is used when everything the decision depends on (the kept singular values, or the tail energy
compared against the threshold) sits well above its noise level; otherwise the accurate route runs.

Scaling: squares of finite numbers overflow above ``~1e154`` and underflow below ``~1e-154`` (float64;
``~1e19`` and ``~1e-19`` in float32), which would make a Gram matrix, a squared norm or a tail sum
meaningless. Every squared quantity here is formed from data whose largest entry lies in a safe
band (:func:`safe_scale`), multiplying by a power of two (exact) when it does not; ordinary data
never leave the band and take the unscaled path.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import check_int, check_real
from ..backend import array_module, frobenius_norm, native, to_numpy

__all__ = ["accurate_subspace", "leading_subspace", "norm", "rank_from_tail", "safe_scale"]

# How far above the Gram noise level (eps * sigma_1^2 * sqrt(I)) a decision must sit to trust it.
_GRAM_SAFETY = 1e3


def _band(dtype: Any) -> tuple[float, float]:
    """``(low, high)``: when ``max|x|`` lies in it, sums of up to ``2**48`` squares of ``x`` do not
    overflow and squares down to ``(eps max|x|)**2`` are still normal numbers (float64: 2**-451 to
    2**488; float32: 2**-32 to 2**40)."""
    info = np.finfo(dtype)
    return 2.0 ** (info.minexp // 2 + info.nmant + 8), 2.0 ** (info.maxexp // 2 - 24)


def safe_scale(x: Any, xp: Any = None) -> float:
    """A power of two ``s`` with ``max|s x|`` in ``[1, 2)`` (or as near as the dtype's exponent range
    allows, for subnormal data), or ``1.0`` when ``max|x|`` already lies in the safe band for
    squaring (or ``x`` is zero or empty): multiplying by ``s`` is exact.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.decomposition.linalg import safe_scale
    >>> safe_scale(np.array([3.0, -1.0])), safe_scale(np.array([1e-300])) == 2.0**997
    (1.0, True)
    """
    if x.size == 0:
        return 1.0
    amax = float(_max_abs(x, xp))
    low, high = _band(x.dtype)
    if amax == 0.0 or low <= amax <= high:
        return 1.0
    # within the dtype's exponent range: subnormal data get the largest factor there is, which
    # still brings them into the band
    info = np.finfo(x.dtype)
    exponent = min(max(-math.frexp(amax)[1] + 1, info.minexp), info.maxexp - 2)
    return math.ldexp(1.0, exponent)


def _max_abs(x: Any, xp: Any = None) -> Any:
    """``max |x|`` (a 0-d array) without the complex ``abs`` temporary's square roots."""
    nxp = native(xp) if xp is not None else array_module(x)
    if np.dtype(x.dtype).kind == "c":
        return max(nxp.max(nxp.abs(x.real)), nxp.max(nxp.abs(x.imag)))
    return nxp.max(nxp.abs(x))


def scale_into_range(tensor: Any, xp: Any) -> tuple[Any, float]:
    """``(s * tensor, s)`` with ``s`` the power of two of :func:`safe_scale` (exact).

    Decompositions work on data near 1 and give the scale back to one part of the result
    (:func:`unscale`): subnormal data would otherwise carry only a few significant digits through
    every product, and near-overflow data overflow Gram matrices.
    """
    scale = safe_scale(tensor, xp)
    return (tensor * scale if scale != 1.0 else tensor), scale


def unscale(part: Any, scale: float, xp: Any) -> tuple[Any, bool]:
    """``part / scale`` and whether that was exact (False when it rounded into the subnormals).

    Raises
    ------
    ValueError
        When ``part / scale`` overflows the dtype (the result cannot be represented).
    """
    with np.errstate(over="ignore", under="ignore"):
        out = part / xp.asarray(scale, dtype=xp.real(part).dtype)
    if not bool(xp.all(xp.isfinite(out))):
        raise ValueError(f"the decomposition of tensor overflows {part.dtype}; scale tensor down first")
    exact = scale < 1.0 or bool(xp.all(out * scale == part))
    return out, exact


def norm(x: Any) -> float:
    """``||x||_F`` as a Python float, without overflow or underflow for any finite ``x``
    (:func:`tensorkit.backend.frobenius_norm`, which rescales by a power of two as LAPACK's
    ``nrm2`` when the fast BLAS norm overflows or underflows).

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.decomposition.linalg import norm
    >>> [round(norm(np.array([3.0, 4.0]) * c) / c, 12) for c in (1e-200, 1.0, 1e200)]
    [5.0, 5.0, 5.0]
    """
    return frobenius_norm(x)


def leading_subspace(
    unfolding: Any,
    *,
    rank: int | None = None,
    threshold: float | None = None,
    xp: Any,
) -> tuple[Any, Any]:
    """Orthonormal basis of the leading left singular subspace of ``unfolding`` (I x J).

    Exactly one of ``rank`` (keep that many vectors) and ``threshold`` (keep the fewest vectors,
    at least one, whose discarded tail ``sqrt(sum_{i>r} sigma_i^2)`` is at most ``threshold``) is
    given.

    Returns
    -------
    U : array (I, r), orthonormal columns
    sigma : array (min(I, J),) of singular values in decreasing order (host numpy, float64)
    """
    if (rank is None) == (threshold is None):
        raise ValueError(
            f"give exactly one of rank and threshold, got rank={rank!r}, threshold={threshold!r}"
        )
    n_rows, n_cols = unfolding.shape
    if rank is not None:
        rank = check_int(rank, "rank", minimum=1, maximum=min(n_rows, n_cols))
    else:
        threshold = check_real(threshold, "threshold", minimum=0.0)
    if n_cols <= n_rows:
        # LAPACK's SVD scales its input itself; only the tail sums need care (rank_from_tail)
        return _accurate(unfolding, rank, threshold, xp)
    eps = float(np.finfo(unfolding.dtype).eps)
    # sigma_1^2 >= ||Y||_F^2 / I: when even that lower bound puts the threshold under the Gram
    # noise level, skip the Gram matrix altogether (compared unsquared: no overflow).
    if threshold is not None and threshold <= norm(unfolding) * math.sqrt(
        _GRAM_SAFETY * eps / math.sqrt(n_rows)
    ):
        return _accurate(unfolding, rank, threshold, xp)
    # For real data skip conj: numpy then sees Y @ Y.T and uses a symmetric rank-k update.
    adjoint = xp.conj(unfolding).T if np.dtype(unfolding.dtype).kind == "c" else unfolding.T
    with np.errstate(over="ignore", under="ignore"):
        gram = unfolding @ adjoint
    # The largest diagonal entry (a squared row norm) tells, for free, whether squaring left the
    # safe range; only then is max|Y| computed and Y rescaled by a power of two.
    low, high = _band(unfolding.dtype)
    top = float(xp.max(xp.real(native(xp).diagonal(gram))))
    if not low**2 <= top <= high**2:
        s = safe_scale(unfolding, xp)
        if s != 1.0:
            u, sigma = leading_subspace(
                unfolding * s, rank=rank, threshold=None if threshold is None else threshold * s, xp=xp
            )
            return u, sigma / s
        if not math.isfinite(top):
            return _accurate(unfolding, rank, threshold, xp)
    eigvals, eigvecs = _eigh(gram, xp)
    lam = np.maximum(to_numpy(eigvals)[::-1], 0.0)  # descending
    eigvecs = eigvecs[:, ::-1]
    noise = _GRAM_SAFETY * eps * lam[0] * math.sqrt(n_rows)
    r = rank if rank is not None else _rank_from_tail(lam, threshold)
    decisive = lam[r - 1] if rank is not None else min(threshold**2, lam[r - 1])
    if lam[0] == 0.0 or decisive > noise:
        return eigvecs[:, :r], np.sqrt(lam)
    return _accurate(unfolding, rank, threshold, xp)


def rank_from_tail(sigma: np.ndarray, threshold: float) -> int:
    """Smallest ``r >= 1`` with ``sqrt(sum_{i >= r} sigma_i^2) <= threshold`` (sigma descending).

    The sums are formed relative to ``sigma_1`` (a power of two), so any finite scale works.
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    top = float(np.max(sigma)) if sigma.size else 0.0
    if top == 0.0 or not math.isfinite(top):
        return _rank_from_tail(sigma**2, threshold)
    # np.ldexp, not a factor 2**-e: for subnormal sigma the factor itself (2**1030) overflows, the
    # products do not; a threshold far above sigma_1 may become inf, which keeps one term as it should
    exponent = -math.frexp(top)[1]
    with np.errstate(over="ignore"):
        scaled_threshold = np.ldexp(np.float64(threshold), exponent)
    return _rank_from_tail(np.ldexp(sigma, exponent) ** 2, scaled_threshold)


def _rank_from_tail(lam: np.ndarray, threshold: float) -> int:
    # tails[r] = sum_{i >= r} lam_i, summed from the smallest term for accuracy
    tails = np.concatenate([np.cumsum(lam[::-1])[::-1], [0.0]])
    with np.errstate(over="ignore"):  # a threshold above sqrt(max float) keeps one term
        ok = np.nonzero(tails <= np.float64(threshold) ** 2)[0]
    return max(1, int(ok[0]))


def accurate_subspace(unfolding: Any, *, rank: int, xp: Any) -> tuple[Any, Any]:
    """As :func:`leading_subspace` with ``rank``, always by QR + SVD (never a Gram matrix): the
    subspace of every singular value resolved by the working precision, at about twice the flops."""
    rank = check_int(rank, "rank", minimum=1, maximum=min(unfolding.shape))
    return _accurate(unfolding, rank, None, xp)


def _accurate(unfolding, rank, threshold, xp):
    n_rows, n_cols = unfolding.shape
    nxp = native(xp)
    if n_cols > n_rows:
        # Y = R^H Q^H with Y^H = Q R: the left singular vectors of Y are those of R^H.
        # numpy's and CuPy's mode="r" return the square R (scipy's pads it with zero rows)
        r_factor = nxp.linalg.qr(xp.conj(unfolding).T, mode="r")
        small = xp.conj(r_factor).T
    else:
        small = unfolding
    u, s, _ = nxp.linalg.svd(small, full_matrices=False)
    sigma = to_numpy(s).astype(np.float64)
    r = rank if rank is not None else rank_from_tail(sigma, threshold)
    return u[:, :r], sigma


def _eigh(gram, xp):
    """Eigenpairs in ascending order (numpy's ``eigh`` measured fastest here for these sizes,
    ahead of scipy's subset drivers)."""
    return native(xp).linalg.eigh(gram)
