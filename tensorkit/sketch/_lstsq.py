"""Least squares ``min ||A x - b||_2`` for tall ``A``: LAPACK, sketch-and-solve, sketch-and-precondition.

The preconditioned solver (Blendenpik/LSRN style) spends its time in three places, each made cheap:

1. a sketch ``S A`` that reads ``A`` once (CountSketch: one signed scatter per row);
2. a QR of the small ``m x d`` sketch, ``S A = Q R`` (:func:`~tensorkit.sketch.sketched_solve`);
   then ``A R^-1`` has singular values in ``[1/(1 + sqrt(d/m)), 1/(1 - sqrt(d/m))]`` (for an
   embedding), so the preconditioned normal equations are well conditioned whatever ``cond(A)`` is;
3. conjugate gradients on ``R^-T A^T A R^-1 y = R^-T A^T b`` (CGNR,
   :func:`~tensorkit.sketch.preconditioned_cg`), warm-started from the sketch-and-solve answer
   ``x_0 = R^-1 Q^T S b``. Each iteration costs one fused pass ``A^T (A p)`` that reads ``A`` once
   (:func:`tensorkit._kernels.normal_matvec`) and two triangular solves; the error in the
   ``A``-norm falls by about ``sqrt(d/m)`` per iteration.

With ``kappa(A R^-1)`` close to one, forming the normal equations implicitly loses nothing:
the attainable residual excess is at rounding level even for ``cond(A) = 1e8``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _kernels
from .._info import Info
from .._validation import as_float_array, check_choice, check_int
from ..backend import get_namespace, native, resolve_backend, to_numpy
from ._base import SketchOperator, as_matrix
from ._composed import _SKETCHES, make_sketch, sparse_then_gaussian
from ._dense import GaussianSketch
from ._iteration import refined_cg
from ._kronecker import KroneckerSketch
from ._solve import sketch_problem, sketched_solve
from ._sparse import CountSketch
from .planning import (
    check_iteration_options,
    column_norms,
    default_tol,
    first_stage_size,
    norm_estimate,
    power_of_two_scale,
    precondition_sketch,
    seed_from,
    sketch_size_for,
)

__all__ = ["METHODS", "LstsqResult", "linf_error", "lstsq"]

METHODS = ("auto", "direct", "sketch_solve", "sketch_precondition")


@dataclass
class LstsqResult:
    """What :func:`lstsq` (and :func:`tensorkit.distributed.lstsq`) return.

    Attributes
    ----------
    x : array (d,) or (d, k)
        The solution, on the device of ``A``.
    residual_norm : float or array (k,)
        ``||A x - b||_2`` per right-hand side.
    sketch_size : int or None
        Rows of the sketch (None for ``"direct"``).
    sketch : str or None
        The sketch used, e.g. ``"countsketch"`` or ``"sparse_sign+gaussian"``.
    rank : int or None
        Numerical rank found by ``"direct"`` (None otherwise).
    info : Info
        How the solve ended: ``method``, ``iterations`` (Krylov iterations; 0 for ``"direct"`` and
        ``"sketch_solve"``), ``converged`` (whether LSQR's rule met ``tol``, or the rounding floor
        was reached; True for the non-iterative methods), ``rel_error`` (the relative
        normal-equation residual ``||A^T r|| / (||A|| ||r||)`` of the returned ``x``, see
        :attr:`excess_estimate`; None when not computed), ``history`` (its value at the warm start
        and after each refinement of ``"sketch_precondition"``) and ``extras`` (``sketch``,
        ``sketch_size``; ``refinements``, ``stopped`` and ``norm_A`` for
        ``"sketch_precondition"``; ``fallback`` when a sketched method was solved directly).
    method, iterations, converged : read from :attr:`info`
    excess_estimate : float
        ``info.rel_error`` (the name is kept from when it estimated the residual excess): for
        ``"sketch_precondition"`` the relative normal-equation residual (largest over right-hand
        sides); 0 for ``"direct"``; NaN for ``"sketch_solve"`` (not computed; its residual excess
        is about ``d / (2 (m - d - 1))`` for a Gaussian sketch).
    """

    x: Any
    residual_norm: Any
    info: Info
    sketch_size: int | None = None
    sketch: str | None = None
    rank: int | None = None

    @property
    def method(self) -> str:
        """The method that ran (``"auto"`` resolved)."""
        return self.info.method

    @property
    def iterations(self) -> int:
        """Krylov iterations (0 for the non-iterative methods)."""
        return self.info.iterations

    @property
    def converged(self) -> bool:
        """Whether the iteration met ``tol`` (True for the non-iterative methods)."""
        return self.info.converged

    @property
    def excess_estimate(self) -> float:
        """``info.rel_error`` (NaN when not computed)."""
        return math.nan if self.info.rel_error is None else self.info.rel_error


def lstsq(
    A: Any,
    b: Any,
    *,
    method: str = "auto",
    sketch: str | SketchOperator = "auto",
    sketch_size: int | None = None,
    tol: float | None = None,
    n_iter_max: int | None = None,
    random_state: Any = None,
    backend: str | None = None,
    max_iter: int | None = None,
) -> LstsqResult:
    """Solve ``min_x ||A x - b||_2`` for a tall ``A`` exactly faster than LAPACK, or approximately
    with an l-infinity error guarantee much faster.

    Parameters
    ----------
    A : array (n, d), real, numpy or CuPy
    b : array (n,) or (n, k)
        One or several right-hand sides.
    method : {"auto", "direct", "sketch_solve", "sketch_precondition"}
        ``"direct"``: LAPACK (``numpy.linalg.lstsq``/``cupy.linalg.lstsq``); the minimum-norm
        solution when ``A`` is rank deficient.
        ``"sketch_solve"``: ``x' = argmin ||S A x - S b||`` (one shot). With a dense sketch of
        ``m >= 4 d`` rows (Song et al. 2023), ``||x' - x*||_inf <= eps / sqrt(d) ||A x* - b||
        ||A^+||`` with ``eps`` of order ``sqrt(d log d / m)``; see :func:`linf_error`.
        ``"sketch_precondition"``: the LAPACK answer by sketch-and-precondition with iterative
        refinement (SPIR, :func:`~tensorkit.sketch.refined_cg`): ``R`` from a QR of ``S A``,
        warm start from the sketch-and-solve answer, then corrections solved by CG on
        ``A R^-1``, each from a residual ``b - A x`` recomputed in working precision.
        ``"auto"``: ``"direct"`` for small or nearly square problems (``n < 10 d`` or
        ``n d < 2e5``), ``"sketch_solve"`` when ``tol >= 0.5``, otherwise
        ``"sketch_precondition"``; a rank-deficient ``A`` falls back to ``"direct"``
        (minimum-norm answer).
    sketch : str or SketchOperator
        ``"auto"``: for ``"sketch_solve"`` a sparse sign sketch to ``8 d``-``16 d`` rows, then a Gaussian
        (dense, so the l-infinity guarantee holds; plain Gaussian when ``n`` is small); for
        ``"sketch_precondition"`` a CountSketch (the answer is exact, so only speed matters) with
        at least 4 rows of ``A`` per bucket on average (fewer collide rows and lose rank), and
        no sketch at all (``R`` from the QR of ``A``, reported as ``"none"``) when ``n < 8 d``
        (:func:`~tensorkit.sketch.planning.precondition_sketch`).
        Or one of ``"gaussian"``, ``"srht"``, ``"srdct"``, ``"countsketch"``, ``"sparse_sign"``,
        or an operator (whose ``sketch_size`` is used).
    sketch_size : int, optional
        Rows ``m >= d`` of the sketch. Default ``4 d`` for ``"sketch_solve"``; for
        ``"sketch_precondition"`` a size balancing the QR of the sketch against iterations
        (:func:`~tensorkit.sketch.planning.sketch_size_for`).
    tol : float, optional
        LSQR's stopping rule for ``"sketch_precondition"``: ``||A^T r|| <= tol ||A|| ||r||`` (or
        ``||r|| <= tol (||A|| ||x|| + ||b||)`` for consistent systems), checked on a recomputed
        residual, ``||A||`` estimated from ``R``. Default: ``eps`` of the dtype, which gives ``x``
        to LAPACK's forward accuracy (within a small multiple of ``cond(A) eps`` of LAPACK's ``x``
        when the residual is small; the iteration stops at the rounding floor of computing
        ``A^T r`` when the rule is out of reach). A looser ``tol`` (e.g. ``1e-8``) is faster.
        ``tol >= 0.5`` makes ``"auto"`` choose ``"sketch_solve"``.
    n_iter_max : int, optional
        Iteration cap (default 100); reaching it warns and sets ``converged=False``.
    random_state : int, numpy.random.Generator or None
    backend : {"numpy", "numba", "cupy"} or None
        Kernel set (inferred from the arrays).
    max_iter : int, optional
        Deprecated name of ``n_iter_max`` (``DeprecationWarning``).

    Returns
    -------
    LstsqResult
        With ``info`` (:class:`tensorkit.extend.Info`): iterations, converged, the relative
        normal-equation residual ``||A^T r|| / (||A|| ||r||)`` as ``rel_error`` and its history.

    Notes
    -----
    Scale: ``A`` and ``b`` are multiplied by powers of two (exact) chosen from their sketches
    before anything is squared, so any finite input gives the answer of the unscaled problem;
    ``residual_norm`` and ``rel_error`` refer to the unscaled problem.

    Raises
    ------
    TypeError
        Complex or non-numeric data, a bool or float where an int is expected, an unknown
        ``sketch`` type.
    ValueError
        Shape mismatch, ``n < d`` or ``sketch_size < d`` for the sketched methods, non-finite
        entries, bad options, a solution that overflows the dtype (finite data, ``|x|`` too large).
    numpy.linalg.LinAlgError
        From the sketched methods when ``A`` is numerically rank deficient (seen on ``R`` of the
        sketch, confirmed by an SVD of ``A``; a sketch that lost rank of a full-rank ``A`` falls
        back to LAPACK, noted in ``info.extras["fallback"]``). Use ``"direct"``.

    References
    ----------
    Song, Ye, Yin, Zhang, "A nearly-optimal bound for fast regression with l-infinity guarantee",
    ICML 2023. Avron, Maymounkov, Toledo, "Blendenpik", SISC 2010. Meng, Saunders, Mahoney,
    "LSRN", SISC 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.sketch import lstsq
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((4000, 20)); b = rng.standard_normal(4000)
    >>> res = lstsq(A, b, method="sketch_precondition", random_state=0)
    >>> x_np = np.linalg.lstsq(A, b, rcond=None)[0]
    >>> bool(np.linalg.norm(res.x - x_np) <= 1e-14 * np.linalg.norm(x_np))
    True
    >>> res.info.converged, len(res.info.history) == res.info.extras["refinements"] + 1
    (True, True)
    """
    check_choice(method, "method", METHODS)
    A, B, vector, xp = _check_problem(A, b)
    n, d = A.shape
    tol, n_iter_max = check_iteration_options(tol, n_iter_max, max_iter)
    if tol is None:
        tol = default_tol(A.dtype)
    if sketch_size is not None:
        check_int(sketch_size, "sketch_size", minimum=1)
    backend = resolve_backend(backend, A, B)
    if isinstance(sketch, KroneckerSketch):
        raise TypeError("KroneckerSketch sketches tensor-product rows; lstsq needs a row sketch")
    if not isinstance(sketch, (str, SketchOperator)):
        raise TypeError(f"sketch must be a name or a SketchOperator, got {type(sketch).__name__}")
    if isinstance(sketch, str) and sketch != "auto":
        # a misspelt name is refused even where the direct solver would ignore it
        check_choice(sketch, "sketch", ("auto", *_SKETCHES))

    chosen = method
    if method == "auto":
        if n < 10 * d or n * d < 200_000:
            chosen = "direct"
        elif tol >= 0.5:
            chosen = "sketch_solve"
        else:
            chosen = "sketch_precondition"
    if chosen == "direct":
        if not isinstance(random_state, np.random.Generator):
            seed_from(random_state)  # checked though unused: a bad seed is refused whatever the method
        result = _direct(A, B, xp)
    else:
        op = _build_sketch(sketch, sketch_size, chosen, n, d, random_state)
        try:
            result = _sketched(A, B, op, chosen, backend, tol, n_iter_max, xp)
        except np.linalg.LinAlgError:
            # The sketch may have lost rank where A has not (a confirmation by SVD): then LAPACK.
            if method != "auto" and _rank(A, xp) < d:
                raise
            result = _direct(A, B, xp)
            result.info.extras["fallback"] = f"the sketch of A lost rank; solved {chosen!r} directly"
    if not bool(xp.all(xp.isfinite(result.x))):
        # finite A and b whose solution is not: |x| ~ |b| / sigma_min(A) overflows the dtype
        raise ValueError(
            f"the least-squares solution overflows {A.dtype} (max|A| = {float(xp.max(xp.abs(A))):.3g}, "
            f"max|b| = {float(xp.max(xp.abs(B))):.3g}); scale A up or b down"
        )
    if vector:
        result.x = result.x[:, 0]
        result.residual_norm = float(result.residual_norm[0])
    return result


def linf_error(A: Any, b: Any, x: Any, *, x_star: Any = None) -> Any:
    """The effective l-infinity error ``eps_eff = sqrt(d) ||x - x*||_inf / (||A x* - b||_2 ||A^+||_2)``.

    Song et al. (2023) prove ``eps_eff <= eps`` with high probability for sketch-and-solve with
    a dense sketch of ``m ~ eps^-2 d polylog`` rows; in practice ``eps_eff <= 3 sqrt(d ln(2d) / m)``
    for ``m >= 4 d``. ``||A^+||_2 = 1 / sigma_min(A)`` comes from an SVD of ``A`` (a diagnostic: it
    costs as much as a direct solve).

    Parameters
    ----------
    A : array (n, d)
    b : array (n,) or (n, k)
    x : array (d,) or (d, k), the approximate solution
    x_star : array, optional
        The exact solution (computed with ``numpy.linalg.lstsq`` when omitted).

    Returns
    -------
    float, or array (k,) for several right-hand sides

    Raises
    ------
    numpy.linalg.LinAlgError
        When ``A`` is numerically singular (``sigma_min <= max(n, d) eps sigma_max``): ``||A^+||``
        is unbounded.
    ValueError
        When ``b`` lies in the range of ``A`` (the optimal residual is at rounding level, below
        ``10 d eps (||A|| ||x*|| + ||b||)``), when shapes disagree or data is not finite.
    TypeError
        For complex or non-numeric data.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.sketch import linf_error
    >>> A = np.eye(3, 2); b = np.array([1.0, 2.0, 1.0])
    >>> float(linf_error(A, b, np.array([1.0, 2.5])))
    0.7071067811865476
    """
    A, B, vector, xp = _check_problem(A, b)
    A = as_float_array(A, "A", allow_complex=False, xp=xp)
    B = as_float_array(B, "b", allow_complex=False, xp=xp)
    nxp = native(xp)
    d = A.shape[1]
    X, _, _ = as_matrix(x, "x", xp=xp)
    if X.shape != (d, B.shape[1]):
        raise ValueError(f"x must have shape {(d,) if vector else (d, B.shape[1])}, got {tuple(x.shape)}")
    if x_star is None:
        X_star = nxp.linalg.lstsq(A, B, rcond=None)[0]
    else:
        X_star, _, _ = as_matrix(x_star, "x_star", xp=xp)
        if X_star.shape != X.shape:
            raise ValueError(f"x_star must have the shape of x {tuple(x.shape)}, got {tuple(x_star.shape)}")
    sigma = to_numpy(xp.linalg.svdvals(A)).astype(np.float64)
    eps = float(np.finfo(A.dtype).eps)
    if not sigma[-1] > max(A.shape) * eps * sigma[0]:
        raise np.linalg.LinAlgError(
            f"A is numerically singular (sigma_min / sigma_max = {sigma[-1] / sigma[0]:.1e} <= "
            f"max(n, d) eps): ||A^+|| is unbounded, eps_eff is undefined")
    r_star = to_numpy(column_norms(A @ X_star - B, xp)).astype(np.float64)
    floor = 10.0 * d * eps * (sigma[0] * to_numpy(column_norms(X_star, xp)) + to_numpy(column_norms(B, xp)))
    if not np.all(r_star > floor):
        raise ValueError("b lies in the range of A (optimal residual at rounding level): eps_eff is "
                         "undefined; the sketched answer is then exact up to rounding")
    err = to_numpy(xp.max(xp.abs(X - X_star), axis=0)).astype(np.float64)
    # In logarithms: err, sigma_min and r_star may each be near the ends of the float range.
    with np.errstate(divide="ignore"):
        eps_eff = np.sqrt(d) * np.exp(np.log(err) + np.log(sigma[-1]) - np.log(r_star))
    return float(eps_eff[0]) if vector else eps_eff


# --- the three methods ------------------------------------------------------------------------


def _direct(A, B, xp) -> LstsqResult:
    A = as_float_array(A, "A", allow_complex=False, xp=xp)
    B = as_float_array(B, "b", allow_complex=False, xp=xp)
    nxp = native(xp)
    # LAPACK's gelsd rescales A and b itself; the residual norms are taken without squaring.
    with np.errstate(over="ignore"):  # numpy squares the residuals it returns: unused here
        X, _, rank, _ = nxp.linalg.lstsq(A, B, rcond=None)
    res = column_norms(A @ X - B, xp)
    return LstsqResult(X, res, Info("direct", rel_error=0.0), rank=int(rank))


def _sketched(A, B, op, method, backend, tol, n_iter_max, xp) -> LstsqResult:
    """Sketch-and-solve or SPIR on ``s_A A`` and ``s_b b`` (exact powers of two: nothing squared
    overflows or underflows), unscaled at the end."""
    SA, SB = sketch_problem(A, B, op, backend, xp)
    p_a, p_b = 1.0, 1.0
    if SA is None:  # the sketch overflowed on finite data: scale A and b first, then sketch again
        p_a = float(power_of_two_scale(float(xp.max(xp.abs(A))), dtype=A.dtype))
        p_b = xp.asarray(power_of_two_scale(xp.max(xp.abs(B), axis=0), xp, dtype=B.dtype), dtype=B.dtype)
        A, B = A * p_a, B * p_b
        SA, SB = sketch_problem(A, B, op, backend, xp)
    s_a = float(power_of_two_scale(float(xp.max(xp.abs(SA))), dtype=A.dtype))
    s_b = xp.asarray(power_of_two_scale(xp.max(xp.abs(SB), axis=0), xp, dtype=B.dtype), dtype=B.dtype)
    if s_a != 1.0:
        A, SA = A * s_a, SA * s_a
    if bool(xp.any(s_b != 1.0)):
        B, SB = B * s_b, SB * s_b
    s_a, s_b = s_a * p_a, s_b * p_b
    R, X = sketched_solve(SA, SB, A.shape)
    if method == "sketch_solve":
        res = column_norms(A @ X - B, xp)
        info = Info("sketch_solve")
    else:
        def normal_op(W, cols, subtract_b):
            return _kernels.normal_matvec(A, W, B[:, cols] if subtract_b else None, backend)

        norm_A = norm_estimate(R)
        history: list[float] = []
        sol = refined_cg(normal_op, R, X, norm_A, column_norms(B, xp), tol, n_iter_max,
                         op.sketch_size, history=history)
        X, res = sol.x, sol.residual_norm
        info = Info("sketch_precondition", iterations=sol.iterations, converged=sol.converged,
                    rel_error=sol.ratio, history=history)
        info.extras.update(refinements=sol.refinements, stopped=sol.stopped, norm_A=norm_A / s_a)
    X = X * (s_a / s_b)
    res = res / s_b
    return _sketched_result(X, res, op, info)


class _Unsketched:
    """No sketch: the preconditioner ``R`` from the QR of ``A`` itself, for ``n < 8 d`` where a
    sketch saves nothing (a Gaussian keeps rank but costs ``2 m n d >= 2 n d^2``, a QR of ``A``;
    ``R`` of ``A`` is exact, so CG stops within a step or two)."""

    name = "none"

    def __init__(self, n: int) -> None:
        self.sketch_size = n

    def apply(self, A, *, backend=None):
        return A


def _rank(A, xp) -> int:
    """Numerical rank of ``A`` by SVD, with numpy's threshold ``sigma_max max(n, d) eps``."""
    return int(native(xp).linalg.matrix_rank(A))


def _sketched_result(X, residual_norm, op, info) -> LstsqResult:
    info.extras.update(sketch=op.name, sketch_size=op.sketch_size)
    return LstsqResult(X, residual_norm, info, op.sketch_size, op.name)


# --- pieces -----------------------------------------------------------------------------------


def _check_problem(A, b):
    """Validate shapes and dtypes (not finiteness: see :func:`._solve.sketch_problem`)."""
    A, a_vector, xp = as_matrix(A, "A")
    if a_vector:
        raise ValueError(f"A must be a matrix (n, d), got shape {(A.shape[0],)}")
    xp = get_namespace(A, b)
    B, vector, _ = as_matrix(b, "b", xp=xp)
    if B.shape[0] != A.shape[0]:
        raise ValueError(f"b has {B.shape[0]} rows but A has {A.shape[0]} (A shape {tuple(A.shape)}, "
                         f"b shape {np.shape(b)})")
    if A.shape[1] == 0 or B.shape[1] == 0:
        raise ValueError(f"A and b need at least one column, got {tuple(A.shape)} and {np.shape(b)}")
    dtype = xp.result_type(A.dtype, B.dtype)
    return A.astype(dtype, copy=False), B.astype(dtype, copy=False), vector, xp


def _build_sketch(sketch, sketch_size, method, n, d, random_state) -> SketchOperator:
    if isinstance(sketch, SketchOperator):
        if sketch_size is not None and sketch_size != sketch.sketch_size:
            raise ValueError(f"sketch_size={sketch_size} disagrees with the operator's "
                             f"sketch_size={sketch.sketch_size}")
        sketch_size_for(method, n, d, sketch.sketch_size)
        return sketch
    m = sketch_size_for(method, n, d, sketch_size)
    seed = seed_from(random_state)
    if sketch == "auto":
        if method == "sketch_precondition":
            if sketch_size is not None:  # the user's size is kept; a Gaussian where buckets collide
                return (CountSketch if n >= 4 * m else GaussianSketch)(m, random_state=seed)
            return precondition_sketch(n, d, m, seed) or _Unsketched(n)
        first = first_stage_size(n, d)
        if n <= 2 * first:
            return GaussianSketch(m, random_state=seed)
        return sparse_then_gaussian(first, m, random_state=seed)
    return make_sketch(sketch, m, random_state=seed)
