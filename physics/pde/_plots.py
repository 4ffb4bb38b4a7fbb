"""Figures for Darcy operator learning: a prediction next to the truth and the error."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tensorkit.io import new_figure, save_figure

__all__ = ["plot_prediction"]


def plot_prediction(a: Any, u_true: Any, u_pred: Any, path: str | os.PathLike, *, title: str = "") -> None:
    """Save one sample as four panels: coefficient ``a``, true ``u``, predicted ``u``, error.

    Needs matplotlib (``pip install 'tensorkit[plot]'``); written atomically, format from the suffix.
    """
    a, u_true, u_pred = (np.asarray(v, dtype=np.float64) for v in (a, u_true, u_pred))
    if not a.shape == u_true.shape == u_pred.shape or a.ndim != 2:
        raise ValueError(f"expected three (R, R) fields, got {a.shape}, {u_true.shape}, {u_pred.shape}")
    fig = new_figure(figsize=(13, 3.2))
    axes = fig.subplots(1, 4)
    vmin, vmax = u_true.min(), u_true.max()
    panels = (
        (a, "coefficient a", {"cmap": "gray"}),
        (u_true, "solution u (truth)", {"vmin": vmin, "vmax": vmax}),
        (u_pred, "prediction", {"vmin": vmin, "vmax": vmax}),
        (u_pred - u_true, "prediction - truth", {"cmap": "RdBu_r"}),
    )
    for ax, (field, name, kw) in zip(axes, panels, strict=True):
        im = ax.imshow(field.T, origin="lower", extent=(0, 1, 0, 1), **kw)
        ax.set_title(name)
        fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title)
    save_figure(fig, path)
