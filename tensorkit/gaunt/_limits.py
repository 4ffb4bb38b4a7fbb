"""How much memory the tables of a degree need, checked before any of them is built.

Degrees have no natural upper bound, and the tables grow like a power of them (Legendre tables
O(L^3), phi integrals O(L^3), the direct route's sparse matrix O(L^5)), so every entry point
estimates its largest tables first and refuses what cannot fit with ``MemoryError`` (see
:func:`tensorkit.extend.check_allocation`) instead of running for hours or exhausting memory.
The estimates count float64 entries of everything held at once, to within a small factor.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_allocation

__all__ = ["check_coefficient_tables", "check_plan_tables", "check_sph_harm"]

_SPH_ALTERNATIVE = "evaluate fewer vectors per call, or a smaller lmax"


def legendre_entries(lmax: int, n_nodes: int) -> int:
    """Entries of the Legendre recurrence (all ``(l, m)`` columns) and its (order, node, degree) table."""
    return (lmax + 1) * (lmax + 2) // 2 * n_nodes + (2 * lmax + 1) * n_nodes * (lmax + 1)


def check_coefficient_tables(l1: int, l2: int, l3: int) -> None:
    """Refuse :func:`gaunt_coefficients` degrees whose block and tables cannot fit."""
    lm = max(l1, l2, l3)
    n_nodes = (l1 + l2 + l3) // 2 + 1
    entries = (
        2 * (2 * l1 + 1) * (2 * l2 + 1) * (2 * l3 + 1)  # the block and its theta integrals
        + (2 * lm + 1) ** 3  # phi integrals
        + legendre_entries(lm, n_nodes)
    )
    check_allocation(
        (entries,), np.float64, f"the tables of gaunt_coefficients({l1}, {l2}, {l3})",
        alternative="gaunt_tensor_product (O(L^3) grid tables) applies the coefficients without forming them",
    )


def check_plan_tables(method: str, lmax1: int, lmax2: int, lmax_out: int) -> None:
    """Refuse a Gaunt tensor product plan whose tables for ``method`` cannot fit."""
    degree = lmax1 + lmax2 + lmax_out
    if method == "direct":
        lm = max(lmax1, lmax2, lmax_out)
        k12 = (lmax1 + 1) ** 2 * (lmax2 + 1) ** 2
        # about two non-zeros per (m1, m2) and path; row, column and value of each
        nnz = 2 * k12 * (min(lmax_out, lmax1 + lmax2) // 2 + 1)
        entries = 3 * nnz + (2 * lm + 1) ** 3 + legendre_entries(lm, degree // 2 + 1)
        alternative = "method='s2grid' needs O(L^3) tables instead of the direct route's O(L^5)"
    elif method == "fourier":
        lsum = lmax1 + lmax2
        entries = sum(3 * legendre_entries(l, 2 * l + 1) for l in (lmax1, lmax2, lmax_out))
        entries += 2 * (lmax_out + 1) ** 2 * (4 * lsum + 2)  # back-projection J and its FFT layout
        alternative = "a smaller lmax_out (at most lmax1 + lmax2 is ever non-zero)"
    else:  # s2grid ("auto" resolves to it whenever the sizes matter)
        n_theta = degree // 2 + 1
        entries = sum(legendre_entries(l, n_theta) for l in (lmax1, lmax2, lmax_out))
        entries += (degree + 1) * (2 * max(lmax1, lmax2, lmax_out) + 1)
        alternative = "a smaller lmax_out (at most lmax1 + lmax2 is ever non-zero)"
    check_allocation(
        (entries,), np.float64,
        f"the {method} tables of a Gaunt tensor product with lmax1={lmax1}, lmax2={lmax2}, "
        f"lmax_out={lmax_out}",
        alternative=alternative,
    )


def check_sph_harm(lmax: int, n_vectors: int, dtype, device: str) -> None:
    """Refuse harmonics whose output and recurrence (about 3 arrays of ``n (lmax+1)^2``) cannot fit."""
    check_allocation(
        (n_vectors, (lmax + 1) ** 2), dtype, f"real_sph_harm({lmax}, ...) of {n_vectors} vectors",
        alternative=_SPH_ALTERNATIVE, device=device, count=3,
    )
