"""Physics's own hot loops behind one dispatch function each, laid out as the core's kernels.

Every kernel has a plain-numpy reference (:mod:`.reference`, the oracle in tests), a Numba CPU
version (:mod:`.cpu`) and a GPU version (:mod:`.cuda`, ``numba.cuda`` so that it also runs under
the CUDA simulator); :func:`tensorkit.extend.kernel_implementation` picks the module. Arguments
are validated by the public entry points.
"""

from __future__ import annotations

from typing import Any

from tensorkit.extend import kernel_implementation

__all__ = ["advection", "crank_nicolson_step", "pair_potential", "vorticity_gradients"]


def pair_potential(
    positions: Any, charges: Any, points: Any, weights: Any, exponents: Any, backend: str
) -> Any:
    """Direct sum of a radial pair kernel: ``V(y_i) = sum_j q_j K(|y_i - x_j|)``.

    ``K(r) = 1/r`` when ``weights`` is None, else ``K(r) = sum_k a_k exp(-t_k^2 r^2)``
    (``weights = a``, ``exponents = t``). ``O(M N)`` work; the oracle and baseline for
    :mod:`physics.electrostatics`.

    Parameters
    ----------
    positions : array (N, 3)
    charges : array (N,)
    points : array (M, 3); with ``K = 1/r`` none may coincide with a position (checked by the caller)
    weights, exponents : arrays (K,) or None
    backend : "numpy", "numba" or "cupy"

    Examples
    --------
    >>> import numpy as np
    >>> from physics._kernels import pair_potential
    >>> float(pair_potential(np.zeros((1, 3)), np.ones(1), np.array([[0.0, 0.0, 2.0]]), None, None,
    ...                      "numpy")[0])
    0.5
    """
    impl = kernel_implementation(__name__, "pair_potential", backend)
    return impl(positions, charges, points, weights, exponents)


def vorticity_gradients(w_hat: Any, inv_lap: Any, kx: Any, ky: Any, out: Any, backend: str) -> Any:
    """The four spectra a pseudo-spectral vorticity step transforms back, written into ``out``.

    With the stream function ``psi_hat = w_hat / (4 pi^2 |k|^2)`` (``-Delta psi = w``), the
    velocity ``(u, v) = (d_y psi, -d_x psi)`` and the vorticity gradient:
    ``out[0] = i k_y psi_hat``, ``out[1] = -i k_x psi_hat``, ``out[2] = i k_x w_hat``,
    ``out[3] = i k_y w_hat``.

    Parameters
    ----------
    w_hat : complex array (B, n, m)
        ``rfft2`` of the vorticity (``m = n // 2 + 1``).
    inv_lap : real array (n, m)
        ``1 / (4 pi^2 |k|^2)``, with any finite value at ``k = 0``.
    kx, ky : real arrays (n,), (m,)
        ``2 pi`` times the wavenumbers along each axis.
    out : complex array (4, B, n, m)
    backend : "numpy", "numba" or "cupy"

    Examples
    --------
    >>> import numpy as np
    >>> from physics._kernels import vorticity_gradients
    >>> w_hat = np.ones((1, 2, 2), complex)
    >>> out = vorticity_gradients(w_hat, np.ones((2, 2)), np.array([0.0, 1.0]), np.array([0.0, 2.0]),
    ...                           np.empty((4, 1, 2, 2), complex), "numpy")
    >>> complex(out[3, 0, 1, 1])
    2j
    """
    impl = kernel_implementation(__name__, "vorticity_gradients", backend)
    return impl(w_hat, inv_lap, kx, ky, out)


def advection(fields: Any, out: Any, backend: str) -> Any:
    """``out = u w_x + v w_y`` from ``fields = (u, v, w_x, w_y)`` stacked on the first axis.

    Examples
    --------
    >>> import numpy as np
    >>> from physics._kernels import advection
    >>> float(advection(np.array([[1.0], [2.0], [3.0], [4.0]]), np.empty(1), "numpy")[0])
    11.0
    """
    impl = kernel_implementation(__name__, "advection", backend)
    return impl(fields, out)


def crank_nicolson_step(
    w_hat: Any, advection_hat: Any, f_hat: Any, lap: Any, dealias: Any, dt: float, viscosity: float,
    backend: str,
) -> Any:
    """One Crank-Nicolson (diffusion) / explicit Euler (advection, forcing) step, in place.

    ``w_hat <- ((1 - h) w_hat - dt D adv_hat + dt f_hat) / (1 + h)`` with
    ``h = dt nu 4 pi^2 |k|^2 / 2`` and ``D`` the 2/3-rule dealiasing mask.

    Parameters
    ----------
    w_hat : complex array (B, n, m), overwritten and returned
    advection_hat : complex array (B, n, m)
        ``rfft2`` of ``u w_x + v w_y``.
    f_hat : complex array (n, m) or None
        ``rfft2`` of the forcing.
    lap, dealias : real arrays (n, m)
        ``4 pi^2 |k|^2`` and the 0/1 dealiasing mask.
    dt, viscosity : float
    backend : "numpy", "numba" or "cupy"

    Examples
    --------
    >>> import numpy as np
    >>> from physics._kernels import crank_nicolson_step
    >>> w = np.ones((1, 1, 1), complex)
    >>> w = crank_nicolson_step(w, np.zeros_like(w), None, np.full((1, 1), 2.0), np.ones((1, 1)), 1.0,
    ...                         1.0, "numpy")
    >>> complex(w[0, 0, 0])  # (1 - h) / (1 + h) with h = 1
    0j
    """
    impl = kernel_implementation(__name__, "crank_nicolson_step", backend)
    return impl(w_hat, advection_hat, f_hat, lap, dealias, dt, viscosity)
