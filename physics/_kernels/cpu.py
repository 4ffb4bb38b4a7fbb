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


# The Navier-Stokes step kernels run on one thread: a step is a few milliseconds, most of it in the
# FFTs (scipy.fft's workers), and waking Numba's thread pool for each pass cost more than it saved.
def vorticity_gradients(w_hat, inv_lap, kx, ky, out):
    """Velocity and vorticity-gradient spectra in one pass; see
    :func:`physics._kernels.vorticity_gradients`."""
    _vorticity_gradients(w_hat, inv_lap, kx, ky, out)
    return out


def advection(fields, out):
    """``u w_x + v w_y`` in one pass; see :func:`physics._kernels.advection`."""
    _advection(fields, out)
    return out


def crank_nicolson_step(w_hat, advection_hat, f_hat, lap, dealias, dt, viscosity):
    """Crank-Nicolson / explicit Euler step in one pass; see :func:`physics._kernels.crank_nicolson_step`."""
    forced = f_hat is not None
    _crank_nicolson(w_hat, advection_hat, f_hat if forced else w_hat[0], forced, lap, dealias,
                    float(dt), float(viscosity))
    return w_hat


@njit(cache=True, nogil=True)
def _vorticity_gradients(w_hat, inv_lap, kx, ky, out):
    n_batch, n, m = w_hat.shape
    for bi in range(n_batch * n):
        b = bi // n
        i = bi - b * n
        for j in range(m):
            w = w_hat[b, i, j]
            psi = w * inv_lap[i, j]
            out[0, b, i, j] = 1j * ky[j] * psi
            out[1, b, i, j] = -1j * kx[i] * psi
            out[2, b, i, j] = 1j * kx[i] * w
            out[3, b, i, j] = 1j * ky[j] * w


@njit(cache=True, nogil=True)
def _advection(fields, out):
    n_batch, n, m = out.shape
    for bi in range(n_batch * n):
        b = bi // n
        i = bi - b * n
        for j in range(m):
            out[b, i, j] = fields[0, b, i, j] * fields[2, b, i, j] + fields[1, b, i, j] * fields[3, b, i, j]


@njit(cache=True, nogil=True)
def _crank_nicolson(w_hat, advection_hat, f_hat, forced, lap, dealias, dt, viscosity):
    n_batch, n, m = w_hat.shape
    for bi in range(n_batch * n):
        b = bi // n
        i = bi - b * n
        for j in range(m):
            half = 0.5 * dt * viscosity * lap[i, j]
            rhs = (1.0 - half) * w_hat[b, i, j] - dt * dealias[i, j] * advection_hat[b, i, j]
            if forced:
                rhs += dt * f_hat[i, j]
            w_hat[b, i, j] = rhs / (1.0 + half)
