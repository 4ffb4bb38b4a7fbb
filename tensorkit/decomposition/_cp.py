"""CP (canonical polyadic) decomposition by alternating least squares."""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from .._progress import progress_bar
from .._validation import as_float_array
from ..backend import (
    check_random_state,
    frobenius_norm,
    get_namespace,
    resolve_backend,
    standard_normal,
)
from ..formats import CPTensor, DecompositionInfo
from ..tenalg import mttkrp, unfold
from .linalg import leading_subspace

__all__ = ["cp"]


def cp(
    tensor: Any,
    rank: int,
    *,
    n_iter_max: int = 200,
    tol: float = 1e-10,
    init: str | CPTensor = "svd",
    random_state: Any = None,
    backend: str | None = None,
    progress: bool = False,
) -> CPTensor:
    r"""CP decomposition ``X ~ sum_r w_r a^(1)_r o ... o a^(N)_r`` by alternating least squares.

    Each sweep solves, for every mode ``n``, the normal equations
    ``A_n V = X_(n) conj(KR_{k != n} A_k)`` with ``V = *_{k != n} A_k^T conj(A_k)`` (Hadamard
    product of Gram matrices), using :func:`tensorkit.tenalg.mttkrp` so the Khatri-Rao product is
    never formed. Columns are normalized into ``weights`` after each update.

    Parameters
    ----------
    tensor : dense array, or a sparse COO tuple ``(indices, values, shape)``
    rank : int >= 1
    n_iter_max : int
        Maximum number of sweeps; a ``RuntimeWarning`` says when it stopped the iteration.
    tol : float
        Stop when the relative reconstruction error changes by less than ``tol`` between sweeps
        (tensorly's meaning).
    init : {"svd", "random"} or CPTensor
        ``"svd"``: leading left singular vectors of each unfolding (dense input only, padded with
        random columns when ``rank`` exceeds a dimension); ``"random"``: standard normal factors.
    random_state : int, Generator or None
    backend : {"numpy", "numba", "cupy"} or None
        Kernel set for the sparse MTTKRP.
    progress : bool

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
    sparse = isinstance(tensor, tuple)
    if sparse:
        indices, values, shape = _check_coo(tensor)
        xp = get_namespace(indices, values)
        backend = resolve_backend(backend, indices, values)
        norm = frobenius_norm(values)
        dtype = values.dtype
    else:
        xp = get_namespace(tensor)
        tensor = as_float_array(tensor, "tensor", xp=xp)
        backend = resolve_backend(backend, tensor)
        shape = tuple(int(s) for s in tensor.shape)
        if len(shape) < 2:
            raise ValueError(f"tensor must have order >= 2, got shape {shape}")
        norm = frobenius_norm(tensor)
        dtype = tensor.dtype
    rank = _check_rank(rank)
    if not isinstance(n_iter_max, numbers.Integral) or n_iter_max < 1:
        raise ValueError(f"n_iter_max must be a positive int, got {n_iter_max!r}")
    if not (isinstance(tol, numbers.Real) and tol >= 0):
        raise ValueError(f"tol must be a non-negative float, got {tol!r}")
    norm = norm or 1.0
    rng = check_random_state(random_state, xp)
    factors = _initialize(tensor, shape, rank, init, sparse, dtype, rng, xp)
    weights = xp.ones(rank, dtype=dtype)
    target = (indices, values, shape) if sparse else tensor

    cancellation_floor = 100 * math.sqrt(float(np.finfo(np.dtype(dtype)).eps))
    history: list[float] = []
    converged = False
    with progress_bar(progress, total=n_iter_max, desc="cp-als") as bar:
        for _ in range(n_iter_max):
            for mode in range(len(shape)):
                gram = xp.ones((rank, rank), dtype=dtype)
                for k, f in enumerate(factors):
                    if k != mode:
                        gram = gram * (f.T @ xp.conj(f))
                m = mttkrp(target, [xp.conj(f) for f in factors], mode, backend=backend)
                factors[mode] = _solve_normal(gram, m, xp)
                weights = xp.linalg.vector_norm(factors[mode], axis=0)
                safe = xp.where(weights == 0, xp.ones_like(weights), weights)
                factors[mode] = factors[mode] / safe[None, :]
            error = _relative_error(factors, weights, m, norm, xp)
            if not sparse and error < cancellation_floor:
                # the Gram-based estimate cancels below ~sqrt(eps); measure small errors directly
                error = frobenius_norm(tensor - CPTensor(weights, factors).to_dense()) / norm
            history.append(error)
            bar.update()
            bar.set_postfix(rel_error=f"{error:.3e}")
            if len(history) > 1 and abs(history[-2] - history[-1]) < tol:
                converged = True
                break
    if not converged:
        warnings.warn(
            f"CP-ALS stopped by n_iter_max={n_iter_max} before the error changed by less than "
            f"tol={tol}",
            RuntimeWarning,
            stacklevel=2,
        )
    info = DecompositionInfo(
        "cp_als", iterations=len(history), converged=converged, rel_error=history[-1],
        history=history,
    )
    return CPTensor(weights.astype(dtype), factors, info=info)


def _relative_error(factors, weights, last_mttkrp, norm, xp):
    """``||X - X_hat|| / ||X||`` from Gram matrices and the last MTTKRP (no reconstruction).

    ``||X_hat||^2 = w^H (*_k A_k^H A_k) w`` and ``<X, X_hat> = sum conj(A_N w) * M_N``.
    """
    rank = weights.shape[0]
    gram = xp.ones((rank, rank), dtype=factors[0].dtype)
    for f in factors:
        gram = gram * (xp.conj(f).T @ f)
    w = weights.astype(factors[0].dtype)
    norm_hat_sq = float(xp.real(xp.conj(w) @ (gram @ w)))
    inner = float(xp.real(xp.sum(xp.conj(factors[-1] * w[None, :]) * last_mttkrp)))
    residual_sq = max(norm**2 - 2 * inner + norm_hat_sq, 0.0)
    return math.sqrt(residual_sq) / norm


def _solve_normal(gram, rhs, xp):
    """Solve ``A V = rhs`` for ``A`` (V Hermitian positive semi-definite), robust to rank loss."""
    try:
        solution = xp.linalg.solve(gram.T, rhs.T).T
        if bool(xp.all(xp.isfinite(solution))):
            return solution
    except np.linalg.LinAlgError:
        pass
    return rhs @ xp.linalg.pinv(gram)


def _initialize(tensor, shape, rank, init, sparse, dtype, rng, xp):
    if isinstance(init, CPTensor):
        if init.shape != shape or init.rank != rank:
            raise ValueError(
                f"init has shape {init.shape} and rank {init.rank}; expected {shape} and {rank}"
            )
        return [f * (init.weights[None, :] if k == 0 else 1) for k, f in enumerate(init.factors)]
    if init not in ("svd", "random"):
        raise ValueError(f"init must be 'svd', 'random' or a CPTensor, got {init!r}")

    def normal(size):
        return standard_normal(rng, (size, rank), dtype, xp).astype(dtype)

    if init == "random" or sparse:
        return [normal(size) for size in shape]
    factors = []
    for mode, size in enumerate(shape):
        keep = min(rank, size)
        u, _ = leading_subspace(unfold(tensor, mode), rank=keep, xp=xp)
        if keep < rank:
            u = xp.concat([u, normal(size)[:, : rank - keep]], axis=1)
        factors.append(u.astype(dtype))
    return factors


def _check_rank(rank):
    if not isinstance(rank, numbers.Integral) or isinstance(rank, bool):
        raise TypeError(f"rank must be an int, got {rank!r}")
    if rank < 1:
        raise ValueError(f"rank must be >= 1, got {rank}")
    return int(rank)


def _check_coo(tensor):
    if len(tensor) != 3:
        raise ValueError("a sparse tensor is a tuple (indices, values, shape)")
    indices, values, shape = tensor
    xp = get_namespace(indices, values)
    values = as_float_array(values, "values", xp=xp)
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise ValueError(f"tensor must have order >= 2, got shape {shape}")
    return indices, values, shape
