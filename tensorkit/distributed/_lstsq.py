"""One-pass sketches and least squares on dask arrays chunked by rows.

A sketch of ``A = [A_0; A_1; ...]`` is ``S A = sum_i S_i A_i`` with ``S_i`` seeded by
``(seed, i)``: every block is sketched where it lives, partial sketches are summed in a tree, and
the result depends on the seed and the chunking only, never on the scheduling. A subsampled
Hadamard or DCT transform mixes all rows and cannot be split this way; Gaussian, CountSketch,
sparse sign and a sparse sketch followed by a Gaussian can.

The sizes, seeds, option checks, the QR of the sketch and the CG loop are those of
:func:`tensorkit.sketch.lstsq` (its public building blocks), so both give the same answer for the
same seed; only the passes over ``A`` differ.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _kernels
from .._info import Info
from .._validation import check_choice, check_int
from ..backend import thread_limits
from ..sketch import (
    ComposedSketch,
    CountSketch,
    GaussianSketch,
    LstsqResult,
    SketchOperator,
    make_sketch,
    refined_cg,
    sketched_solve,
    sparse_then_gaussian,
)
from ..sketch.planning import (
    check_iteration_options,
    default_tol,
    first_stage_size,
    norm_estimate,
    power_of_two_scale,
    precondition_sketch,
    seed_from,
    sketch_size_for,
    working_dtype,
)
from ._cluster import retry_once

__all__ = ["lstsq", "sketch"]

_METHODS = ("direct", "sketch_solve", "sketch_precondition")
_UNSPLITTABLE = ("srht", "srdct")


def sketch(A: Any, kind: str | SketchOperator = "auto", sketch_size: int | None = None, *,
           random_state: Any = None) -> np.ndarray:
    """``S @ A`` for a dask array ``A`` chunked by rows, in one pass over the blocks.

    Parameters
    ----------
    A : dask.array.Array (n, d) or (n,), one chunk along the columns
    kind : {"auto", "gaussian", "countsketch", "sparse_sign"} or a splittable SketchOperator
        ``"auto"``: a sparse sign sketch to ``8 d``-``16 d`` rows per block, summed, then one Gaussian to
        ``sketch_size`` rows (dense, cheap per block). ``"srht"`` and ``"srdct"`` raise: a fast
        transform over all rows does not split into row blocks.
    sketch_size : int
        Rows ``m`` of the sketch (default ``4 d``).
    random_state : int, numpy.random.Generator or None
        Block ``i`` uses the stream ``(seed, i)``.

    Returns
    -------
    numpy.ndarray (m, d) or (m,)
    """
    A, vector = _check_dask(A, "A")
    n, d = A.shape
    m = 4 * d if sketch_size is None else check_int(sketch_size, "sketch_size", minimum=1)
    op = _operator(kind, m, n, d, seed_from(random_state))
    out = _sketch_blocks(A, op)
    return out[:, 0] if vector else out


def lstsq(A: Any, b: Any, *, method: str = "sketch_precondition",
          sketch: str | SketchOperator = "auto", sketch_size: int | None = None, tol: float | None = None,
          n_iter_max: int | None = None, random_state: Any = None,
          max_iter: int | None = None) -> LstsqResult:
    """Least squares ``min ||A x - b||`` for dask arrays chunked by rows.

    ``"sketch_precondition"`` (default) gives the LAPACK answer like :func:`tensorkit.sketch.lstsq`
    (the same SPIR loop, :func:`tensorkit.sketch.refined_cg`, and LSQR's stopping rule with the
    default ``tol = eps``): one pass for the sketch of ``[A | b]``, a QR of the small sketch on the
    client, then refinement steps whose products ``A^T (A p - b)`` run as one task per block
    (fused kernel, blocks persisted in worker memory) and are summed. ``A`` and ``b`` are scaled by
    powers of two chosen from their sketch (exact), so any finite input gives the right answer.
    When the cluster loses the persisted blocks mid-way (a restart, dead workers: dask's
    ``FutureCancelledError``), the blocks are persisted again from ``A``'s graph and the step is
    retried once; a second loss raises ``RuntimeError`` saying so in one line. ``"sketch_solve"``
    stops after the sketch; ``"direct"`` is dask's TSQR (``dask.array.linalg.lstsq``).

    Parameters
    ----------
    A : dask.array.Array (n, d), chunked by rows only
    b : dask.array.Array or numpy array (n,) or (n, k); rechunked to A's row blocks
    method, sketch, sketch_size, tol, n_iter_max, random_state
        As in :func:`tensorkit.sketch.lstsq` (``"srht"``/``"srdct"`` are refused: not splittable).
    max_iter : int, optional
        Deprecated name of ``n_iter_max`` (``DeprecationWarning``).

    Returns
    -------
    LstsqResult with ``x`` as a numpy array, and ``info`` as for :func:`tensorkit.sketch.lstsq`.
    """
    import dask
    import dask.array as da

    check_choice(method, "method", _METHODS)
    A, a_vector = _check_dask(A, "A")
    if a_vector:
        raise ValueError(f"A must be a matrix (n, d), got shape {A.shape}")
    n, d = A.shape
    if not isinstance(b, da.Array):
        b = np.asarray(b)
    if b.ndim not in (1, 2) or b.shape[0] != n:
        raise ValueError(f"b has {b.shape[0] if b.ndim else 0} rows but A has {n} (A shape {A.shape}, "
                         f"b shape {b.shape})")
    if not isinstance(b, da.Array):
        b = da.from_array(b, chunks=(A.chunks[0],) + ((b.ndim == 2) * (-1,)))
    B, vector = _check_dask(b.rechunk({0: A.chunks[0]}), "b")
    tol, n_iter_max = check_iteration_options(tol, n_iter_max, max_iter)
    if method == "direct":
        X, _, rank, _ = da.linalg.lstsq(A, B)
        X, rank = dask.compute(X, rank)
        R = A @ X - B
        # An exact power of two per column near its largest entry: the squares cannot overflow.
        scale = np.ldexp(1.0, -np.frexp(da.max(da.abs(R), axis=0).compute())[1])
        res = _scaled_column_norms(R, scale) / scale
        result = LstsqResult(X, res, Info("direct", rel_error=0.0), rank=int(rank))
        return _unwrap(result, vector)
    if isinstance(sketch, SketchOperator):
        if sketch_size is not None and sketch_size != sketch.sketch_size:
            raise ValueError(f"sketch_size={sketch_size} disagrees with the operator's "
                             f"sketch_size={sketch.sketch_size}")
        sketch_size = sketch.sketch_size
    user_size = sketch_size
    sketch_size = sketch_size_for(method, n, d, sketch_size)
    seed = seed_from(random_state)
    if sketch == "auto" and method == "sketch_precondition":
        # As on one machine: a CountSketch with few rows per bucket can lose rank, and an A of
        # fewer than 8 d rows is not sketched (its own QR is the preconditioner; it is small).
        op = precondition_sketch(n, d, sketch_size, seed) if user_size is None else (
            CountSketch(sketch_size, random_state=seed) if n >= 4 * sketch_size
            else GaussianSketch(sketch_size, random_state=seed))
        sketch_size = n if op is None else op.sketch_size
    else:
        op = _operator(sketch, sketch_size, n, d, seed)
    if tol is None:
        tol = default_tol(A.dtype)
    blocks = _Blocks(A, B)
    if op is None:
        SAB = blocks.run(lambda: np.asarray(blocks.AB().compute()), "gathering the small A and b")
    else:
        SAB = blocks.run(lambda: _sketch_blocks(blocks.AB(), op), "sketching A and b")
    SA, SB = SAB[:, :d], SAB[:, d:]
    if not np.all(np.isfinite(SAB)):
        raise ValueError("A or b contains non-finite (NaN or Inf) entries, or entries so large that "
                         "their sketch overflows (above about 1e300: scale them down)")
    s_a = float(power_of_two_scale(np.max(np.abs(SA)), dtype=SA.dtype))
    s_b = power_of_two_scale(np.max(np.abs(SB), axis=0), dtype=SB.dtype).astype(SB.dtype)
    SA, SB = SA * s_a, SB * s_b
    R, X0 = sketched_solve(SA, SB, (n, d))

    def normal_op(W, cols, subtract_b):
        def step():
            parts = [
                dask.delayed(_normal_block)(a, bb if subtract_b else None, W, cols, s_a, s_b)
                for a, bb in zip(*blocks.delayed(), strict=True)
            ]
            return dask.compute(dask.delayed(_sum_pairs)(parts))[0]

        return blocks.run(step, "an iteration over the blocks of A")

    name = "none" if op is None else op.name
    extras = {"sketch": name, "sketch_size": sketch_size}
    if method == "sketch_solve":
        _, rsq = normal_op(X0, np.arange(X0.shape[1]), True)
        info = Info("sketch_solve", extras=extras)
        result = LstsqResult(X0 * (s_a / s_b), np.sqrt(rsq) / s_b, info, sketch_size, name)
        return _unwrap(result, vector)
    b_norms = blocks.run(lambda: _scaled_column_norms(blocks.B, s_b), "the norms of b")
    norm_A = norm_estimate(R)
    history: list[float] = []
    sol = refined_cg(normal_op, R, X0, norm_A, b_norms, tol, n_iter_max, sketch_size,
                     history=history)
    extras.update(refinements=sol.refinements, stopped=sol.stopped, norm_A=norm_A / s_a)
    info = Info("sketch_precondition", iterations=sol.iterations, converged=sol.converged,
                rel_error=sol.ratio, history=history, extras=extras)
    result = LstsqResult(sol.x * (s_a / s_b), sol.residual_norm / s_b, info, sketch_size, name)
    return _unwrap(result, vector)


class _Blocks:
    """``A`` and ``B`` persisted on the cluster, persisted again from their graphs when the
    cluster loses them (a restart mid-way cancels every future that held a block)."""

    def __init__(self, A, B):
        self._graphs = (A, B)
        self._persist()

    def _persist(self):
        import dask

        self.A, self.B = dask.persist(*self._graphs)

    def AB(self):
        import dask.array as da

        return da.concatenate([self.A, self.B], axis=1).rechunk({1: -1})

    def delayed(self):
        return self.A.to_delayed().ravel(), self.B.to_delayed().ravel()

    def run(self, step, what):
        """``step()``, retried once on fresh blocks when the cluster lost them."""
        return retry_once(step, what, reset=self._persist, lost="the blocks of A and b")


def _scaled_column_norms(B, s_b):
    """``||s_b b||`` per column: each column scaled (exactly) before it is squared."""
    import dask.array as da

    scaled = B * s_b
    return np.sqrt(da.sum(scaled * scaled, axis=0).compute())


def _operator(kind, m, n, d, seed) -> SketchOperator:
    if isinstance(kind, SketchOperator):
        if not kind.splittable:
            raise ValueError(f"sketch={kind!r} cannot be split by row blocks: it mixes all rows")
        return kind
    if kind in _UNSPLITTABLE:
        raise ValueError(
            f"sketch={kind!r} is a fast transform over all rows and does not split into row blocks; "
            "use 'gaussian', 'countsketch', 'sparse_sign' or 'auto' (sparse sign per block, then one "
            "Gaussian: dense like SRHT)"
        )
    if kind == "auto":
        return sparse_then_gaussian(first_stage_size(n, d), m, random_state=seed)
    return make_sketch(kind, m, random_state=seed)


def _sketch_blocks(A, op) -> np.ndarray:
    """Sum ``S_i A_i`` over row blocks (tree reduction), then finish a composed sketch."""
    import dask

    parts = [dask.delayed(_sketch_block)(op, blk, i) for i, blk in enumerate(A.to_delayed().ravel())]
    total = dask.compute(dask.delayed(_sum_tree)(parts))[0]
    if isinstance(op, ComposedSketch):
        total = op.finish(total)
    return total


def _sketch_block(op, block, index):
    with thread_limits(1):
        return op.apply_block(np.asarray(block), index)


def _normal_block(a, b, W, cols, s_a, s_b):
    """``A_i^T (A_i W - B_i[:, cols])`` and squared residual norms for one block of the scaled
    problem ``s_a A``, ``s_b B`` (serial kernel; scaling by powers of two is exact)."""
    a = np.ascontiguousarray(a)
    if s_a != 1.0:
        a = a * s_a
    bb = None if b is None else np.asarray(b)[:, cols] * s_b[cols]
    with thread_limits(1):
        return _kernels.normal_matvec(a, W.astype(a.dtype, copy=False), bb, "numba")


def _sum_tree(parts):
    total = parts[0].copy()
    for p in parts[1:]:
        total += p
    return total


def _sum_pairs(parts):
    g = parts[0][0].copy()
    sq = parts[0][1].copy()
    for pg, psq in parts[1:]:
        g += pg
        sq += psq
    return g, sq


def _check_dask(A, name):
    import dask.array as da

    if not isinstance(A, da.Array):
        raise TypeError(f"{name} must be a dask.array.Array, got {type(A).__name__}; use "
                        "tensorkit.sketch for numpy/CuPy arrays")
    if A.ndim == 1:
        A = A[:, None]
        vector = True
    elif A.ndim == 2:
        vector = False
    else:
        raise ValueError(f"{name} must be a vector or a matrix, got shape {A.shape}")
    if len(A.chunks[1]) != 1:
        raise ValueError(
            f"{name} must be chunked by rows only; it has column chunks {A.chunks[1]}: rechunk with "
            f"{name}.rechunk({{1: -1}})"
        )
    dtype = working_dtype(A.dtype, name)
    if A.dtype != dtype:
        A = A.astype(dtype)
    return A, vector


def _unwrap(result, vector):
    result.x = np.asarray(result.x)
    if vector:
        result.x = result.x[:, 0]
        result.residual_norm = float(np.asarray(result.residual_norm)[0])
    return result
