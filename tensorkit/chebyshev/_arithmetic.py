"""Arithmetic on Chebyshev-Tucker coefficients, with recompression.

Sums stack the factors and place the cores block-diagonally; pointwise products sample both
operands on the product's Chebyshev grid in Tucker form and take row-wise Kronecker products.
Either way the ranks add or multiply, so every result is rounded: QR of the factors, a truncated
HOSVD of the small core, and trailing coefficient rows that carry less than ``tol / 10`` dropped.
The public methods are :meth:`ChebTucker.round` and the operators of :class:`ChebTucker`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..decomposition.linalg import norm as scaled_norm
from ..formats import TuckerTensor
from ..tenalg import mode_dot
from ._construct import compress, constant_tucker
from ._transform import chebyshev_points, chebyshev_vandermonde, values_to_coefficients

__all__ = ["MAX_PRODUCT_CORE", "add", "coefficient_norm", "multiply", "rounded"]

# Largest Kronecker core a pointwise product may form (entries).
MAX_PRODUCT_CORE = 50_000_000


def rounded(coefficients: TuckerTensor, tol: float, rank: Sequence[int] | None, xp: Any, *,
            scale: float | None = None) -> TuckerTensor:
    """Recompress to relative accuracy ``tol`` (threshold ``tol * scale`` when a scale is given) or
    to ``rank``.

    With ``V_k = Q_k R_k`` the coefficient tensor is ``(G x_k R_k) x_k Q_k`` and its norm is that of
    the small core ``G x_k R_k``, which :func:`compress` truncates. Sums pass the largest operand's
    norm as ``scale``, so that cancellation (``f - f``) leaves zero rather than noise blown up to
    relative size ``tol``.
    """
    qs, core = [], coefficients.core
    for k, v in enumerate(coefficients.factors):
        q, r = xp.linalg.qr(v)
        qs.append(q)
        core = mode_dot(core, r, k, xp=xp)
    norm = scaled_norm(core)  # without overflow or underflow at any scale of the function
    level = tol if scale is None or norm == 0.0 else tol * scale / norm
    if rank is None and (norm == 0.0 or level >= 1.0):
        return constant_tucker(0.0, coefficients.ndim, coefficients.dtype, xp)
    small = compress(core, level, rank, xp)
    factors = [q @ u for q, u in zip(qs, small.factors, strict=True)]
    return TuckerTensor(small.core, _chop_rows(factors, small.core, level, xp))


def coefficient_norm(coefficients: TuckerTensor, xp: Any) -> float:
    """``||G x_1 V_1 ... x_d V_d||_F`` through the ``R`` factors of QR (no dense tensor)."""
    core = coefficients.core
    for k, v in enumerate(coefficients.factors):
        core = mode_dot(core, xp.linalg.qr(v)[1], k, xp=xp)
    return scaled_norm(core)


def add(terms: Sequence[TuckerTensor], tol: float, xp: Any) -> TuckerTensor:
    """The sum of coefficient tensors (one box): block-diagonal core, stacked factors, rounded to
    ``tol`` relative to the largest term."""
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
    scale = max(coefficient_norm(t, xp) for t in terms)
    return rounded(TuckerTensor(core, factors), tol, None, xp, scale=scale)


def multiply(a: TuckerTensor, b: TuckerTensor, tol: float, xp: Any) -> TuckerTensor:
    """The pointwise product of two functions on one box, rounded to ``tol``.

    Degrees ``p`` and ``q`` give degree ``p + q``: both are sampled at its ``p + q + 1`` Chebyshev
    points in Tucker form (factors ``T(x)^T V_k``), the product's factors are the row-wise Kronecker
    products and its core the Kronecker product of the cores, transformed back to coefficients.

    Raises
    ------
    ValueError
        When the Kronecker core would exceed :data:`MAX_PRODUCT_CORE` entries.
    """
    d = a.ndim
    big = math.prod(ra * rb for ra, rb in zip(a.ranks, b.ranks, strict=True))
    if big > MAX_PRODUCT_CORE:
        raise ValueError(
            f"the pointwise product of ranks {a.ranks} and {b.ranks} needs a Kronecker core of "
            f"{big:,} entries (more than {MAX_PRODUCT_CORE:,}); round the factors to a looser tol first"
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
    return rounded(TuckerTensor(core, factors), tol, None, xp)


def _chop_rows(factors, core, tol, xp):
    """Drop trailing coefficient rows whose contribution is below ``tol / 10`` of the norm."""
    norm = scaled_norm(core)
    if norm == 0.0:
        return factors
    out = []
    d = len(factors)
    unit = core / norm  # squares relative to the norm neither overflow nor underflow
    for k, v in enumerate(factors):
        # Error of zeroing rows >= j of V_k: ||V_k[j:] G_(k)||_F (the Q factors are orthonormal).
        moved = xp.reshape(xp.moveaxis(unit, k, 0), (core.shape[k], -1))
        rows = xp.linalg.vector_norm(v @ moved, axis=1) ** 2
        tails = xp.flip(xp.cumsum(xp.flip(rows)))
        ok = xp.nonzero(tails <= (0.1 * tol / math.sqrt(d)) ** 2)[0]
        keep = max(1, int(ok[0])) if ok.shape[0] else v.shape[0]
        out.append(v[:keep])
    return out
