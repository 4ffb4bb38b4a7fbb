"""Plain-numpy reference kernels: slow, obviously right, the oracle for the others."""

from __future__ import annotations

import numpy as np


def pair_potential(positions, charges, points, weights, exponents):
    """Radial pair-kernel sum by broadcasting over blocks of points (bounded memory)."""
    dtype = np.result_type(positions, charges, points)
    n_points, n_charges = points.shape[0], positions.shape[0]
    n_terms = 1 if weights is None else max(1, weights.shape[0])
    out = np.empty(n_points, dtype=dtype)
    block = max(1, 2**22 // max(1, n_charges * n_terms))
    for start in range(0, n_points, block):
        stop = min(n_points, start + block)
        d2 = np.sum((points[start:stop, None, :] - positions[None, :, :]) ** 2, axis=-1)
        kernel = 1.0 / np.sqrt(d2) if weights is None else np.exp(-d2[..., None] * exponents**2) @ weights
        out[start:stop] = kernel @ charges
    return out
