"""``tensorkit demo`` section: smooth 3D functions in Chebyshev-Tucker format (ranks by tolerance,
accuracy, calculus)."""

from __future__ import annotations

import math
import time

import numpy as np

from ._chebtucker import ChebTucker

CUBE = ((-1.0, 1.0),) * 3


def run(options) -> None:
    """Ranks, degrees, error and storage of 1/sqrt(r^2 + 0.1) by tolerance; an exact integral."""

    def f(x, y, z):
        return 1.0 / np.sqrt(x**2 + y**2 + z**2 + 0.1)

    tolerances = (1e-3, 1e-6) if options.quick else (1e-3, 1e-4, 1e-6, 1e-8, 1e-10)
    points = np.random.default_rng(0).uniform(-1, 1, (2_000 if options.quick else 100_000, 3))
    exact = f(*points.T)
    print("ChebTucker.from_function(1/sqrt(x^2+y^2+z^2+0.1), [-1,1]^3), degree chosen adaptively")
    print(f"{'tol':>7} {'ranks':>11} {'degrees':>14} {'rel max err':>12} {'KiB':>7} {'build s':>8}")
    for tol in tolerances:
        start = time.perf_counter()
        g = ChebTucker.from_function(f, CUBE, tol=tol)
        elapsed = time.perf_counter() - start
        error = float(np.max(np.abs(g(points) - exact)) / np.max(np.abs(exact)))
        print(f"{tol:7.0e} {g.ranks!s:>11} {g.degrees!s:>14} {error:12.2e} {g.nbytes / 1024:7.1f} "
              f"{elapsed:8.3f}")
    h = ChebTucker.from_function(lambda x, y, z: 1.0 / (1.0 + x**2 + y**2 + z**2), CUBE, tol=1e-13)
    value = h.integrate()
    print(f"integral of 1/(1+|x|^2) over [-1,1]^3: {value:.17f} (exact 4.28685406230184188, "
          f"error {abs(value - 4.28685406230184188):.1e})")
    gauss = ChebTucker.from_function(lambda x, y, z: np.exp(-(x**2 + y**2 + z**2)), CUBE, tol=1e-12)
    r2 = np.sum(points[:100] ** 2, axis=1)
    lap_error = np.max(np.abs(gauss.laplacian()(points[:100]) - (4 * r2 - 6) * np.exp(-r2)))
    print(f"Laplacian of exp(-|x|^2): max error {lap_error:.1e}; L2 norm {gauss.norm():.12f} "
          f"(exact {(math.pi / 2) ** 0.75 * math.erf(math.sqrt(2)) ** 1.5:.12f})")
