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

Two options go beyond neuraloperator (its behaviour stays the default):

- ``restriction="full_weighting"``: the level-``l`` context is read from the field smoothed by the
  multigrid full-weighting stencil ``[1, 2, 1] / 4`` (per axis, applied ``l`` times on successively
  coarser grids) instead of being subsampled directly ("injection"), so content above the coarse
  grid's Nyquist frequency does not alias into the context. The stencil is centred on the kept
  nodes, so the layout is unchanged. Patching is then ``P x = sum_l G_l S_l x`` (``S_l`` a symmetric
  circular convolution, ``S_l^T = S_l``).
- ``overlap=True`` (evaluation): the fields are patched on ``4`` tilings, shifted by half a patch
  along each axis, and the stitched predictions are blended with the weights
  ``w_s(i, j) = t_s(i) t_s(j)``, ``t_s`` a tent over each patch's core that peaks at its centre; the
  tents of the two shifts sum to one along each axis, so the blend is a partition of unity (a
  constant prediction is returned unchanged). Every node is then predicted mostly by the patches
  in which it lies far from the core's edge, i.e. with up to half a patch more halo (U-Net's
  overlap-tile strategy), at 4x the evaluation cost. Training keeps one tiling.
- ``shifted_training=True``: every training batch is cut on a tiling shifted by a random offset
  (each axis uniform over a patch's side), so the model meets patches at every position of the
  periodic domain, as the shifted tilings of ``overlap`` show it in evaluation, instead of the
  ``n^2`` fixed ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkit.extend import (
    check_bool,
    check_choice,
    check_int,
    check_random_state,
    check_real,
    get_namespace,
)

from ._patch_layout import _batch_patches, _one_hot, _padding, _restrict, _tables, _unbatch_patches

__all__ = ["MultigridPatching2D"]

RESTRICTIONS = ("injection", "full_weighting")

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
    overlap : bool
        In evaluation (:meth:`preprocess` / :meth:`postprocess` after :meth:`eval`), patch on 4
        tilings shifted by half a patch and blend the stitched predictions with tent weights (a
        partition of unity that favours each patch's centre; see the module notes): 4x the
        evaluation cost, each node predicted with up to half a patch more halo. False (default):
        one tiling, as neuraloperator.
    restriction : {"injection", "full_weighting"}
        How the coarser contexts are sampled: ``"injection"`` (default, neuraloperator) keeps every
        ``2^l``-th node; ``"full_weighting"`` smooths with the multigrid stencil ``[1, 2, 1] / 4``
        per axis and level first, so fine-scale content does not alias into the context.
    shifted_training : bool
        Cut every training batch on a tiling shifted by a random offset (uniform over a patch's
        side per axis; the stitched outputs are rolled back). False (default): the fixed tiling.
    random_state : int, numpy.random.Generator or None
        Seeds the shifts of ``shifted_training`` (the offset of batch ``k`` is drawn from the seed
        and ``k``, kept in :meth:`state_dict`, so a resumed training draws the same offsets).

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
        self,
        levels: int = 0,
        padding_fraction: float = 0.0,
        *,
        stitching: bool = True,
        embedding: Any = None,
        overlap: bool = False,
        restriction: str = "injection",
        shifted_training: bool = False,
        random_state: Any = None,
    ):
        self.levels = check_int(levels, "levels", minimum=0)
        self.padding_fraction = check_real(
            padding_fraction, "padding_fraction", minimum=0.0, maximum=1.0, strict_maximum=True
        )
        self.stitching = check_bool(stitching, "stitching")
        self.overlap = check_bool(overlap, "overlap")
        self.restriction = check_choice(restriction, "restriction", RESTRICTIONS)
        self.shifted_training = check_bool(shifted_training, "shifted_training")
        self._seed = int(check_random_state(random_state).integers(2**62))
        self._step = 0
        if embedding is not None and not all(callable(getattr(embedding, m, None)) for m in _EMBEDDING_API):
            raise TypeError(
                f"embedding must provide {' and '.join(_EMBEDDING_API)} (e.g. "
                f"operators.PeriodicCoordinates), got {type(embedding).__name__}"
            )
        self.embedding = embedding
        self.n_patches = 2**self.levels
        self.training = True
        self._shifts = [(0, 0)]
        # shapes of the last patch / unpatch, which the adjoints are the adjoints of
        self._shape: tuple[int, ...] | None = None
        self._patched_shape: tuple[int, ...] | None = None
        self._unpatched_shape: tuple[int, ...] | None = None

    # ------------------------------------------------------------------------------ processor
    def train(self, mode: bool = True) -> MultigridPatching2D:
        self.training = bool(mode)
        return self

    def eval(self) -> MultigridPatching2D:
        return self.train(False)

    def preprocess(self, x: Any, y: Any = None) -> tuple[Any, Any]:
        """Patch a batch: ``x`` always, ``y`` when training without stitching."""
        if not self.training:
            return self.patch(x, overlap=self.overlap)[0], y
        if not self.shifted_training or self.levels == 0:
            return self.patch(x, y)
        self._check_field(x, "x")
        sides = (x.shape[2] // self.n_patches, x.shape[3] // self.n_patches)
        shift = np.random.default_rng([self._seed, self._step]).integers(0, sides)
        self._step += 1
        return self.patch(x, y, shift=(int(shift[0]), int(shift[1])))

    def postprocess(self, pred: Any, y: Any = None) -> tuple[Any, Any]:
        """Unpad (and stitch, unless training without stitching) the model's output."""
        self._stitch_now = self.stitching or not self.training
        return self.unpatch(pred, stitch=self._stitch_now), y

    def postprocess_adjoint(self, grad: Any) -> Any:
        """Adjoint of :meth:`postprocess` with respect to the prediction."""
        return self.unpatch_adjoint(grad, stitch=getattr(self, "_stitch_now", True))

    def state_dict(self) -> dict[str, Any]:
        """The seed and batch counter of ``shifted_training`` (empty without it)."""
        if not self.shifted_training:
            return {}
        return {"seed": np.asarray(self._seed, dtype=np.int64),
                "step": np.asarray(self._step, dtype=np.int64)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        expected = sorted(self.state_dict())
        if set(state) != set(expected):
            what = f"needs keys {expected}" if expected else "keeps none without shifted_training"
            raise ValueError(f"MultigridPatching2D state: {what}, got {sorted(state)}")
        if state:
            self._seed, self._step = _state_int(state["seed"], "seed"), _state_int(state["step"], "step")

    # ------------------------------------------------------------------------------ patching
    def patch(
        self, x: Any, y: Any = None, *, overlap: bool = False, shift: tuple[int, int] = (0, 0)
    ) -> tuple[Any, Any]:
        """Padded multi-grid patches of ``x`` (batch, C, H, W) -> (batch n^2, C (L+1), H/n + 2p, W/n + 2p).

        ``y``, when given and not stitching, is cut into unpadded patches (batch n^2, C_y, H/n, W/n);
        otherwise it is returned unchanged. With an :attr:`embedding`, ``x`` is embedded first (``C``
        counts its channels too). ``overlap``: the patches of the 4 shifted tilings, stacked along
        the batch one tiling after the other (4 batch n^2 patches; :meth:`unpatch` blends them).
        ``shift``: cut the tiling whose first patch starts at node ``shift`` (the field rolled by
        ``-shift``; :meth:`unpatch` rolls the stitched fields back, ``y``'s patches are cut likewise).
        """
        self._check_field(x, "x")
        overlap = check_bool(overlap, "overlap")
        shift = _check_shift(shift)
        if overlap and shift != (0, 0):
            raise ValueError(f"overlap sets its own tilings: shift must be (0, 0), got {shift}")
        if overlap and y is not None and not self.stitching:
            raise ValueError("overlap patches are blended back into whole fields: y cannot be patched "
                             "with them (stitching=False)")
        if self.embedding is not None:
            x = self.embedding.embed(x)
        if self.levels == 0:
            return x, y
        xp = get_namespace(x)
        b, c, h, w = x.shape
        self._shape = (b, c, h, w)
        self._shifts = _shifts(h, w, self.n_patches, overlap) if overlap else [(shift[0] % h, shift[1] % w)]
        fields = [x] + [_restrict(xp, x, level, self.restriction) for level in range(1, self.levels + 1)]
        tilings = []
        for shift in self._shifts:
            tables = _tables(h, w, self.levels, self.padding_fraction, shift)
            levels = [
                _batch_patches(xp, f[:, :, xp.asarray(r)[:, None, :, None], xp.asarray(q)[None, :, None, :]])
                for f, r, q in zip(fields, tables.rows, tables.cols, strict=True)
            ]  # each (B n^2, C, w1, w2)
            tilings.append(xp.concat(levels, axis=1))
        patched = tilings[0] if len(tilings) == 1 else xp.concat(tilings, axis=0)
        self._patched_shape = tuple(patched.shape)
        if y is not None and not self.stitching:
            self._check_field(y, "y", (h, w))
            if y.shape[0] != b:
                raise ValueError(f"y has {y.shape[0]} samples but x has {b}")
            y = self._blocks(xp, _roll(xp, y, self._shifts[0], -1))
        return patched, y

    def patch_adjoint(self, grad: Any) -> Any:
        """Adjoint of :meth:`patch` (for ``x``, with the tilings of the last call): sums every patch
        entry back where it was read (and keeps the data channels' part, with an :attr:`embedding`)."""
        if self.embedding is not None:
            return self.embedding.embed_adjoint(self._gather_adjoint(grad))
        return self._gather_adjoint(grad)

    def _gather_adjoint(self, grad):
        if self.levels == 0:
            return grad
        if self._patched_shape is None:
            raise RuntimeError("MultigridPatching2D.patch_adjoint called before patch")
        _check_grad(grad, self._patched_shape, "patch")
        xp = get_namespace(grad)
        b, c, h, w = self._shape
        per_tiling = grad.shape[0] // len(self._shifts)
        levels = [None] * (self.levels + 1)
        for k, shift in enumerate(self._shifts):
            tables = _tables(h, w, self.levels, self.padding_fraction, shift)
            part = grad[k * per_tiling:(k + 1) * per_tiling]
            for level, (rows, cols) in enumerate(zip(tables.rows, tables.cols, strict=True)):
                g = _unbatch_patches(xp, part[:, level * c:(level + 1) * c], b)  # (B, C, n w1, n w2)
                r = xp.asarray(_one_hot(rows.reshape(-1), h, grad.dtype))
                q = xp.asarray(_one_hot(cols.reshape(-1), w, grad.dtype))
                term = xp.matmul(xp.matmul(r.T, g), q)
                levels[level] = term if levels[level] is None else levels[level] + term
        out = levels[0]
        for level in range(1, self.levels + 1):
            # S_l is a symmetric circular convolution: its adjoint is itself
            out = out + _restrict(xp, levels[level], level, self.restriction)
        return out

    def unpatch(self, out: Any, *, stitch: bool = True) -> Any:
        """Drop each patch's padding and, with ``stitch``, place the patches back into whole fields:
        (batch n^2, C, H/n + 2p, W/n + 2p) -> (batch, C, H, W). After an ``overlap`` :meth:`patch`, the
        4 tilings' fields are blended (``stitch`` must then be True)."""
        if self.levels == 0:
            return out
        stitch = check_bool(stitch, "stitch")
        if self._shape is None:
            raise RuntimeError("MultigridPatching2D.unpatch called before patch (which sets the grid)")
        if not hasattr(out, "shape") or not hasattr(out, "dtype"):
            raise TypeError(f"out must be a numpy or CuPy array, got {type(out).__name__}")
        xp = get_namespace(out)
        p1, p2 = self._pads(out)
        per_field = self.n_patches**2 * len(self._shifts)
        if out.shape[0] % per_field:
            raise ValueError(f"out must stack {per_field} patches per field along the batch, got "
                             f"{out.shape[0]} patches: shape {tuple(out.shape)}")
        core = out[:, :, p1:out.shape[2] - p1, p2:out.shape[3] - p2]
        if not stitch:
            if len(self._shifts) > 1:
                raise ValueError("overlap patches can only be unpatched with stitch=True (they are blended)")
            self._unpatched_shape = tuple(core.shape)
            return core
        if len(self._shifts) == 1:
            field = _roll(xp, self._stitch(xp, core), self._shifts[0], 1)
            self._unpatched_shape = tuple(field.shape)
            return field
        per_tiling = core.shape[0] // len(self._shifts)
        blended = None
        for k, (shift, weight) in enumerate(zip(self._shifts, self._weights(xp, out.dtype), strict=True)):
            field = _roll(xp, self._stitch(xp, core[k * per_tiling:(k + 1) * per_tiling]), shift, 1)
            blended = weight * field if blended is None else blended + weight * field
        self._unpatched_shape = tuple(blended.shape)
        return blended

    def unpatch_adjoint(self, grad: Any, *, stitch: bool = True) -> Any:
        """Adjoint of :meth:`unpatch`: cut into patches (when stitched) and zero-fill the padding."""
        if self.levels == 0:
            return grad
        stitch = check_bool(stitch, "stitch")
        if self._unpatched_shape is None:
            raise RuntimeError("MultigridPatching2D.unpatch_adjoint called before unpatch")
        # a gradient of another shape would be cut into wrong blocks without an error
        _check_grad(grad, self._unpatched_shape, "unpatch")
        xp = get_namespace(grad)
        if not stitch:
            if len(self._shifts) > 1:
                raise ValueError("overlap patches can only be unpatched with stitch=True (they are blended)")
            blocks = grad
        elif len(self._shifts) == 1:
            blocks = self._blocks(xp, _roll(xp, grad, self._shifts[0], -1))
        else:
            blocks = xp.concat([
                self._blocks(xp, _roll(xp, weight * grad, shift, -1))
                for shift, weight in zip(self._shifts, self._weights(xp, grad.dtype), strict=True)
            ], axis=0)
        p1, p2 = _padding(*self._shape[2:], self.padding_fraction)
        bn, c, s1, s2 = blocks.shape
        out = xp.zeros((bn, c, s1 + 2 * p1, s2 + 2 * p2), dtype=grad.dtype)
        out[:, :, p1:p1 + s1, p2:p2 + s2] = blocks
        return out

    # ------------------------------------------------------------------------------ helpers
    def _stitch(self, xp, core):
        """Unpadded patches (batch n^2, C, s1, s2) -> whole fields (batch, C, n s1, n s2)."""
        n = self.n_patches
        bn, c, s1, s2 = core.shape
        core = xp.reshape(core, (bn // (n * n), n, n, c, s1, s2))
        core = xp.permute_dims(core, (0, 3, 1, 4, 2, 5))
        return xp.reshape(core, (bn // (n * n), c, n * s1, n * s2))

    def _weights(self, xp, dtype):
        """Blending weights (H, W) of the overlap tilings, in the field's own coordinates."""
        h, w = self._shape[2:]
        tents = [_tent(h, self.n_patches), _tent(w, self.n_patches)]
        return [
            xp.asarray(np.outer(np.roll(tents[0], s1), np.roll(tents[1], s2)).astype(dtype))
            for s1, s2 in self._shifts
        ]

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
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            raise TypeError(f"{name} must be a numpy or CuPy array, got {type(x).__name__}")
        if x.dtype.kind not in "biufc":
            raise TypeError(f"{name} must hold numbers, got dtype {x.dtype}")
        if x.ndim != 4 or 0 in x.shape[2:]:
            raise ValueError(
                f"{name} must be a batch of 2D fields (batch, C, H, W), got shape {tuple(x.shape)}"
            )
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


def _check_grad(grad: Any, shape: tuple[int, ...], forward: str) -> None:
    if not hasattr(grad, "shape") or not hasattr(grad, "dtype"):
        raise TypeError(f"grad must be a numpy or CuPy array, got {type(grad).__name__}")
    if tuple(grad.shape) != shape:
        raise ValueError(
            f"grad has shape {tuple(grad.shape)}, the output of the last {forward} has shape {shape}"
        )


def _state_int(value: Any, name: str) -> int:
    array = np.asarray(value)
    if array.ndim != 0 or array.dtype.kind not in "iu" or int(array) < 0:
        raise ValueError(f"MultigridPatching2D state: {name} must be a non-negative integer, got {value!r}")
    return int(array)


def _check_shift(shift: Any) -> tuple[int, int]:
    if not isinstance(shift, tuple) or len(shift) != 2:
        raise TypeError(f"shift must be a pair of ints, got {shift!r}")
    return (check_int(shift[0], "shift[0]"), check_int(shift[1], "shift[1]"))


def _roll(xp, field, shift: tuple[int, int], sign: int):
    """``field`` rolled by ``sign * shift`` along its two spatial axes (no copy when not shifted)."""
    if shift == (0, 0):
        return field
    return xp.roll(field, (sign * shift[0], sign * shift[1]), axis=(2, 3))


def _shifts(h: int, w: int, n: int, overlap: bool) -> list[tuple[int, int]]:
    """Origins of the 4 overlap tilings: (0, 0) and the 3 shifted by half a patch."""
    s1, s2 = h // n // 2, w // n // 2
    return [(0, 0), (0, s2), (s1, 0), (s1, s2)]


def _tent(size: int, n: int) -> np.ndarray:
    """Per-node weight of the unshifted tiling along one axis: over each patch core of side ``P``,
    ``(min(i, P - 1 - i) + 1/2) / (P / 2)``; with the tiling shifted by ``P / 2`` it sums to one."""
    patch = size // n
    i = np.arange(patch)
    return np.tile((np.minimum(i, patch - 1 - i) + 0.5) / (patch / 2), n)
