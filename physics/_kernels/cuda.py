"""GPU kernels in ``numba.cuda``: CuPy arrays on a GPU, numpy arrays under the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``), where the tests run them."""

from __future__ import annotations

import math

from numba import cuda

from tensorkit.extend import array_module

_THREADS = 128


def pair_potential(positions, charges, points, weights, exponents):
    """Radial pair-kernel sum on the GPU; see :func:`physics._kernels.pair_potential`.

    One thread per target point, looping over the charges (no atomics needed).
    """
    nxp = array_module(points)
    dtype = nxp.result_type(positions, charges, points)
    out = nxp.zeros(points.shape[0], dtype=dtype)
    coulomb = weights is None
    w = nxp.zeros(1, dtype=dtype) if coulomb else nxp.ascontiguousarray(nxp.asarray(weights, dtype=dtype))
    t2 = w if coulomb else nxp.ascontiguousarray(nxp.asarray(exponents, dtype=dtype) ** 2)
    n = points.shape[0]
    if n:
        pair_potential_kernel[math.ceil(n / _THREADS), _THREADS](
            nxp.ascontiguousarray(positions.astype(dtype)),
            nxp.ascontiguousarray(charges.astype(dtype)),
            nxp.ascontiguousarray(points.astype(dtype)),
            w,
            t2,
            coulomb,
            out,
        )
    return out


@cuda.jit
def pair_potential_kernel(positions, charges, points, weights, t2, coulomb, out):
    """One thread per point: ``out[i] = sum_j q_j K(|y_i - x_j|)`` (1/r or a Gaussian sum)."""
    i = cuda.grid(1)
    if i >= points.shape[0]:
        return
    acc = 0.0
    for j in range(positions.shape[0]):
        dx = points[i, 0] - positions[j, 0]
        dy = points[i, 1] - positions[j, 1]
        dz = points[i, 2] - positions[j, 2]
        d2 = dx * dx + dy * dy + dz * dz
        if coulomb:
            acc += charges[j] / math.sqrt(d2)
        else:
            s = 0.0
            for k in range(weights.shape[0]):
                s += weights[k] * math.exp(-t2[k] * d2)
            acc += charges[j] * s
    out[i] = acc


# The Navier-Stokes step is elementwise: CuPy's fused built-ins are the GPU version.
def vorticity_gradients(w_hat, inv_lap, kx, ky, out):
    """Velocity and vorticity-gradient spectra with CuPy built-ins; see
    :func:`physics._kernels.vorticity_gradients`."""
    from .reference import vorticity_gradients as reference

    return reference(w_hat, inv_lap, kx, ky, out)


def advection(fields, out):
    """``u w_x + v w_y`` with CuPy built-ins; see :func:`physics._kernels.advection`."""
    from .reference import advection as reference

    return reference(fields, out)


def crank_nicolson_step(w_hat, advection_hat, f_hat, lap, dealias, dt, viscosity):
    """Crank-Nicolson / explicit Euler step with CuPy built-ins; see
    :func:`physics._kernels.crank_nicolson_step`."""
    from .reference import crank_nicolson_step as reference

    return reference(w_hat, advection_hat, f_hat, lap, dealias, dt, viscosity)
