"""Calculus on Chebyshev-Tucker coefficients: integrals, derivatives and the L2 norm.

Every operation acts on the small factors ``V_k`` (or contracts them with the core), never on the
``prod(m_k)`` coefficient tensor. The public methods are :meth:`ChebTucker.integrate`,
:meth:`ChebTucker.diff`, :meth:`ChebTucker.laplacian` and :meth:`ChebTucker.norm`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..decomposition.linalg import safe_scale
from ..formats import TuckerTensor
from ..tenalg import multi_mode_dot

__all__ = ["derivative_factor", "integral", "l2_norm"]


def integral(coefficients: TuckerTensor, domain: Sequence[tuple[float, float]], axes: Sequence[int],
             xp: Any) -> Any:
    """Integrate over ``axes``: the remaining function's coefficients, or the 0-d array of the value.

    ``int f dx_k`` contracts mode ``k`` with ``(b_k - a_k)/2 w^T V_k``, where
    ``w_j = int_{-1}^{1} T_j = 2 / (1 - j^2)`` for even ``j`` and 0 for odd ``j``.
    """
    factors = coefficients.factors
    vectors = [xp.asarray(_integral_weights(factors[k].shape[0]), dtype=coefficients.dtype)
               * (0.5 * (domain[k][1] - domain[k][0])) @ factors[k] for k in axes]
    core = multi_mode_dot(coefficients.core, vectors, axes, xp=xp)
    keep = [k for k in range(len(factors)) if k not in axes]
    if not keep:
        return core
    return TuckerTensor(core, [factors[k] for k in keep])


def derivative_factor(v: Any, interval: tuple[float, float], order: int, xp: Any) -> Any:
    """The coefficient factor of ``d^order / dx^order`` along one axis (``m`` rows -> ``m - order``,
    at least one): the Chebyshev derivative recurrence times ``2 / (b - a)`` per derivative."""
    a, b = interval
    for _ in range(order):
        v = _chebder(v, xp) * (2.0 / (b - a))
    return v


def l2_norm(coefficients: TuckerTensor, domain: Sequence[tuple[float, float]], xp: Any) -> float:
    """``sqrt(int f^2)`` over the box, exact for the stored polynomial.

    ``int f^2 = <G, G x_1 M_1 ... x_d M_d>`` with ``M_k = V_k^T W V_k (b_k - a_k)/2`` and
    ``W_ij = int_{-1}^{1} T_i T_j = (w_{i+j} + w_{|i-j|}) / 2``.
    """
    grams = []
    for k, v in enumerate(coefficients.factors):
        m = v.shape[0]
        w = _integral_weights(2 * m - 1)
        i = np.arange(m)
        gram = 0.5 * (w[i[:, None] + i[None, :]] + w[np.abs(i[:, None] - i[None, :])])
        scale = 0.5 * (domain[k][1] - domain[k][0])
        grams.append(xp.conj(v).T @ (xp.asarray(gram, dtype=v.dtype) @ v) * scale)
    # the quadratic form squares the core's scale: evaluate it on the core times a power of two
    scale = safe_scale(coefficients.core, xp)
    core = coefficients.core * scale if scale != 1.0 else coefficients.core
    value = float(xp.sum(xp.conj(core) * multi_mode_dot(core, grams, xp=xp)).real)
    return math.sqrt(max(value, 0.0)) / scale


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
