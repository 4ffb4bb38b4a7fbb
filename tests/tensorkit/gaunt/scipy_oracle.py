"""Independent oracles for the gaunt tests: real harmonics from scipy's complex ``sph_harm_y``."""

from __future__ import annotations

import numpy as np
import scipy.special


def scipy_real_sph_harm(lmax: int, vectors: np.ndarray) -> np.ndarray:
    """Real harmonics (no Condon-Shortley phase) in e3nn's frame, built from scipy's complex ones.

    e3nn's y is the polar axis and the azimuth runs from z towards x.
    """
    v = vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)
    theta = np.arccos(np.clip(v[..., 1], -1.0, 1.0))
    phi = np.arctan2(v[..., 0], v[..., 2])
    cols = []
    for l in range(lmax + 1):
        for m in range(-l, l + 1):
            y = scipy.special.sph_harm_y(l, abs(m), theta, phi)
            sign = (-1.0) ** abs(m)  # undo the Condon-Shortley phase
            if m < 0:
                cols.append(np.sqrt(2) * sign * y.imag)
            elif m == 0:
                cols.append(y.real)
            else:
                cols.append(np.sqrt(2) * sign * y.real)
    return np.stack(cols, axis=-1)


def sphere_grid(n_theta: int, n_phi: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre x uniform quadrature points (unit vectors) and weights on the sphere."""
    nodes, w = scipy.special.roots_legendre(n_theta)
    phi = 2 * np.pi * np.arange(n_phi) / n_phi
    s = np.sqrt(1 - nodes**2)
    pts = np.stack(
        [np.outer(s, np.sin(phi)), np.outer(nodes, np.ones(n_phi)), np.outer(s, np.cos(phi))], axis=-1
    ).reshape(-1, 3)
    return pts, np.repeat(w, n_phi) * (2 * np.pi / n_phi)


def project_product(x1: np.ndarray, x2: np.ndarray, lmax_out: int) -> np.ndarray:
    """Proj_{l <= lmax_out}(F1 F2) on a fine grid: the product-then-project oracle."""
    l1 = int(np.sqrt(x1.shape[-1])) - 1
    l2 = int(np.sqrt(x2.shape[-1])) - 1
    n = (l1 + l2 + lmax_out) // 2 + 4
    pts, w = sphere_grid(n, 2 * n + 3)
    f = (x1 @ scipy_real_sph_harm(l1, pts).T) * (x2 @ scipy_real_sph_harm(l2, pts).T)
    return (f * w) @ scipy_real_sph_harm(lmax_out, pts)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A Haar-random rotation (det +1)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q
