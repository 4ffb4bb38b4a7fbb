r"""Tucker decomposition of chunked dask arrays larger than memory.

Every pass over the data is one task per chunk whose small result (a Gram matrix, a sketch, a
triangular factor, a partial core) is summed in a tree; only these small matrices reach the
client, where the factors are computed. A task sees the chunk of the mode-``k`` unfolding
``Y_c`` (the array is rechunked to hold mode ``k`` whole, other modes cut to keep chunks small), and
``Y Y^T = sum_c Y_c Y_c^T``.

Scaling: a task divides its chunk by the power of two ``2^e_c`` just above its largest entry
(exact) and returns ``(partial, e_c)``; the tree brings partials to the larger exponent before
adding. Squares are thus formed from numbers below one and nothing overflows or underflows
harmfully, for any finite input, without a separate pass for the global maximum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._info import Info
from .._progress import progress_bar
from .._validation import check_choice, check_int, check_tol, per_axis
from ..decomposition import check_multilinear_rank, check_ranks, st_hosvd_mode_order
from ..decomposition.linalg import norm as scaled_norm
from ..decomposition.linalg import rank_from_tail
from ..formats import TuckerTensor
from ._cluster import retry_once

__all__ = ["DISTRIBUTED_TUCKER_METHODS", "tucker"]

DISTRIBUTED_TUCKER_METHODS = ("st_hosvd", "hosvd", "randomized")
# Chunks of the rechunked unfoldings stay below this (bytes): a few of them per worker at once.
_CHUNK_BYTES = 8 * 2**20
# A Gram-route decision must sit this far above eps * sigma_1^2 * sqrt(I) (as on one machine).
_GRAM_SAFETY = 1e3


def tucker(A: Any, rank: int | Sequence[int] | float | None = None, *, tol: float | None = None,
           method: str = "st_hosvd", n_power_iter: int = 1, oversampling: int = 10,
           mode_order: Sequence[int] | None = None, random_state: Any = None,
           progress: bool = False) -> TuckerTensor:
    r"""Tucker decomposition of a chunked dask array of any order, on the current dask scheduler.

    ``"st_hosvd"`` (default): for each mode in turn, the mode-``k`` Gram matrix
    :math:`G_k = \sum_c Y_{k,c} Y_{k,c}^T` of the current tensor is summed over chunks, ``eigh``
    on the client gives ``U_k``, and the tensor shrinks to :math:`X \times_k U_k^T`, persisted
    chunked on the workers: the full-size tensor is read twice (Gram, projection) and never held.
    ``"hosvd"`` takes every factor from the full tensor (``N + 1`` reads) and the core from
    per-chunk multi-mode products summed. ``"randomized"`` replaces each Gram matrix by a Gaussian
    sketch :math:`Y_k \Omega` (the block of :math:`\Omega` for chunk ``c`` is seeded by
    ``(random_state, mode, c)``), ``n_power_iter`` power steps :math:`Y_k Y_k^T Q` and a
    projection: ``2 + n_power_iter`` reads of the first mode.

    With ``tol`` every mode keeps the smallest ``r_k`` with
    :math:`\sqrt{\sum_{i>r_k}\sigma_i^2} \le tol \|X\|_F/\sqrt{N}`, so
    :math:`\|X - \hat X\|_F \le tol \|X\|_F` as for :func:`tensorkit.tucker`. Eigenvalues of a Gram
    matrix carry an error of about :math:`\epsilon\sigma_1^2`; where the decision sits below
    :math:`10^3 \epsilon \sigma_1^2 \sqrt{I_k}` the factor comes instead from the triangular factor
    ``R`` of :math:`Y_k^T` (a TSQR: ``R`` per chunk, stacked and factored again in a tree) and an
    SVD of ``R^T``, accurate to :math:`\epsilon\sigma_1`.

    Parameters
    ----------
    A : dask.array.Array of order >= 2 (float32, float64; integers become float64)
    rank, tol
        As in :func:`tensorkit.tucker` (exactly one).
    method : {"st_hosvd", "hosvd", "randomized"}
    n_power_iter, oversampling : int
        Power steps and extra sketch columns for ``"randomized"``.
    mode_order : sequence of int, optional
        Order of the modes for ``"st_hosvd"`` and ``"randomized"``; by default the cheapest under
        the flop model of :func:`tensorkit.tucker`.
    random_state : int or None
        Seed of the sketches.
    progress : bool
        Progress bar over the modes.

    Returns
    -------
    TuckerTensor
        numpy core and factors; ``info.extras`` holds ``passes`` (reads of full-size data) and
        ``accurate_modes`` (modes that needed TSQR).

    A cluster restart mid-way (persisted intermediates lost) restarts the decomposition once from
    ``A``'s graph; a second loss raises ``RuntimeError``. A worker that dies is survived by dask.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> from tensorkit.distributed import tucker
    >>> x = np.linspace(0, 1, 20)
    >>> X = da.from_array(np.exp(x[:, None, None] + x[None, :, None] + x[None, None, :]), chunks=8)
    >>> T = tucker(X, tol=1e-10, random_state=0)
    >>> T.ranks, T.info.rel_error < 1e-10
    ((1, 1, 1), True)
    """
    import dask.array as da

    if not isinstance(A, da.Array):
        raise TypeError(f"A must be a dask.array.Array, got {type(A).__name__}; use tensorkit.tucker "
                        "for numpy/CuPy arrays")
    if A.ndim < 2:
        raise ValueError(f"A must have order >= 2, got shape {A.shape}")
    kind = np.dtype(A.dtype).kind
    if kind == "c" or kind not in "biuf":
        raise TypeError(f"A must hold real numbers (float32, float64 or integers), got dtype {A.dtype}")
    dtype = np.dtype(A.dtype) if A.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    if A.dtype != dtype:
        A = A.astype(dtype)
    check_choice(method, "method", DISTRIBUTED_TUCKER_METHODS)
    n_power_iter = check_int(n_power_iter, "n_power_iter", minimum=0)
    oversampling = check_int(oversampling, "oversampling", minimum=0)
    if (rank is None) == (tol is None):
        raise ValueError("give exactly one of rank and tol, got "
                         + ("neither" if rank is None else f"both (rank={rank!r}, tol={tol!r})"))
    ranks = None if rank is None else check_multilinear_rank(check_ranks(rank, A.shape))
    tol = None if tol is None else check_tol(tol)
    if mode_order is None:
        order = st_hosvd_mode_order(A.shape, ranks)
    else:
        order = list(per_axis(mode_order, A.ndim, "mode_order", lambda v, name: check_int(v, name)))
        if sorted(order) != list(range(A.ndim)):
            raise ValueError(f"mode_order must be a permutation of 0..{A.ndim - 1}, got {order}")
    if random_state is not None and not isinstance(random_state, (int, np.integer)):
        raise TypeError(f"random_state must be an int or None, got {type(random_state).__name__}")
    seed = int(np.random.SeedSequence(random_state).generate_state(1)[0]) if random_state is None \
        else int(random_state)
    run = _Run(A, ranks, tol, dtype, seed, oversampling, n_power_iter)
    with progress_bar(progress, total=A.ndim, desc=f"tucker[{method}] on dask") as bar:
        return retry_once(lambda: run.decompose(method, order, bar), f"computing tucker[{method}]",
                          reset=bar.reset)


class _Run:
    """One decomposition: its options and the norm of ``A`` once known."""

    def __init__(self, A, ranks, tol, dtype, seed, oversampling, n_power_iter):
        self.A, self.ranks, self.tol, self.dtype = A, ranks, tol, dtype
        self.seed, self.oversampling, self.n_power_iter = seed, oversampling, n_power_iter
        self.eps = float(np.finfo(dtype).eps)

    def decompose(self, method, order, bar):
        self.norm = None  # ||A||, from the first pass that sees all of A
        self.passes, self.accurate = 0, []
        N = self.A.ndim
        factors = [None] * N
        if method == "hosvd":
            for mode in range(N):
                factors[mode] = self._gram_factor(_whole_along(self.A, mode), mode, full=True)
                bar.update()
            core = _core(self.A, factors)
            self.passes += 1
        else:
            current = self.A
            for mode in order:
                Y, full = _whole_along(current, mode), current is self.A
                if method == "st_hosvd":
                    factors[mode] = self._gram_factor(Y, mode, full=full)
                    current = _project(Y, factors[mode], mode).persist()
                    self.passes += full
                else:
                    factors[mode], current = self._randomized_factor(Y, mode, full)
                bar.update()
            core = np.asarray(current.compute())
        result = TuckerTensor(core.astype(self.dtype, copy=False), factors)
        rel_error = self._relative_error(result)
        extras = {"passes": self.passes, "accurate_modes": self.accurate,
                  "chunks": tuple(int(c) for c in self.A.chunksize)}
        result.info = Info(method, rel_error=rel_error, extras=extras)
        return result

    # ------------------------------------------------------------------ factors
    def _threshold(self):
        """The per-mode tail bound ``tol ||A|| / sqrt(N)`` (``||A||`` known by now)."""
        return self.tol * self.norm / math.sqrt(self.A.ndim)

    def _gram_factor(self, Y, mode, *, full, rank=None, threshold=None):
        """Leading left singular vectors of the unfolding of ``Y`` (whole along ``mode``): ``rank``
        of them, or as many as the tail ``threshold`` needs; by default this run's rank or tail
        rule. ``full``: ``Y`` is ``A`` itself (a read of the data, and its norm)."""
        G, e = _reduce(Y, _gram_block, mode)
        self.passes += full
        if full:
            self._note_norm(math.sqrt(max(float(np.trace(G)), 0.0)), e)
        if rank is None and threshold is None:
            if self.ranks is not None:
                rank = self.ranks[mode]
            else:
                threshold = self._threshold()
        lam, vec = np.linalg.eigh(G)
        lam, vec = np.maximum(lam[::-1], 0.0), vec[:, ::-1]
        if lam[0] == 0.0:
            return np.eye(Y.shape[mode], rank or 1, dtype=self.dtype)
        t = None if threshold is None else math.ldexp(threshold, -e)
        r = rank if rank is not None else rank_from_tail(np.sqrt(lam), t)
        decisive = lam[r - 1] if rank is not None else min(t * t, lam[r - 1])
        if decisive > _GRAM_SAFETY * self.eps * lam[0] * math.sqrt(Y.shape[mode]):
            return vec[:, :r].astype(self.dtype)
        # The Gram matrix cannot resolve this decision: a TSQR of the unfolding's transpose can.
        self.accurate.append(mode)
        R, e = _reduce(Y, _r_block, mode, combine=_combine_r)
        self.passes += full
        u, s, _ = np.linalg.svd(R.T, full_matrices=False)
        r = rank if rank is not None else rank_from_tail(s, math.ldexp(threshold, -e))
        return u[:, :r].astype(self.dtype)

    def _randomized_factor(self, Y, mode, full):
        """``(U, Y x_mode U^T persisted)`` from a Gaussian range finder on the unfolding of ``Y``;
        with a tolerance the sketch widens until what lies outside it leaves room for the tail."""
        rank = None if self.ranks is None else self.ranks[mode]
        size = Y.shape[mode]
        width = min(size, rank + self.oversampling if rank is not None else max(2 * self.oversampling, 16))
        attempt = 0
        while True:
            (Z, sq), e = _reduce(Y, _sketch_block, mode, extra=((self.seed, mode, attempt), width),
                                 power=1, with_norm=True)
            self.passes += full
            if full:
                self._note_norm(math.sqrt(sq), e)
            q = _orthonormal(Z)
            for _ in range(self.n_power_iter):
                q = _orthonormal(_reduce(Y, _power_block, mode, extra=(q,), power=1)[0])
                self.passes += full
            B = _project(Y, q, mode).persist()
            self.passes += full
            if rank is not None:
                u_small = self._gram_factor(_whole_along(B, mode), mode, full=False, rank=rank)
                break
            threshold = self._threshold()
            outside, e_out = _reduce(Y, _residual_block, mode, extra=(q,))
            self.passes += full
            outside = math.ldexp(math.sqrt(max(float(outside), 0.0)), e_out)
            if outside <= threshold / math.sqrt(2) or width == size:
                budget = math.sqrt(max(threshold**2 - outside**2, 0.0))
                u_small = self._gram_factor(_whole_along(B, mode), mode, full=False, threshold=budget)
                if u_small.shape[1] < width - self.oversampling // 2 or width == size:
                    break
            width, attempt = min(size, 2 * width), attempt + 1
        return q.astype(self.dtype) @ u_small, _project(_whole_along(B, mode), u_small, mode).persist()

    def _note_norm(self, scaled_norm, e):
        self.norm = math.ldexp(scaled_norm, e)
        if not math.isfinite(self.norm):
            raise ValueError(f"A has a Frobenius norm above the float range ({self.norm}); "
                             "scale it down first")

    # ------------------------------------------------------------------ error
    def _relative_error(self, result):
        """``sqrt(1 - ||G||^2/||X||^2)``, measured by a pass over ``A`` where that cancels."""
        if self.norm is None:
            sq, e = _reduce(self.A, _sumsq_block, None)
            self._note_norm(math.sqrt(float(sq)), e)
        if self.norm == 0.0:
            return 0.0
        ratio = min(scaled_norm(result.core) / self.norm, 1.0)
        error = math.sqrt(max(1.0 - ratio**2, 0.0))
        if error < 100 * math.sqrt(self.eps):
            sq, e = _difference(self.A, result)
            self.passes += 1
            error = math.ldexp(math.sqrt(float(sq)), e) / self.norm
        return error


# ---------------------------------------------------------------------- graph helpers
def _whole_along(X, mode):
    """``X`` rechunked to hold ``mode`` whole, other modes cut so chunks stay under 8 MiB."""
    if len(X.chunks[mode]) == 1 and X.nbytes / max(X.npartitions, 1) <= _CHUNK_BYTES:
        return X
    chunks = {k: (-1 if k == mode else "auto") for k in range(X.ndim)}
    return X.rechunk(chunks, block_size_limit=_CHUNK_BYTES)


def _project(Y, U, mode):
    """``Y x_mode U^T`` chunk by chunk (``Y`` whole along ``mode``)."""
    import dask

    chunks = tuple((U.shape[1],) if k == mode else c for k, c in enumerate(Y.chunks))
    return Y.map_blocks(_project_block, dask.delayed(U), mode, chunks=chunks, dtype=Y.dtype)


def _reduce(Y, block_fn, mode, *, extra=(), combine=None, power=2, with_norm=False):
    """Tree sum of ``block_fn(chunk, mode, index, *extra)`` over chunks; each returns
    ``(partial, e)`` meaning ``partial * 2^(power e)``. Returns ``(total, e)``."""
    import dask

    combine = combine or _combine_sum
    blocks = Y.to_delayed()
    parts = [dask.delayed(_scaled_call)(block_fn, blocks[idx], mode, idx, extra, power, with_norm)
             for idx in np.ndindex(*blocks.shape)]
    while len(parts) > 1:
        parts = [dask.delayed(combine)(*parts[i:i + 8]) for i in range(0, len(parts), 8)]
    out = dask.compute(parts[0])[0]
    return out["value"], out["e"] or 0  # e is None only when every chunk is zero


def _scaled_call(block_fn, block, mode, index, extra, power, with_norm):
    block = np.asarray(block)
    # max and min need no temporary the size of the chunk; NaN propagates into both
    amax = max(float(block.max()), -float(block.min())) if block.size else 0.0
    if not math.isfinite(amax):
        raise ValueError("A contains non-finite (NaN or Inf) entries")
    low, high = _band(block.dtype)
    if amax == 0.0:
        e = None
    elif low <= amax <= high:
        e = 0  # squares and their sums stay in range: no scaled copy of the chunk
    else:
        e = math.frexp(amax)[1]
        block = np.ldexp(block, -e).astype(block.dtype, copy=False)
    with thread_limits(1):
        value = block_fn(block, mode, index, *extra)
        if with_norm:
            value = (value, float(np.einsum("i,i->", *(block.reshape(-1).astype(np.float64),) * 2)))
    return {"value": value, "e": e, "power": power}


def _band(dtype):
    """``(low, high)``: chunks with ``max|x|`` in it are squared and summed as they are
    (float32: 2^-32 to 2^40; float64: 2^-451 to 2^488), as in tensorkit.decomposition.linalg."""
    info = np.finfo(dtype)
    return 2.0 ** (info.minexp // 2 + info.nmant + 8), 2.0 ** (info.maxexp // 2 - 24)


def _combine_sum(*parts):
    live = [p for p in parts if p["e"] is not None]
    if not live:
        return parts[0]
    e = max(p["e"] for p in live)
    power = live[0]["power"]

    def rescale(v, p):
        if isinstance(v, tuple):  # (sketch, sum of squares): the squares scale twice
            return np.ldexp(v[0], power * (p["e"] - e)), math.ldexp(v[1], 2 * (p["e"] - e))
        return np.ldexp(v, power * (p["e"] - e))

    values = [rescale(p["value"], p) for p in live]
    if isinstance(values[0], tuple):
        total = (sum(v[0] for v in values), sum(v[1] for v in values))
    else:
        total = sum(values)
    return {"value": total, "e": e, "power": power}


def _combine_r(*parts):
    """``R`` of the stacked (rescaled) ``R`` factors: TSQR's reduction step."""
    live = [p for p in parts if p["e"] is not None]
    if not live:
        return parts[0]
    e = max(p["e"] for p in live)
    stacked = np.vstack([np.ldexp(p["value"], p["e"] - e) for p in live])
    return {"value": np.linalg.qr(stacked, mode="r"), "e": e, "power": 1}


def thread_limits(n):
    """BLAS limited to ``n`` threads in a task (the parallelism is across chunks); threadpoolctl
    alone, without the Numba runtime that ``tensorkit.backend.thread_limits`` also limits, which
    would cost every worker some 60 MB."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(n, user_api="blas")


def _unfold(block, mode):
    return np.moveaxis(block, mode, 0).reshape(block.shape[mode], -1)


def _gram_block(block, mode, index):
    y = _unfold(block, mode)
    return (y @ y.T).astype(np.float64)


def _r_block(block, mode, index):
    return np.linalg.qr(_unfold(block, mode).astype(np.float64).T, mode="r")


def _sketch_block(block, mode, index, seed, width):
    y = _unfold(block, mode)
    rng = np.random.default_rng([*seed, *index])
    return (y @ rng.standard_normal((y.shape[1], width)).astype(y.dtype)).astype(np.float64)


def _power_block(block, mode, index, q):
    y = _unfold(block, mode)
    q = q.astype(y.dtype)
    return (y @ (y.T @ q)).astype(np.float64)


def _residual_block(block, mode, index, q):
    y = _unfold(block, mode).astype(np.float64)
    r = y - q @ (q.T @ y)
    return float(np.sum(r * r))


def _sumsq_block(block, mode, index):
    return float(np.sum(np.square(block, dtype=np.float64)))


def _project_block(block, U, mode):
    with thread_limits(1):
        out = np.tensordot(U.T.astype(block.dtype), block, axes=(1, mode))
    return np.moveaxis(out, 0, mode)


def _offsets(chunks):
    return [np.concatenate([[0], np.cumsum(c)]) for c in chunks]


def _core(X, factors):
    """``X x_1 U_1^T ... x_N U_N^T``: per chunk with the factors' matching rows, summed."""
    import dask

    offsets = _offsets(X.chunks)
    blocks = X.to_delayed()
    parts = []
    for idx in np.ndindex(*blocks.shape):
        rows = [U[offsets[k][i]:offsets[k][i + 1]] for k, (U, i) in enumerate(zip(factors, idx, strict=True))]
        parts.append(dask.delayed(_core_block)(blocks[idx], rows))
    while len(parts) > 1:
        parts = [dask.delayed(_add)(*parts[i:i + 8]) for i in range(0, len(parts), 8)]
    return dask.compute(parts[0])[0]


def _core_block(block, rows):
    out = np.asarray(block, dtype=np.float64)
    with thread_limits(1):
        for U in rows:
            # contracting the leading axis each time cycles the modes back into order
            out = np.tensordot(out, U.astype(np.float64), axes=(0, 0))
    return out


def _add(*parts):
    return sum(parts)


def _difference(X, result):
    """``||X - X_hat||^2`` as ``(value, e)``, per chunk against its part of the reconstruction."""
    import dask

    offsets = _offsets(X.chunks)
    blocks = X.to_delayed()
    parts = []
    for idx in np.ndindex(*blocks.shape):
        rows = [U[offsets[k][i]:offsets[k][i + 1]]
                for k, (U, i) in enumerate(zip(result.factors, idx, strict=True))]
        parts.append(dask.delayed(_difference_block)(blocks[idx], result.core, rows))
    while len(parts) > 1:
        parts = [dask.delayed(_combine_sum)(*parts[i:i + 8]) for i in range(0, len(parts), 8)]
    out = dask.compute(parts[0])[0]
    return out["value"], out["e"] or 0


def _difference_block(block, core, rows):
    with thread_limits(1):
        rec = _core_block(core, [U.T for U in rows])
        diff = np.asarray(block, dtype=np.float64) - rec
    return _scaled_call(_sumsq_block, diff, None, None, (), 2, False)


def _orthonormal(a):
    return np.linalg.qr(a)[0]
