"""Tucker completion: fit a Tucker model to the observed cells only."""

from __future__ import annotations

from typing import Any

from .._info import Info
from .._progress import progress_bar
from .._validation import check_allocation, check_choice, check_int, device_of, per_axis
from ..formats import TuckerTensor
from ..observed import ObservedTensor
from ..tenalg import kron_rows
from . import _kernels
from ._init import check_init, initial_factors
from ._metrics import rmse
from ._problem import Monitor, Problem, check_common

__all__ = ["tucker_complete"]

# Cells per chunk when forming Kronecker rows (chunk x prod of ranks numbers at a time).
_CHUNK = 1 << 15


def tucker_complete(
    obs: ObservedTensor,
    rank: int | tuple[int, ...],
    *,
    reg: float = 1e-6,
    validation: ObservedTensor | None = None,
    init: str | TuckerTensor = "svd",
    n_iter_max: int = 200,
    stop_tol: float = 1e-6,
    patience: int = 10,
    random_state: Any = None,
    backend: str | None = None,
    progress: bool = False,
) -> TuckerTensor:
    r"""Complete a tensor from its observed cells with a Tucker model of multilinear rank ``rank``.

    With the observed values scaled to unit RMS (as :func:`cp_complete`), minimizes

    .. math::

        \tfrac12 \sum_{e \in \Omega} \big(y_e - (G \times_1 a^{(1)}_{i_1} \cdots
        \times_N a^{(N)}_{i_N})\big)^2 + \tfrac{\text{reg}}{2}\Big(\sum_k \sum_i n_{k,i}
        \lVert a^{(k)}_i \rVert^2 + |\Omega| \, \lVert G \rVert^2\Big)

    by alternating least squares: each factor row with the core and the other factors fixed
    (``R_k x R_k`` normal equations per row, from the design rows ``G_(k) kron_{j != k} a^{(j)}``),
    then the core by least squares over all observed cells (a ``prod R x prod R`` system: keep the
    ranks moderate).

    Parameters
    ----------
    obs : ObservedTensor
    rank : int or tuple of int
        Multilinear rank, at most the mode sizes.
    reg, validation, n_iter_max, stop_tol, patience, random_state, backend, progress
        As :func:`cp_complete`.
    init : {"svd", "random"} or TuckerTensor

    Returns
    -------
    TuckerTensor
        With ``info`` as :func:`cp_complete`'s.

    Examples
    --------
    >>> import numpy as np, tensorkit
    >>> from tensorkit.completion import tucker_complete, rmse
    >>> from tensorkit.observed import ObservedTensor
    >>> rng = np.random.default_rng(0)
    >>> X = tensorkit.TuckerTensor(rng.standard_normal((2, 2, 2)),
    ...                            [rng.standard_normal((n, 2)) for n in (15, 15, 15)]).to_dense()
    >>> train, test = ObservedTensor.from_dense(X).split((0.3, 0.7), random_state=0)
    >>> model = tucker_complete(train, 2, reg=0.0, random_state=0)
    >>> rmse(model, test) < 1e-8
    True
    """
    if not isinstance(obs, ObservedTensor):
        raise TypeError(f"obs must be an ObservedTensor, got {type(obs).__name__}")
    ranks = per_axis(rank, obs.ndim, "rank", lambda v, n: check_int(v, n, minimum=1))
    for k, (r, n) in enumerate(zip(ranks, obs.shape, strict=True)):
        if r > n:
            raise ValueError(f"rank[{k}] = {r} exceeds the size {n} of mode {k}")
    reg, n_iter_max, stop_tol, patience = check_common(rank, reg, n_iter_max, stop_tol, patience,
                                                       validation, obs)
    problem = Problem(obs, backend)
    problem.check_determined(ranks, reg)
    n_core = 1
    for r in ranks:
        n_core *= r
    check_allocation((n_core, n_core), obs.dtype, "the core's normal equations",
                     alternative="use lower Tucker ranks", device=device_of(problem.xp))
    check_init(init, TuckerTensor, problem.xp)
    if isinstance(init, TuckerTensor):
        if init.shape != obs.shape or init.ranks != ranks:
            raise ValueError(f"init has shape {init.shape} and ranks {init.ranks}, expected "
                             f"{obs.shape} and {ranks}")
        factors = [problem.xp.asarray(f, dtype=obs.dtype) for f in init.factors]
        core = problem.xp.asarray(init.core, dtype=obs.dtype) / problem.scale
    else:
        init = check_choice(init, "init", ("svd", "random"))
        factors = initial_factors(init, problem, ranks, random_state)
        core = _solve_core(problem, factors, reg)
    monitor = Monitor(stop_tol, patience, validation is not None)
    with progress_bar(progress, total=n_iter_max, desc="tucker_complete") as bar:
        for _ in range(n_iter_max):
            for k in range(obs.ndim):
                factors[k] = _solve_factor(problem, core, factors, k, reg)
            core = _solve_core(problem, factors, reg)
            model = TuckerTensor(core * problem.scale, list(factors))
            train = rmse(model, obs)
            val = rmse(model, validation) if validation is not None else None
            bar.update()
            if monitor.update(train, val, model):
                break
    model = monitor.best
    model.info = Info(method="als", iterations=len(monitor.history), converged=monitor.converged,
                      rel_error=monitor.history[monitor.best_iteration - 1] / problem.scale,
                      history=monitor.history, extras=monitor.extras())
    return model


def _solve_factor(problem, core, factors, k, reg):
    """Rows of factor ``k``: design rows ``z_e = G_(k) kron_{j != k} a^{(j)}_{i_j(e)}``."""
    xp = problem.xp
    indices, y, rowptr = problem.by_mode[k]
    unfolded = xp.reshape(xp.moveaxis(core, k, 0), (core.shape[k], -1))
    if problem.obs.ndim == 1:
        Z = xp.ones((indices.shape[0], 1), dtype=core.dtype) * unfolded[:, 0]
    else:
        Z = xp.concat([kron_rows(factors, indices[s:s + _CHUNK], skip=k) @ unfolded.T
                       for s in range(0, indices.shape[0], _CHUNK)])
    rows, singular = _kernels.solve_rows(Z, y, rowptr, reg, problem.backend)
    if bool(singular.any()):
        bad = [int(i) for i in problem.nxp.flatnonzero(singular)[:10]]
        raise ValueError(f"the normal equations of rows {bad} of mode {k} are singular: their "
                         "observations do not determine the rank; use reg > 0 or a lower rank")
    return rows


def _solve_core(problem, factors, reg):
    """The core by least squares over all observed cells: ``(X^T X + reg nnz I) g = X^T y``."""
    xp = problem.xp
    indices, y = problem.obs.indices, problem.y
    gram, rhs = 0, 0
    for s in range(0, indices.shape[0], _CHUNK):
        X = kron_rows(factors, indices[s:s + _CHUNK])
        # a BLAS product: unoptimized einsum is a naive loop, hours at core size 8^4 = 4096
        gram = gram + X.T @ X
        rhs = rhs + X.T @ y[s:s + _CHUNK]
    n = gram.shape[0]
    gram = gram + (reg * problem.obs.nnz) * xp.eye(n, dtype=gram.dtype)
    # reg = 0: the minimum-norm solution when the cells do not determine every core entry
    g = xp.linalg.solve(gram, rhs) if reg > 0 else problem.nxp.linalg.lstsq(gram, rhs, rcond=None)[0]
    return xp.reshape(g, tuple(f.shape[1] for f in factors))
