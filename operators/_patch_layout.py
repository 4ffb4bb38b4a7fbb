"""Index tables and batch layouts of the multi-grid patches (:class:`MultigridPatching2D`): which
field entry each patch entry reads, per level and tiling, and the full-weighting restriction."""

from __future__ import annotations

import functools
import math

import numpy as np


class _Tables:
    """Source row / column indices of every (level, patch, local position)."""

    def __init__(self, rows, cols):
        self.rows = rows
        self.cols = cols


@functools.lru_cache(maxsize=8)
def _full_weighting(level: int) -> tuple[tuple[int, float], ...]:
    """(offset, weight) taps, on the fine grid, of ``level`` full-weighting restrictions in a row:
    ``[1, 2, 1] / 4`` convolved with itself dilated 2, 4, ... times (the nodes kept at level ``l``
    are every ``2^l``-th, and each restriction averages a node with its two coarse neighbours)."""
    taps = {0: 1.0}
    for k in range(level):
        step = 2**k
        new: dict[int, float] = {}
        for offset, weight in taps.items():
            for d, f in ((-step, 0.25), (0, 0.5), (step, 0.25)):
                new[offset + d] = new.get(offset + d, 0.0) + weight * f
        taps = new
    return tuple(sorted(taps.items()))


def _restrict(xp, x, level: int, restriction: str):
    """The field the level-``level`` context is sampled from: ``x`` itself (injection) or ``x``
    smoothed by the full-weighting taps along both axes (circularly)."""
    if restriction == "injection":
        return x
    taps = _full_weighting(level)
    for axis in (2, 3):
        x = sum(weight * xp.roll(x, -offset, axis=axis) for offset, weight in taps)
    return x


def _padding(h: int, w: int, fraction: float) -> tuple[int, int]:
    return round(h * fraction), round(w * fraction)


@functools.lru_cache(maxsize=64)
def _tables(h: int, w: int, levels: int, fraction: float, shift: tuple[int, int] = (0, 0)) -> _Tables:
    n = 2**levels
    pads = _padding(h, w, fraction)
    out = []
    for size, pad, origin in zip((h, w), pads, shift, strict=True):
        patch = size // n
        window = patch + 2 * pad
        per_level = []
        for level in range(levels + 1):
            sub = 2**level
            stride = patch // sub
            # windows centred on the patch (at level 0 this is just the padding)
            offset = math.ceil((patch + (n - 1) * stride - size // sub) / 2.0) + pad
            start = np.arange(n)[:, None] * stride + np.arange(window)[None, :] - offset
            # the tiling shifted by ``origin`` reads the field rolled by it
            per_level.append(((start % (size // sub)) * sub + origin) % size)
        out.append(per_level)
    return _Tables(out[0], out[1])


def _batch_patches(xp, g):
    """(B, C, n, n, w1, w2) -> (B n^2, C, w1, w2), patch (i, j) of sample b at b n^2 + i n + j."""
    b, c, n, _, w1, w2 = g.shape
    g = xp.permute_dims(g, (0, 2, 3, 1, 4, 5))
    return xp.reshape(g, (b * n * n, c, w1, w2))


def _unbatch_patches(xp, g, b):
    """(B n^2, C, w1, w2) -> (B, C, n w1, n w2) with patch (i, j) in block (i, j)."""
    bn, c, w1, w2 = g.shape
    n = math.isqrt(bn // b)
    g = xp.reshape(g, (b, n, n, c, w1, w2))
    g = xp.permute_dims(g, (0, 3, 1, 4, 2, 5))
    return xp.reshape(g, (b, c, n * w1, n * w2))


def _one_hot(index: np.ndarray, size: int, dtype) -> np.ndarray:
    out = np.zeros((index.size, size), dtype=dtype)
    out[np.arange(index.size), index] = 1
    return out
