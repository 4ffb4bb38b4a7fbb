"""CP completion: fit a CP model to the observed cells only (ALS or CP-WOPT)."""

from __future__ import annotations

import math
from typing import Any

from .. import _kernels as core_kernels
from .._info import Info
from .._progress import progress_bar
from .._validation import check_choice, check_int
from ..formats import CPTensor
from ..observed import ObservedTensor
from . import _kernels
from ._init import check_init, initial_factors
from ._metrics import rmse
from ._problem import Monitor, Problem, check_common

__all__ = ["cp_complete", "initial_cp"]


def cp_complete(
    obs: ObservedTensor,
    rank: int,
    *,
    method: str = "als",
    reg: float = 1e-6,
    validation: ObservedTensor | None = None,
    init: str | CPTensor = "svd",
    n_iter_max: int = 200,
    stop_tol: float = 1e-6,
    patience: int = 10,
    random_state: Any = None,
    backend: str | None = None,
    progress: bool = False,
) -> CPTensor:
    r"""Complete a tensor from its observed cells with a rank-``rank`` CP model.

    Only the observed cells enter the fit (no refilling of missing cells). With ``y`` the observed
    values scaled to unit RMS (``s`` = their RMS; the returned model is scaled back) and ``n_{k,i}``
    the number of observations in row ``i`` of mode ``k``, the objective is

    .. math::

        \tfrac12 \sum_{e \in \Omega} \Big(y_e - \sum_r \prod_k A_k[i_k(e), r]\Big)^2
        + \tfrac{\text{reg}}{2} \sum_k \sum_i n_{k,i} \, \lVert A_k[i, :] \rVert^2 ,

    a ridge weighted by each row's observation count (as ALS-WR), so that ``reg`` is relative:
    independent of the data's scale and of how many cells are observed.

    - ``method="als"``: alternating least squares. Fixing all factors but ``A_k``, each row solves
      its own ``R x R`` system ``(sum_e z_e z_e^T + reg n_{k,i} I) a_i = sum_e y_e z_e`` with
      ``z_e`` the Hadamard product of the other factors' rows at observation ``e`` (a kernel
      parallel over rows; a row with no observations becomes zero). Cost per sweep
      ``O(nnz N R^2 + sum_k I_k R^3)``.
    - ``method="wopt"``: CP-WOPT, L-BFGS (``scipy.optimize``) on all factors at once; the gradient
      of each factor is a sparse MTTKRP of the residuals plus the ridge term.

    Parameters
    ----------
    obs : ObservedTensor
        The training cells (numpy or CuPy).
    rank : int
        Number of components ``R``.
    method : {"als", "wopt"}
    reg : float
        Relative ridge weight (>= 0). With ``reg=0`` every factor row needs at least ``rank``
        observations, or a ValueError names the rows that do not have them. The default 1e-6
        keeps the solves well posed while biasing little: a component of relative amplitude
        ``s`` (of the data's RMS) gains ``~s^2`` in fit per cell but costs ``~N reg s^(2/N)`` in
        ridge, so components below ``(N reg)^(N/(2N-2))`` are shrunk to zero. At ``reg=1e-3``
        that threshold is ~2.5% on a 4-way tensor, which wipes out everything but the leading
        term of tensorly's Kinetic data (80% hidden, rank 10: NRMSE 0.2155 after 3 sweeps;
        1e-4: 0.0810; 1e-5: 0.0437; 1e-6: 0.0441; 1e-7: 0.0437; rank 5: 0.0493 / 0.0486 /
        0.0496 at 1e-5 / 1e-6 / 1e-7), while on exact low-rank data the bias is about ``4 reg``
        in relative error (planted rank 3, 30^3, 20% observed: 4.3e-6 at 1e-6, 4e-16 at 0). Use
        ``reg=0`` for exact recovery, a validation split to tune it on noisy data.
    validation : ObservedTensor, optional
        Held-out cells: their RMSE is tracked every sweep, the model of the best sweep is
        returned, and the iteration stops after ``patience`` sweeps without improvement.
    init : {"svd", "random"} or CPTensor
        "svd": leading singular vectors of the zero-filled unfoldings.
    n_iter_max : int
        Sweeps (ALS) or L-BFGS iterations (WOPT) at most.
    stop_tol : float
        Stop when the train RMSE improves by less than ``stop_tol`` times itself in one sweep.
    patience : int
        Sweeps without a better validation RMSE before stopping (with ``validation``).
    random_state : int, Generator or None
        For ``init="random"``, and random columns of ``init="svd"`` when the rank exceeds a mode.
    backend : {"numpy", "numba", "cupy"} or None
        Kernel set; None follows the data's device.
    progress : bool
        Show a progress bar.

    Returns
    -------
    CPTensor
        Columns normalized, norms in ``weights``. ``info.history`` holds the train RMSE per sweep
        (ALS: from the last mode's normal equations, ``y.y - 2 a.b + a^T G a`` per row, or the
        residuals themselves where that difference cancels: no extra pass over the cells);
        ``info.rel_error`` is ``||y - m|| / ||y||`` on the training cells; ``info.extras`` holds
        ``validation_history``, ``validation_rmse`` and ``best_iteration`` (with ``validation``)
        and ``stopped_early``.

    Examples
    --------
    >>> import numpy as np, tensorkit
    >>> from tensorkit.completion import cp_complete, rmse
    >>> from tensorkit.observed import ObservedTensor
    >>> rng = np.random.default_rng(0)
    >>> X = tensorkit.CPTensor(np.ones(2), [rng.standard_normal((n, 2)) for n in (20, 20, 20)]).to_dense()
    >>> train, test = ObservedTensor.from_dense(X).split((0.3, 0.7), random_state=0)
    >>> model = cp_complete(train, 2, reg=0.0, random_state=0)
    >>> rmse(model, test) < 1e-8
    True

    References
    ----------
    E. Acar, D. M. Dunlavy, T. G. Kolda, M. Morup, "Scalable tensor factorizations for incomplete
    data", Chemometrics and Intelligent Laboratory Systems 106 (2011) 41-56 (CP-WOPT).
    Y. Zhou, D. Wilkinson, R. Schreiber, R. Pan, "Large-scale parallel collaborative filtering for
    the Netflix prize", AAIM 2008 (ALS with weighted-lambda regularization).
    """
    rank = check_int(rank, "rank", minimum=1)
    method = check_choice(method, "method", ("als", "wopt"))
    reg, n_iter_max, stop_tol, patience = check_common(rank, reg, n_iter_max, stop_tol, patience,
                                                       validation, obs)
    problem = Problem(obs, backend)
    problem.check_determined((rank,) * obs.ndim, reg)
    factors = _initial(init, problem, rank, random_state)
    monitor = Monitor(stop_tol, patience, validation is not None)
    if method == "als":
        _als(problem, factors, reg, validation, n_iter_max, monitor, progress)
    else:
        from ._wopt import wopt

        wopt(problem, factors, reg, validation, n_iter_max, monitor, progress)
    model = _model(problem, monitor.best)
    rel = monitor.history[monitor.best_iteration - 1] / problem.scale
    model.info = Info(method=method, iterations=len(monitor.history), converged=monitor.converged,
                      rel_error=rel, history=monitor.history, extras=monitor.extras())
    return model


def initial_cp(obs: ObservedTensor, rank: int, *, init: str = "svd", random_state: Any = None) -> CPTensor:
    """The starting model of :func:`cp_complete` for ``init`` ("svd" or "random"), in the data's
    units: passing it back as ``init=`` starts :func:`cp_complete` (or a distributed solver) from
    exactly the same factors.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.completion import cp_complete, initial_cp
    >>> from tensorkit.observed import ObservedTensor
    >>> obs = ObservedTensor.from_dense(np.arange(24.0).reshape(2, 3, 4) + 1)
    >>> start = initial_cp(obs, 2, random_state=0)
    >>> a = cp_complete(obs, 2, init=start, n_iter_max=3)
    >>> b = cp_complete(obs, 2, random_state=0, n_iter_max=3)
    >>> bool(np.allclose(a.to_dense(), b.to_dense(), rtol=1e-13))
    True
    """
    rank = check_int(rank, "rank", minimum=1)
    problem = Problem(obs, None)
    factors = _initial(init, problem, rank, random_state)
    xp = problem.xp
    return CPTensor(xp.full(rank, problem.scale, dtype=factors[0].dtype), factors)


def _als(problem, factors, reg, validation, n_iter_max, monitor, progress) -> None:
    last = len(problem.by_mode) - 1
    with progress_bar(progress, total=n_iter_max, desc="cp_complete (als)") as bar:
        for _ in range(n_iter_max):
            for k, (indices, y, rowptr) in enumerate(problem.by_mode):
                # the last mode's solve leaves the sweep's model: its residual is the train error,
                # without a pass evaluating the model at every observed cell
                factors[k], singular, *sse = _kernels.cp_rows(indices, y, rowptr, factors, k, reg,
                                                              problem.backend, residual=k == last)
                _raise_singular(singular, k, problem)
            train = problem.scale * math.sqrt(sse[0] / problem.obs.nnz)
            val = rmse(_model(problem, factors), validation) if validation is not None else None
            bar.update()
            if monitor.update(train, val, list(factors)):
                break


def _errors(problem, factors, validation) -> tuple[float, float | None]:
    """Train and validation RMSE in the data's units."""
    model = _model(problem, factors)
    train = rmse(model, problem.obs)
    return train, (rmse(model, validation) if validation is not None else None)


def _model(problem, factors) -> CPTensor:
    """The CP model of factors fitted to the scaled data: unit columns, norms (and the data scale)
    in the weights."""
    xp = problem.xp
    norms = [xp.linalg.vector_norm(f, axis=0) for f in factors]
    weights = xp.full(factors[0].shape[1], problem.scale, dtype=factors[0].dtype)
    unit = []
    for f, n in zip(factors, norms, strict=True):
        weights = weights * n
        unit.append(f / xp.where(n > 0, n, 1))
    return CPTensor(weights, unit)


def _initial(init, problem, rank, random_state) -> list[Any]:
    check_init(init, CPTensor, problem.xp)
    if isinstance(init, CPTensor):
        if init.shape != problem.shape or init.rank != rank:
            raise ValueError(
                f"init has shape {init.shape} and rank {init.rank}, expected {problem.shape} and {rank}"
            )
        # weights and data scale spread evenly over the factors (balanced, as the ridge prefers)
        xp = problem.xp
        w = init.weights / problem.scale
        root = xp.abs(w) ** (1 / problem.obs.ndim)
        factors = [xp.asarray(f, dtype=problem.obs.dtype) * root for f in init.factors]
        factors[0] = factors[0] * xp.sign(w)
        return factors
    init = check_choice(init, "init", ("svd", "random"))
    factors = initial_factors(init, problem, (rank,) * problem.obs.ndim, random_state)
    return _fit_scale(problem, factors)


def _fit_scale(problem, factors) -> list[Any]:
    """Scale the initial factors by the least-squares scalar ``c`` between model and data, spread
    evenly over the modes: orthonormal SVD vectors alone give values far below the data's."""
    xp = problem.xp
    ones = xp.ones(factors[0].shape[1], dtype=factors[0].dtype)
    m = core_kernels.cp_values(problem.obs.indices, ones, factors, problem.backend)
    c = float(xp.sum(m * problem.y)) / max(float(xp.sum(m * m)), 1e-300)
    root = abs(c) ** (1 / len(factors)) if c != 0 else 1.0
    factors = [f * root for f in factors]
    factors[0] = factors[0] * (1 if c >= 0 else -1)
    return factors


def _raise_singular(singular, mode, problem) -> None:
    """With reg=0 a row's Gram matrix can be singular even with enough observations."""
    if bool(singular.any()):
        rows = problem.nxp.flatnonzero(singular)
        raise ValueError(
            f"the normal equations of {int(rows.shape[0])} rows of mode {mode} are singular (rows "
            f"{[int(r) for r in rows[:10]]}): their observations do not determine the rank; use "
            "reg > 0 or a lower rank"
        )
