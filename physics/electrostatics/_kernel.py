"""The Newton kernel 1/r as a sum of Gaussians (sinc quadrature) and its range separation.

.. math:: \\frac{1}{r} = \\frac{2}{\\sqrt\\pi}\\int_0^\\infty e^{-r^2 t^2}\\,dt
          = \\frac{1}{\\sqrt\\pi}\\int_{-\\infty}^{\\infty} e^{-r^2 \\sinh^2 u}\\cosh u\\,du
          \\approx \\sum_{k=0}^{M} a_k e^{-t_k^2 r^2},

with ``t = sinh(u)``, step ``h``: ``t_k = sinh(k h)``, ``a_0 = h / sqrt(pi)``,
``a_k = 2 h cosh(k h) / sqrt(pi)``. The integrand is analytic in a strip, so the trapezoidal rule
converges exponentially in ``1/h``; ``M`` cuts the sum where the sharpest Gaussian no longer
matters at ``r_min``. Each term is separable in x, y, z, and the smoothest terms (small ``t_k``)
make up the long-range part of the potential.

References
----------
Hackbusch, Khoromskij, "Low-rank Kronecker-product approximation to multi-dimensional nonlocal
operators", Computing 76 (2006); Benner, Khoromskaia, Khoromskij, "Range-separated tensor format
for many-particle modeling", SIAM J. Sci. Comput. 40 (2018).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from tensorkit.extend import check_int, check_real

__all__ = ["GaussianSum", "newton_kernel_terms"]

# Relative-error checks of the sum run on this many log-spaced radii in [r_min, r_max].
_CHECK_POINTS = 4000


@dataclass(frozen=True)
class GaussianSum:
    """A radial kernel ``K(r) = sum_k a_k exp(-t_k^2 r^2)``.

    Attributes
    ----------
    weights : ndarray (K,)
        ``a_k`` (in units of 1/length, like 1/r).
    exponents : ndarray (K,)
        ``t_k >= 0`` (in units of 1/length), ascending: the smoothest terms come first.
    """

    weights: np.ndarray
    exponents: np.ndarray

    def __post_init__(self):
        w = np.asarray(self.weights, dtype=np.float64)
        t = np.asarray(self.exponents, dtype=np.float64)
        if w.ndim != 1 or w.shape != t.shape:
            raise ValueError(
                f"weights and exponents must be 1-D of one length, got {w.shape} and {t.shape}"
            )
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(t))):
            raise ValueError("weights and exponents must be finite")
        if np.any(t < 0) or np.any(np.diff(t) < 0):
            raise ValueError("exponents must be non-negative and ascending")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "exponents", t)

    def __len__(self) -> int:
        return int(self.weights.shape[0])

    def __iter__(self):
        # Unpacks as ``weights, exponents = terms``.
        return iter((self.weights, self.exponents))

    def __call__(self, r: np.ndarray) -> np.ndarray:
        """``K(r)`` for an array of distances."""
        r = np.asarray(r, dtype=np.float64)
        return np.exp(-np.multiply.outer(r**2, self.exponents**2)) @ self.weights

    def split(self, *, n_long: int | None = None, length: float | None = None
              ) -> tuple[GaussianSum, GaussianSum]:
        """Split into (long-range, short-range) parts whose sum is this kernel exactly.

        Give exactly one of

        n_long : int
            Number of the smoothest terms (smallest ``t_k``) that form the long-range part.
        length : float
            Length scale: the long-range part keeps the terms with ``1 / t_k >= length``
            (Gaussians at least that wide).
        """
        if (n_long is None) == (length is None):
            raise ValueError("give exactly one of n_long and length")
        if n_long is not None:
            cut = check_int(n_long, "n_long", minimum=1, maximum=len(self))
        else:
            length = check_real(length, "length", minimum=0.0, strict_minimum=True)
            cut = int(np.count_nonzero(self.exponents * float(length) <= 1.0))
            if cut == 0:
                raise ValueError(
                    f"no term is as wide as length={length} (widest 1/t_k = "
                    f"{1 / self.exponents[1] if len(self) > 1 else math.inf:.3g}); pick a smaller length"
                )
        return (GaussianSum(self.weights[:cut], self.exponents[:cut]),
                GaussianSum(self.weights[cut:], self.exponents[cut:]))

    def default_split(self) -> tuple[GaussianSum, GaussianSum]:
        """The split used when none is given: about half the terms minus three are long-range.

        This is the authors' choice (Benner, Khoromskaia, Khoromskij): the long-range part is
        smooth at the scale of the grid that resolves ``r_min``, so its Chebyshev degree and
        Tucker ranks stay small.
        """
        return self.split(n_long=max(1, (len(self) + 1) // 2 - 3))


def newton_kernel_terms(tol: float = 1e-7, r_min: float = 1e-3, r_max: float = 1.0) -> GaussianSum:
    """Gaussian sum for ``1/r`` with relative error at most ``tol`` on ``[r_min, r_max]``.

    The step ``h`` is the largest (from 0.6 down by factors 0.97) whose sum meets ``tol`` at
    every radius of a dense log-spaced check grid, and ``M`` the fewest terms that do; lengths are
    scaled so that ``r_max`` maps to 1 (the quadrature is accurate up to about ``1 / h`` there).

    Parameters
    ----------
    tol : float in (1e-14, 1)
    r_min, r_max : float, ``0 < r_min < r_max``

    Returns
    -------
    GaussianSum
        ``1/r ~ sum_k a_k exp(-t_k^2 r^2)``, ``t_k = sinh(k h) / r_max``,
        ``a_k = 2 h cosh(k h) / (sqrt(pi) r_max)`` (``a_0`` halved).

    Examples
    --------
    >>> import numpy as np
    >>> from physics.electrostatics import newton_kernel_terms
    >>> k = newton_kernel_terms(1e-7, 0.01, 2.0)
    >>> r = np.geomspace(0.01, 2.0, 50)
    >>> bool(np.max(np.abs(k(r) * r - 1)) <= 1e-7)
    True
    """
    tol = check_real(tol, "tol", minimum=1e-14, maximum=1.0, strict_minimum=True, strict_maximum=True)
    r_min = check_real(r_min, "r_min", minimum=0.0, strict_minimum=True)
    r_max = check_real(r_max, "r_max", minimum=0.0, strict_minimum=True)
    if not r_min < r_max:
        raise ValueError(f"need r_min < r_max, got r_min={r_min}, r_max={r_max}")
    h, m = _step_and_count(tol, r_min / r_max)
    weights, exponents = _terms(h, m)
    return GaussianSum(weights / r_max, exponents / r_max)


@functools.lru_cache(maxsize=64)
def _step_and_count(tol, rho_min):
    """Largest step ``h`` and fewest terms ``M`` meeting ``tol`` on ``[rho_min, 1]`` (cached)."""
    rho = np.geomspace(rho_min, 1.0, _CHECK_POINTS)
    h = 0.6
    while h > 0.02:
        # Enough terms that the sharpest one is negligible at rho_min: sinh(M h) rho_min ~ 8.
        m_max = math.ceil(math.asinh(8.0 / rho_min) / h) + 2
        errors = _cumulative_errors(h, m_max, rho)
        ok = np.nonzero(errors <= tol)[0]
        if ok.shape[0]:
            return h, int(ok[0])
        h *= 0.97
    raise ValueError(f"no sinc quadrature reaches tol={tol} on [{rho_min}, 1] (relative radii)")


def _terms(h, m):
    k = np.arange(m + 1, dtype=np.float64)
    weights = 2.0 * h * np.cosh(k * h) / math.sqrt(math.pi)
    weights[0] = h / math.sqrt(math.pi)
    return weights, np.sinh(k * h)


def _cumulative_errors(h, m_max, rho):
    """Max relative error over ``rho`` of the sums with ``M = 0 .. m_max`` terms."""
    weights, exponents = _terms(h, m_max)
    partial = np.cumsum(weights[None, :] * np.exp(-np.multiply.outer(rho**2, exponents**2)), axis=1)
    return np.max(np.abs(partial * rho[:, None] - 1.0), axis=0)

