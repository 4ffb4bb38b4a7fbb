"""Figures for neural-operator experiments: fields (truth / prediction / error), error against epochs,
error against parameter count. Bare matplotlib Figures (no pyplot state), written atomically."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tensorkit.io import new_figure, save_figure

__all__ = ["plot_error_vs_parameters", "plot_fields", "plot_learning_curves"]


def plot_fields(
    truth: Any,
    prediction: Any,
    path: str | os.PathLike,
    *,
    labels: Sequence[str] | None = None,
    title: str = "",
    name: str = "vorticity",
) -> None:
    """Rows of ``truth | prediction | prediction - truth`` for 2D fields (one row per field).

    Parameters
    ----------
    truth, prediction : arrays (R, R) or (n_rows, R, R)
    path : str or PathLike
        Written atomically; the format follows the suffix (png by default).
    labels : list of str, optional
        One per row (e.g. ``"t = 1"``).
    title, name : str

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from operators import plot_fields
    >>> w = np.random.default_rng(0).standard_normal((2, 8, 8))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     plot_fields(w, w + 0.1, os.path.join(d, "w.png"), labels=["t = 1", "t = 2"])
    ...     os.path.getsize(os.path.join(d, "w.png")) > 0
    True
    """
    truth, prediction = (np.asarray(v, dtype=np.float64) for v in (truth, prediction))
    if truth.ndim == 2:
        truth, prediction = truth[None], prediction[None]
    if truth.shape != prediction.shape or truth.ndim != 3:
        raise ValueError(f"expected fields of equal shape (R, R) or (n, R, R), got {truth.shape}, "
                         f"{prediction.shape}")
    rows = truth.shape[0]
    if labels is not None and len(labels) != rows:
        raise ValueError(f"labels needs {rows} entries, got {len(labels)}")
    fig = new_figure(figsize=(10, 3.0 * rows))
    axes = np.atleast_2d(fig.subplots(rows, 3))
    for r in range(rows):
        vmax = float(np.abs(truth[r]).max()) or 1.0
        err = prediction[r] - truth[r]
        panels = ((truth[r], f"{name} (truth)", vmax), (prediction[r], "prediction", vmax),
                  (err, "prediction - truth", float(np.abs(err).max()) or 1.0))
        for ax, (field, head, scale) in zip(axes[r], panels, strict=True):
            im = ax.imshow(field.T, origin="lower", extent=(0, 1, 0, 1), cmap="RdBu_r",
                           vmin=-scale, vmax=scale)
            ax.set_title(head if labels is None else f"{head}, {labels[r]}")
            fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title)
    save_figure(fig, path)


def plot_learning_curves(
    histories: Mapping[str, Sequence[float]],
    path: str | os.PathLike,
    *,
    ylabel: str = "test relative L2 error",
    title: str = "",
) -> None:
    """Error against epochs, one line per model (``{"FNO": [e_1, e_2, ...], ...}``), log scale."""
    fig = new_figure(figsize=(6, 4))
    ax = fig.subplots()
    for label, values in histories.items():
        values = np.asarray(values, dtype=np.float64)
        ax.plot(np.arange(1, values.size + 1), values, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    save_figure(fig, path)


def plot_error_vs_parameters(
    results: Mapping[str, tuple[int, float]],
    path: str | os.PathLike,
    *,
    ylabel: str = "test relative L2 error",
    title: str = "",
) -> None:
    """One point per model at ``(parameters, error)`` (``{"FNO": (1_190_000, 0.012), ...}``), log axes."""
    fig = new_figure(figsize=(6, 4))
    ax = fig.subplots()
    for label, (n_params, error) in results.items():
        ax.scatter([n_params], [error], s=40)
        ax.annotate(label, (n_params, error), textcoords="offset points", xytext=(5, 5))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    if title:
        ax.set_title(title)
    save_figure(fig, path)
