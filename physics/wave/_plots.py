"""Figures of :func:`compare_compression`'s table, drawn on bare ``matplotlib.figure.Figure``
objects (no pyplot state) and saved atomically."""

from __future__ import annotations

import os
from typing import Any

from tensorkit.io import new_figure, save_figure

from ._compare import CompressionTable

__all__ = ["plot_compression", "plot_rollout"]


def plot_compression(table: CompressionTable, path: str | os.PathLike | None = None) -> Any:
    """Error growth over the rollout (one curve per variant) and rollout error against the
    parameter count; returns the Figure, also written to ``path`` (format from its suffix)."""
    _check(table)
    fig = new_figure(figsize=(10, 4), layout="constrained")
    growth, size = fig.subplots(1, 2)
    for row in table:
        steps = range(1, len(row.rollout_curve) + 1)
        growth.semilogy(steps, row.rollout_curve, marker=".", label=row.label)
        size.loglog(row.parameters, row.rollout_error, "o")
        size.annotate(row.label, (row.parameters, row.rollout_error), textcoords="offset points",
                      xytext=(4, 4), fontsize=8)
    growth.set(xlabel="rollout step", ylabel="relative L2 error", title="error growth over the rollout")
    growth.legend(fontsize=8)
    size.set(xlabel="parameters", ylabel=f"{table.settings['rollout_steps']}-step rollout error",
             title="error against model size")
    save_figure(fig, path)
    return fig


def plot_rollout(table: CompressionTable, path: str | os.PathLike | None = None, *,
                 steps: tuple[int, ...] | None = None) -> Any:
    """The first test sample's true snapshots and every variant's rollout side by side (rows:
    truth then variants; columns: rollout steps); returns the Figure, also written to ``path``."""

    _check(table)
    n = table.truth.shape[0]
    steps = steps or tuple(sorted({1, max(1, n // 4), max(1, n // 2), n}))
    if any(not 1 <= s <= n for s in steps):
        raise ValueError(f"steps must lie in 1..{n}, got {steps}")
    rows = [("truth", table.truth), *table.predictions.items()]
    fig = new_figure(figsize=(2.2 * len(steps), 2.0 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), len(steps), squeeze=False)
    vmax = float(abs(table.truth).max())
    for i, (label, fields) in enumerate(rows):
        for j, s in enumerate(steps):
            ax = axes[i, j]
            ax.imshow(fields[s - 1].T, origin="lower", cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"step {s}")
            if j == 0:
                ax.set_ylabel(label)
    save_figure(fig, path)
    return fig


def _check(table: Any) -> None:
    if not isinstance(table, CompressionTable):
        raise TypeError(f"table must be a CompressionTable, got {type(table).__name__}")
