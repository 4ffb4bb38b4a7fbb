"""Real Wigner D matrices in the basis of :func:`real_sph_harm`."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import array_api_compat.numpy as host_xp
import numpy as np
import scipy.special

from .._validation import as_float_array, check_allocation, check_int, device_of
from ..backend import get_namespace
from ._sph_harm import _real_sph_harm_frame, real_sph_harm

__all__ = ["wigner_D"]


def wigner_D(lmax: int, rotation: Any):
    """Block-diagonal real Wigner D matrices of degrees ``0..lmax`` for 3x3 orthogonal matrices.

    Parameters
    ----------
    lmax : int
        Largest degree, ``>= 0``.
    rotation : array of shape (..., 3, 3)
        Orthogonal matrices (numpy or CuPy). Rotations (det +1) and reflections (det -1) are both
        accepted: O(3) acts on functions on the sphere by ``f -> f(R^T .)``.

    Returns
    -------
    array of shape (..., (lmax+1)**2, (lmax+1)**2)
        ``D`` with ``real_sph_harm(lmax, v @ R.T) == real_sph_harm(lmax, v) @ D.T`` for every
        vector ``v``; block diagonal (exact zeros off the degree blocks) and orthogonal.

    Notes
    -----
    Each block is the exact quadrature of
    :math:`D^l_{ab}(R) = \\int_{S^2} Y_{la}(R v) Y_{lb}(v) \\, dv`
    on a Gauss-Legendre x uniform grid with ``lmax + 1`` x ``2 lmax + 1`` nodes (the integrand is a
    polynomial of degree ``2 lmax``), so it uses exactly the same harmonics as the rest of the
    package. An improper ``R`` multiplies degree ``l`` by ``(-1)^l`` on top of the rotation part.

    Raises
    ------
    ValueError
        For a negative ``lmax``, a shape other than (..., 3, 3), or matrices whose
        ``max |R R^T - I|`` exceeds ``1e-4`` (float32) or ``1e-6`` (float64).

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.gaunt import real_sph_harm, wigner_D
    >>> R = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    >>> v = np.array([0.3, -0.2, 0.9])
    >>> D = wigner_D(3, R)
    >>> bool(np.allclose(real_sph_harm(3, v @ R.T), real_sph_harm(3, v) @ D.T))
    True
    """
    lmax = check_int(lmax, "lmax", minimum=0)
    xp = get_namespace(rotation)
    rotation = as_float_array(rotation, "rotation", allow_complex=False, xp=xp)
    if rotation.ndim < 2 or tuple(rotation.shape[-2:]) != (3, 3):
        raise ValueError(f"rotation must have shape (..., 3, 3), got shape {tuple(rotation.shape)}")
    size = (lmax + 1) ** 2
    device = device_of(xp)
    # the quadrature grid holds (lmax+1)(2lmax+1) points x size harmonics: O(lmax^4) numbers
    check_allocation(
        ((lmax + 1) * (2 * lmax + 1), size), np.float64, f"wigner_D({lmax}, ...)'s quadrature table",
        alternative="a smaller lmax", count=2,
    )
    batch = tuple(rotation.shape[:-2])
    check_allocation(
        (*batch, size, size), rotation.dtype, "the Wigner D matrices",
        alternative="fewer rotations per call, or a smaller lmax", device=device,
    )
    if math.prod(batch) == 0:
        return xp.zeros((*batch, size, size), dtype=rotation.dtype)
    eye = xp.eye(3, dtype=rotation.dtype)
    deviation = float(xp.max(xp.abs(rotation @ xp.matrix_transpose(rotation) - eye)))
    tol = 1e-4 if rotation.dtype == xp.float32 else 1e-6
    if deviation > tol:
        raise ValueError(
            f"rotation must be orthogonal (max |R R^T - I| <= {tol:g}), got max deviation {deviation:.3g}"
        )
    points, weights, y_ref = _grid(lmax)
    dtype = rotation.dtype
    points_x = xp.asarray(points, dtype=dtype)
    weighted_ref = xp.asarray(weights[:, None] * y_ref, dtype=dtype)
    y_rot = real_sph_harm(lmax, points_x @ xp.matrix_transpose(rotation))
    out = xp.zeros((*rotation.shape[:-2], size, size), dtype=dtype)
    for l in range(lmax + 1):
        sl = slice(l * l, (l + 1) ** 2)
        block = xp.matrix_transpose(y_rot[..., sl]) @ weighted_ref[:, sl]
        out[..., sl, sl] = block
    return out


@lru_cache(maxsize=32)
def _grid(lmax: int):
    """Quadrature points on the sphere, their weights and the harmonics there (float64)."""
    nodes, w_theta = scipy.special.roots_legendre(lmax + 1)
    n_phi = 2 * lmax + 1
    phi = 2 * np.pi * np.arange(n_phi) / n_phi
    sin_theta = np.sqrt(1.0 - nodes**2)
    x = (sin_theta[:, None] * np.cos(phi)).ravel()
    y = (sin_theta[:, None] * np.sin(phi)).ravel()
    z = np.repeat(nodes, n_phi)
    points = np.stack([x, y, z], axis=-1)
    weights = np.repeat(w_theta, n_phi) * (2 * np.pi / n_phi)
    y_ref = _real_sph_harm_frame(lmax, points[:, 2], points[:, 0], points[:, 1], host_xp)
    return points, weights, y_ref
