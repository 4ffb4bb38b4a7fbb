"""Potentials of point charges: the direct sum (oracle and baseline) and the long-range part in
Chebyshev-Tucker format.

The long-range potential of charges ``q_j`` at ``x_j``,

.. math:: V_{lr}(y) = \\sum_j q_j \\sum_{k \\in long} a_k e^{-t_k^2 |y - x_j|^2}
          = \\sum_{j,k} q_j a_k \\prod_{d=1}^{3} e^{-t_k^2 (y_d - x_{j,d})^2},

is a CP tensor of rank ``N K`` whose per-axis factors are Gaussians: :meth:`ChebTucker.from_cp`
compresses it without forming the grid. Its evaluation costs about ``r_1 r_2 r_3`` per point
whatever ``N`` is, against ``N K`` exponentials per point for the direct sum.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tensorkit.chebyshev import ChebTucker, check_domain
from tensorkit.extend import as_float_array, get_namespace, resolve_backend, to_numpy

from .._kernels import pair_potential
from ._kernel import GaussianSum, newton_kernel_terms

__all__ = ["default_domain", "default_long_range", "direct_potential", "long_range_potential"]

# Default box: the charges' bounding box grown by this fraction of its largest side on every side.
_PAD = 0.15
# exp(-690) ~ 1e-300: beyond it the Gaussian factors are set to exactly zero (no subnormals).
_EXP_CUTOFF = 690.0


def direct_potential(
    positions: Any,
    charges: Any,
    points: Any,
    *,
    kernel: str = "coulomb",
    long_range: GaussianSum | None = None,
    backend: str | None = None,
) -> Any:
    """``V(y_i) = sum_j q_j K(|y_i - x_j|)`` by direct summation (``O(M N)``).

    Parameters
    ----------
    positions : array (N, 3)
    charges : array (N,)
    points : array (M, 3)
    kernel : {"coulomb", "long_range"}
        ``"coulomb"``: ``K = 1/r`` exactly (points may not coincide with charges);
        ``"long_range"``: ``K`` is the Gaussian sum ``long_range`` (finite everywhere).
    long_range : GaussianSum
        The long-range kernel (from :meth:`GaussianSum.split` or :func:`default_long_range`);
        required for ``kernel="long_range"``, the same object :func:`long_range_potential` uses.
    backend : {"numpy", "numba", "cupy"} or None
        ``"numpy"``: reference kernel; ``"numba"``: parallel CPU kernel (default for numpy input);
        ``"cupy"``: ``numba.cuda`` kernel for CuPy input.

    Raises
    ------
    ValueError
        Shapes that do not match, two charges at one position, or (``"coulomb"``) a point on a
        charge.
    """
    xp = get_namespace(positions, charges, points)
    positions, charges = _check_charges(positions, charges, xp)
    points = as_float_array(points, "points", allow_complex=False, xp=xp)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points must have shape (M, 3), got {tuple(points.shape)}")
    backend = resolve_backend(backend, positions, charges, points)
    if kernel == "coulomb":
        _check_not_on_charges(positions, points)
        weights = exponents = None
    elif kernel == "long_range":
        if not isinstance(long_range, GaussianSum):
            raise ValueError(
                "kernel='long_range' needs long_range=GaussianSum (e.g. "
                "default_long_range(domain, tol) or newton_kernel_terms(...).split(...)[0]), got "
                f"{type(long_range).__name__}"
            )
        weights, exponents = (xp.asarray(a, dtype=points.dtype) for a in long_range)
    else:
        raise ValueError(f"kernel must be 'coulomb' or 'long_range', got {kernel!r}")
    dtype = xp.result_type(positions, charges, points)
    return pair_potential(
        xp.asarray(positions, dtype=dtype), xp.asarray(charges, dtype=dtype),
        xp.asarray(points, dtype=dtype), weights, exponents, backend,
    )


def long_range_potential(
    positions: Any,
    charges: Any,
    *,
    domain: Any = None,
    tol: float = 1e-7,
    long_range: GaussianSum | None = None,
    degree: int | None = None,
    max_degree: int = 512,
    rank: Any = None,
) -> ChebTucker:
    """The long-range potential of point charges as a :class:`ChebTucker` (built by RHOSVD).

    Each (charge, Gaussian term) pair is a separable function, so the potential is a CP sum of
    ``N K`` terms handed to :meth:`ChebTucker.from_cp` as per-axis callables; the degree per axis
    is chosen adaptively, and the full coefficient tensor is never formed.

    Parameters
    ----------
    positions : array (N, 3), charges : array (N,)
    domain : box, optional
        Default :func:`default_domain` (the charges' bounding box, padded).
    tol : float
        Relative accuracy of the Chebyshev-Tucker approximation (and of the default kernel).
    long_range : GaussianSum, optional
        The long-range kernel; default ``default_long_range(domain, tol)``. Pass the same object to
        :func:`direct_potential` to compare.
    degree, max_degree, rank
        As in :meth:`ChebTucker.from_cp`.

    Examples
    --------
    >>> import numpy as np
    >>> from physics.electrostatics import lattice, long_range_potential
    >>> pos, q = lattice((4, 4, 2), spacing=2.0)
    >>> V = long_range_potential(pos, q, tol=1e-6)
    >>> V.ndim
    3
    """
    xp = get_namespace(positions, charges)
    positions, charges = _check_charges(positions, charges, xp)
    domain = default_domain(positions) if domain is None else check_domain(domain, 3)
    if long_range is None:
        long_range = default_long_range(domain, tol)
    elif not isinstance(long_range, GaussianSum):
        raise TypeError(f"long_range must be a GaussianSum, got {type(long_range).__name__}")
    a, t = (xp.asarray(v, dtype=positions.dtype) for v in long_range)
    weights = xp.reshape(charges[:, None] * a[None, :], (-1,))

    def axis_factor(k):
        centres = positions[:, k]

        def values(x):
            arg = ((x[:, None, None] - centres[None, :, None]) * t[None, None, :]) ** 2
            # exp(-arg) is subnormal beyond ~708: exact zeros keep the factorizations fast.
            out = xp.where(arg < _EXP_CUTOFF, xp.exp(-xp.minimum(arg, _EXP_CUTOFF)), 0.0)
            return xp.reshape(out, (x.shape[0], -1))

        return values

    return ChebTucker.from_cp(weights, [axis_factor(k) for k in range(3)], domain, tol,
                              degree=degree, max_degree=max_degree, rank=rank)


def default_domain(positions: Any) -> tuple[tuple[float, float], ...]:
    """The bounding box of ``positions`` grown by 15% of its largest side on every side."""
    p = to_numpy(positions)
    lo, hi = p.min(axis=0), p.max(axis=0)
    pad = _PAD * float(np.max(hi - lo)) if np.max(hi - lo) > 0 else 1.0
    return tuple((float(lo[k] - pad), float(hi[k] + pad)) for k in range(3))


def default_long_range(domain: Any, tol: float = 1e-7) -> GaussianSum:
    """The long-range kernel used when none is given, from the box alone.

    ``newton_kernel_terms(tol, r_min=D/1024, r_max=D)`` with ``D`` the box diagonal (no two points
    of the box are farther apart), split by :meth:`GaussianSum.default_split`.
    """
    box = check_domain(domain, 3)
    diameter = math.sqrt(sum((b - a) ** 2 for a, b in box))
    return newton_kernel_terms(tol, diameter / 1024, diameter).default_split()[0]


def _check_charges(positions, charges, xp):
    positions = as_float_array(positions, "positions", allow_complex=False, xp=xp)
    charges = as_float_array(charges, "charges", allow_complex=False, xp=xp)
    if positions.ndim != 2 or positions.shape[1] != 3 or positions.shape[0] < 1:
        raise ValueError(f"positions must have shape (N, 3) with N >= 1, got {tuple(positions.shape)}")
    if charges.ndim != 1 or charges.shape[0] != positions.shape[0]:
        raise ValueError(
            f"charges must have shape ({positions.shape[0]},) to match positions, got "
            f"{tuple(charges.shape)}"
        )
    dtype = xp.result_type(positions, charges)
    positions = xp.asarray(positions, dtype=dtype)
    charges = xp.asarray(charges, dtype=dtype)
    _check_distinct(positions)
    return positions, charges


def _check_distinct(positions):
    """Two charges at one place make the Coulomb energy infinite: refuse them."""
    from scipy.spatial import cKDTree

    p = to_numpy(positions)
    pairs = cKDTree(p).query_pairs(r=0.0, output_type="ndarray")
    if pairs.shape[0]:
        i, j = (int(v) for v in pairs[0])
        raise ValueError(
            f"positions holds {pairs.shape[0]} pair(s) of coincident charges, e.g. rows {i} and {j} "
            f"at {p[i].tolist()}"
        )


def _check_not_on_charges(positions, points):
    from scipy.spatial import cKDTree

    dist, index = cKDTree(to_numpy(positions)).query(to_numpy(points), k=1)
    on = np.nonzero(dist == 0.0)[0]
    if on.shape[0]:
        raise ValueError(
            f"points: {on.shape[0]} point(s) coincide with a charge (e.g. points[{int(on[0])}] = "
            f"positions[{int(index[on[0]])}]), where 1/r is infinite; use kernel='long_range' there"
        )
