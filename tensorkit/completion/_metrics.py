"""Errors of a completion model on observed cells, and a model's values at given cells."""

from __future__ import annotations

from typing import Any

from .. import _kernels
from ..backend import get_namespace, resolve_backend
from ..formats import CPTensor, TuckerTensor
from ..observed import ObservedTensor

__all__ = ["mae", "nrmse", "rmse", "values_at"]



def values_at(model: Any, indices: Any, *, backend: str | None = None) -> Any:
    """The model's values at cells ``indices`` (nnz, order), without forming the dense tensor.

    ``model`` is a :class:`~tensorkit.CPTensor` (``sum_r w_r prod_k A_k[i_k, r]``), a
    :class:`~tensorkit.TuckerTensor` (the core contracted with each cell's factor rows), both by
    the kernels behind their :meth:`~tensorkit.CPTensor.at`, or a callable
    ``model(indices) -> values``. The indices are trusted (an :class:`~tensorkit.ObservedTensor`'s
    are checked when it is built): use ``model.at`` for checked ones.

    Examples
    --------
    >>> import numpy as np, tensorkit
    >>> from tensorkit.completion import values_at
    >>> C = tensorkit.CPTensor([2.0], [np.arange(3.0)[:, None], np.ones((4, 1))])
    >>> values_at(C, np.array([[2, 0], [1, 3]]))
    array([4., 2.])
    """
    if isinstance(model, CPTensor):
        backend = resolve_backend(backend, indices, model.weights, *model.factors)
        return _kernels.cp_values(indices, model.weights, list(model.factors), backend)
    if isinstance(model, TuckerTensor):
        backend = resolve_backend(backend, indices, model.core, *model.factors)
        return _kernels.tucker_values(indices, model.core, list(model.factors), backend)
    if callable(model):
        return model(indices)
    raise TypeError(f"model must be a CPTensor, a TuckerTensor or a callable, got {type(model).__name__}")


def rmse(model: Any, obs: ObservedTensor) -> float:
    """Root-mean-square error of ``model`` on the cells of ``obs``: ``sqrt(mean (m_e - y_e)^2)``.

    Examples
    --------
    >>> import numpy as np, tensorkit
    >>> from tensorkit.completion import rmse
    >>> from tensorkit.observed import ObservedTensor
    >>> obs = ObservedTensor([[0, 0], [1, 1]], [1.0, 3.0], (2, 2))
    >>> rmse(tensorkit.CPTensor([1.0], [np.ones((2, 1)), np.ones((2, 1))]), obs)
    1.4142135623730951
    """
    xp, residual = _residual(model, obs)
    return float(xp.sqrt(xp.mean(residual**2)))


def mae(model: Any, obs: ObservedTensor) -> float:
    """Mean absolute error of ``model`` on the cells of ``obs``."""
    xp, residual = _residual(model, obs)
    return float(xp.mean(xp.abs(residual)))


def nrmse(model: Any, obs: ObservedTensor) -> float:
    """RMSE over the standard deviation of the observed values (1 = no better than their mean)."""
    xp = get_namespace(obs.values)
    std = float(xp.std(obs.values))
    if std == 0:
        raise ValueError("nrmse is undefined: the observed values are all equal")
    return rmse(model, obs) / std


def _residual(model: Any, obs: ObservedTensor):
    if not isinstance(obs, ObservedTensor):
        raise TypeError(f"obs must be an ObservedTensor, got {type(obs).__name__}")
    if isinstance(model, (CPTensor, TuckerTensor)) and model.shape != obs.shape:
        raise ValueError(f"model has shape {model.shape}, obs has shape {obs.shape}")
    xp = get_namespace(obs.values)
    predicted = values_at(model, obs.indices)
    if tuple(predicted.shape) != (obs.nnz,):
        raise ValueError(f"the model returned shape {tuple(predicted.shape)} for {obs.nnz} cells")
    return xp, predicted - obs.values

