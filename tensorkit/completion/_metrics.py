"""Errors of a completion model on observed cells, and a model's values at given cells."""

from __future__ import annotations

import math
from typing import Any

from ..backend import frobenius_norm, get_namespace
from ..formats import CPTensor, TuckerTensor
from ..observed import ObservedTensor

__all__ = ["mae", "nrmse", "rmse", "values_at"]



def values_at(model: Any, indices: Any, *, backend: str | None = None) -> Any:
    """The model's values at cells ``indices`` (nnz, order), without forming the dense tensor.

    ``model`` is a :class:`~tensorkit.CPTensor` (``sum_r w_r prod_k A_k[i_k, r]``), a
    :class:`~tensorkit.TuckerTensor` (the core contracted with each cell's factor rows), both by
    the kernels behind their :meth:`~tensorkit.CPTensor.at`, or a callable
    ``model(indices) -> values``. For the formats the indices are checked as ``model.at`` checks
    them (an integer array ``(nnz, order)`` within the shape: ``TypeError``/``ValueError``, never
    a read outside the factors), which costs one pass over them.

    Examples
    --------
    >>> import numpy as np, tensorkit
    >>> from tensorkit.completion import values_at
    >>> C = tensorkit.CPTensor([2.0], [np.arange(3.0)[:, None], np.ones((4, 1))])
    >>> values_at(C, np.array([[2, 0], [1, 3]]))
    array([4., 2.])
    """
    if isinstance(model, (CPTensor, TuckerTensor)):
        return model.at(indices, backend=backend)
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
    1.414213562373095
    """
    _, residual = _residual(model, obs)
    # the norm without squaring: residuals near 1e300 or 1e-300 neither overflow nor vanish
    return frobenius_norm(residual) / math.sqrt(obs.nnz)


def mae(model: Any, obs: ObservedTensor) -> float:
    """Mean absolute error of ``model`` on the cells of ``obs``."""
    xp, residual = _residual(model, obs)
    return float(xp.mean(xp.abs(residual)))


def nrmse(model: Any, obs: ObservedTensor) -> float:
    """RMSE over the standard deviation of the observed values (1 = no better than their mean)."""
    xp = get_namespace(obs.values)
    std = frobenius_norm(obs.values - xp.mean(obs.values)) / math.sqrt(obs.nnz)
    if std == 0:
        raise ValueError("nrmse is undefined: the observed values are all equal")
    return rmse(model, obs) / std


def _residual(model: Any, obs: ObservedTensor):
    if not isinstance(obs, ObservedTensor):
        raise TypeError(f"obs must be an ObservedTensor, got {type(obs).__name__}")
    if obs.nnz == 0:
        raise ValueError("obs has no observed cells: the error on them is undefined")
    if isinstance(model, (CPTensor, TuckerTensor)) and model.shape != obs.shape:
        raise ValueError(f"model has shape {model.shape}, obs has shape {obs.shape}")
    xp = get_namespace(obs.values)
    returned = values_at(model, obs.indices)
    try:  # a callable model may return a list, or something that is no numbers at all
        predicted = xp.asarray(returned)
        numeric = xp.isdtype(predicted.dtype, ("real floating", "integral"))
    except (TypeError, ValueError):
        numeric = False
    if not numeric:
        raise TypeError(f"the model returned {type(returned).__name__} {returned!r:.60}, "
                        "not an array of numbers") from None
    if tuple(predicted.shape) != (obs.nnz,):
        raise ValueError(f"the model returned shape {tuple(predicted.shape)} for {obs.nnz} cells")
    return xp, predicted - obs.values

