"""Sketch-and-solve: the QR of the small sketch ``S A = Q R`` and ``x = R^-1 Q^T S b``.

The same ``R`` is the preconditioner of :func:`tensorkit.sketch.preconditioned_cg`, so both sketched
methods (and :mod:`tensorkit.distributed`) go through :func:`sketched_solve`.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from typing import Any

import numpy as np

from .._validation import as_float_array, check_int
from ..backend import get_namespace, is_numpy_namespace, native, scipy_for

__all__ = ["sketched_solve"]


def sketched_solve(SA: Any, SB: Any, shape: tuple[int, int]) -> tuple[Any, Any]:
    """``R`` of ``S A = Q R`` and the sketch-and-solve answer ``X = R^-1 Q^T S B``.

    Parameters
    ----------
    SA : array (m, d), the sketch of ``A`` (numpy or CuPy)
    SB : array (m, k), the sketch of the right-hand sides
    shape : (n, d)
        The shape of ``A``, for the message when ``A`` is rank deficient.

    Returns
    -------
    R : array (d, d), upper triangular
    X : array (d, k)

    Raises
    ------
    numpy.linalg.LinAlgError
        When ``R`` is numerically singular (condition estimate above ``1 / (10 d eps)``): ``A``
        has no full column rank, the sketched methods do not apply.

    Notes
    -----
    On the CPU ``Q^T S B`` is applied from the Householder reflectors (``qr_multiply``) instead of
    forming ``Q``, which halves the QR work.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.sketch import sketched_solve
    >>> SA = np.array([[2.0, 0.0], [0.0, 4.0], [0.0, 0.0]]); SB = np.array([[2.0], [8.0], [1.0]])
    >>> R, X = sketched_solve(SA, SB, (100, 2))
    >>> X.ravel().tolist()
    [1.0, 2.0]
    """
    SA, SB, shape, xp = _check_sketched(SA, SB, shape)
    if is_numpy_namespace(xp):
        from scipy.linalg import qr_multiply

        m, d = SA.shape
        # A small QR gains nothing from BLAS threads and stalls on them when cores are busy.
        with _blas_threads(1 if 2 * m * d * d < 2e8 else None):
            QtSB_t, R = qr_multiply(SA, SB.T, mode="right")
        QtSB = QtSB_t.T
    else:
        Q, R = xp.linalg.qr(SA)
        QtSB = Q.T @ SB
    _check_full_rank(R, shape, xp)
    return R, solve_upper(R, QtSB, xp)


def _check_sketched(SA, SB, shape):
    """The public entry's checks: real finite ``SA`` (m, d) with ``m >= d``, ``SB`` (m, k) or (m,)
    (one right-hand side), ``shape = (n, d)``."""
    xp = get_namespace(SA, SB)
    SA = as_float_array(SA, "SA", allow_complex=False, xp=xp)
    SB = as_float_array(SB, "SB", allow_complex=False, xp=xp)
    if SA.ndim != 2 or SA.shape[0] < SA.shape[1]:
        raise ValueError(f"SA must be a matrix (m, d) with m >= d rows, got shape {tuple(SA.shape)}")
    if SB.ndim not in (1, 2) or SB.shape[0] != SA.shape[0]:
        raise ValueError(f"SB must have shape ({SA.shape[0]}, k) like the rows of SA, got {tuple(SB.shape)}")
    try:
        shape = tuple(check_int(v, f"shape[{i}]", minimum=1) for i, v in enumerate(shape))
    except TypeError:
        raise TypeError(f"shape must be the pair (n, d) of ints, got {shape!r}") from None
    if len(shape) != 2 or shape[1] != SA.shape[1]:
        raise ValueError(f"shape must be (n, d) with d = {SA.shape[1]} columns of SA, got {shape}")
    return SA, SB, shape, xp


def sketch_problem(A, B, op, backend, xp):
    """``S A`` and ``S B``; a non-finite sketch means non-finite data, reported by argument name
    (checking the small sketch instead of ``A`` saves a full pass), or finite data so large that
    the sketch overflowed: then ``(None, None)``, for the caller to scale and sketch again."""
    SA = op.apply(A, backend=backend)
    SB = op.apply(B, backend=backend)
    finite_a = bool(xp.all(xp.isfinite(SA)))
    finite_b = bool(xp.all(xp.isfinite(SB)))
    if not finite_a:
        as_float_array(A, "A", allow_complex=False, xp=xp)
    if not finite_b:
        as_float_array(B, "b", allow_complex=False, xp=xp)
    if not (finite_a and finite_b):
        return None, None
    return SA, SB


def solve_upper(R, Y, xp, *, trans=False):
    """``R^-1 Y`` (``R^-T Y`` with ``trans``) for upper-triangular ``R``, on the device of ``xp``."""
    linalg = importlib.import_module(f"{scipy_for(xp).__name__}.linalg")
    return linalg.solve_triangular(R, Y, lower=False, trans="T" if trans else "N")


def _check_full_rank(R, shape, xp):
    """Refuse a numerically rank-deficient ``A`` (seen through ``R`` of its sketch, whose
    condition number matches ``A``'s up to the embedding distortion)."""
    d = R.shape[0]
    eps = float(np.finfo(R.dtype).eps)
    threshold = 10.0 * d * eps
    if is_numpy_namespace(xp):
        from scipy.linalg import get_lapack_funcs

        (trcon,) = get_lapack_funcs(("trcon",), (R,))
        rcond, info = trcon(R, norm="1")
        rcond = float(rcond) if info == 0 else 0.0
    else:
        # cupyx has no condition estimator; the diagonal ratio bounds the condition from below.
        diag = xp.abs(native(xp).diag(R))
        rcond = float(xp.min(diag) / xp.max(diag)) if float(xp.max(diag)) > 0 else 0.0
    if not rcond > threshold:
        cond = math.inf if rcond == 0 else 1.0 / rcond
        raise np.linalg.LinAlgError(
            f"A of shape {tuple(shape)} is numerically rank deficient (condition number of its "
            f"sketch about {cond:.1e} > 1/(10 d eps) = {1 / threshold:.1e}); the sketched methods need "
            "full column rank: use method='direct' for the minimum-norm solution"
        )


_BLAS = {}


def _blas_threads(limit):
    """Context limiting BLAS threads to ``limit`` (no-op for None); the controller is built once
    because inspecting the loaded libraries costs milliseconds (``backend.thread_limits`` builds
    one per call and also pins Numba, which this small QR does not use)."""
    if limit is None:
        return contextlib.nullcontext()
    if "controller" not in _BLAS:
        from threadpoolctl import ThreadpoolController

        _BLAS["controller"] = ThreadpoolController()
    return _BLAS["controller"].limit(limits=limit, user_api="blas")
