"""Planning a sketched least-squares solve: sketch sizes, seeds and the shared option checks.

The public building blocks that :func:`tensorkit.sketch.lstsq` and
:func:`tensorkit.distributed.lstsq` (and any other front end, e.g. one on another task scheduler)
use to pick the same sketch for the same problem:

- :func:`precondition_size`: rows ``m`` of the preconditioner's sketch, from a flop model;
- :func:`precondition_sketch`: the ``"auto"`` sketch of the preconditioner (None: no sketch);
- :func:`first_stage_size`: rows of the sparse first stage of a sparse-then-Gaussian sketch;
- :func:`sketch_size_for`: the default (or the checked user) sketch size of a method;
- :func:`seed_from`: the one integer seed that fixes every draw of an operator;
- :func:`working_dtype`: the floating dtype an input is solved in;
- :func:`check_iteration_options`: ``tol`` and ``n_iter_max`` (with the deprecated ``max_iter``);
- :func:`default_tol`: the default ``tol`` of the exact solver (LAPACK's accuracy);
- :func:`power_of_two_scale`, :func:`column_norms`, :func:`norm_estimate`: the scale-safe pieces
  (exact rescaling, overflow-free norms, ``||A||_2`` from the preconditioner ``R``).

Examples
--------
>>> from tensorkit.sketch.planning import precondition_size, sketch_size_for
>>> precondition_size(200_000, 100)
12800
>>> sketch_size_for("sketch_solve", 2000, 10)
40
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from .._validation import check_dtype, check_int, check_real
from ..backend import check_random_state

__all__ = [
    "DEFAULT_N_ITER_MAX",
    "check_iteration_options",
    "column_norms",
    "default_tol",
    "first_stage_size",
    "norm_estimate",
    "power_of_two_scale",
    "precondition_size",
    "precondition_sketch",
    "seed_from",
    "sketch_size_for",
    "working_dtype",
]

DEFAULT_N_ITER_MAX = 100
"""Krylov iteration cap of the preconditioned solver when ``n_iter_max`` is None."""

# Rows per column of the sparse first stage of the sparse-then-Gaussian sketch-and-solve sketch:
# measured on coherent matrices, 8 d to 32 d with 4 nonzeros per column keep eps_eff within the
# bound; 16 d leaves a margin while the Gaussian stage (m x 16 d) stays cheap next to one pass.
_FIRST_STAGE_FACTOR = 16


def precondition_size(n: int, d: int) -> int:
    """Sketch rows for the preconditioner: minimize QR flops ``2 m d^2`` plus passes over ``A``.

    The iteration count to reach LAPACK's accuracy (the ``A``-norm error from about ``sqrt(d / m)``
    to ``1e-16`` relative, a factor ``sqrt(d / m)`` per iteration) is about ``70 / ln(m / d)``; one
    pass costs like ``c n d`` with ``c`` near 3 flops per entry on a memory-bound machine, so ``m``
    minimizes ``2 m d^2 + 6 (3 + 70 / ln(m / d)) n d`` over ``m / d`` in ``{2, 3, 4, 6, ..., 128}``. Capped at
    ``n / 2`` (beyond that the sketch is no cheaper than the problem), at most ``n`` and at least ``d``.

    Examples
    --------
    >>> from tensorkit.sketch.planning import precondition_size
    >>> precondition_size(4000, 20), precondition_size(30, 20)
    (1920, 30)
    """
    best, best_cost = 2 * d, math.inf
    for ratio in (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128):
        m = ratio * d
        if m > n // 2:
            break
        passes = 3 + 70.0 / math.log(ratio)
        cost = 2.0 * m * d * d + 6.0 * passes * n * d
        if cost < best_cost:
            best, best_cost = m, cost
    return max(d, min(best, n))


def precondition_sketch(n: int, d: int, m: int, seed: int):
    """The ``"auto"`` sketch for the preconditioner of an ``n x d`` problem at ``m`` rows, or None
    when ``A`` is better not sketched (its own QR is the preconditioner).

    A CountSketch (one pass) with at least 4 rows of ``A`` per bucket on average: ``m`` rows when
    ``n >= 4 m``, else ``n // 4`` rows while that is ``>= 2 d``. With fewer rows per bucket, rows
    collide and the sketch of a full-rank ``A`` can lose rank (``m = n`` certainly does); for
    ``n < 8 d`` a sketch saves nothing over a QR of ``A``, so None.

    Examples
    --------
    >>> from tensorkit.sketch.planning import precondition_sketch
    >>> precondition_sketch(200_000, 100, 12800, 0), precondition_sketch(20, 15, 20, 0)
    (CountSketch(sketch_size=12800, seed=0), None)
    >>> precondition_sketch(20_000, 40, 5120, 0)
    CountSketch(sketch_size=5000, seed=0)
    """
    from ._sparse import CountSketch

    if n >= 4 * m:
        return CountSketch(m, random_state=seed)
    if n // 4 >= 2 * d:
        return CountSketch(n // 4, random_state=seed)
    return None


def first_stage_size(n: int, d: int) -> int:
    """Rows ``m_1`` of the sparse first stage of a sparse-then-Gaussian sketch of ``A`` (n x d).

    ``m_1 = 16 d``, down to ``8 d`` when ``n < 256 d``, because the Gaussian stage costs
    ``2 m m_1 d = 8 d^2 m_1`` flops (at ``m = 4 d``) and must stay well below a QR's ``2 n d^2``.

    Examples
    --------
    >>> from tensorkit.sketch.planning import first_stage_size
    >>> first_stage_size(100_000, 10), first_stage_size(1000, 10)
    (160, 80)
    """
    return min(_FIRST_STAGE_FACTOR * d, max(8 * d, n // 16))


def sketch_size_for(method: str, n: int, d: int, sketch_size: int | None = None) -> int:
    """Rows ``m`` of the sketch that ``method`` uses on an ``n x d`` problem.

    Parameters
    ----------
    method : {"sketch_solve", "sketch_precondition"}
    n, d : int
        Shape of ``A``.
    sketch_size : int, optional
        The user's choice (checked); default ``min(n, 4 d)`` for ``"sketch_solve"`` (the
        l-infinity guarantee's ``m >= 4 d``) and :func:`precondition_size` for
        ``"sketch_precondition"``.

    Raises
    ------
    TypeError
        For a ``sketch_size`` that is not an int (``True`` included).
    ValueError
        For ``n < d`` (nothing to compress) or ``sketch_size < d`` (an underdetermined sketch).
    """
    if n < d:
        raise ValueError(
            f"method={method!r} needs a tall A (n >= d); got A of shape {(n, d)}: with fewer rows "
            "than columns there is no overdetermined problem to compress; use method='direct' for "
            "the minimum-norm solution"
        )
    if sketch_size is None:
        return min(n, 4 * d) if method == "sketch_solve" else precondition_size(n, d)
    m = check_int(sketch_size, "sketch_size", minimum=1)
    if m < d:
        raise ValueError(f"sketch_size={m} is smaller than d={d}: the sketched problem S A x = S b "
                         "would be underdetermined; use sketch_size >= d (4 d or more recommended)")
    return m


def seed_from(random_state: Any) -> int:
    """One non-negative int seed: the int itself, or one draw from a generator or fresh entropy.

    Operators store this seed and draw ``S`` afresh from it, so a sketch is reproducible per
    ``(seed, n)`` and pickles in a few bytes.

    Raises
    ------
    TypeError
        For anything but an int, a ``numpy.random.Generator`` or None (``True`` included).
    ValueError
        For a negative int.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.sketch.planning import seed_from
    >>> seed_from(7), seed_from(np.random.default_rng(0)) == seed_from(np.random.default_rng(0))
    (7, True)
    """
    if isinstance(random_state, (numbers.Integral, np.integer)) and not isinstance(
        random_state, (bool, np.bool_)
    ):
        return check_int(random_state, "random_state", minimum=0)
    rng = check_random_state(random_state)
    return int(rng.integers(0, 2**63 - 1))


def working_dtype(dtype: Any, name: str) -> np.dtype:
    """The floating dtype an input of ``dtype`` is sketched and solved in.

    float32 and float64 stay; integers and booleans become float64; float16 becomes float32
    (no kernel computes in half precision).

    Raises
    ------
    TypeError
        For complex data (``name`` must be real) and anything that is not a number.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.sketch.planning import working_dtype
    >>> working_dtype(np.int32, "A"), working_dtype(np.float16, "A")
    (dtype('float64'), dtype('float32'))
    """
    dt = np.dtype(dtype)
    if dt.kind in "biu":
        return np.dtype(np.float64)
    if dt.kind == "c":
        raise TypeError(f"{name} must be real, got dtype {dt}")
    if dt.kind == "f" and dt.itemsize < 4:
        return np.dtype(np.float32)
    if dt.kind == "f":
        dt = dt.newbyteorder("=")  # compiled kernels read native byte order only
    return check_dtype(dt, name)


def check_iteration_options(tol: Any, n_iter_max: Any, max_iter: Any = None) -> tuple[float | None, int]:
    """``tol`` (target relative residual excess) and the iteration cap, checked.

    ``tol`` is a positive finite number (a target above 1 is meaningful for sketch-and-solve, so it
    is not limited to ``(0, 1)`` here), or None for :func:`default_tol` (returned as None).
    ``max_iter`` is the deprecated name of ``n_iter_max`` (a ``DeprecationWarning`` points at the
    caller's caller, the user of the public solver).

    Returns
    -------
    tol : float or None
    n_iter_max : int
        :data:`DEFAULT_N_ITER_MAX` when neither is given.

    Raises
    ------
    TypeError
        For non-numbers, bools, or both ``n_iter_max`` and ``max_iter`` given.
    ValueError
        For ``tol <= 0``, a non-finite ``tol`` or a negative cap.
    """
    if tol is not None:
        tol = check_real(tol, "tol", minimum=0.0, strict_minimum=True)
    name = "n_iter_max"
    if max_iter is not None:
        if n_iter_max is not None:
            raise TypeError("pass n_iter_max only: max_iter is its deprecated name, got both "
                            f"n_iter_max={n_iter_max!r} and max_iter={max_iter!r}")
        warnings.warn("max_iter is deprecated; use n_iter_max (the same iteration cap)",
                      DeprecationWarning, stacklevel=3)
        n_iter_max, name = max_iter, "max_iter"
    if n_iter_max is None:
        return tol, DEFAULT_N_ITER_MAX
    return tol, check_int(n_iter_max, name, minimum=0)


def default_tol(dtype: Any) -> float:
    """The default ``tol`` of the exact solver: the unit roundoff ``eps`` of ``dtype``.

    With LSQR's rule ``||A^T r|| <= tol ||A|| ||r||`` at ``tol = eps`` (or the rounding floor of
    computing ``A^T r``, whichever is larger), ``x`` has LAPACK's forward accuracy.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.sketch.planning import default_tol
    >>> default_tol(np.float64) == float(np.finfo(np.float64).eps)
    True
    """
    return float(np.finfo(dtype).eps)


def power_of_two_scale(max_abs: Any, xp: Any = None, *, dtype: Any = np.float64) -> Any:
    """The power of two ``s`` with ``s * max_abs`` in ``[0.5, 1)`` (1 where ``max_abs`` is 0 or
    already within ``[2^-L, 2^L]``, ``L`` a tenth of the exponent range of ``dtype``: 102 for
    float64, 12 for float32, so well-scaled data is never copied).

    Multiplying by a power of two is exact, so solving for ``s_A A`` and ``s_b b`` and unscaling
    ``x = x_s s_A / s_b`` changes no digit while every square stays far from overflow and underflow.
    For subnormal ``max_abs`` the factor is capped at the largest power of two ``dtype`` holds
    (``s * max_abs`` then lies below 0.5 but far inside the safe range).

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.sketch.planning import power_of_two_scale
    >>> np.log2(power_of_two_scale(np.array([3e-160, 2.0, 0.0, 1e200]))).tolist()
    [529.0, 0.0, 0.0, -665.0]
    >>> np.log2(power_of_two_scale(np.array([1e-30, 1e-40]), dtype=np.float32)).tolist()
    [99.0, 126.0]
    """
    nxp = np if xp is None else _native(xp)
    info = np.finfo(dtype)
    limit = 2.0 ** (info.maxexp // 10)
    values = nxp.asarray(max_abs, dtype=nxp.float64)
    _, exponent = nxp.frexp(values)
    safe = (values == 0) | ((values >= 1.0 / limit) & (values <= limit))
    return nxp.where(safe, 1.0, nxp.ldexp(nxp.ones_like(values), nxp.minimum(-exponent, info.maxexp - 2)))


def column_norms(M: Any, xp: Any) -> Any:
    """Euclidean norms of the columns of ``M`` (2-D, namespace ``xp``) without overflow or
    underflow: each column is scaled by a power of two near its largest entry first, as LAPACK's
    ``nrm2`` does.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.backend import get_namespace
    >>> from tensorkit.sketch.planning import column_norms
    >>> M = np.array([[3e200, 3e-200], [4e200, 4e-200]])
    >>> bool(np.allclose(column_norms(M, get_namespace(M)) / [5e200, 5e-200], 1.0))
    True
    """
    peak = xp.max(xp.abs(M), axis=0)
    nxp = _native(xp)
    _, exponent = nxp.frexp(peak)
    # capped where the power of two itself would overflow (subnormal peaks); the scaled peak is
    # then still far above the underflow of its square
    scale = nxp.ldexp(nxp.ones_like(peak), nxp.minimum(-exponent, np.finfo(peak.dtype).maxexp - 2))
    scaled = M * scale
    return xp.sqrt(xp.sum(scaled * scaled, axis=0)) / scale


def norm_estimate(R: Any, *, n_steps: int = 12) -> float:
    """``||R||_2`` by power iteration on ``R^T R`` (a few ``d^2`` steps, from a fixed start).

    For ``R`` from the QR of an embedding ``S A`` this is ``||A||_2`` within the embedding
    distortion ``1 +- sqrt(d / m)``: the ``||A||`` of LSQR's stopping rule, without a pass over ``A``.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.sketch.planning import norm_estimate
    >>> round(norm_estimate(np.diag([3.0, 1.0, 0.5])), 12)
    3.0
    """
    from ..backend import get_namespace

    xp = get_namespace(R)
    d = R.shape[0]
    peak = float(xp.max(xp.abs(R)))
    if peak == 0.0:
        return 0.0
    M = R / peak  # power steps on the scaled matrix: no overflow whatever the scale of A
    v = xp.ones((d,), dtype=R.dtype) / math.sqrt(d) + xp.asarray(
        np.linspace(0.0, 1.0 / d, d), dtype=R.dtype)
    sigma = 0.0
    for _ in range(n_steps):
        w = M.T @ (M @ v)
        norm_w = float(xp.sqrt(xp.sum(w * w)))
        if norm_w == 0.0:
            break
        sigma = math.sqrt(norm_w)
        v = w / norm_w
    return sigma * peak


def _native(xp):
    from ..backend import native

    return native(xp)
