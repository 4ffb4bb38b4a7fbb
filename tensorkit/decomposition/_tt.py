"""Tensor-train decomposition by TT-SVD (Oseledets 2011), with ranks fixed or by a guaranteed tolerance."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .._info import Info
from .._progress import progress_bar
from .._validation import check_tol
from ..backend import resolve_backend, to_numpy
from ..formats import TTTensor
from ._ranks import tt_rank
from ._tucker import (
    check_dense_input,
    check_norm_in_range,
    exactly_one_of_rank_and_tol,
    warn_if_rounding_missed,
)
from .linalg import norm as scaled_norm
from .linalg import scale_into_range, unscale

__all__ = ["tt"]


def tt(
    tensor: Any,
    rank: int | Sequence[int] | float | None = None,
    *,
    tol: float | None = None,
    backend: str | None = None,
    progress: bool = False,
) -> TTTensor:
    r"""Tensor-train decomposition ``X ~ G_1 G_2 ... G_N`` by sequential truncated SVDs (TT-SVD).

    Sweeping left to right, the remainder is reshaped to ``(r_{k-1} I_k, I_{k+1} ... I_N)``, its
    SVD truncated to ``r_k`` terms, ``U`` becomes core ``G_k`` (left-orthonormal) and ``S V^H``
    the next remainder. The squared error is exactly the sum of the squared discarded singular
    values over the ``N - 1`` truncations.

    Parameters
    ----------
    tensor : array of order >= 2 (numpy or CuPy; real or complex; integers promoted to float64)
    rank : int, sequence of int or float, optional
        Maximum TT ranks: an int for every bond, ``N - 1`` inner ranks, ``N + 1`` ranks with
        the boundary 1s (tensorly's convention), or a float fraction of the parameter count (as
        :func:`tensorkit.decomposition.resolve_rank` reads it). Ranks above what the shape allows
        are lowered to it (``r_k <= min(I_1 ... I_k, I_{k+1} ... I_N)``).
    tol : float in (0, 1), optional
        Relative error target. Exactly one of ``rank`` and ``tol`` is given. Each truncation keeps
        the smallest ``r_k`` whose discarded singular values satisfy
        :math:`\sqrt{\sum_{i > r_k} \sigma_i^2} \le tol \|X\|_F / \sqrt{N - 1}`, which guarantees
        :math:`\|X - \hat X\|_F \le tol \|X\|_F`.
    backend : {"numpy", "numba", "cupy"} or None
        Checked against the device of ``tensor`` (TT-SVD needs no custom kernel).
    progress : bool
        Show a progress bar over the ``N - 1`` truncations.

    Returns
    -------
    TTTensor
        Cores ``(r_{k-1}, I_k, r_k)`` in the input's dtype and device; ``info.rel_error`` is the
        achieved relative error (from the discarded singular values).

    Examples
    --------
    >>> import numpy as np, tensorkit
    >>> rng = np.random.default_rng(0)
    >>> cores = [rng.standard_normal(s) for s in [(1, 6, 2), (2, 7, 3), (3, 8, 1)]]
    >>> X = tensorkit.TTTensor(cores).to_dense()
    >>> tensorkit.tt(X, tol=1e-10).ranks
    (1, 2, 3, 1)

    References
    ----------
    I. V. Oseledets, "Tensor-train decomposition", SIAM J. Sci. Comput. 33 (2011) 2295-2317,
    Algorithm 1 and Theorem 2.2.
    """
    tensor, xp = check_dense_input(tensor)
    resolve_backend(backend, tensor)
    exactly_one_of_rank_and_tol(rank, tol)
    shape = tuple(int(s) for s in tensor.shape)
    n_modes = len(shape)
    max_ranks = _feasible_ranks(shape)
    if tol is not None:
        tol = check_tol(tol)
    tensor, scale = scale_into_range(tensor, xp)
    norm = scaled_norm(tensor)
    check_norm_in_range(norm, scale)
    if tol is not None:
        threshold = tol * norm / math.sqrt(n_modes - 1)
        caps = max_ranks
    else:
        threshold = None
        caps = tuple(min(r, m) for r, m in zip(tt_rank(rank, shape)[1:-1], max_ranks, strict=True))

    cores = []
    discarded_sq = 0.0  # relative to ||X||^2
    left = 1
    remainder = xp.reshape(tensor, (shape[0], -1))
    with progress_bar(progress, total=n_modes - 1, desc="tt_svd") as bar:
        for k in range(n_modes - 1):
            remainder = xp.reshape(remainder, (left * shape[k], -1))
            u, s, vh = xp.linalg.svd(remainder, full_matrices=False)
            # LAPACK's SVD scales its input; the squares below are taken relative to ||X|| so that
            # they neither overflow nor underflow at any scale of X
            unit = norm if norm > 0 else 1.0
            s_host = [float(v) / unit for v in to_numpy(s)]
            # tails[r] = sqrt(sum_{i >= r} s_i^2): the error of keeping r terms
            tails_sq = [0.0] * (len(s_host) + 1)
            for i in range(len(s_host) - 1, -1, -1):
                tails_sq[i] = tails_sq[i + 1] + s_host[i] ** 2
            if threshold is None:
                r = caps[k]
            else:
                r = next(
                    r for r in range(1, len(s_host) + 1) if math.sqrt(tails_sq[r]) <= threshold / unit
                )
            r = max(1, min(r, len(s_host)))
            discarded_sq += tails_sq[r]
            cores.append(xp.reshape(u[:, :r], (left, shape[k], r)))
            remainder = xp.astype(s[:r, None], vh.dtype) * vh[:r]
            left = r
            bar.update()
    last, exact = unscale(xp.reshape(remainder, (left, shape[-1], 1)), scale, xp)
    cores.append(last)
    rel_error = math.sqrt(discarded_sq) if norm > 0 else 0.0
    if not exact:  # the last core of subnormal data rounded on the way back: the error it has now
        rounded = TTTensor([*cores[:-1], last * scale])
        rel_error = scaled_norm(tensor - rounded.to_dense()) / norm
        warn_if_rounding_missed(rel_error, tol)
    return TTTensor(cores, info=Info(method="tt_svd", rel_error=rel_error))


def _feasible_ranks(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Largest TT ranks a tensor of ``shape`` can need: ``min(prod(I_1..I_k), prod(I_k+1..I_N))``."""
    out = []
    for k in range(1, len(shape)):
        out.append(min(math.prod(shape[:k]), math.prod(shape[k:])))
    return tuple(out)
