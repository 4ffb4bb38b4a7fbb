r"""Multi-grid domain decomposition (patching) of 2D fields, with exact adjoints.

MG-TFNO (Kossaifi et al.) trains a neural operator on small patches of the domain: each field of
shape ``(C, H, W)`` is cut into ``n x n`` patches (``n = 2^L``) of side ``H / n``, each padded
circularly by ``p = round(padding_fraction * H)`` cells, and for every level ``l = 1..L`` a window of
the field subsampled ``2^l`` times, ``2^l`` times wider and centred on the patch, is added as extra
channels (coarser context). Patches are stacked along the batch axis: ``(B n^2, C (L + 1), H/n + 2p,
W/n + 2p)``. The model's outputs are stitched back by dropping the padding and placing each patch.

Every patch entry is an entry of the input at a (periodic) index, so patching is a gather
``P x = x[rows, cols]`` with per-level index tables, and its adjoint is the matching sum
``P^T g = R^T g C`` with one-hot matrices ``R`` (rows) and ``C`` (columns): two matmuls, on the
CPU or the GPU. The layout (which patch goes where, the order of the context channels, the
padding of the subsampled windows) is neuraloperator's ``MultigridPatching2D``, so the two give
the same numbers (checked in the tests).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from tensorkit.extend import check_int, check_real, get_namespace

__all__ = ["MultigridPatching2D"]

_EMBEDDING_API = ("embed", "embed_adjoint")


class MultigridPatching2D:
    r"""Split 2D fields into padded multi-grid patches and stitch outputs back (neuraloperator's API).

    Parameters
    ----------
    levels : int
        ``L >= 0``: ``2^L x 2^L`` patches and ``L`` levels of coarser context (0: identity).
    padding_fraction : float
        Circular padding of each patch as a fraction of the field's side (rounded to cells), in
        ``[0, 1)``; the padding may not exceed a patch's side.
    stitching : bool
        During training, stitch the model's outputs back to whole fields (the loss then sees whole
        fields), or leave them as patches and patch the targets instead. Evaluation always stitches.
    embedding : PeriodicCoordinates, optional
        Applied to the whole fields before they are cut (``x -> [x; E]``, e.g. the global periodic
        coordinates), so that every patch carries where it lies: the patches then have
        ``(C + E) (L + 1)`` channels, and :meth:`patch_adjoint` returns the gradient of the ``C``
        data channels only. None (default): neuraloperator's patching exactly.

    Notes
    -----
    As a trainer processor (the ``processor=`` hook): :meth:`preprocess` patches ``x`` (and ``y``
    when training without stitching), :meth:`postprocess` unpads / stitches the prediction, and
    :meth:`postprocess_adjoint` is the adjoint of that, so gradients flow back to the model.

    Examples
    --------
    >>> import numpy as np
    >>> from operators import MultigridPatching2D
    >>> mg = MultigridPatching2D(levels=1, padding_fraction=0.125)
    >>> x = np.random.default_rng(0).standard_normal((2, 3, 32, 32))
    >>> xp_, _ = mg.patch(x)
    >>> xp_.shape                              # 4 patches of 16 + 2*4, context channels added
    (8, 6, 24, 24)
    >>> out = mg.unpatch(xp_[:, :3])           # a "model" that returns its first 3 channels
    >>> bool(np.array_equal(out, x))
    True
    """

    def __init__(
        self, levels: int = 0, padding_fraction: float = 0.0, *, stitching: bool = True, embedding: Any = None
    ):
        self.levels = check_int(levels, "levels", minimum=0)
        self.padding_fraction = check_real(
            padding_fraction, "padding_fraction", minimum=0.0, maximum=1.0, strict_maximum=True
        )
        if not isinstance(stitching, (bool, np.bool_)):
            raise TypeError(f"stitching must be a bool, got {stitching!r}")
        self.stitching = bool(stitching)
        if embedding is not None and not all(callable(getattr(embedding, m, None)) for m in _EMBEDDING_API):
            raise TypeError(
                f"embedding must provide {' and '.join(_EMBEDDING_API)} (e.g. "
                f"operators.PeriodicCoordinates), got {type(embedding).__name__}"
            )
        self.embedding = embedding
        self.n_patches = 2**self.levels
        self.training = True

    # ------------------------------------------------------------------------------ processor
    def train(self, mode: bool = True) -> MultigridPatching2D:
        self.training = bool(mode)
        return self

    def eval(self) -> MultigridPatching2D:
        return self.train(False)

    def preprocess(self, x: Any, y: Any = None) -> tuple[Any, Any]:
        """Patch a batch: ``x`` always, ``y`` when training without stitching."""
        if not self.training:
            return self.patch(x)[0], y
        return self.patch(x, y)

    def postprocess(self, pred: Any, y: Any = None) -> tuple[Any, Any]:
        """Unpad (and stitch, unless training without stitching) the model's output."""
        self._stitch_now = self.stitching or not self.training
        return self.unpatch(pred, stitch=self._stitch_now), y

    def postprocess_adjoint(self, grad: Any) -> Any:
        """Adjoint of :meth:`postprocess` with respect to the prediction."""
        return self.unpatch_adjoint(grad, stitch=getattr(self, "_stitch_now", True))

    # ------------------------------------------------------------------------------ patching
    def patch(self, x: Any, y: Any = None) -> tuple[Any, Any]:
        """Padded multi-grid patches of ``x`` (batch, C, H, W) -> (batch n^2, C (L+1), H/n + 2p, W/n + 2p).

        ``y``, when given and not stitching, is cut into unpadded patches (batch n^2, C_y, H/n, W/n);
        otherwise it is returned unchanged. With an :attr:`embedding`, ``x`` is embedded first (``C``
        counts its channels too).
        """
        self._check_field(x, "x")
        if self.embedding is not None:
            x = self.embedding.embed(x)
        if self.levels == 0:
            return x, y
        xp = get_namespace(x)
        b, c, h, w = x.shape
        tables = _tables(h, w, self.levels, self.padding_fraction)
        self._shape = (b, c, h, w)
        levels = []
        for rows, cols in zip(tables.rows, tables.cols, strict=True):
            g = x[:, :, xp.asarray(rows)[:, None, :, None], xp.asarray(cols)[None, :, None, :]]
            levels.append(_batch_patches(xp, g))  # (B n^2, C, w1, w2)
        patched = xp.concat(levels, axis=1)
        if y is not None and not self.stitching:
            self._check_field(y, "y", (h, w))
            y = self._blocks(xp, y)
        return patched, y

    def patch_adjoint(self, grad: Any) -> Any:
        """Adjoint of :meth:`patch` (for ``x``): sums every patch entry back where it was read (and
        keeps the data channels' part, with an :attr:`embedding`)."""
        if self.embedding is not None:
            return self.embedding.embed_adjoint(self._gather_adjoint(grad))
        return self._gather_adjoint(grad)

    def _gather_adjoint(self, grad):
        if self.levels == 0:
            return grad
        xp = get_namespace(grad)
        b, c, h, w = self._shape
        tables = _tables(h, w, self.levels, self.padding_fraction)
        out = None
        for level, (rows, cols) in enumerate(zip(tables.rows, tables.cols, strict=True)):
            g = grad[:, level * c:(level + 1) * c]
            g = _unbatch_patches(xp, g, b)  # (B, C, n w1, n w2)
            r = xp.asarray(_one_hot(rows.reshape(-1), h, grad.dtype))
            q = xp.asarray(_one_hot(cols.reshape(-1), w, grad.dtype))
            term = xp.matmul(xp.matmul(r.T, g), q)
            out = term if out is None else out + term
        return out

    def unpatch(self, out: Any, *, stitch: bool = True) -> Any:
        """Drop each patch's padding and, with ``stitch``, place the patches back into whole fields:
        (batch n^2, C, H/n + 2p, W/n + 2p) -> (batch, C, H, W)."""
        if self.levels == 0:
            return out
        xp = get_namespace(out)
        p1, p2 = self._pads(out)
        core = out[:, :, p1:out.shape[2] - p1, p2:out.shape[3] - p2]
        if not stitch:
            return core
        n = self.n_patches
        bn, c, s1, s2 = core.shape
        core = xp.reshape(core, (bn // (n * n), n, n, c, s1, s2))
        core = xp.permute_dims(core, (0, 3, 1, 4, 2, 5))
        return xp.reshape(core, (bn // (n * n), c, n * s1, n * s2))

    def unpatch_adjoint(self, grad: Any, *, stitch: bool = True) -> Any:
        """Adjoint of :meth:`unpatch`: cut into patches (when stitched) and zero-fill the padding."""
        if self.levels == 0:
            return grad
        xp = get_namespace(grad)
        blocks = self._blocks(xp, grad) if stitch else grad
        p1, p2 = self._padding
        bn, c, s1, s2 = blocks.shape
        out = xp.zeros((bn, c, s1 + 2 * p1, s2 + 2 * p2), dtype=grad.dtype)
        out[:, :, p1:p1 + s1, p2:p2 + s2] = blocks
        return out

    # ------------------------------------------------------------------------------ helpers
    def _blocks(self, xp, y):
        """Unpadded ``n x n`` blocks of whole fields, stacked along the batch (patch order)."""
        n = self.n_patches
        b, c, h, w = y.shape
        y = xp.reshape(y, (b, c, n, h // n, n, w // n))
        y = xp.permute_dims(y, (0, 2, 4, 1, 3, 5))
        return xp.reshape(y, (b * n * n, c, h // n, w // n))

    def _pads(self, out):
        h, w = self._shape[2:]
        p1, p2 = _padding(h, w, self.padding_fraction)
        n = self.n_patches
        if out.ndim != 4 or out.shape[2] != h // n + 2 * p1 or out.shape[3] != w // n + 2 * p2:
            raise ValueError(
                f"out must be patched model output of shape (batch * {n * n}, C, {h // n + 2 * p1}, "
                f"{w // n + 2 * p2}), got {tuple(out.shape)}"
            )
        self._padding = (p1, p2)
        return p1, p2

    def _check_field(self, x, name, shape=None):
        if not hasattr(x, "shape") or getattr(x, "ndim", 0) != 4:
            raise ValueError(f"{name} must be a batch of 2D fields (batch, C, H, W), got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        h, w = x.shape[2:]
        if shape is not None and (h, w) != shape:
            raise ValueError(f"{name} has spatial shape {(h, w)} but x has {shape}")
        divisor = 4**self.levels
        if h % divisor or w % divisor:
            raise ValueError(
                f"levels={self.levels} needs grid sides divisible by 4^levels = {divisor} (patches of "
                f"side H / 2^L subsampled 2^L times), got {name} of spatial shape {(h, w)}"
            )
        p1, p2 = _padding(h, w, self.padding_fraction)
        if p1 > h // self.n_patches or p2 > w // self.n_patches:
            raise ValueError(
                f"padding_fraction={self.padding_fraction} pads {(p1, p2)} cells, more than a patch's "
                f"side {(h // self.n_patches, w // self.n_patches)}; use a smaller padding_fraction"
            )


class _Tables:
    """Source row / column indices of every (level, patch, local position)."""

    def __init__(self, rows, cols):
        self.rows = rows
        self.cols = cols


def _padding(h: int, w: int, fraction: float) -> tuple[int, int]:
    return round(h * fraction), round(w * fraction)


@functools.lru_cache(maxsize=64)
def _tables(h: int, w: int, levels: int, fraction: float) -> _Tables:
    n = 2**levels
    pads = _padding(h, w, fraction)
    out = []
    for size, pad in zip((h, w), pads, strict=True):
        patch = size // n
        window = patch + 2 * pad
        per_level = []
        for level in range(levels + 1):
            sub = 2**level
            stride = patch // sub
            # windows centred on the patch (at level 0 this is just the padding)
            offset = math.ceil((patch + (n - 1) * stride - size // sub) / 2.0) + pad
            start = np.arange(n)[:, None] * stride + np.arange(window)[None, :] - offset
            per_level.append((start % (size // sub)) * sub)
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
