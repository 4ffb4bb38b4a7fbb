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
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend import frobenius_norm, native, to_numpy

__all__ = ["leading_subspace", "rank_from_tail"]

# How far above the Gram noise level (eps * sigma_1^2 * sqrt(I)) a decision must sit to trust it.
_GRAM_SAFETY = 1e3


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
    n_rows, n_cols = unfolding.shape
    if n_cols <= n_rows:
        return _accurate(unfolding, rank, threshold, xp)
    eps = float(np.finfo(unfolding.dtype).eps)
    if threshold is not None:
        # sigma_1^2 >= ||Y||_F^2 / I: when even that lower bound puts the threshold under the
        # Gram noise level, skip the Gram matrix altogether.
        lower = frobenius_norm(unfolding) ** 2 / n_rows
        if threshold**2 <= _GRAM_SAFETY * eps * lower * math.sqrt(n_rows):
            return _accurate(unfolding, rank, threshold, xp)
    # For real data skip conj: numpy then sees Y @ Y.T and uses a symmetric rank-k update.
    adjoint = xp.conj(unfolding).T if np.dtype(unfolding.dtype).kind == "c" else unfolding.T
    gram = unfolding @ adjoint
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
    """Smallest ``r >= 1`` with ``sqrt(sum_{i >= r} sigma_i^2) <= threshold`` (sigma descending)."""
    return _rank_from_tail(np.asarray(sigma, dtype=np.float64) ** 2, threshold)


def _rank_from_tail(lam: np.ndarray, threshold: float) -> int:
    # tails[r] = sum_{i >= r} lam_i, summed from the smallest term for accuracy
    tails = np.concatenate([np.cumsum(lam[::-1])[::-1], [0.0]])
    ok = np.nonzero(tails <= threshold**2)[0]
    return max(1, int(ok[0]))


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
