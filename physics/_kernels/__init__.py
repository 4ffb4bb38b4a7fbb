"""Physics's own hot loops behind one dispatch function each, laid out as the core's kernels.

Every kernel has a plain-numpy reference (:mod:`.reference`, the oracle in tests), a Numba CPU
version (:mod:`.cpu`) and a GPU version (:mod:`.cuda`, ``numba.cuda`` so that it also runs under
the CUDA simulator); :func:`tensorkit.extend.kernel_implementation` picks the module. Arguments
are validated by the public entry points.
"""

from __future__ import annotations

from typing import Any

from tensorkit.extend import kernel_implementation

__all__ = ["pair_potential"]


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
