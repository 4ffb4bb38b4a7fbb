"""A picture of a potential: one planar slice of a ChebTucker, drawn with matplotlib."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tensorkit.chebyshev import ChebTucker
from tensorkit.extend import check_choice, check_int, to_numpy
from tensorkit.io import new_figure, save_figure

__all__ = ["plot_potential_slice"]


def plot_potential_slice(
    potential: ChebTucker,
    path: str | os.PathLike,
    *,
    axis: int = 2,
    value: float | None = None,
    positions: np.ndarray | None = None,
    title: str = "",
    n: int = 200,
) -> Path:
    """Save the slice ``x_axis = value`` (default: the box centre) of ``potential`` as an image.

    The slice is evaluated through the two-level format (:meth:`ChebTucker.on_grid`), so it costs
    ``n`` evaluations per axis, not ``n^2``. Charges within half a spacing of the plane are marked
    when ``positions`` is given. Drawn on a bare :class:`matplotlib.figure.Figure` (the user's
    backend and open figures are left alone) and written atomically; the format follows the suffix.
    """
    axis = check_choice(axis, "axis", (0, 1, 2))
    n = check_int(n, "n", minimum=2)
    lo, hi = potential.domain[axis]
    value = 0.5 * (lo + hi) if value is None else float(value)
    grids = [np.linspace(a, b, n) for a, b in potential.domain]
    grids[axis] = np.array([value])
    plane = to_numpy(potential.on_grid(*grids).to_dense()).squeeze(axis)
    u, v = (k for k in range(3) if k != axis)
    fig = new_figure(figsize=(5.2, 4.2))
    ax = fig.subplots()
    image = ax.imshow(plane.T, origin="lower", cmap="RdBu_r",
                      extent=(*potential.domain[u], *potential.domain[v]), aspect="equal")
    fig.colorbar(image, ax=ax, label="potential")
    if positions is not None and len(positions):
        positions = to_numpy(positions)
        near = np.abs(positions[:, axis] - value) < 0.5 * max(1e-12, np.ptp(positions[:, axis]) / 10)
        ax.plot(positions[near, u], positions[near, v], "k.", markersize=2)
    ax.set_xlabel("xyz"[u])
    ax.set_ylabel("xyz"[v])
    ax.set_title(title or f"slice {'xyz'[axis]} = {value:.3g}", fontsize=9)
    path = Path(path)
    save_figure(fig, path, dpi=110)
    return path
