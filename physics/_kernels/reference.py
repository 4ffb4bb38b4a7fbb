"""Plain-numpy reference kernels: slow, obviously right, the oracle for the others."""

from __future__ import annotations

import numpy as np

from tensorkit.extend import array_module


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


# The Navier-Stokes step kernels are written once for numpy and CuPy (the array's own module).
def vorticity_gradients(w_hat, inv_lap, kx, ky, out):
    """Velocity and vorticity-gradient spectra by broadcasting."""
    xp = array_module(w_hat)
    ikx, iky = 1j * xp.asarray(kx)[:, None], 1j * xp.asarray(ky)[None, :]
    psi_hat = w_hat * inv_lap
    out[0] = iky * psi_hat
    out[1] = -ikx * psi_hat
    out[2] = ikx * w_hat
    out[3] = iky * w_hat
    return out


def advection(fields, out):
    """``u w_x + v w_y`` by broadcasting."""
    array_module(fields).add(fields[0] * fields[2], fields[1] * fields[3], out=out)
    return out


def crank_nicolson_step(w_hat, advection_hat, f_hat, lap, dealias, dt, viscosity):
    """Crank-Nicolson / explicit Euler step by broadcasting, written into ``w_hat``."""
    half = (0.5 * dt * viscosity) * lap
    rhs = (1.0 - half) * w_hat - (dt * dealias) * advection_hat
    if f_hat is not None:
        rhs += dt * f_hat
    w_hat[...] = rhs / (1.0 + half)
    return w_hat
