"""Gaunt coefficients: integrals of three real spherical harmonics.

.. math::

    G^{l_1 l_2 l_3}_{m_1 m_2 m_3} = \\int_{S^2} Y_{l_1 m_1} Y_{l_2 m_2} Y_{l_3 m_3} \\, d\\Omega .

The integral separates in ``(theta, phi)``. The ``phi`` factor is a product of three of
``1, sqrt2 cos(m phi), sqrt2 sin(m phi)``; the ``theta`` factor is a polynomial of degree
``l1 + l2 + l3`` in ``cos theta`` (the powers of ``sin theta`` pair up, because the ``phi`` factor
vanishes unless ``|m1| + |m2| + |m3|`` is even), so Gauss-Legendre quadrature with
``(l1 + l2 + l3) // 2 + 1`` nodes and a uniform ``phi`` rule with more than ``l1 + l2 + l3`` points
are both exact; every number is computed in float64 and is exact to round-off. Since an orthogonal
change of axes leaves these integrals unchanged, the textbook z-polar frame gives the coefficients of
e3nn's y-polar harmonics too.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import array_api_compat.numpy as host_xp
import numpy as np
import scipy.special

from .._validation import check_choice, check_int
from ..backend import to_device
from ._limits import check_coefficient_tables
from ._sph_harm import normalized_legendre

__all__ = ["gaunt_coefficients"]


def gaunt_coefficients(l1: int, l2: int, l3: int, *, device: str | None = None) -> Any:
    """The dense block of Gaunt coefficients for degrees ``(l1, l2, l3)``.

    Parameters
    ----------
    l1, l2, l3 : int
        Non-negative degrees.
    device : {None, "cpu", "gpu"}
        Where the block is created: None or ``"cpu"`` a numpy array, ``"gpu"`` a CuPy array.

    Returns
    -------
    array of shape (2*l1+1, 2*l2+1, 2*l3+1), float64
        ``G[m1 + l1, m2 + l2, m3 + l3]`` is the integral over the unit sphere of
        ``Y_{l1 m1} Y_{l2 m2} Y_{l3 m3}`` (orthonormal real harmonics in the order of
        :func:`real_sph_harm`). All zero unless ``l1 + l2 + l3`` is even and the degrees satisfy
        the triangle inequality. On the CPU the array is read-only (it is cached); a GPU block is
        a fresh copy of it.

    Raises
    ------
    MemoryError
        When the block and the tables it is computed from (``O(L^3)`` numbers for the largest
        degree ``L``) cannot fit, before computing anything.

    Notes
    -----
    A rescaled real Clebsch-Gordan block:
    ``G = sqrt((2l1+1)(2l2+1)(2l3+1) / (4 pi)) (l1 l2 l3; 0 0 0) C`` with ``C`` the real Wigner 3j
    block of unit Frobenius norm (up to its sign convention).

    Examples
    --------
    >>> from tensorkit.gaunt import gaunt_coefficients
    >>> import numpy as np
    >>> G = gaunt_coefficients(1, 1, 0)
    >>> bool(np.allclose(G[:, :, 0], np.eye(3) / np.sqrt(4 * np.pi)))
    True
    """
    l1 = check_int(l1, "l1", minimum=0)
    l2 = check_int(l2, "l2", minimum=0)
    l3 = check_int(l3, "l3", minimum=0)
    check_choice(device, "device", (None, "cpu", "gpu"))
    check_coefficient_tables(l1, l2, l3)
    block = _gaunt_block(l1, l2, l3)
    return to_device(block, "gpu") if device == "gpu" else block


@lru_cache(maxsize=4096)
def _gaunt_block(l1: int, l2: int, l3: int) -> np.ndarray:
    if (l1 + l2 + l3) % 2 or l3 > l1 + l2 or l3 < abs(l1 - l2):
        block = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1))
    else:
        legendre = _legendre_on_nodes(max(l1, l2, l3), (l1 + l2 + l3) // 2 + 1)
        block = _block_from_tables(l1, l2, l3, legendre)
    block.setflags(write=False)
    return block


def gaunt_tensor_blocks(lmax1: int, lmax2: int, lmax_out: int):
    """All non-zero blocks ``((l1, l2, l3), G)`` for ``l1 <= lmax1, l2 <= lmax2, l3 <= lmax_out``.

    One shared Legendre table serves every block, so building a whole plan costs one pass.
    """
    lmax = max(lmax1, lmax2, lmax_out)
    legendre = _legendre_on_nodes(lmax, (lmax1 + lmax2 + lmax_out) // 2 + 1)
    for l1 in range(lmax1 + 1):
        for l2 in range(lmax2 + 1):
            for l3 in range(abs(l1 - l2), min(l1 + l2, lmax_out) + 1, 2):
                yield (l1, l2, l3), _block_from_tables(l1, l2, l3, legendre)


def _block_from_tables(l1: int, l2: int, l3: int, legendre) -> np.ndarray:
    weights, table = legendre
    theta = np.einsum(
        "t,ta,tb,tc->abc", weights, table[l1], table[l2], table[l3], optimize=True
    )
    lm = max(l1, l2, l3)
    phi = _phi_integrals(lm)
    block = theta * phi[
        lm - l1 : lm + l1 + 1, lm - l2 : lm + l2 + 1, lm - l3 : lm + l3 + 1
    ]
    return block


@lru_cache(maxsize=64)
def _legendre_on_nodes(lmax: int, n_nodes: int):
    """Gauss-Legendre weights and, per degree, ``bar P_l^{|m|}(cos theta_t)`` for m = -l..l."""
    nodes, weights = scipy.special.roots_legendre(n_nodes)
    sin_theta = np.sqrt(1.0 - nodes * nodes)
    q = normalized_legendre(lmax, nodes, host_xp)
    table = []
    for l in range(lmax + 1):
        cols = [q[(l, abs(m))] * sin_theta ** abs(m) for m in range(-l, l + 1)]
        table.append(np.stack(cols, axis=-1))
    return weights, table


@lru_cache(maxsize=16)
def _phi_integrals(lmax: int) -> np.ndarray:
    """``int_0^{2 pi} Phi_a Phi_b Phi_c dphi`` for a, b, c in -lmax..lmax (exact zeros kept).

    ``Phi_0 = 1``, ``Phi_m = sqrt2 cos(m phi)``, ``Phi_{-m} = sqrt2 sin(m phi)``. Each is a sum of at
    most two exponentials ``e^{i s phi}``; the integral keeps the terms whose frequencies add to 0.
    """
    size = 2 * lmax + 1
    coef = np.zeros((size, size), dtype=complex)  # coef[m, s]: weight of e^{i s phi} in Phi_m
    coef[lmax, lmax] = 1.0
    r = 1.0 / math.sqrt(2.0)
    for m in range(1, lmax + 1):
        coef[lmax + m, lmax + m] = r
        coef[lmax + m, lmax - m] = r
        coef[lmax - m, lmax + m] = -1j * r
        coef[lmax - m, lmax - m] = 1j * r
    out = np.zeros((size, size, size))
    s = np.arange(-lmax, lmax + 1)
    for a in range(size):
        for sa in np.flatnonzero(coef[a]):
            for b in range(size):
                for sb in np.flatnonzero(coef[b]):
                    sc = -(s[sa] + s[sb])
                    if abs(sc) > lmax:
                        continue
                    out[a, b, :] += 2 * np.pi * (coef[a, sa] * coef[b, sb] * coef[:, sc + lmax]).real
    return out
