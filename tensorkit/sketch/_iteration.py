"""The preconditioned iteration: CG on the normal equations with ``(R^T R)^-1`` from the sketch.

The loop touches ``A`` only through a callable, so one implementation serves in-memory arrays
(:func:`tensorkit.sketch.lstsq`, a fused Numba/CuPy pass) and dask clusters
(:func:`tensorkit.distributed.lstsq`, one task per row block).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .._validation import check_int, check_real
from ..backend import get_namespace, to_numpy
from ._solve import solve_upper

__all__ = ["RefinedSolution", "preconditioned_cg", "refined_cg"]


class RefinedSolution(NamedTuple):
    """What :func:`refined_cg` returns."""

    x: Any
    residual_norm: Any
    iterations: int
    refinements: int
    converged: bool
    ratio: float
    stopped: str


def preconditioned_cg(
    normal_op: Callable[[Any, Any, bool], tuple[Any, Any]],
    R: Any,
    X0: Any,
    b_norms: Any,
    tol: float,
    n_iter_max: int,
    sketch_size: int,
    *,
    history: list[float] | None = None,
) -> tuple[Any, Any, int, bool, float]:
    """CG on the normal equations preconditioned by ``(R^T R)^-1``, several right-hand sides.

    Parameters
    ----------
    normal_op : callable ``(W, cols, subtract_b) -> (A^T (A W - B[:, cols]), ||A W - B[:, cols]||^2)``
        (``B`` taken as zero when ``subtract_b`` is False); the only access to ``A``, so the same
        loop runs on one machine and on dask.
    R : array (d, d), upper triangular, from the QR of the sketch
    X0 : array (d, k), the warm start
    b_norms : array (k,), ``||b||`` per right-hand side (sets the rounding floor)
    tol : float, target relative residual excess
    n_iter_max : int, iteration cap (reaching it warns)
    sketch_size : int, ``m`` (sets the embedding bound used by the error estimate)
    history : list, optional
        When given, the estimated excess (largest over right-hand sides) is appended after the
        warm start and after each iteration.

    Returns
    -------
    X, residual norms (k,), iterations, converged, estimated excess (max over right-hand sides)

    Notes
    -----
    With ``M = A R^-1`` and ``g = A^T (b - A x)``, the squared ``A``-norm error is
    ``||A (x - x*)||^2 = h^T (M^T M)^-1 h`` with ``h = R^-T g``, so it lies between
    ``rz / sigma_max(M)^2`` and ``rz / sigma_min(M)^2`` where ``rz = g^T R^-1 R^-T g`` is the CG
    inner product. The estimate uses ``sigma_min(M) >= 1 / (1 + sqrt(d / m))`` (an embedding) with
    a safety factor 2 for sparse sketches. Since ``||A x - b||^2 = ||A x* - b||^2 +
    ||A (x - x*)||^2``, the relative residual excess is about ``||A (x - x*)||^2 / (2 ||A x* - b||^2)``.

    Examples
    --------
    With ``A`` orthonormal, ``R = I`` is an exact preconditioner: one step solves.

    >>> import numpy as np
    >>> from tensorkit.sketch import preconditioned_cg
    >>> A = np.linalg.qr(np.random.default_rng(0).standard_normal((50, 3)))[0]
    >>> b = np.random.default_rng(1).standard_normal((50, 1))
    >>> def normal_op(W, cols, subtract_b):
    ...     r = A @ W - (b[:, cols] if subtract_b else 0.0)
    ...     return A.T @ r, np.sum(r * r, axis=0)
    >>> X, res, its, converged, excess = preconditioned_cg(
    ...     normal_op, np.eye(3), np.zeros((3, 1)), np.linalg.norm(b, axis=0), 1e-14, 10, 10**6)
    >>> its, converged, bool(np.allclose(X, A.T @ b))
    (1, True, True)
    """
    tol, n_iter_max, sketch_size = _check_cg(normal_op, R, X0, b_norms, tol, n_iter_max, sketch_size)
    xp = get_namespace(X0)
    d, k = X0.shape
    eps = float(np.finfo(X0.dtype).eps)
    bound = 2.0 * (1.0 + math.sqrt(d / sketch_size)) ** 2
    # Below this A-norm error the recursion only tracks rounding noise.
    floor2 = (8.0 * eps * math.sqrt(d)) ** 2 * xp.maximum(b_norms, 1e-300) ** 2
    X = xp.asarray(X0, copy=True)
    all_cols = np.arange(k)
    G, rsq = normal_op(X, all_cols, True)
    Gr = -G
    Z = _precondition(R, Gr, xp)
    rz = xp.sum(Gr * Z, axis=0)
    r_star2 = xp.maximum(rsq - rz, 0.0)

    def excess_of(rz_now):
        err2 = bound * xp.maximum(rz_now, 0.0)
        return err2 / (2.0 * xp.maximum(r_star2, floor2)), err2 <= floor2

    def still_active(rz_now):
        excess, at_floor = excess_of(rz_now)
        if history is not None:
            history.append(float(xp.max(excess)))
        return np.asarray(to_numpy(~((excess <= tol) | at_floor)), dtype=bool)

    rz, active, its = _pcg(normal_op, R, X, Gr, Z, rz, n_iter_max, still_active, xp)
    excess, _ = excess_of(rz)
    converged = not active.any()
    if not converged:
        warnings.warn(
            f"sketch_precondition stopped at n_iter_max={n_iter_max} with estimated residual excess "
            f"{float(xp.max(excess)):.2e} > tol={tol:.1e}; raise n_iter_max or the sketch size",
            RuntimeWarning,
            stacklevel=3,
        )
    _, rsq = normal_op(X, all_cols, True)
    return X, xp.sqrt(rsq), its, converged, float(xp.max(excess))


def refined_cg(
    normal_op: Callable[[Any, Any, bool], tuple[Any, Any]],
    R: Any,
    X0: Any,
    norm_A: float,
    b_norms: Any,
    tol: float,
    n_iter_max: int,
    sketch_size: int,
    *,
    n_refine_max: int = 3,
    history: list[float] | None = None,
) -> RefinedSolution:
    """Sketch-and-precondition with iterative refinement (SPIR): the exact, backward-stable solver.

    Each refinement step recomputes the residual ``r = b - A x`` and the normal-equation residual
    ``g = A^T r`` from ``x`` in working precision (one pass), stops when LSQR's rule holds,

    ``||A^T r|| <= tol ||A|| ||r||``  or  ``||r|| <= tol (||A|| ||x|| + ||b||)``  (consistent systems),

    and otherwise solves the correction ``min ||A dx - r||`` by CG on ``A^T A dx = g``
    preconditioned by ``(R^T R)^-1`` from ``dx = 0`` and adds it, ``x <- x + dx``. Plain
    preconditioned CG lets its recursive residual drift from the true one and is not backward
    stable at high condition numbers (Meier, Nakatsukasa, Townsend, Webb 2023); recomputing the
    residual each step makes it so (Epperly, Meier, Nakatsukasa 2024). The correction's CG stops
    when its estimated ``A``-norm error ``||A (dx - dx*)||`` (between ``rz / sigma_max(A R^-1)^2``
    and ``rz / sigma_min(A R^-1)^2``, ``rz`` the CG inner product, ``sigma_min >= 1 / (1 +
    sqrt(d / m))`` with a factor 2 for sparse sketches) is below ``tol / 2`` times the residual
    or below the rounding level ``eps (||A|| ||x|| + ||b||)``. Refinement ends when the rule
    holds, after ``n_refine_max`` corrections, or when a step no longer halves ``||A^T r||`` (the
    rounding floor: the answer then has LAPACK's forward accuracy and counts as converged when
    ``||A^T r||`` is within ``sqrt(d)`` times the rounding error of computing ``A^T r``).

    Parameters
    ----------
    normal_op : callable ``(W, cols, subtract_b) -> (A^T (A W - B[:, cols]), ||A W - B[:, cols]||^2)``
        (``B`` taken as zero when ``subtract_b`` is False); the only access to ``A``.
    R : array (d, d), upper triangular, from the QR of the sketch
    X0 : array (d, k), the warm start (the sketch-and-solve answer)
    norm_A : float, an estimate of ``||A||_2`` (:func:`~tensorkit.sketch.planning.norm_estimate`)
    b_norms : array (k,), ``||b||`` per right-hand side
    tol : float, the rule's tolerance (``eps`` of the dtype: LAPACK's accuracy)
    n_iter_max : int, cap on the CG iterations of all corrections together (reaching it warns)
    sketch_size : int, ``m`` (sets the embedding bound used by the error estimate)
    n_refine_max : int, cap on the corrections
    history : list, optional
        Receives the relative normal-equation residual ``||A^T r|| / (||A|| ||r||)`` (largest
        over right-hand sides) at the warm start and after each correction.

    Returns
    -------
    RefinedSolution
        ``x``, ``residual_norm`` (k,), ``iterations`` (CG iterations), ``refinements``,
        ``converged``, ``ratio`` (final ``||A^T r|| / (||A|| ||r||)``, largest over right-hand
        sides; 0 for a zero residual) and ``stopped`` (``"tol"``, ``"rounding"`` or
        ``"n_iter_max"``).

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.sketch import refined_cg
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((500, 4)); b = rng.standard_normal((500, 1))
    >>> def normal_op(W, cols, subtract_b):
    ...     r = A @ W - (b[:, cols] if subtract_b else 0.0)
    ...     return A.T @ r, np.sum(r * r, axis=0)
    >>> R = np.linalg.qr(A, mode="r")
    >>> out = refined_cg(normal_op, R, np.zeros((4, 1)), np.linalg.norm(A, 2),
    ...                  np.linalg.norm(b, axis=0), 1e-15, 50, 10**6)
    >>> out.converged, bool(np.allclose(out.x, np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-13))
    (True, True)
    """
    tol, n_iter_max, sketch_size = _check_cg(normal_op, R, X0, b_norms, tol, n_iter_max, sketch_size)
    norm_A = check_real(norm_A, "norm_A", minimum=0.0, strict_minimum=True)
    n_refine_max = check_int(n_refine_max, "n_refine_max", minimum=0)
    xp = get_namespace(X0)
    d, k = X0.shape
    eps = float(np.finfo(X0.dtype).eps)
    bound = 2.0 * (1.0 + math.sqrt(d / sketch_size)) ** 2
    b_norms = xp.asarray(b_norms, dtype=X0.dtype)
    all_cols = np.arange(k)
    X = xp.asarray(X0, copy=True)
    its = refinements = 0
    stopped = "tol"
    previous = None
    while True:
        G, rsq = normal_op(X, all_cols, True)
        r = xp.sqrt(xp.maximum(rsq, 0.0))
        g = xp.sqrt(xp.sum(G * G, axis=0))
        x_norms = xp.sqrt(xp.sum(X * X, axis=0))
        scale = norm_A * x_norms + b_norms
        ratio = xp.where(r > 0, g / (norm_A * xp.where(r > 0, r, 1.0)), 0.0)
        met = (ratio <= tol) | (r <= tol * scale)
        # The rounding error of computing A^T r from x (one pass): what no solver can go below.
        at_floor = g <= math.sqrt(d) * eps * norm_A * scale
        if history is not None:
            history.append(float(xp.max(ratio)))
        if bool(xp.all(met)):
            break
        if refinements >= n_refine_max or its >= n_iter_max or (
            previous is not None and not bool(xp.any(g < 0.5 * previous))
        ):
            stopped = "n_iter_max" if its >= n_iter_max else "rounding"
            break
        previous = g
        active = np.asarray(to_numpy(~met), dtype=bool)
        cols = np.flatnonzero(active)
        r_star = xp.sqrt(xp.maximum(rsq[cols] - xp.sum(G[:, cols] * _precondition(R, G[:, cols], xp),
                                                          axis=0), 0.0))
        target = xp.maximum(0.5 * tol * r_star, eps * scale[cols])
        D, used = _correction(normal_op, R, -G[:, cols], target**2 / bound, n_iter_max - its, xp)
        X[:, cols] += D
        its += used
        refinements += 1
    converged = bool(xp.all(met | at_floor))
    if stopped == "n_iter_max" and not converged:
        warnings.warn(
            f"sketch_precondition stopped at n_iter_max={n_iter_max} with ||A^T r|| / (||A|| ||r||) "
            f"= {float(xp.max(ratio)):.2e} > tol={tol:.1e}; raise n_iter_max or the sketch size",
            RuntimeWarning,
            stacklevel=3,
        )
    return RefinedSolution(X, r, its, refinements, converged, float(xp.max(ratio)), stopped)


def _correction(normal_op, R, H, target2, n_iter, xp):
    """CG from zero on ``A^T A D = H`` (preconditioned by ``(R^T R)^-1``) until the CG inner product
    ``rz`` of every column is below ``target2`` (or ``n_iter`` iterations); returns ``D`` and the
    iterations used."""
    D = xp.zeros_like(H)
    Gr = xp.asarray(H, copy=True)
    Z = _precondition(R, Gr, xp)
    rz = xp.sum(Gr * Z, axis=0)

    def still_active(rz_now):
        return np.asarray(to_numpy(rz_now > target2), dtype=bool)

    _, _, its = _pcg(normal_op, R, D, Gr, Z, rz, n_iter, still_active, xp)
    return D, its


def _pcg(normal_op, R, X, Gr, Z, rz, n_iter, still_active, xp):
    """The multi-column preconditioned CG loop shared by :func:`preconditioned_cg` and the
    refinement corrections: updates ``X`` and the gradient ``Gr`` in place, iterating the columns
    that ``still_active(rz)`` (a host bool mask, called after the start and after every step)
    keeps, for at most ``n_iter`` steps. Returns ``(rz, active, iterations)``."""
    P = xp.asarray(Z, copy=True)
    active = still_active(rz)
    its = 0
    while active.any() and its < n_iter:
        cols = np.flatnonzero(active)
        Pa = P[:, cols]
        Qa, _ = normal_op(Pa, cols, False)
        alpha = rz[cols] / xp.sum(Pa * Qa, axis=0)
        X[:, cols] += alpha * Pa
        Gr[:, cols] -= alpha * Qa
        Za = _precondition(R, Gr[:, cols], xp)
        rz_new = xp.sum(Gr[:, cols] * Za, axis=0)
        P[:, cols] = Za + (rz_new / rz[cols]) * Pa
        rz[cols] = rz_new
        its += 1
        active = still_active(rz)
    return rz, active, its


def _precondition(R, G, xp):
    """``(R^T R)^-1 G`` by two triangular solves."""
    return solve_upper(R, solve_upper(R, G, xp, trans=True), xp)


def _check_cg(normal_op, R, X0, b_norms, tol, n_iter_max, sketch_size):
    """The public iterations' checks (shapes as documented, scalars by the error policy)."""
    if not callable(normal_op):
        raise TypeError(f"normal_op must be a callable, got {type(normal_op).__name__}")
    shapes = {name: tuple(getattr(v, "shape", ()))
              for name, v in (("R", R), ("X0", X0), ("b_norms", b_norms))}
    if len(shapes["X0"]) != 2:
        raise ValueError(f"X0 must be a matrix (d, k), got shape {shapes['X0']}")
    d, k = shapes["X0"]
    if shapes["R"] != (d, d):
        raise ValueError(f"R must have shape {(d, d)} (d columns of X0), got {shapes['R']}")
    if shapes["b_norms"] != (k,):
        raise ValueError(f"b_norms must have shape {(k,)} (k columns of X0), got {shapes['b_norms']}")
    bxp = get_namespace(b_norms)
    if not bool(bxp.all(bxp.isfinite(b_norms) & (b_norms >= 0))):
        raise ValueError(f"b_norms must be finite norms >= 0, got {b_norms!r}")
    return (check_real(tol, "tol", minimum=0.0, strict_minimum=True),
            check_int(n_iter_max, "n_iter_max", minimum=0), check_int(sketch_size, "sketch_size", minimum=1))
