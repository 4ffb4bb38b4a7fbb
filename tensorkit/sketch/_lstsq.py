"""Least squares ``min ||A x - b||_2`` for tall ``A``: LAPACK, sketch-and-solve, sketch-and-precondition.

The preconditioned solver (Blendenpik/LSRN style) spends its time in three places, each made cheap:

1. a sketch ``S A`` that reads ``A`` once (CountSketch: one signed scatter per row);
2. a QR of the small ``m x d`` sketch, ``S A = Q R``; then ``A R^-1`` has singular values in
   ``[1/(1 + sqrt(d/m)), 1/(1 - sqrt(d/m))]`` (for an embedding), so the preconditioned normal
   equations are well conditioned whatever ``cond(A)`` is;
3. conjugate gradients on ``R^-T A^T A R^-1 y = R^-T A^T b`` (CGNR), warm-started from the
   sketch-and-solve answer ``x_0 = R^-1 Q^T S b``. Each iteration costs one fused pass
   ``A^T (A p)`` that reads ``A`` once (:func:`tensorkit._kernels.normal_matvec`) and two
   triangular solves; the error in the ``A``-norm falls by about ``sqrt(d/m)`` per iteration.

With ``kappa(A R^-1)`` close to one, forming the normal equations implicitly loses nothing:
the attainable residual excess is at rounding level even for ``cond(A) = 1e8``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _kernels
from .._validation import as_float_array
from ..backend import (
    array_module,
    get_namespace,
    resolve_backend,
    to_numpy,
)
from ._operators import (
    CountSketch,
    GaussianSketch,
    KroneckerSketch,
    SketchOperator,
    _as_2d,
    _seed_from,
    make_sketch,
    sparse_then_gaussian,
)

__all__ = ["METHODS", "LstsqResult", "linf_error", "lstsq"]

METHODS = ("auto", "direct", "sketch_solve", "sketch_precondition")

# Rows per column of the sparse first stage of the sparse-then-Gaussian sketch-and-solve sketch:
# measured on coherent matrices, 8 d to 32 d with 4 nonzeros per column keep eps_eff within the
# bound; 16 d leaves a margin while the Gaussian stage (m x 16 d) stays cheap next to one pass.
_FIRST_STAGE_FACTOR = 16


def first_stage_size(n: int, d: int) -> int:
    """Rows of the sparse first stage: ``16 d``, down to ``8 d`` when ``n < 256 d``, because the
    Gaussian stage costs ``2 m m_1 d = 8 d^2 m_1`` flops and must stay well below a QR's ``2 n d^2``."""
    return min(_FIRST_STAGE_FACTOR * d, max(8 * d, n // 16))
_DEFAULT_MAX_ITER = 100


@dataclass
class LstsqResult:
    """What :func:`lstsq` returns.

    Attributes
    ----------
    x : array (d,) or (d, k)
        The solution, on the device of ``A``.
    residual_norm : float or array (k,)
        ``||A x - b||_2`` per right-hand side.
    iterations : int
        Krylov iterations (0 for ``"direct"`` and ``"sketch_solve"``).
    method : str
        The method that ran (``"auto"`` resolved).
    sketch_size : int or None
        Rows of the sketch (None for ``"direct"``).
    sketch : str or None
        The sketch used, e.g. ``"countsketch"`` or ``"countsketch+gaussian"``.
    converged : bool
        Whether the iteration met ``tol`` (True for the non-iterative methods).
    excess_estimate : float
        For ``"sketch_precondition"``, the estimated relative residual excess
        ``||A x - b|| / ||A x* - b|| - 1`` reached (largest over right-hand sides); 0 for
        ``"direct"``; NaN for ``"sketch_solve"`` (not estimated; its expectation is about
        ``d / (2 (m - d - 1))`` for a Gaussian sketch).
    rank : int or None
        Numerical rank found by ``"direct"`` (None otherwise).
    """

    x: Any
    residual_norm: Any
    iterations: int
    method: str
    sketch_size: int | None
    sketch: str | None
    converged: bool
    excess_estimate: float
    rank: int | None = None


def lstsq(
    A: Any,
    b: Any,
    *,
    method: str = "auto",
    sketch: str | SketchOperator = "auto",
    sketch_size: int | None = None,
    tol: float = 1e-12,
    max_iter: int | None = None,
    random_state: Any = None,
    backend: str | None = None,
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
        ``"sketch_precondition"`` a size balancing the QR of the sketch against iterations.
    tol : float
        Target relative residual excess ``||A x - b|| / ||A x* - b|| - 1`` for
        ``"sketch_precondition"`` (estimated from the CG coefficients and the embedding bound).
    max_iter : int, optional
        Iteration cap (default 100); reaching it warns and sets ``converged=False``.
    random_state : int, numpy.random.Generator or None
    backend : {"numpy", "numba", "cupy"} or None
        Kernel set (inferred from the arrays).

    Returns
    -------
    LstsqResult

    Raises
    ------
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
    >>> bool(np.allclose(res.x, np.linalg.lstsq(A, b, rcond=None)[0], atol=1e-10))
    True
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    A, B, vector = _check_problem(A, b)
    n, d = A.shape
    tol = _check_tol(tol)
    if max_iter is None:
        max_iter = _DEFAULT_MAX_ITER
    elif isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative int or None, got {max_iter!r}")
    backend = resolve_backend(backend, A, B)
    if sketch != "auto" and not isinstance(sketch, (str, SketchOperator)):
        raise TypeError(f"sketch must be a name or a SketchOperator, got {type(sketch).__name__}")
    if isinstance(sketch, KroneckerSketch):
        raise TypeError("KroneckerSketch sketches tensor-product rows; lstsq needs a row sketch")

    chosen = method
    if method == "auto":
        if n < 10 * d or n * d < 200_000:
            chosen = "direct"
        elif tol >= 0.5:
            chosen = "sketch_solve"
        else:
            chosen = "sketch_precondition"
    if chosen == "direct":
        result = _direct(A, B)
    else:
        if n < d:
            raise ValueError(
                f"method={chosen!r} needs a tall A (n >= d); got A of shape {(n, d)}: with fewer "
                "rows than columns there is no overdetermined problem to compress; use "
                "method='direct' for the minimum-norm solution"
            )
        op = _build_sketch(sketch, sketch_size, chosen, n, d, random_state)
        try:
            if chosen == "sketch_solve":
                result = _sketch_solve(A, B, op, backend)
            else:
                result = _sketch_precondition(A, B, op, backend, tol, int(max_iter))
        except np.linalg.LinAlgError:
            if method != "auto":
                raise
            result = _direct(A, B)
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
    """
    A, B, vector = _check_problem(A, b)
    xp = array_module(A)
    d = A.shape[1]
    X, _ = _as_2d(x, "x")
    if X.shape != (d, B.shape[1]):
        raise ValueError(f"x must have shape {(d,) if vector else (d, B.shape[1])}, got {x.shape}")
    if x_star is None:
        X_star = xp.linalg.lstsq(A, B, rcond=None)[0]
    else:
        X_star, _ = _as_2d(x_star, "x_star")
        if X_star.shape != X.shape:
            raise ValueError(f"x_star must have the shape of x {tuple(x.shape)}, got {x_star.shape}")
    sigma = xp.linalg.svd(A, compute_uv=False)
    sigma_min = float(sigma[-1])
    if sigma_min <= 0.0:
        raise np.linalg.LinAlgError("A is singular: ||A^+|| is infinite, eps_eff is undefined")
    r_star = xp.linalg.norm(A @ X_star - B, axis=0)
    if not bool(xp.all(r_star > 0)):
        raise ValueError("b lies in the range of A (zero optimal residual): eps_eff is undefined; "
                         "the sketched answer is then exact up to rounding")
    err = xp.max(xp.abs(X - X_star), axis=0)
    eps = math.sqrt(d) * err * sigma_min / r_star
    return float(eps[0]) if vector else eps


# --- the three methods ------------------------------------------------------------------------


def _direct(A, B) -> LstsqResult:
    xp = array_module(A)
    as_float_array(A, "A", allow_complex=False)
    as_float_array(B, "b", allow_complex=False)
    X, _, rank, _ = xp.linalg.lstsq(A, B, rcond=None)
    res = xp.linalg.norm(A @ X - B, axis=0)
    return LstsqResult(X, res, 0, "direct", None, None, True, 0.0, int(rank))


def _sketch_solve(A, B, op, backend) -> LstsqResult:
    xp = array_module(A)
    SA, SB = _sketch_problem(A, B, op, backend)
    _, X = sketched_solve(SA, SB, A.shape)
    res = xp.linalg.norm(A @ X - B, axis=0)
    return LstsqResult(X, res, 0, "sketch_solve", op.sketch_size, _name(op), True, math.nan)


def _sketch_precondition(A, B, op, backend, tol, max_iter) -> LstsqResult:
    xp = array_module(A)
    SA, SB = _sketch_problem(A, B, op, backend)
    R, X0 = sketched_solve(SA, SB, A.shape)

    def normal_op(W, cols, subtract_b):
        return _kernels.normal_matvec(A, W, B[:, cols] if subtract_b else None, backend)

    X, res, its, converged, excess = preconditioned_cg(
        normal_op, R, X0, xp.linalg.norm(B, axis=0), tol, max_iter, op.sketch_size
    )
    return LstsqResult(X, res, its, "sketch_precondition", op.sketch_size, _name(op), converged,
                       excess)


def sketched_solve(SA, SB, shape):
    """``R`` of ``S A = Q R`` and ``X = R^-1 Q^T S B`` (rank checked against ``A``'s ``shape``).

    On the CPU ``Q^T S B`` is applied from the Householder reflectors (``qr_multiply``) instead of
    forming ``Q``, which halves the QR work.
    """
    xp = array_module(SA)
    if xp is np:
        from scipy.linalg import qr_multiply

        m, d = SA.shape
        # A small QR gains nothing from BLAS threads and stalls on them when cores are busy.
        with _blas_threads(1 if 2 * m * d * d < 2e8 else None):
            QtSB_t, R = qr_multiply(SA, SB.T, mode="right")
        QtSB = QtSB_t.T
    else:
        Q, R = xp.linalg.qr(SA)
        QtSB = Q.T @ SB
    _check_full_rank(R, shape)
    return R, _solve_upper(R, QtSB, xp)


def preconditioned_cg(normal_op, R, X0, b_norms, tol, max_iter, sketch_size):
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
    max_iter : int
    sketch_size : int, ``m`` (sets the embedding bound used by the error estimate)

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
    """
    xp = array_module(X0)
    d, k = X0.shape
    eps = float(np.finfo(X0.dtype).eps)
    bound = 2.0 * (1.0 + math.sqrt(d / sketch_size)) ** 2
    # Below this A-norm error the recursion only tracks rounding noise.
    floor2 = (8.0 * eps * math.sqrt(d)) ** 2 * xp.maximum(b_norms, 1e-300) ** 2
    X = X0.copy()
    all_cols = np.arange(k)
    G, rsq = normal_op(X, all_cols, True)
    Gr = -G
    Z = _precondition(R, Gr, xp)
    rz = xp.sum(Gr * Z, axis=0)
    r_star2 = xp.maximum(rsq - rz, 0.0)
    P = Z.copy()

    def excess_of(rz_now):
        err2 = bound * xp.maximum(rz_now, 0.0)
        return err2 / (2.0 * xp.maximum(r_star2, floor2)), err2 <= floor2

    excess, at_floor = excess_of(rz)
    active = _to_host(~((excess <= tol) | at_floor))
    its = 0
    while active.any() and its < max_iter:
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
        excess, at_floor = excess_of(rz)
        active = _to_host(~((excess <= tol) | at_floor))
    converged = not active.any()
    if not converged:
        warnings.warn(
            f"sketch_precondition stopped at max_iter={max_iter} with estimated residual excess "
            f"{float(xp.max(excess)):.2e} > tol={tol:.1e}; raise max_iter or the sketch size",
            RuntimeWarning,
            stacklevel=3,
        )
    _, rsq = normal_op(X, all_cols, True)
    return X, xp.sqrt(rsq), its, converged, float(xp.max(excess))


# --- pieces -----------------------------------------------------------------------------------


def _check_problem(A, b):
    """Validate shapes and dtypes (not finiteness: see :func:`_sketch_problem`)."""
    A, a_vector = _as_2d(A, "A")
    if a_vector:
        raise ValueError(f"A must be a matrix (n, d), got shape {(A.shape[0],)}")
    get_namespace(A, b)
    B, vector = _as_2d(b, "b")
    if B.shape[0] != A.shape[0]:
        raise ValueError(f"b has {B.shape[0]} rows but A has {A.shape[0]} (A shape {tuple(A.shape)}, "
                         f"b shape {tuple(b.shape)})")
    if A.shape[1] == 0 or B.shape[1] == 0:
        raise ValueError(f"A and b need at least one column, got {tuple(A.shape)} and {tuple(b.shape)}")
    dtype = np.result_type(A.dtype, B.dtype)
    return A.astype(dtype, copy=False), B.astype(dtype, copy=False), vector


def _check_tol(tol):
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not (0.0 < float(tol) < 1e300):
        raise ValueError(f"tol must be a positive finite number, got {tol!r}")
    return float(tol)


def _build_sketch(sketch, sketch_size, method, n, d, random_state) -> SketchOperator:
    if isinstance(sketch, SketchOperator):
        if sketch_size is not None and sketch_size != sketch.sketch_size:
            raise ValueError(f"sketch_size={sketch_size} disagrees with the operator's "
                             f"sketch_size={sketch.sketch_size}")
        m = sketch.sketch_size
    elif sketch_size is None:
        m = min(n, 4 * d) if method == "sketch_solve" else _precondition_size(n, d)
    else:
        m = sketch_size
    if isinstance(m, bool) or not isinstance(m, numbers.Integral):
        raise TypeError(f"sketch_size must be an int, got {m!r}")
    if m < d:
        raise ValueError(f"sketch_size={m} is smaller than d={d}: the sketched problem S A x = S b "
                         "would be underdetermined; use sketch_size >= d (4 d or more recommended)")
    if isinstance(sketch, SketchOperator):
        return sketch
    seed = _seed_from(random_state)
    if sketch == "auto":
        if method == "sketch_precondition":
            return CountSketch(m, random_state=seed)
        first = first_stage_size(n, d)
        if n <= 2 * first:
            return GaussianSketch(m, random_state=seed)
        return sparse_then_gaussian(first, m, seed)
    return make_sketch(sketch, m, random_state=seed)


def _precondition_size(n, d):
    """Sketch rows for the preconditioner: minimize QR flops ``2 m d^2`` plus passes over ``A``.

    The iteration count to reach ``tol = 1e-12`` is about ``27 / ln(m / d)``; one pass costs
    like ``c n d`` with ``c`` near 3 flops per entry on a memory-bound machine. Capped at
    ``n / 2`` (beyond that the sketch is no cheaper than the problem).
    """
    best, best_cost = 2 * d, math.inf
    for ratio in (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128):
        m = ratio * d
        if m > n // 2:
            break
        passes = 2 + 27.0 / math.log(ratio)
        cost = 2.0 * m * d * d + 6.0 * passes * n * d
        if cost < best_cost:
            best, best_cost = m, cost
    return max(d, min(best, n))


def _sketch_problem(A, B, op, backend):
    """``S A`` and ``S B``; a non-finite sketch means non-finite data, reported by argument name
    (checking the small sketch instead of ``A`` saves a full pass)."""
    xp = array_module(A)
    SA = op.apply(A, backend=backend)
    SB = op.apply(B, backend=backend)
    if not bool(xp.all(xp.isfinite(SA))):
        as_float_array(A, "A", allow_complex=False)
    if not bool(xp.all(xp.isfinite(SB))):
        as_float_array(B, "b", allow_complex=False)
    if not (bool(xp.all(xp.isfinite(SA))) and bool(xp.all(xp.isfinite(SB)))):
        raise ValueError("the sketch of A overflowed: scale A and b down")
    return SA, SB


def _check_full_rank(R, shape):
    """Refuse a numerically rank-deficient ``A`` (seen through ``R`` of its sketch, whose
    condition number matches ``A``'s up to the embedding distortion)."""
    xp = array_module(R)
    d = R.shape[0]
    eps = float(np.finfo(R.dtype).eps)
    threshold = 10.0 * d * eps
    if xp is np:
        from scipy.linalg import get_lapack_funcs

        (trcon,) = get_lapack_funcs(("trcon",), (R,))
        rcond, info = trcon(R, norm="1")
        rcond = float(rcond) if info == 0 else 0.0
    else:
        diag = xp.abs(xp.diag(R))
        rcond = float(xp.min(diag) / xp.max(diag)) if float(xp.max(diag)) > 0 else 0.0
    if not rcond > threshold:
        cond = math.inf if rcond == 0 else 1.0 / rcond
        raise np.linalg.LinAlgError(
            f"A of shape {tuple(shape)} is numerically rank deficient (condition number of its "
            f"sketch about {cond:.1e} > 1/(10 d eps) = {1 / threshold:.1e}); the sketched methods need "
            "full column rank: use method='direct' for the minimum-norm solution"
        )


def _solve_upper(R, Y, xp, *, trans=False):
    if xp is np:
        from scipy.linalg import solve_triangular
    else:
        from cupyx.scipy.linalg import solve_triangular
    return solve_triangular(R, Y, lower=False, trans="T" if trans else "N")


def _precondition(R, G, xp):
    """``(R^T R)^-1 G`` by two triangular solves."""
    return _solve_upper(R, _solve_upper(R, G, xp, trans=True), xp)


_BLAS = {}


def _blas_threads(limit):
    """Context limiting BLAS threads to ``limit`` (no-op for None); the controller is built once
    because inspecting the loaded libraries costs milliseconds."""
    import contextlib

    if limit is None:
        return contextlib.nullcontext()
    if "controller" not in _BLAS:
        from threadpoolctl import ThreadpoolController

        _BLAS["controller"] = ThreadpoolController()
    return _BLAS["controller"].limit(limits=limit, user_api="blas")


def _to_host(mask):
    return np.asarray(to_numpy(mask), dtype=bool)


def _name(op) -> str:
    first = getattr(op, "first", None)
    if first is not None:
        return f"{first.kind}+{op.second.kind}"
    return op.kind
