"""The ``"s2grid"`` Gaunt product: synthesis on a sphere grid, pointwise product, exact analysis.

With ``F_i(theta, phi) = sum_lm x_i,lm Y_lm`` and ``Y_lm = bar P_l^{|m|}(cos theta) Phi_m(phi)``
(``Phi_0 = 1``, ``Phi_m = sqrt2 cos(m phi)``, ``Phi_{-m} = sqrt2 sin(|m| phi)``),

.. math::

    \\mathrm{GTP}(x_1, x_2)_{l_3 m_3} = \\sum_{t, p} w_t \\frac{2 \\pi}{N}
    F_1(\\theta_t, \\varphi_p) F_2(\\theta_t, \\varphi_p) Y_{l_3 m_3}(\\theta_t, \\varphi_p)

on ``n_theta = D // 2 + 1`` Gauss-Legendre nodes ``cos theta_t`` (weights ``w_t``) times
``N = D + 1`` uniform ``phi_p = 2 pi p / N``, ``D = L1 + L2 + Lout``. The integrand is a polynomial
of degree ``D`` in ``cos theta`` (after the powers of ``sin theta`` pair up) and a trigonometric
polynomial of degree ``D`` in ``phi``, so the rule is exact (Xie et al. 2025).

Both directions are matmuls. In ``theta``, per order ``m``, a Legendre table
``bar P_l^{|m|}(theta_t)`` maps degrees to nodes (a batched matmul over orders). In ``phi`` a
cosine/sine table maps orders to angles, folded onto half the circle: ``phi_p`` and ``phi_{N-p}``
share cosines and have opposite sines, so ``F(phi_p) = E_p + O_p`` and ``F(phi_{N-p}) = E_p - O_p``
with ``E`` the cosine (and ``m = 0``) part and ``O`` the sine part, each needed only for
``p <= N // 2``. That halves the ``phi`` matmuls, the dominant cost: O(L^3) per product in a few
large BLAS calls. A matmul beat ``rfft`` in ``phi`` at every L <= 16 on the CPU.

References
----------
Y. Xie et al., "The Price of Freedom: Exploring Expressivity and Runtime Tradeoffs in Equivariant
Tensor Products", arXiv:2506.13523.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.special

from ._sph_harm import gather_index, legendre_by_order, to_order_degree

__all__ = ["s2grid_product", "s2grid_tables"]


def s2grid_tables(lmax1: int, lmax2: int, lmax_out: int) -> dict[str, Any]:
    """Host (float64 / index) tables of the grid route for these degrees.

    ``leg1``, ``leg2`` (order, node, degree) synthesis Legendre tables; ``cos*``/``sin*`` the folded
    ``phi`` tables (half circle x orders ``m >= 0`` / ``m < 0``); ``leg_out``, ``cos_out``,
    ``sin_out`` the analysis tables with the quadrature weights folded in; ``idx*`` the layout
    indices; ``grid_size`` the number of grid nodes (a Python int, for chunking).
    """
    degree = lmax1 + lmax2 + lmax_out
    n_theta = degree // 2 + 1
    n_phi = degree + 1
    cos_theta, w_theta = scipy.special.roots_legendre(n_theta)
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    # phi_p and phi_{N-p} share cosines and have opposite sines: only p = 0..N//2 are evaluated.
    half = np.arange(n_phi // 2 + 1)
    phi = 2 * np.pi * half / n_phi
    tables: dict[str, Any] = {}
    for name, lmax in (("1", lmax1), ("2", lmax2)):
        table = _phi_table(lmax, phi)  # columns m = -L..L
        tables["idx" + name] = gather_index(lmax)
        tables["leg" + name] = legendre_by_order(lmax, cos_theta, sin_theta)
        tables["cos" + name] = np.ascontiguousarray(table[:, lmax:])
        tables["sin" + name] = np.ascontiguousarray(table[:, :lmax])
    analysis = legendre_by_order(lmax_out, cos_theta, sin_theta) * w_theta[None, :, None]
    tables["leg_out"] = np.ascontiguousarray(np.swapaxes(analysis, 1, 2))
    # Quadrature weight 2 pi / N, doubled for the points that stand for a pair (p, N - p).
    paired = (half != 0) & (2 * half != n_phi)
    weight = (2 * np.pi / n_phi) * np.where(paired, 2.0, 1.0)
    table = _phi_table(lmax_out, phi) * weight[:, None]
    tables["cos_out"] = np.ascontiguousarray(table[:, lmax_out:].T)
    tables["sin_out"] = np.ascontiguousarray(table[:, :lmax_out].T)
    tables["idx_out"] = _scatter_index(lmax_out)
    tables["grid_size"] = n_theta * n_phi
    return tables


def s2grid_product(x1: Any, x2: Any, t: dict[str, Any], same: bool, xp: Any):
    """The product of ``x1`` (*b1, K1) and ``x2`` (*b2, K2) with the device tables ``t``.

    The batch shapes broadcast; ``same`` says ``x2 is x1`` (one synthesis serves both).
    """
    e1, o1 = _synthesis(x1, t["leg1"], t["cos1"], t["sin1"], t["idx1"], xp)
    e2, o2 = (e1, o1) if same else _synthesis(x2, t["leg2"], t["cos2"], t["sin2"], t["idx2"], xp)
    # Product on the pair (p, N - p): (E1 + O1)(E2 + O2) and (E1 - O1)(E2 - O2). Their half-sum
    # (even part) and half-difference (odd part) are all the analysis needs.
    even = e1 * e2
    if o1 is not None and o2 is not None:
        even = even + o1 * o2
    if o1 is None and o2 is None:
        odd = None
    elif o1 is None:
        odd = e1 * o2
    elif o2 is None:
        odd = o1 * e2
    else:
        odd = 2 * (e1 * o2) if same else e1 * o2 + o1 * e2
    n_half, n_theta = even.shape[:2]
    batch = tuple(even.shape[2:])
    by_order = t["cos_out"] @ xp.reshape(even, (n_half, -1))  # orders m = 0..Lout
    lmax_out = t["sin_out"].shape[0]
    if lmax_out:
        if odd is None:
            sines = xp.zeros((lmax_out, by_order.shape[1]), dtype=by_order.dtype)
        else:
            sines = t["sin_out"] @ xp.reshape(xp.broadcast_to(odd, even.shape), (n_half, -1))
        by_order = xp.concat([sines, by_order], axis=0)  # orders m = -Lout..Lout
    by_order = xp.reshape(by_order, (by_order.shape[0], n_theta, -1))
    coeffs = t["leg_out"] @ by_order  # (2Lout+1, Lout+1, B)
    flat = xp.reshape(coeffs, (-1, coeffs.shape[-1]))
    out = xp.matrix_transpose(xp.take(flat, t["idx_out"], axis=0))
    return xp.reshape(out, (*batch, out.shape[-1]))


def _synthesis(x, leg, cos, sin, idx, xp):
    """Even and odd parts in phi on the half grid, each of shape (n_phi//2 + 1, n_theta, *batch).

    ``F(phi_p) = E_p + O_p`` and ``F(phi_{N-p}) = E_p - O_p``: E sums the cosine (and m = 0)
    terms, O the sine terms (None for L = 0, which has no sine terms).
    """
    lmax = sin.shape[1]
    coeffs = to_order_degree(x, idx, xp)
    by_order = leg @ coeffs  # (2L+1, n_theta, B), orders m = -L..L
    _, n_theta, b = by_order.shape
    shape = (cos.shape[0], n_theta, *x.shape[:-1])
    even = xp.reshape(cos @ xp.reshape(by_order[lmax:], (lmax + 1, n_theta * b)), shape)
    if lmax == 0:
        return even, None
    odd = xp.reshape(sin @ xp.reshape(by_order[:lmax], (lmax, n_theta * b)), shape)
    return even, odd


def _phi_table(lmax: int, phi: np.ndarray) -> np.ndarray:
    """``table[p, m + lmax] = Phi_m(phi_p)``: 1, sqrt2 cos(m phi) (m > 0), sqrt2 sin(|m| phi) (m < 0)."""
    m = np.arange(-lmax, lmax + 1)
    angle = np.abs(m)[None, :] * phi[:, None]
    return np.where(m < 0, math.sqrt(2) * np.sin(angle), np.where(m > 0, math.sqrt(2) * np.cos(angle), 1.0))


def _scatter_index(lmax: int) -> np.ndarray:
    """Flat positions in an (order, degree) array of the output coefficients, in output order."""
    return np.array(
        [(m + lmax) * (lmax + 1) + l for l in range(lmax + 1) for m in range(-l, l + 1)], dtype=np.intp
    )
