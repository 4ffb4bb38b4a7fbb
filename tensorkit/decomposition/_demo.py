"""``tensorkit demo`` section: Tucker compression of the Indian Pines hyperspectral image."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..io import new_figure, save_figure
from ._tucker import tucker

TOLERANCES = (0.1, 0.05, 0.03, 0.02, 0.01)


def run(options) -> None:
    """Print tolerance vs ranks vs error vs compression vs time; optionally plot the trade-off."""
    tensor, name = indian_pines(quick=options.quick)
    print(f"{name}: shape {tensor.shape}, ST-HOSVD with rank chosen by tolerance")
    print(f"{'tol':>8} {'ranks':>18} {'rel. error':>11} {'compression':>12} {'time [s]':>9}")
    rows = []
    for tol in TOLERANCES:
        start = time.perf_counter()
        result = tucker(tensor, tol=tol)
        elapsed = time.perf_counter() - start
        rows.append((tol, result.ranks, result.info.rel_error, result.compression_ratio, elapsed))
        print(f"{tol:8.0e} {result.ranks!s:>18} {result.info.rel_error:11.3e} "
              f"{result.compression_ratio:11.1f}x {elapsed:9.3f}")
    path = options.plot_file("tucker", primary=True)
    if path is not None:
        plot_error_vs_compression(rows, path, title=f"Tucker (ST-HOSVD) on {name}")
        print(f"saved plot {path}")


def indian_pines(*, quick: bool = False) -> tuple[np.ndarray, str]:
    """The Indian Pines hyperspectral tensor bundled with tensorly (145 x 145 x 200)."""
    from tensorly.datasets import load_indian_pines

    tensor = np.asarray(load_indian_pines()["tensor"], dtype=np.float64)
    if quick:
        return tensor[::3, ::3, ::4].copy(), "Indian Pines (subsampled)"
    return tensor, "Indian Pines"


def plot_error_vs_compression(rows, path, *, title: str) -> None:
    """Save relative error against compression ratio, one point per tolerance (atomically).

    ``rows`` holds ``(tol, ranks, rel_error, compression_ratio, seconds)`` tuples; the format
    follows the suffix of ``path``.
    """
    path = Path(path)
    fig = new_figure(figsize=(5, 3.6))
    ax = fig.subplots()
    ax.loglog([r[3] for r in rows], [r[2] for r in rows], "o-")
    for tol, _, err, ratio, _ in rows:
        ax.annotate(f"tol {tol:g}", (ratio, err), textcoords="offset points", xytext=(4, 4),
                    fontsize=7)
    ax.set_xlabel("compression ratio")
    ax.set_ylabel("relative error")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    save_figure(fig, path)
