"""Figures of a completion fit: error against sweep (train / validation) and true against predicted
held-out values. Bare matplotlib Figures (no pyplot state, the user's backend untouched), written
atomically when a path is given."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._info import Info
from ..backend import check_random_state, to_numpy
from ..io import new_figure, save_figure
from ..observed import ObservedTensor
from ._metrics import values_at

__all__ = ["plot_error_history", "plot_predictions"]


def plot_error_history(fit: Any, path: str | os.PathLike | None = None, *, title: str = "") -> Any:
    """Train and validation RMSE against sweep (or epoch) of a completion fit.

    Parameters
    ----------
    fit : model with an ``info`` (:func:`cp_complete`, :func:`tucker_complete`,
        :meth:`NeuralCompletion.fit`) or an :class:`~tensorkit.Info`
    path : str or PathLike, optional
        Written atomically; the format follows the suffix (png by default).
    title : str

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit import Info
    >>> from tensorkit.completion import plot_error_history
    >>> info = Info(method="als", iterations=3, history=[1.0, 0.5, 0.4],
    ...             extras={"validation_history": [1.1, 0.6, 0.7], "best_iteration": 2})
    >>> len(plot_error_history(info).axes)
    1
    """
    info = fit if isinstance(fit, Info) else getattr(fit, "info", None)
    if not isinstance(info, Info):
        raise TypeError(f"fit must be a fitted model with an info or an Info, got {type(fit).__name__}")
    extras = info.extras or {}
    train = extras.get("train_rmse", info.history)  # the neural model keeps its train RMSE here
    validation = extras.get("validation_history", extras.get("val_rmse")) or []
    if not train:
        raise ValueError("fit has no error history to plot")
    fig = new_figure(figsize=(5.5, 3.8))
    ax = fig.subplots()
    sweeps = np.arange(1, len(train) + 1)
    ax.semilogy(sweeps, train, label="train")
    if validation:
        ax.semilogy(np.arange(1, len(validation) + 1), validation, label="validation")
        best = int(np.argmin(validation))
        ax.plot([best + 1], [validation[best]], "o", color="C1", label=f"best ({best + 1})")
    ax.set_xlabel("epoch" if info.method == "neural" else "sweep")
    ax.set_ylabel("RMSE")
    ax.set_title(title or f"{info.method}: error per sweep")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    save_figure(fig, path)
    return fig


def plot_predictions(
    model: Any,
    obs: ObservedTensor,
    path: str | os.PathLike | None = None,
    *,
    max_points: int = 5000,
    random_state: Any = 0,
    title: str = "",
) -> Any:
    """Predicted against true values on held-out cells, with the diagonal and the NRMSE.

    Parameters
    ----------
    model : CPTensor, TuckerTensor or callable ``model(indices) -> values``
    obs : ObservedTensor
        The held-out cells (their values are the truth).
    path : str or PathLike, optional
        Written atomically; the format follows the suffix (png by default).
    max_points : int
        At most this many cells are drawn (a random subset: a scatter of millions is a blot); the
        NRMSE in the title uses all of them.
    random_state : int, Generator or None
        Chooses the subset.
    title : str

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, tensorkit
    >>> from tensorkit.completion import plot_predictions
    >>> from tensorkit.observed import ObservedTensor
    >>> C = tensorkit.CPTensor([1.0], [np.arange(1.0, 4.0)[:, None], np.ones((2, 1))])
    >>> obs = ObservedTensor([[0, 0], [2, 1]], [1.1, 2.9], (3, 2))
    >>> plot_predictions(C, obs).axes[0].get_xlabel()
    'true value'
    """
    if not isinstance(obs, ObservedTensor):
        raise TypeError(f"obs must be an ObservedTensor, got {type(obs).__name__}")
    if obs.nnz == 0:
        raise ValueError("obs has no cells to plot")
    truth = np.asarray(to_numpy(obs.values), dtype=np.float64)
    predicted = np.asarray(to_numpy(values_at(model, obs.indices)), dtype=np.float64)
    std = float(truth.std())
    error = float(np.sqrt(np.mean((predicted - truth) ** 2)))
    if truth.shape[0] > max_points:
        keep = check_random_state(random_state).choice(truth.shape[0], max_points, replace=False)
        truth, predicted = truth[keep], predicted[keep]
    fig = new_figure(figsize=(4.8, 4.5))
    ax = fig.subplots()
    ax.scatter(truth, predicted, s=4, alpha=0.5, linewidths=0)
    low, high = float(min(truth.min(), predicted.min())), float(max(truth.max(), predicted.max()))
    ax.plot([low, high], [low, high], "k--", linewidth=0.8)
    ax.set_xlabel("true value")
    ax.set_ylabel("predicted value")
    score = f"RMSE {error:.3g}" + (f", NRMSE {error / std:.3g}" if std > 0 else "")
    ax.set_title(f"{title}\n{score}" if title else f"held-out cells: {score}")
    save_figure(fig, path)
    return fig
