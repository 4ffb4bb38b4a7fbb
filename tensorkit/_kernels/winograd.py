r"""Winograd's minimal filtering matrices (Toom-Cook construction) for :class:`tensorkit.nn.Conv2d`.

For ``F(m, r)`` (``m`` outputs of an ``r``-tap correlation from ``a = m + r - 1`` inputs) pick ``a - 1``
distinct finite points ``p_j`` and the point at infinity. Then

.. math::

    y = A^T \big[ (G g) \odot (B^T d) \big], \qquad
    A^T_{ij} = p_j^i, \quad G_{jk} = p_j^k / f_j, \quad
    B^T_{j\cdot} = \text{coefficients of } \textstyle\prod_{l \ne j} (x - p_l),

with ``f_j = prod_{l != j} (p_j - p_l)`` over the finite points, and for the point at infinity the
last column of ``A^T`` is ``e_{m-1}``, the last row of ``G`` is ``e_{r-1}`` and the last row of
``B^T`` holds the coefficients of ``prod_l (x - p_l)``. In 2D the tile product is
``Y = A^T [(G g G^T) (.) (B^T d B)] A`` (Lavin and Gray, 2016); its ``a^2`` products per tile replace
``m^2 r^2`` (2.25x fewer for ``F(2, 3)``, 3.24x for ``F(3, 3)``, 4x for ``F(4, 3)``).

The matrices are built in exact rational arithmetic and rounded once to float64.

References
----------
A. Lavin and S. Gray, "Fast algorithms for convolutional neural networks", CVPR 2016.
B. Barabasz, A. Anderson, K. M. Soodhalter and D. Gregg, "Error analysis and improving the accuracy
of Winograd convolution for deep neural networks", ACM TOMS 46 (2020).
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np

# Points per output tile size: Lavin and Gray's for F(2, 3) and F(4, 3) ({0, +-1, +-1/2}, Barabasz et
# al.'s choice, measured no more accurate for F(4, 3) here). For F(3, 3), +-1/3, +-4/3 had the least
# float32 error (RMS, 2 x 32 x 48x48, 2 seeds) of the sets +-p, +-q with p in {1/4, 1/3, 2/5, 1/2, 3/5,
# 2/3}, q in {1, 5/4, 4/3, 3/2, 5/3, 2} (+-2/5, +-5/4 tied), 2x less than {0, +-1, +-2} or {0, +-1, +-1/2};
# rescaling rows of G and B^T against columns of A^T (150 random tries) did not lower it.
POINTS = {2: (0, 1, -1), 3: (Fraction(1, 3), Fraction(-1, 3), Fraction(4, 3), Fraction(-4, 3)),
          4: (0, 1, -1, 2, -2)}


@lru_cache(maxsize=8)
def winograd_matrices(m: int, r: int = 3, points: tuple | None = None) -> tuple[np.ndarray, ...]:
    """``(A^T, G, B^T)`` of ``F(m, r)`` as float64 arrays ``(m, a)``, ``(a, r)``, ``(a, a)``.

    Examples
    --------
    >>> from tensorkit._kernels.winograd import winograd_matrices
    >>> AT, G, BT = winograd_matrices(2)
    >>> BT.astype(int).tolist()
    [[-1, 0, 1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, -1, 0, 1]]
    """
    pts = [Fraction(p) for p in (POINTS[m] if points is None else points)]
    a = m + r - 1
    if len(pts) != a - 1 or len(set(pts)) != len(pts):
        raise ValueError(f"F({m}, {r}) needs {a - 1} distinct finite points, got {points}")
    at = [[p**i for p in pts] + [Fraction(int(i == m - 1))] for i in range(m)]
    g = []
    bt = []
    for j, p in enumerate(pts):
        others = pts[:j] + pts[j + 1:]
        f = Fraction(1)
        for q in others:
            f *= p - q
        g.append([p**k / f for k in range(r)])
        bt.append([*_poly(others), Fraction(0)])
    g.append([Fraction(int(k == r - 1)) for k in range(r)])
    bt.append(_poly(pts))
    return tuple(np.array([[float(v) for v in row] for row in mat]) for mat in (at, g, bt))


def _poly(roots: list) -> list:
    """Coefficients (increasing degree) of ``prod (x - root)``."""
    coef = [Fraction(1)]
    for q in roots:
        coef = [Fraction(0), *coef]
        for i in range(len(coef) - 1):
            coef[i] -= q * coef[i + 1]
    return coef


def tile_extent(height: int, width: int, pads: tuple[int, int], m: int, a: int) -> tuple[int, int]:
    """The padded image grown to whole tiles: ``(T - 1) m + a`` per axis, for the ``T`` tiles of
    ``m`` outputs that cover the ``n + 2 p - r + 1`` outputs (``r = a - m + 1``)."""
    r = a - m + 1
    return tuple((-(-(n + 2 * p - r + 1) // m) - 1) * m + a
                 for n, p in zip((height, width), pads, strict=True))


def tile_gap(m: int, a: int) -> int:
    """Gap tiles per tile row, ``e = (a - 1) // m``: rows of ``TW + e`` tiles keep every transform
    stage a run over contiguous tiles (see :mod:`.winograd_cpu`); the gap tiles hold zeros."""
    return (a - 1) // m
