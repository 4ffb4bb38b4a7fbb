"""CP (canonical polyadic) decomposition by alternating least squares."""

from __future__ import annotations

import math
import warnings
from typing import Any

import array_api_compat
import numpy as np

from .._info import Info
from .._progress import progress_bar
from .._validation import (
    as_float_array,
    check_allocation,
    check_choice,
    check_int,
    check_stop_tol,
    device_of,
)
from ..backend import (
    check_random_state,
    get_namespace,
    resolve_backend,
    standard_normal,
)
from ..formats import CPTensor
from ..observed import ObservedTensor
from ..tenalg import mttkrp, unfold
from ._ranks import cp_rank
from ._tucker import check_dense_input
from .linalg import leading_subspace, safe_scale
from .linalg import norm as scaled_norm

__all__ = ["cp"]


_DEFAULT_STOP_TOL = 1e-10


def cp(
    tensor: Any,
    rank: int | float,
    *,
    n_iter_max: int = 200,
    stop_tol: float = _DEFAULT_STOP_TOL,
    init: str | CPTensor = "svd",
    random_state: Any = None,
    backend: str | None = None,
    progress: bool = False,
    tol: float | None = None,
) -> CPTensor:
    r"""CP decomposition ``X ~ sum_r w_r a^(1)_r o ... o a^(N)_r`` by alternating least squares.

    Each sweep solves, for every mode ``n``, the normal equations
    ``A_n V = X_(n) conj(KR_{k != n} A_k)`` with ``V = *_{k != n} A_k^T conj(A_k)`` (Hadamard
    product of Gram matrices), using :func:`tensorkit.tenalg.mttkrp` so the Khatri-Rao product is
    never formed. Columns are normalized into ``weights`` after each update.

    Parameters
    ----------
    tensor : dense array, a sparse COO tuple ``(indices, values, shape)`` or an ObservedTensor
        (its COO data; the cells it does not hold count as zeros, as in the tuple: for missing
        values use :func:`tensorkit.completion.cp_complete`)
    rank : int >= 1, or float
        The CP rank; a float is the fraction of the tensor's parameter count to keep, as
        :func:`tensorkit.decomposition.resolve_rank` reads it.
    n_iter_max : int
        Maximum number of sweeps; a ``RuntimeWarning`` says when it stopped the iteration.
    stop_tol : float >= 0
        Stop when the relative reconstruction error changes by less than ``stop_tol`` between
        sweeps (what tensorly calls ``tol``).
    init : {"svd", "random"} or CPTensor
        ``"svd"``: leading left singular vectors of each unfolding (dense input only, padded with
        random columns when ``rank`` exceeds a dimension); ``"random"``: standard normal factors.
    random_state : int, Generator or None
    backend : {"numpy", "numba", "cupy"} or None
        Kernel set for the sparse MTTKRP.
    progress : bool
    tol : float, deprecated
        The old name of ``stop_tol`` (a ``DeprecationWarning`` says so): ``tol`` is the accuracy
        target everywhere else in tensorkit.

    Returns
    -------
    CPTensor with ``info`` (sweeps, convergence, relative error and its history).

    Examples
    --------
    >>> import numpy as np, tensorkit
    >>> rng = np.random.default_rng(0)
    >>> A, B, C = (rng.standard_normal((n, 2)) for n in (6, 7, 8))
    >>> X = np.einsum("ir,jr,kr->ijk", A, B, C)
    >>> result = tensorkit.cp(X, 2, random_state=0)
    >>> result.info.rel_error < 1e-8
    True
    """
    stop_tol = _stop_tol_from_deprecated_tol(stop_tol, tol)
    if isinstance(tensor, ObservedTensor):
        tensor = (tensor.indices, tensor.values, tensor.shape)
    sparse = isinstance(tensor, tuple) and not _is_nested_dense(tensor)
    if sparse:
        indices, values, shape, xp = _check_coo(tensor)
        backend = resolve_backend(backend, indices, values)
        dtype = values.dtype
    else:
        tensor, xp = check_dense_input(tensor)
        backend = resolve_backend(backend, tensor)
        shape = tuple(int(s) for s in tensor.shape)
        dtype = tensor.dtype
    rank = cp_rank(rank, shape)
    n_iter_max = check_int(n_iter_max, "n_iter_max", minimum=1)
    stop_tol = check_stop_tol(stop_tol)
    check_cp_memory(shape, rank, dtype, xp)
    # ALS squares the data's scale (Gram matrices, the error from ||X||^2 - 2<X, X_hat> + ...):
    # work on X times a power of two that brings max|X| near 1 when it is far from it (exact),
    # and scale the weights back at the end.
    scale = safe_scale(values if sparse else tensor, xp)
    if scale != 1.0:
        if sparse:
            values = values * scale
        else:
            tensor = tensor * scale
    norm = scaled_norm(values if sparse else tensor)
    rng = check_random_state(random_state, xp)
    factors = _initialize(tensor, shape, rank, init, sparse, dtype, rng, xp, scale)
    weights = xp.ones(rank, dtype=dtype)
    target = (indices, values, shape) if sparse else tensor

    cancellation_floor = 100 * math.sqrt(float(xp.finfo(dtype).eps))
    history: list[float] = []
    converged = False
    with progress_bar(progress, total=n_iter_max, desc="cp-als") as bar:
        for _ in range(n_iter_max):
            for mode in range(len(shape)):
                gram = xp.ones((rank, rank), dtype=dtype)
                for k, f in enumerate(factors):
                    if k != mode:
                        gram = gram * (f.T @ xp.conj(f))
                m = mttkrp(target, [xp.conj(f) for f in factors], mode, backend=backend, xp=xp)
                factors[mode] = _solve_normal(gram, m, xp)
                weights = xp.linalg.vector_norm(factors[mode], axis=0)
                safe = xp.where(weights == 0, xp.ones_like(weights), weights)
                factors[mode] = factors[mode] / safe[None, :]
            error = _relative_error(factors, weights, m, norm, xp)
            if not sparse and error < cancellation_floor:
                # the Gram-based estimate cancels below ~sqrt(eps); measure small errors directly
                error = scaled_norm(tensor - CPTensor(weights, factors).to_dense()) / (norm or 1.0)
            history.append(error)
            bar.update()
            bar.set_postfix(rel_error=f"{error:.3e}")
            if len(history) > 1 and abs(history[-2] - history[-1]) < stop_tol:
                converged = True
                break
    if not converged:
        warnings.warn(
            f"CP-ALS stopped by n_iter_max={n_iter_max} before the error changed by less than "
            f"stop_tol={stop_tol}",
            RuntimeWarning,
            stacklevel=2,
        )
    info = Info(
        "cp_als", iterations=len(history), converged=converged, rel_error=history[-1],
        history=history,
    )
    if scale != 1.0:
        with np.errstate(over="ignore"):
            weights = weights / scale
        if not bool(xp.all(xp.isfinite(weights))):
            raise ValueError("the CP weights of tensor overflow its dtype; scale tensor down first")
    return CPTensor(xp.astype(weights, dtype), factors, info=info)


def check_cp_memory(shape: tuple[int, ...], rank: int, dtype: Any, xp: Any) -> None:
    """Refuse a rank whose factors, Gram matrices and MTTKRP buffers cannot fit, before any of them
    is allocated (they take ``(2 sum_k I_k + 3 R) R`` numbers: factors, their conjugates for the
    MTTKRP and its result, Gram products)."""
    numbers = (2 * sum(shape) + 3 * rank) * rank
    check_allocation(
        (numbers,), dtype, f"CP-ALS at rank={rank} (factors, Gram matrices and MTTKRP buffers)",
        alternative="use a smaller rank, or tucker/tt for a compressed format of this tensor",
        device=device_of(xp),
    )


def _relative_error(factors, weights, last_mttkrp, norm, xp):
    """``||X - X_hat|| / ||X||`` from Gram matrices and the last MTTKRP (no reconstruction).

    ``||X_hat||^2 = w^H (*_k A_k^H A_k) w`` and ``<X, X_hat> = sum conj(A_N w) * M_N``.
    """
    rank = weights.shape[0]
    gram = xp.ones((rank, rank), dtype=factors[0].dtype)
    for f in factors:
        gram = gram * (xp.conj(f).T @ f)
    w = xp.astype(weights, factors[0].dtype)
    norm_hat_sq = float(xp.real(xp.conj(w) @ (gram @ w)))
    inner = float(xp.real(xp.sum(xp.conj(factors[-1] * w[None, :]) * last_mttkrp)))
    residual_sq = max(norm**2 - 2 * inner + norm_hat_sq, 0.0)
    # a zero tensor: the error relative to 1 (0 for the exact, zero, reconstruction)
    return math.sqrt(residual_sq) / (norm or 1.0)


def _solve_normal(gram, rhs, xp):
    """Solve ``A V = rhs`` for ``A`` (V Hermitian positive semi-definite), robust to rank loss."""
    try:
        solution = xp.linalg.solve(gram.T, rhs.T).T
        if bool(xp.all(xp.isfinite(solution))):
            return solution
    except np.linalg.LinAlgError:
        pass
    return rhs @ xp.linalg.pinv(gram)


def _initialize(tensor, shape, rank, init, sparse, dtype, rng, xp, scale):
    if isinstance(init, CPTensor):
        if init.shape != shape or init.rank != rank:
            raise ValueError(
                f"init has shape {init.shape} and rank {init.rank}; expected {shape} and {rank}"
            )
        weights = init.weights * scale
        return [f * (weights[None, :] if k == 0 else 1) for k, f in enumerate(init.factors)]
    check_choice(init, "init", ("svd", "random"))

    def normal(size):
        return xp.astype(standard_normal(rng, (size, rank), dtype, xp), dtype)

    if init == "random" or sparse:
        return [normal(size) for size in shape]
    factors = []
    for mode, size in enumerate(shape):
        unfolding = unfold(tensor, mode, xp=xp)
        keep = min(rank, *unfolding.shape)  # an unfolding of shape (I, J) has min(I, J) directions
        u, _ = leading_subspace(unfolding, rank=keep, xp=xp)
        if keep < rank:
            u = xp.concat([u, normal(size)[:, : rank - keep]], axis=1)
        factors.append(xp.astype(u, dtype))
    return factors


def _stop_tol_from_deprecated_tol(stop_tol, tol):
    """``stop_tol``, or the value given under its old name ``tol`` (with a DeprecationWarning)."""
    if tol is None:
        return stop_tol
    if stop_tol != _DEFAULT_STOP_TOL:
        raise TypeError(f"give stop_tol only, got stop_tol={stop_tol!r} and its old name tol={tol!r}")
    warnings.warn(
        "cp(tol=...) is the iteration stop and is renamed stop_tol; tol will be the accuracy "
        "target, as in tucker and tt",
        DeprecationWarning,
        stacklevel=3,
    )
    return tol


def _is_nested_dense(tensor: tuple) -> bool:
    """Whether a tuple is a dense tensor written as nested tuples (its entries share one shape),
    not a COO triple ``(indices, values, shape)`` (a matrix, a vector and a short vector)."""
    try:
        shapes = {np.shape(part) for part in tensor}
    except ValueError:  # ragged parts: only a COO triple can be ragged
        return False
    return len(tensor) > 0 and len(shapes) == 1


def _check_coo(tensor):
    """A sparse tensor ``(indices, values, shape)``: lists become arrays, values are checked as
    numbers (their bounds and index dtype are checked by :func:`tensorkit.tenalg.mttkrp`)."""
    if len(tensor) != 3:
        raise ValueError(
            f"a sparse tensor is a tuple (indices, values, shape), got a tuple of length {len(tensor)}"
        )
    indices, values, shape = tensor
    xp = get_namespace(indices, values)
    if not array_api_compat.is_array_api_obj(indices):
        indices = xp.asarray(indices)
    values = as_float_array(values, "values", xp=xp)
    shape = tuple(check_int(s, f"shape[{k}]", minimum=1) for k, s in enumerate(shape))
    if len(shape) < 2:
        raise ValueError(f"tensor must have order >= 2, got shape {shape}")
    return indices, values, shape, xp
