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
from ..backend import get_namespace, native, resolve_backend
from ._base import SketchOperator, as_matrix
from ._composed import make_sketch, sparse_then_gaussian
from ._dense import GaussianSketch
from ._iteration import preconditioned_cg
from ._kronecker import KroneckerSketch
from ._solve import sketch_problem, sketched_solve
from ._sparse import CountSketch
from .planning import check_iteration_options, first_stage_size, seed_from, sketch_size_for

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
        ``"sketch_solve"``), ``converged`` (whether the iteration met ``tol``; True for the
        non-iterative methods), ``rel_error`` (the estimated relative residual excess, see
        :attr:`excess_estimate`; None when not estimated), ``history`` (the estimated excess after
        the warm start and each iteration of ``"sketch_precondition"``) and ``extras``
        (``sketch``, ``sketch_size`` for the sketched methods).
    method, iterations, converged : read from :attr:`info`
    excess_estimate : float
        For ``"sketch_precondition"``, the estimated relative residual excess
        ``||A x - b|| / ||A x* - b|| - 1`` reached (largest over right-hand sides); 0 for
        ``"direct"``; NaN for ``"sketch_solve"`` (not estimated; its expectation is about
        ``d / (2 (m - d - 1))`` for a Gaussian sketch).
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
        """The estimated relative residual excess (NaN when not estimated)."""
        return math.nan if self.info.rel_error is None else self.info.rel_error


def lstsq(
    A: Any,
    b: Any,
    *,
    method: str = "auto",
    sketch: str | SketchOperator = "auto",
    sketch_size: int | None = None,
    tol: float = 1e-12,
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
        ``"sketch_precondition"``: the LAPACK answer (to ``tol``) by CG on ``A R^-1`` with ``R``
        from a QR of ``S A``, warm-started from the sketch-and-solve answer.
        ``"auto"``: ``"direct"`` for small or nearly square problems (``n < 10 d`` or
        ``n d < 2e5``), ``"sketch_solve"`` when ``tol >= 0.5``, otherwise
        ``"sketch_precondition"``; a rank-deficient ``A`` falls back to ``"direct"``
        (minimum-norm answer).
    sketch : str or SketchOperator
        ``"auto"``: for ``"sketch_solve"`` a sparse sign sketch to ``8 d``-``16 d`` rows, then a Gaussian
        (dense, so the l-infinity guarantee holds; plain Gaussian when ``n`` is small); for
        ``"sketch_precondition"`` a CountSketch (the answer is exact, so only speed matters).
        Or one of ``"gaussian"``, ``"srht"``, ``"srdct"``, ``"countsketch"``, ``"sparse_sign"``,
        or an operator (whose ``sketch_size`` is used).
    sketch_size : int, optional
        Rows ``m >= d`` of the sketch. Default ``4 d`` for ``"sketch_solve"``; for
        ``"sketch_precondition"`` a size balancing the QR of the sketch against iterations
        (:func:`~tensorkit.sketch.planning.sketch_size_for`).
    tol : float
        The accuracy target: relative residual excess ``||A x - b|| / ||A x* - b|| - 1`` for
        ``"sketch_precondition"`` (estimated from the CG coefficients and the embedding bound; the
        iteration stops once the estimate is below ``tol``). Any positive number.
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
        With ``info`` (:class:`tensorkit.extend.Info`): iterations, converged, the estimated
        residual excess as ``rel_error`` and its history.

    Raises
    ------
    TypeError
        Complex or non-numeric data, a bool or float where an int is expected, an unknown
        ``sketch`` type.
    ValueError
        Shape mismatch, ``n < d`` or ``sketch_size < d`` for the sketched methods, non-finite
        entries, bad options.
    numpy.linalg.LinAlgError
        From the sketched methods when ``A`` is numerically rank deficient (use ``"direct"``).

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
    >>> bool(np.linalg.norm(A @ res.x - b) / np.linalg.norm(A @ x_np - b) - 1 <= 1e-12)
    True
    >>> res.info.converged, res.info.rel_error <= 1e-12, len(res.info.history) == res.iterations + 1
    (True, True, True)
    """
    check_choice(method, "method", METHODS)
    A, B, vector, xp = _check_problem(A, b)
    n, d = A.shape
    tol, n_iter_max = check_iteration_options(tol, n_iter_max, max_iter)
    if sketch_size is not None:
        check_int(sketch_size, "sketch_size", minimum=1)
    backend = resolve_backend(backend, A, B)
    if isinstance(sketch, KroneckerSketch):
        raise TypeError("KroneckerSketch sketches tensor-product rows; lstsq needs a row sketch")
    if not isinstance(sketch, (str, SketchOperator)):
        raise TypeError(f"sketch must be a name or a SketchOperator, got {type(sketch).__name__}")

    chosen = method
    if method == "auto":
        if n < 10 * d or n * d < 200_000:
            chosen = "direct"
        elif tol >= 0.5:
            chosen = "sketch_solve"
        else:
            chosen = "sketch_precondition"
    if chosen == "direct":
        result = _direct(A, B, xp)
    else:
        op = _build_sketch(sketch, sketch_size, chosen, n, d, random_state)
        try:
            if chosen == "sketch_solve":
                result = _sketch_solve(A, B, op, backend, xp)
            else:
                result = _sketch_precondition(A, B, op, backend, tol, n_iter_max, xp)
        except np.linalg.LinAlgError:
            if method != "auto":
                raise
            result = _direct(A, B, xp)
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

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.sketch import linf_error
    >>> A = np.eye(3, 2); b = np.array([1.0, 2.0, 1.0])
    >>> float(linf_error(A, b, np.array([1.0, 2.5])))
    0.7071067811865476
    """
    A, B, vector, xp = _check_problem(A, b)
    nxp = native(xp)
    d = A.shape[1]
    X, _, _ = as_matrix(x, "x", xp=xp)
    if X.shape != (d, B.shape[1]):
        raise ValueError(f"x must have shape {(d,) if vector else (d, B.shape[1])}, got {x.shape}")
    if x_star is None:
        X_star = nxp.linalg.lstsq(A, B, rcond=None)[0]
    else:
        X_star, _, _ = as_matrix(x_star, "x_star", xp=xp)
        if X_star.shape != X.shape:
            raise ValueError(f"x_star must have the shape of x {tuple(x.shape)}, got {x_star.shape}")
    sigma_min = float(xp.linalg.svdvals(A)[-1])
    if sigma_min <= 0.0:
        raise np.linalg.LinAlgError("A is singular: ||A^+|| is infinite, eps_eff is undefined")
    r_star = nxp.linalg.norm(A @ X_star - B, axis=0)
    if not bool(xp.all(r_star > 0)):
        raise ValueError("b lies in the range of A (zero optimal residual): eps_eff is undefined; "
                         "the sketched answer is then exact up to rounding")
    err = xp.max(xp.abs(X - X_star), axis=0)
    eps = math.sqrt(d) * err * sigma_min / r_star
    return float(eps[0]) if vector else eps


# --- the three methods ------------------------------------------------------------------------


def _direct(A, B, xp) -> LstsqResult:
    as_float_array(A, "A", allow_complex=False, xp=xp)
    as_float_array(B, "b", allow_complex=False, xp=xp)
    nxp = native(xp)
    X, _, rank, _ = nxp.linalg.lstsq(A, B, rcond=None)
    res = nxp.linalg.norm(A @ X - B, axis=0)
    return LstsqResult(X, res, Info("direct", rel_error=0.0), rank=int(rank))


def _sketch_solve(A, B, op, backend, xp) -> LstsqResult:
    SA, SB = sketch_problem(A, B, op, backend, xp)
    _, X = sketched_solve(SA, SB, A.shape)
    res = native(xp).linalg.norm(A @ X - B, axis=0)
    return _sketched_result(X, res, op, Info("sketch_solve"))


def _sketch_precondition(A, B, op, backend, tol, n_iter_max, xp) -> LstsqResult:
    SA, SB = sketch_problem(A, B, op, backend, xp)
    R, X0 = sketched_solve(SA, SB, A.shape)

    def normal_op(W, cols, subtract_b):
        return _kernels.normal_matvec(A, W, B[:, cols] if subtract_b else None, backend)

    history: list[float] = []
    X, res, its, converged, excess = preconditioned_cg(
        normal_op, R, X0, native(xp).linalg.norm(B, axis=0), tol, n_iter_max, op.sketch_size,
        history=history,
    )
    info = Info("sketch_precondition", iterations=its, converged=converged, rel_error=excess,
                history=history)
    return _sketched_result(X, res, op, info)


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
            return CountSketch(m, random_state=seed)
        first = first_stage_size(n, d)
        if n <= 2 * first:
            return GaussianSketch(m, random_state=seed)
        return sparse_then_gaussian(first, m, random_state=seed)
    return make_sketch(sketch, m, random_state=seed)
