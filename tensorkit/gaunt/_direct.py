"""The ``"direct"`` Gaunt product: contraction with the sparse Gaunt tensor.

.. math::

    \\mathrm{GTP}(x_1, x_2)_{k_3} = \\sum_{k_1, k_2} G_{k_3, (k_1, k_2)}\\, x_{1, k_1} x_{2, k_2},

with ``G`` the Gaunt coefficients of every parity-even, triangle-allowed ``(l1, l2, l3)`` stored as
one CSR matrix of shape ``((Lout+1)**2, (L1+1)**2 (L2+1)**2)`` applied to the outer products
``x1 x2^T``. The baseline: exact, O(nnz) = O(L^5)-O(L^6) per product, level with the grid route up to
L = 2 and slower beyond.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse

from ._coefficients import gaunt_tensor_blocks

__all__ = ["direct_product", "direct_tables"]

# Batch elements per chunk: bounds the (batch, K1*K2) outer-product buffer.
_MAX_OUTER_ENTRIES = 1 << 24


def direct_tables(lmax1: int, lmax2: int, lmax_out: int) -> dict[str, Any]:
    """The host table of the direct route: ``gaunt``, the CSR Gaunt matrix in float64."""
    k2 = (lmax2 + 1) ** 2
    rows, cols, vals = [], [], []
    for (l1, l2, l3), block in gaunt_tensor_blocks(lmax1, lmax2, lmax_out):
        i1, i2, i3 = np.nonzero(np.abs(block) > 1e-15 * np.abs(block).max())
        rows.append(l3 * l3 + i3)
        cols.append((l1 * l1 + i1) * k2 + l2 * l2 + i2)
        vals.append(block[i1, i2, i3])
    shape = ((lmax_out + 1) ** 2, (lmax1 + 1) ** 2 * k2)
    if rows:
        g = scipy.sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape
        )
    else:
        g = scipy.sparse.csr_matrix(shape)
    return {"gaunt": g}


def direct_product(x1: Any, x2: Any, t: dict[str, Any], same: bool, xp: Any):
    """The product of ``x1`` (*b1, K1) and ``x2`` (*b2, K2) with the device table ``t["gaunt"]``.

    The batch shapes broadcast (``same`` is accepted for a common signature with the grid routes;
    the outer product has no shared half to reuse).
    """
    batch = np.broadcast_shapes(tuple(x1.shape[:-1]), tuple(x2.shape[:-1]))
    k1, k2 = x1.shape[-1], x2.shape[-1]
    k_out = t["gaunt"].shape[0]
    a = xp.reshape(xp.broadcast_to(x1, (*batch, k1)), (-1, k1))
    b = xp.reshape(xp.broadcast_to(x2, (*batch, k2)), (-1, k2))
    n = a.shape[0]
    step = max(1, _MAX_OUTER_ENTRIES // (k1 * k2))
    parts = []
    for start in range(0, n, step):
        outer = a[start : start + step, :, None] * b[start : start + step, None, :]
        outer = xp.reshape(outer, (outer.shape[0], k1 * k2))
        # sparse (K3, K1*K2) @ dense (K1*K2, b): O(b * nnz) work. The dense side goes in as an
        # owned array, not a transposed view, as added for cupyx.scipy.sparse's matmul.
        dense = xp.asarray(xp.matrix_transpose(outer), copy=True)
        parts.append(xp.matrix_transpose(xp.asarray(t["gaunt"] @ dense)))
    out = parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)
    return xp.reshape(out, (*batch, k_out))
