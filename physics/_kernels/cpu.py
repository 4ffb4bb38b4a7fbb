"""Numba CPU kernels (``nogil``; ``parallel`` where one target per iteration makes it free)."""

from __future__ import annotations

import numba
import numpy as np
from numba import njit


def pair_potential(positions, charges, points, weights, exponents):
    """Radial pair-kernel sum; see :func:`physics._kernels.pair_potential`."""
    dtype = np.result_type(positions, charges, points)
    out = np.empty(points.shape[0], dtype=dtype)
    args = (
        np.ascontiguousarray(positions, dtype=dtype),
        np.ascontiguousarray(charges, dtype=dtype),
        np.ascontiguousarray(points, dtype=dtype),
    )
    if weights is None:
        _coulomb_sum(*args, out)
    else:
        _gaussian_sum(*args, np.ascontiguousarray(weights, dtype=dtype),
                      np.ascontiguousarray(exponents, dtype=dtype) ** 2, out)
    return out


@njit(cache=True, nogil=True, parallel=True)
def _coulomb_sum(positions, charges, points, out):
    """``out[i] = sum_j q_j / |y_i - x_j|``, one target per iteration (no write conflicts)."""
    for i in numba.prange(points.shape[0]):
        acc = 0.0
        for j in range(positions.shape[0]):
            dx = points[i, 0] - positions[j, 0]
            dy = points[i, 1] - positions[j, 1]
            dz = points[i, 2] - positions[j, 2]
            acc += charges[j] / np.sqrt(dx * dx + dy * dy + dz * dz)
        out[i] = acc


@njit(cache=True, nogil=True, parallel=True)
def _gaussian_sum(positions, charges, points, weights, t2, out):
    """``out[i] = sum_j q_j sum_k a_k exp(-t_k^2 |y_i - x_j|^2)``, one target per iteration."""
    for i in numba.prange(points.shape[0]):
        acc = 0.0
        for j in range(positions.shape[0]):
            dx = points[i, 0] - positions[j, 0]
            dy = points[i, 1] - positions[j, 1]
            dz = points[i, 2] - positions[j, 2]
            d2 = dx * dx + dy * dy + dz * dz
            s = 0.0
            for k in range(weights.shape[0]):
                s += weights[k] * np.exp(-t2[k] * d2)
            acc += charges[j] * s
        out[i] = acc
