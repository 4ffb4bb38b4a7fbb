"""Tucker decomposition: HOSVD, ST-HOSVD, HOOI and randomized, with rank fixed or by tolerance."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._info import Info
from .._progress import progress_bar
from .._validation import (
    check_choice,
    check_dense_tensor,
    check_int,
    check_stop_tol,
    check_tol,
    per_axis,
)
from ..backend import check_random_state, resolve_backend, standard_normal
from ..formats import CPTensor, TTTensor, TuckerTensor
from ..tenalg import mode_dot, multi_mode_dot, unfold
from ._ranks import tucker_rank
from .linalg import accurate_subspace, leading_subspace, safe_scale, scale_into_range, unscale
from .linalg import norm as scaled_norm

__all__ = ["TUCKER_METHODS", "check_multilinear_rank", "check_ranks", "st_hosvd_mode_order", "tucker"]

TUCKER_METHODS = ("hosvd", "st_hosvd", "hooi", "randomized")


def tucker(
    tensor: Any,
    rank: int | Sequence[int] | float | None = None,
    *,
    tol: float | None = None,
    method: str = "st_hosvd",
    n_iter_max: int = 100,
    stop_tol: float = 1e-8,
    oversampling: int = 10,
    n_power_iter: int = 2,
    mode_order: Sequence[int] | None = None,
    random_state: Any = None,
    backend: str | None = None,
    progress: bool = False,
) -> TuckerTensor:
    r"""Tucker decomposition ``X ~ G x_1 U_1 x_2 U_2 ... x_N U_N`` with orthonormal factors.

    Parameters
    ----------
    tensor : array of order >= 2 (numpy or CuPy; integers are promoted to float64)
    rank : int, sequence of int or float, optional
        Multilinear rank, one per mode (an int is used for every mode; a float in ``(0, 1]`` is
        the fraction of the tensor's parameter count to keep, as
        :func:`tensorkit.decomposition.resolve_rank` reads it). At most the size of each mode, and
        a multilinear rank (``r_k <= prod_{l != k} r_l``, see
        :func:`~tensorkit.decomposition.check_multilinear_rank`): other ranks are refused with the
        reason, never delivered smaller. Every valid rank is delivered exactly, by every method and
        in every ``mode_order``. The ranks a fraction resolves to are lowered to a multilinear rank
        (the same tensors, fewer parameters), and ``info.extras["rank_lowered_from"]`` says so.
    tol : float in (0, 1), optional
        Relative error target. Exactly one of ``rank`` and ``tol`` is given. Per mode the smallest
        ``r_k`` with :math:`\sqrt{\sum_{i>r_k}\sigma_i^2} \le tol \|X\|_F / \sqrt{N}` is kept, which
        guarantees :math:`\|X - \hat X\|_F \le tol\,\|X\|_F` for ``"hosvd"``, ``"st_hosvd"`` and
        ``"hooi"`` (and, by an explicit residual check, for ``"randomized"``).
    method : {"st_hosvd", "hosvd", "hooi", "randomized"}
        ``"st_hosvd"`` (sequentially truncated HOSVD, the default) shrinks the tensor after each
        mode; ``"hosvd"`` takes each factor from the full tensor; ``"hooi"`` refines ST-HOSVD by
        higher-order orthogonal iteration; ``"randomized"`` uses a randomized range finder with
        ``oversampling`` extra columns and ``n_power_iter`` power iterations per mode.
    n_iter_max, stop_tol : int, float
        HOOI stops after ``n_iter_max`` sweeps (at least 1; ``0`` is refused for every method) or
        when the relative error improves by less than ``stop_tol``; it warns (``RuntimeWarning``)
        when the iteration limit stopped it.
    mode_order : sequence of int, optional
        Order in which ST-HOSVD processes the modes; by default the mode that shrinks most first.
    random_state : int, Generator or None
        For ``"randomized"``.
    backend : {"numpy", "numba", "cupy"} or None
        Checked against the device of ``tensor`` (Tucker needs no custom kernel: BLAS and LAPACK
        do the work on either device).
    progress : bool
        Show a progress bar over modes and sweeps.

    Returns
    -------
    TuckerTensor
        With ``info`` holding the method, sweeps, convergence and achieved relative error.

    Notes
    -----
    Singular subspaces come from Gram matrices and ``eigh`` where the decision sits well above
    their noise level (``sqrt(eps)`` relative), and from a QR of the unfolding's transpose followed
    by a small SVD where it does not, so tolerances down to ``1e-12`` (float64) are met. Norms,
    Gram matrices and tail sums are formed from data rescaled by a power of two when needed
    (:mod:`tensorkit.decomposition.linalg`), so ``tucker(c * X)`` has the ranks and relative error
    of ``tucker(X)`` for any finite ``c * X``.

    References
    ----------
    De Lathauwer, De Moor, Vandewalle, SIAM J. Matrix Anal. Appl. 21 (2000); Vannieuwenhoven,
    Vandebril, Meerbergen, SIAM J. Sci. Comput. 34 (2012); Minster, Saibaba, Kilmer,
    arXiv:1905.07311.

    Examples
    --------
    >>> import numpy as np, tensorkit
    >>> x = np.linspace(-1, 1, 30)
    >>> X = np.exp(x[:, None, None] + x[None, :, None] + x[None, None, :])
    >>> tensorkit.tucker(X, tol=1e-10).ranks
    (1, 1, 1)
    """
    tensor, xp = check_dense_input(tensor)
    resolve_backend(backend, tensor)
    check_choice(method, "method", TUCKER_METHODS)
    n_iter_max = check_int(n_iter_max, "n_iter_max", minimum=1)
    stop_tol = check_stop_tol(stop_tol)
    oversampling = check_int(oversampling, "oversampling", minimum=0)
    n_power_iter = check_int(n_power_iter, "n_power_iter", minimum=0)
    # checked whatever the method: a bad seed is refused, not silently ignored
    rng = check_random_state(random_state, xp)
    tensor, scale = scale_into_range(tensor, xp)
    ranks, threshold, norm, lowered_from = _check_rank_tol(tensor, rank, tol, scale)
    if mode_order is None:
        order = st_hosvd_mode_order(tensor.shape, ranks)
    else:
        order = _check_mode_order(mode_order, tensor.ndim)
    flipped = _is_fortran_ordered(tensor)
    if flipped:
        # A Fortran-ordered tensor is the C-ordered transpose with its modes reversed: decompose
        # that view (unfoldings without copies) and reverse the modes of the result.
        last = tensor.ndim - 1
        tensor = tensor.T
        ranks = ranks[::-1] if ranks is not None else None
        order = [last - k for k in order]
    with progress_bar(progress, total=tensor.ndim, desc=f"tucker[{method}]") as bar:
        if method == "hosvd":
            result = _hosvd(tensor, ranks, threshold, xp, bar)
        elif method == "randomized":
            result = _randomized(
                tensor, ranks, threshold, order, oversampling, n_power_iter, rng, xp, bar
            )
        else:
            result = _st_hosvd(tensor, ranks, threshold, order, xp, bar)
        if method == "hooi":
            result = _hooi(tensor, result, norm, n_iter_max, stop_tol, threshold is not None, xp, bar)
    if result.info.rel_error is None:
        result.info.rel_error = _relative_error(tensor, result, norm, xp)
    if scale != 1.0:
        core, exact = unscale(result.core, scale, xp)
        if not exact:  # the core of subnormal data rounded on the way back: the error it has now
            rounded = TuckerTensor(core * scale, result.factors)
            result.info.rel_error = scaled_norm(tensor - rounded.to_dense()) / norm
            warn_if_rounding_missed(result.info.rel_error, tol)
        result = TuckerTensor(core, result.factors, info=result.info)
    if lowered_from is not None:
        result.info.extras["rank_lowered_from"] = lowered_from
    if flipped:
        result = TuckerTensor(xp.permute_dims(result.core, tuple(range(tensor.ndim))[::-1]),
                              result.factors[::-1], info=result.info)
    return result


def _is_fortran_ordered(tensor):
    flags = getattr(tensor, "flags", None)
    return flags is not None and flags.f_contiguous and not flags.c_contiguous


def _hosvd(tensor, ranks, threshold, xp, bar):
    factors = []
    for mode in range(tensor.ndim):
        target = _target(ranks, threshold, mode)
        u, _ = leading_subspace(unfold(tensor, mode, xp=xp), **target, xp=xp)
        factors.append(u)
        bar.update()
    core = multi_mode_dot(tensor, factors, transpose=True, xp=xp)
    return TuckerTensor(core, factors, info=Info("hosvd"))


def _st_hosvd(tensor, ranks, threshold, order, xp, bar):
    factors = [None] * tensor.ndim
    core = tensor
    for mode in order:
        target = _target(ranks, threshold, mode)
        u, _ = leading_subspace(unfold(core, mode, xp=xp), **target, xp=xp)
        factors[mode] = u
        core = mode_dot(core, u, mode, transpose=True, xp=xp)
        bar.update()
    return TuckerTensor(core, factors, info=Info("st_hosvd"))


def _hooi(tensor, start, norm, n_iter_max, stop_tol, accurate, xp, bar):
    """HOOI sweeps from ``start``; never returns a worse approximation than ``start``.

    ``accurate``: singular subspaces by QR + SVD, not Gram matrices (a tolerance below ``sqrt(eps)``
    needs subspaces of singular values the Gram matrix no longer resolves). The ranks are lowered to
    ``r_n <= prod_{m != n} r_m`` first: a larger ``r_n`` adds nothing (the mode-``n`` unfolding of the
    core has at most that rank) and the projected unfolding cannot supply it.
    """
    factors = list(start.factors)
    ranks = check_multilinear_rank(start.ranks, clip=True)
    error = _error_from_core(start.core, norm)
    history = [error]
    converged = False
    bar.reset(total=n_iter_max)
    bar.set_description("tucker[hooi]")
    core = start.core
    sweeps = 0
    for _ in range(n_iter_max):
        sweeps += 1
        for mode in range(tensor.ndim):
            projected = multi_mode_dot(tensor, factors, skip=mode, transpose=True, xp=xp)
            unfolding = unfold(projected, mode, xp=xp)
            if accurate:
                factors[mode], _ = accurate_subspace(unfolding, rank=ranks[mode], xp=xp)
            else:
                factors[mode], _ = leading_subspace(unfolding, rank=ranks[mode], xp=xp)
        core = mode_dot(projected, factors[-1], tensor.ndim - 1, transpose=True, xp=xp)
        new_error = _error_from_core(core, norm)
        history.append(new_error)
        bar.update()
        bar.set_postfix(rel_error=f"{new_error:.3e}")
        if error - new_error < stop_tol:
            converged = True
            break
        error = new_error
    if not converged:
        warnings.warn(
            f"HOOI stopped by n_iter_max={n_iter_max} before the relative error improved by "
            f"less than stop_tol={stop_tol} (last change {history[-2] - history[-1]:.2e})",
            RuntimeWarning,
            stacklevel=3,
        )
    info = Info("hooi", iterations=sweeps, converged=converged, history=history)
    result = TuckerTensor(core, factors, info=info)
    # HOOI's fit never decreases in exact arithmetic; in floating point a sweep can lose digits of
    # the start's (below the core-norm formula's sqrt(eps) resolution): keep the better one
    info.rel_error = _relative_error(tensor, result, norm, xp)
    start_error = _relative_error(tensor, start, norm, xp)
    if start_error < info.rel_error:
        info.rel_error = start_error
        info.extras["kept_start"] = True
        return TuckerTensor(start.core, start.factors, info=info)
    return result


def _randomized(tensor, ranks, threshold, order, oversampling, n_power_iter, rng, xp, bar):
    factors = [None] * tensor.ndim
    core = tensor
    for mode in order:
        y = unfold(core, mode, xp=xp)
        if ranks is not None:
            u = _range_finder(y, ranks[mode], oversampling, n_power_iter, rng, xp)
        else:
            u = _adaptive_range_finder(y, threshold, oversampling, n_power_iter, rng, xp)
        factors[mode] = u
        core = mode_dot(core, u, mode, transpose=True, xp=xp)
        bar.update()
    return TuckerTensor(core, factors, info=Info("randomized"))


def _range_finder(y, rank, oversampling, n_power_iter, rng, xp):
    """``rank`` leading left singular vectors of ``y`` from a Gaussian sketch (Halko et al.)."""
    n_rows, n_cols = y.shape
    s = safe_scale(y, xp)
    if s != 1.0:
        y = y * s  # power iterations square the scale
    width = min(rank + oversampling, n_rows)
    if width >= n_rows or n_cols <= width:
        return leading_subspace(y, rank=rank, xp=xp)[0]
    q = _orthonormal(y @ standard_normal(rng, (n_cols, width), y.dtype, xp), xp)
    for _ in range(n_power_iter):
        q = _orthonormal(y @ (xp.conj(y).T @ q), xp)
    small = xp.conj(q).T @ y  # (width, J)
    u_small, _ = leading_subspace(small, rank=rank, xp=xp)
    return q @ u_small


def _adaptive_range_finder(y, threshold, oversampling, n_power_iter, rng, xp):
    """Grow the sketch until the residual outside its range leaves room for the threshold."""
    n_rows, n_cols = y.shape
    s = safe_scale(y, xp)
    if s != 1.0:
        y, threshold = y * s, threshold * s  # power iterations and the residual square the scale
    width = min(n_rows, max(2 * oversampling, 16))
    while True:
        if width >= n_rows or n_cols <= width:
            return leading_subspace(y, threshold=threshold, xp=xp)[0]
        q = _orthonormal(y @ standard_normal(rng, (n_cols, width), y.dtype, xp), xp)
        for _ in range(n_power_iter):
            q = _orthonormal(y @ (xp.conj(y).T @ q), xp)
        small = xp.conj(q).T @ y
        outside = scaled_norm(y - q @ small)
        if outside <= threshold / math.sqrt(2):
            budget = math.sqrt(threshold**2 - outside**2)
            u_small, _sigma = leading_subspace(small, threshold=budget, xp=xp)
            if u_small.shape[1] < width - oversampling // 2 or width == n_rows:
                return q @ u_small
        width = min(n_rows, 2 * width)


def _orthonormal(a, xp):
    q, _ = xp.linalg.qr(a)
    return q


def _error_from_core(core, norm):
    """``||X - X_hat|| / ||X||`` for orthonormal factors: ``sqrt(||X||^2 - ||G||^2) / ||X||``."""
    if norm == 0.0:
        return 0.0  # a zero tensor decomposes exactly
    ratio = min(scaled_norm(core) / norm, 1.0)  # a ratio <= 1: no overflow or underflow when squared
    return math.sqrt(max(1.0 - ratio**2, 0.0))


def _relative_error(tensor, result, norm, xp):
    """Achieved relative error; measured directly where the core-norm formula cancels.

    ``||X||^2 - ||G||^2`` carries an absolute error of order ``eps ||X||^2`` (the core is computed
    in the working precision), so the estimate is only good well above ``sqrt(eps)``: below
    ``100 sqrt(eps)`` (1.5e-6 in float64, 3.5e-2 in float32) the reconstruction is compared with
    the tensor instead, as CP-ALS does.
    """
    error = _error_from_core(result.core, norm)
    if norm > 0.0 and error < 100 * math.sqrt(float(xp.finfo(tensor.dtype).eps)):
        error = scaled_norm(tensor - result.to_dense()) / norm
    return error


def _target(ranks, threshold, mode):
    return {"rank": ranks[mode]} if ranks is not None else {"threshold": threshold}


def st_hosvd_mode_order(shape: tuple[int, ...], ranks: tuple[int, ...] | None) -> list[int]:
    """The mode order of least work for ST-HOSVD under a flop model.

    Step ``n`` costs about ``(I_n + r_n) * S`` (Gram matrix plus projection of the current tensor of
    size ``S``) and shrinks ``S`` by ``r_n / I_n``. Ranks not yet known (tolerance mode) are guessed
    as half the mode size. All orders are tried up to order 6, greedily beyond.

    Examples
    --------
    >>> from tensorkit.decomposition import st_hosvd_mode_order
    >>> st_hosvd_mode_order((200, 20, 20), (5, 5, 5))   # the small modes shrink S 4x each first
    [1, 2, 0]
    """
    guess = ranks if ranks is not None else tuple(max(1, s // 2) for s in shape)

    def cost(order):
        size, total = math.prod(shape), 0
        for n in order:
            total += (shape[n] + guess[n]) * size
            size = size // shape[n] * guess[n]
        return total

    if len(shape) <= 6:
        return list(min(itertools.permutations(range(len(shape))), key=cost))
    order, left = [], set(range(len(shape)))
    while left:
        best = min(left, key=lambda n: cost([*order, n]))
        order.append(best)
        left.remove(best)
    return order


def check_ranks(rank: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A multilinear rank for a tensor of ``shape``: :func:`~tensorkit.decomposition.tucker_rank`
    (an int for every mode, one int per mode, or a float fraction of the parameters), each at
    most the size of its mode.

    Examples
    --------
    >>> from tensorkit.decomposition import check_ranks
    >>> check_ranks(3, (4, 5, 6))
    (3, 3, 3)
    >>> check_ranks((2, 9, 2), (4, 5, 6))
    Traceback (most recent call last):
        ...
    ValueError: rank[1]=9 exceeds the size of mode 1 (5)
    """
    ranks = tucker_rank(rank, shape)
    for k, (r, size) in enumerate(zip(ranks, shape, strict=True)):
        if r > size:
            raise ValueError(f"rank[{k}]={r} exceeds the size of mode {k} ({size})")
    return ranks


def check_multilinear_rank(ranks: Sequence[int], *, clip: bool = False) -> tuple[int, ...]:
    """``ranks`` when they can be the multilinear rank of a tensor: ``r_k <= prod_{l != k} r_l``
    for every mode (the mode-``k`` unfolding of an ``r_1 x ... x r_N`` core has only that many
    columns, so no tensor has a larger ``r_k``).

    Tucker refuses other ranks rather than return fewer columns than asked for (or pad factors
    with directions that carry nothing). With ``clip=True`` they are lowered instead, each
    ``r_k`` to the product of the others until all hold (what a rank given as a fraction of the
    parameters gets: the lowered ranks represent exactly the same tensors).

    Examples
    --------
    >>> from tensorkit.decomposition import check_multilinear_rank
    >>> check_multilinear_rank((2, 2, 1))
    (2, 2, 1)
    >>> check_multilinear_rank((2, 3, 1))
    Traceback (most recent call last):
        ...
    ValueError: rank (2, 3, 1) is not a multilinear rank: r_1=3 > r_0 * r_2 = 2
    >>> check_multilinear_rank((2, 3, 1), clip=True)
    (2, 2, 1)
    """
    ranks = tuple(int(r) for r in ranks)
    lowered = list(ranks)
    changed = True
    while changed:  # lowering one rank can lower the bound of another
        changed = False
        for k, r in enumerate(lowered):
            others = [l for l in range(len(ranks)) if l != k]
            bound = math.prod(lowered[l] for l in others)
            if r > bound:
                if not clip:
                    names = " * ".join(f"r_{l}" for l in others)
                    raise ValueError(
                        f"rank {ranks} is not a multilinear rank: r_{k}={r} > {names} = {bound}"
                    )
                lowered[k], changed = bound, True
    return tuple(lowered)


def check_norm_in_range(norm: float, scale: float) -> None:
    """Refuse a tensor whose Frobenius norm (``norm / scale``, of data scaled by ``scale``) overflows:
    the core of a decomposition of it would hold that norm."""
    if not math.isfinite(norm / scale):
        raise ValueError(
            f"tensor has a Frobenius norm above the float range ({norm / scale}); scale it down first"
        )


def warn_if_rounding_missed(rel_error: float, tol: float | None) -> None:
    """A ``RuntimeWarning`` when the subnormal output could not hold the accuracy target."""
    if tol is not None and rel_error > tol:
        warnings.warn(
            f"tensor lies in the subnormal range, where the result cannot hold tol={tol:g}: its "
            f"relative error is {rel_error:.2e} (info.rel_error); scale tensor up for full precision",
            RuntimeWarning,
            stacklevel=3,
        )


def exactly_one_of_rank_and_tol(rank: Any, tol: Any) -> None:
    """Rank-or-tolerance decompositions (Tucker, TT) take exactly one of the two."""
    if (rank is None) == (tol is None):
        raise ValueError(
            "give exactly one of rank and tol, got "
            + ("neither" if rank is None else f"both (rank={rank!r}, tol={tol!r})")
        )


def check_dense_input(tensor: Any) -> tuple[Any, Any]:
    """The dense tensor argument of a decomposition (order >= 2) and its namespace; a tensor
    already in a low-rank format is refused with a hint."""
    if isinstance(tensor, (TuckerTensor, CPTensor, TTTensor)):
        raise TypeError(
            f"tensor is already a {type(tensor).__name__}; pass tensor.to_dense() to recompress"
        )
    return check_dense_tensor(tensor, "tensor", min_ndim=2)


def _check_rank_tol(tensor, rank, tol, scale):
    exactly_one_of_rank_and_tol(rank, tol)
    if tol is not None:
        tol = check_tol(tol)
    else:
        # a fraction of the parameters names no particular ranks: lower them to a multilinear
        # rank (stated in info.extras); explicit ranks that are none are refused
        fraction = isinstance(rank, (float, np.floating))
        try:
            requested = check_ranks(rank, tuple(tensor.shape))
        except ValueError as exc:
            if not fraction:
                raise
            # name what the user gave: the ranks in the message were derived from it
            raise ValueError(f"rank={rank!r} (a fraction of the parameters) gives ranks "
                             f"{tucker_rank(rank, tuple(tensor.shape))}: {exc}") from None
        ranks = check_multilinear_rank(requested, clip=fraction)
    value = scaled_norm(tensor)
    check_norm_in_range(value, scale)
    if tol is not None:
        return None, tol * value / math.sqrt(tensor.ndim), value, None
    return ranks, None, value, requested if requested != ranks else None


def _check_mode_order(order, ndim):
    order = list(per_axis(order, ndim, "mode_order", lambda v, name: check_int(v, name)))
    if sorted(order) != list(range(ndim)):
        raise ValueError(f"mode_order must be a permutation of 0..{ndim - 1}, got {order}")
    return order
