"""CP completion on a dask cluster: the observed cells in chunks on the workers, the factor rows
solved on the client."""

from __future__ import annotations

import inspect
import itertools
import math
from typing import Any

import numpy as np

from .._info import Info
from .._progress import progress_bar
from .._validation import check_int, check_real, check_stop_tol
from ..backend import to_numpy
from ..formats import CPTensor
from ..observed import ObservedTensor
from ._cluster import cluster_client

__all__ = ["cp_complete"]


def cp_complete(
    obs: ObservedTensor,
    rank: int,
    *,
    reg: float | None = None,
    init: str | CPTensor = "svd",
    chunk_size: int = 1_000_000,
    n_iter_max: int = 200,
    stop_tol: float = 1e-6,
    random_state: Any = None,
    client: Any = None,
    scheduler: str | None = None,
    progress: bool = False,
) -> CPTensor:
    r"""CP completion by ALS with the observations spread over a dask cluster.

    The objective, scaling and updates are those of :func:`tensorkit.completion.cp_complete`
    (``method="als"``): with ``y`` the observed values over their RMS ``s``, each sweep solves for
    every row ``i`` of every mode ``k`` the ridge system

    .. math::

        \Big(\sum_{e \in \Omega_{k,i}} z_e z_e^T + \text{reg}\, n_{k,i} I\Big) a_i
        = \sum_{e \in \Omega_{k,i}} y_e z_e, \qquad z_e = \mathop{\ast}_{j \ne k} A_j[i_j(e), :].

    The sums split over any partition of the observations. The cells are cut into chunks of
    ``chunk_size`` (rows of the COO arrays) that stay on the workers; per mode each chunk returns
    the partial Gram matrices and right-hand sides of the factor rows it touches (``O(R^2)`` per
    touched row, not per cell), the partials are summed by a binary tree of tasks, and the client
    solves the ``R x R`` systems and sends the new factor with the next tasks. Traffic per sweep is
    ``O(sum_k I_k R^2)`` whatever the number of cells; each mode costs about ``2 + log2(chunks)``
    scheduler round trips (~25 ms each on a loaded 2-core loopback cluster), so this pays for
    observations beyond one machine's memory or cores, not for small tensors (Kinetic, 9e4 cells,
    rank 10: 30 sweeps in 0.6-0.9 s on one machine, ~30 s on a 2-process loopback cluster, with
    results equal to 6e-14 relative).

    With the same initial model (``init=`` a :class:`~tensorkit.CPTensor`, e.g. from
    :func:`tensorkit.completion.initial_cp`) the result equals the single-machine one to rounding.

    Parameters
    ----------
    obs : ObservedTensor
        Training cells (moved to the host).
    rank : int
    reg : float, optional
        Relative ridge weight; None takes :func:`tensorkit.completion.cp_complete`'s default.
    init : {"svd", "random"} or CPTensor
        As :func:`tensorkit.completion.cp_complete` (computed on the client).
    chunk_size : int
        Cells per chunk.
    n_iter_max : int
    stop_tol : float
        Stop when the train RMSE improves by less than ``stop_tol`` times itself in one sweep.
    random_state : int, Generator or None
    client : distributed.Client, optional
    scheduler : str, optional
        Address of a running scheduler; with neither, a local cluster runs for the call.
    progress : bool

    Returns
    -------
    CPTensor
        With ``info`` (``method="als-dask"``, train RMSE per sweep in ``history``,
        ``extras["chunks"]``).
    """
    from ..completion import cp_complete as single
    from ..completion import initial_cp

    if not isinstance(obs, ObservedTensor):
        raise TypeError(f"obs must be an ObservedTensor, got {type(obs).__name__}")
    if obs.nnz == 0:
        raise ValueError("obs has no observed cells")
    rank = check_int(rank, "rank", minimum=1)
    if reg is None:
        reg = inspect.signature(single).parameters["reg"].default
    reg = check_real(reg, "reg", minimum=0.0)
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    n_iter_max = check_int(n_iter_max, "n_iter_max", minimum=1)
    stop_tol = check_stop_tol(stop_tol)
    start = init if isinstance(init, CPTensor) else initial_cp(obs, rank, init=init,
                                                               random_state=random_state)
    if start.shape != obs.shape or start.rank != rank:
        raise ValueError(
            f"init has shape {start.shape} and rank {start.rank}, expected {obs.shape} and {rank}"
        )
    indices = np.asarray(to_numpy(obs.indices))
    values = np.asarray(to_numpy(obs.values))
    rms = float(np.sqrt(np.mean(values**2)))
    scale = rms if rms > 0 else 1.0
    y = values / scale
    factors = _balanced(start, scale, values.dtype)
    bounds = [*range(0, obs.nnz, chunk_size), obs.nnz]
    history: list[float] = []
    converged = False
    with cluster_client(client, scheduler=scheduler) as c:
        raw = c.scatter([(indices[lo:hi], y[lo:hi]) for lo, hi in itertools.pairwise(bounds)])
        chunks = [c.submit(_prepare, chunk, pure=False) for chunk in raw]
        with progress_bar(progress, total=n_iter_max, desc="cp_complete (dask)") as bar:
            for _ in range(n_iter_max):
                for k, n in enumerate(obs.shape):
                    # the factors travel inside the tasks: O(sum_k I_k R), one hop less than a scatter
                    partials = [c.submit(_partial_normal, chunk, factors, k, pure=False) for chunk in chunks]
                    rows, G, b, counts = _tree_sum(c, partials).result()
                    factors[k] = _solve(n, rows, G, b, counts, reg, k)
                squares = _tree_sum(c, [c.submit(_squared_residual, chunk, factors, pure=False)
                                        for chunk in chunks]).result()
                history.append(math.sqrt(squares / obs.nnz) * scale)
                bar.update()
                if len(history) > 1 and (history[-2] - history[-1] <= stop_tol * history[-2]
                                         or history[-1] == 0):
                    converged = True
                    break
    model = _normalized(factors, scale)
    model.info = Info(method="als-dask", iterations=len(history), converged=converged,
                      rel_error=history[-1] / scale, history=history,
                      extras={"chunks": len(bounds) - 1, "reg": reg})
    return model


def _balanced(start: CPTensor, scale: float, dtype) -> list[np.ndarray]:
    """Initial factors for the scaled data: weights over the scale spread evenly over the modes (as
    :func:`tensorkit.completion.cp_complete` does with a CPTensor ``init``)."""
    w = np.asarray(to_numpy(start.weights)) / scale
    root = np.abs(w) ** (1 / len(start.factors))
    factors = [np.asarray(to_numpy(f), dtype=dtype) * root for f in start.factors]
    factors[0] = factors[0] * np.sign(w)
    return factors


def _design(indices: np.ndarray, factors: list[np.ndarray], skip: int | None) -> np.ndarray:
    """``z_e``: the Hadamard product of the factor rows of each cell over the modes but ``skip``."""
    Z = np.ones((indices.shape[0], factors[0].shape[1]), dtype=factors[0].dtype)
    for k, factor in enumerate(factors):
        if k != skip:
            Z *= factor[indices[:, k]]
    return Z


def _prepare(chunk):
    """Once per chunk, on its worker: per mode the rows it touches, their cell counts and a sparse
    row-selection matrix ``S`` (touched rows x cells) whose products sum each row's terms."""
    import scipy.sparse

    indices, y = chunk
    groups = []
    for k in range(indices.shape[1]):
        rows, inverse, counts = np.unique(indices[:, k], return_inverse=True, return_counts=True)
        S = scipy.sparse.csr_matrix((np.ones(y.shape[0]), (inverse, np.arange(y.shape[0]))),
                                    shape=(rows.shape[0], y.shape[0]))
        groups.append((rows, counts, S))
    return indices, y, groups


def _partial_normal(chunk, factors, mode):
    """The chunk's share of the normal equations of the rows of ``mode`` it touches:
    ``(rows, G (m, R, R), b (m, R), counts (m,))``, O(cells R^2)."""
    indices, y, groups = chunk
    rows, counts, S = groups[mode]
    Z = _design(indices, factors, mode)
    rank = Z.shape[1]
    G = np.asarray(S @ (Z[:, :, None] * Z[:, None, :]).reshape(-1, rank * rank)).reshape(-1, rank, rank)
    b = np.asarray(S @ (y[:, None] * Z))
    return rows, G, b, counts


def _squared_residual(chunk, factors) -> float:
    indices, y, _ = chunk
    return float(np.sum((y - _design(indices, factors, None).sum(axis=1)) ** 2))


def _add(first, second):
    """Sum of two partials: floats, or ``(rows, G, b, counts)`` over the union of their rows."""
    if not isinstance(first, tuple):
        return first + second
    rows = np.union1d(first[0], second[0])
    out = [rows] + [np.zeros((rows.shape[0], *part.shape[1:]), dtype=part.dtype) for part in first[1:]]
    for partial in (first, second):
        at = np.searchsorted(rows, partial[0])
        for target, part in zip(out[1:], partial[1:], strict=True):
            target[at] += part
    return tuple(out)


def _tree_sum(c, futures):
    """Sum futures pairwise, level by level: depth ``log2(chunks)``, no single task sees them all."""
    while len(futures) > 1:
        paired = [c.submit(_add, futures[j], futures[j + 1], pure=False)
                  for j in range(0, len(futures) - 1, 2)]
        futures = paired + ([futures[-1]] if len(futures) % 2 else [])
    return futures[0]


def _solve(n_rows, rows, G, b, counts, reg, mode) -> np.ndarray:
    """The new factor: each touched row's ridge system by Cholesky; untouched rows are zero."""
    rank = b.shape[1]
    G = G + (reg * counts)[:, None, None] * np.eye(rank, dtype=G.dtype)
    try:
        L = np.linalg.cholesky(G)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"the normal equations of some rows of mode {mode} are singular: their observations do "
            "not determine the rank; use reg > 0 or a lower rank"
        ) from None
    w = np.linalg.solve(L, b[:, :, None])
    out = np.zeros((n_rows, rank), dtype=b.dtype)
    out[rows] = np.linalg.solve(np.swapaxes(L, 1, 2), w)[:, :, 0]
    return out


def _normalized(factors: list[np.ndarray], scale: float) -> CPTensor:
    """Unit columns, their norms and the data scale in the weights (as the single-machine result)."""
    weights = np.full(factors[0].shape[1], scale, dtype=factors[0].dtype)
    unit = []
    for f in factors:
        norms = np.linalg.norm(f, axis=0)
        weights = weights * norms
        unit.append(f / np.where(norms > 0, norms, 1))
    return CPTensor(weights, unit)
