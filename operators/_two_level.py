r"""Two-level MG-TFNO: patch-local TFNOs plus one global coarse-grid TFNO (additive Schwarz style).

The multi-grid patching of MG-TFNO (Kossaifi et al., TMLR 2024) gives every patch its neighbourhood
at full resolution and wider windows at coarser resolutions. Each window is treated as periodic by
the Fourier layers although it is not a period of the field, so structures as large as the domain,
which hold most of the energy of a turbulent flow, are moved wrongly when one time step carries them
across a patch. Domain decomposition solves the same problem with a *coarse space*: the local
(subdomain) solves are completed by one global solve on a coarse grid. :class:`TwoLevelMGTFNO`
does that with neural operators, on fields of shape ``(batch, C, H, W)``:

.. math::

    x_c = R\, x, \qquad g = \mathcal{G}(x_c) \in \mathbb{R}^{G \times H_c \times W_c}, \qquad
    u = P\, g, \qquad
    y = \mathcal{U}\big(\mathcal{L}(\mathcal{P}[x; u])\big) + u_{1..C_\text{out}},

with ``R`` the band-limited restriction to the coarse grid ``H_c = H / 2^L`` (the size of one
patch), ``\mathcal{G}`` a TFNO on the whole coarse field (its Fourier basis is the true period),
``P`` the band-limited (trigonometric) prolongation, ``\mathcal{P}`` / ``\mathcal{U}`` the
multi-grid patching and stitching of :class:`MultigridPatching2D` and ``\mathcal{L}`` the
patch-local :class:`MGTFNO`. The coarse branch's first ``C_out`` channels are a coarse prediction
(added to the output); all ``G`` channels travel with the patches as context. Every array either
network sees is patch-sized, so the memory argument of patching holds; training is end to end (the
gradient runs through the stitching, the local model, the patching, ``P^T`` and the coarse TFNO).

Both resampling maps act per axis with the matrices of :func:`trigonometric_matrix`, restricted to
the frequencies ``|k| < H_c / 2`` (the coarse grid's Nyquist frequency is dropped so that ``R`` and
``P`` are real and ``P R`` is the orthogonal projection onto that band); their adjoints are their
transposes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkit.extend import check_choice, check_int, get_namespace
from tensorkit.nn import Module

from ._antialias import _PerAxis, trigonometric_matrix
from ._fno import TFNO
from ._mgtfno import MGTFNO
from ._spectral_conv import check_n_modes

__all__ = ["TwoLevelMGTFNO"]

EMBEDDINGS = ("periodic", "grid", None)


class TwoLevelMGTFNO(Module):
    r"""MG-TFNO on patches plus a global TFNO on the coarse grid (see the module notes for the math).

    The model maps WHOLE fields ``(batch, in_channels, H, W)`` (``H`` and ``W`` divisible by
    ``2^levels``) to ``(batch, out_channels, H, W)``: it patches internally, so train it without a
    patching processor (``physics.fit_operator(model, x, y)``). It suits periodic fields (the
    patching pads circularly and the coarse TFNO sees the torus).

    Parameters
    ----------
    n_modes : tuple of 2 ints
        Fourier modes kept per axis by the patch-local MG-TFNO.
    in_channels, out_channels : int
        Channels of the input and output fields.
    hidden_channels : int
        Width of the patch-local MG-TFNO.
    n_layers : int
        Fourier layers of the local model (and of the coarse one unless ``coarse_layers``).
    levels : int
        Patching levels ``L >= 1``: ``2^L x 2^L`` patches, and the coarse grid ``H / 2^L x W / 2^L``.
    padding_fraction : float
        Circular padding of each patch, as a fraction of the field's side (:class:`MGTFNO`).
    coarse_channels : int
        ``G >= out_channels``: channels of the coarse branch's output (its first ``out_channels`` are
        the coarse prediction, the rest are context features). Default 4.
    coarse_hidden_channels, coarse_modes, coarse_layers : optional
        Width, kept modes and depth of the coarse TFNO (default: those of the local model; the
        modes must fit the coarse grid ``H / 2^L``).
    factorization, rank : as :class:`TFNO`
        For both networks (the local one jointly over its layers, as :class:`MGTFNO`).
    positional_embedding : {"periodic", "grid", None}
        ``"periodic"`` (default): :math:`\sin, \cos 2 \pi x_i` of the global coordinates, for the
        coarse TFNO and ahead of the patching; ``"grid"``: each network's own ``[0, 1]`` grid.
    dtype, random_state
        See :class:`tensorkit.nn.Module`.
    **kwargs
        Further options of the local :class:`MGTFNO`: ``restriction``, ``overlap`` (evaluate on 4
        shifted tilings blended by tents), ``domain_padding``, ... (``shifted_training`` and
        ``stitching=False`` do not apply: the model stitches inside :meth:`forward`).

    Attributes
    ----------
    coarse : TFNO
        The global coarse-grid network.
    local : MGTFNO
        The patch-local network (its ``processor`` is the patching used inside :meth:`forward`).

    Examples
    --------
    >>> import numpy as np
    >>> from operators import TwoLevelMGTFNO
    >>> model = TwoLevelMGTFNO((6, 6), 1, 1, 8, n_layers=2, levels=1, padding_fraction=0.125,
    ...                        random_state=0)
    >>> x = np.random.default_rng(0).standard_normal((2, 1, 32, 32))
    >>> y = model(x)
    >>> y.shape, model.backward(np.ones_like(y)).shape
    ((2, 1, 32, 32), (2, 1, 32, 32))
    """

    def __init__(
        self,
        n_modes: int | tuple[int, ...],
        in_channels: int,
        out_channels: int,
        hidden_channels: int,
        n_layers: int = 4,
        *,
        levels: int = 1,
        padding_fraction: float = 0.125,
        coarse_channels: int = 4,
        coarse_hidden_channels: int | None = None,
        coarse_modes: int | tuple[int, ...] | None = None,
        coarse_layers: int | None = None,
        factorization: str | None = "cp",
        rank: float | int | tuple[int, ...] = 0.07,
        positional_embedding: str | None = "periodic",
        dtype: Any = np.float64,
        random_state: Any = None,
        **kwargs: Any,
    ):
        super().__init__(dtype=dtype, random_state=random_state)
        for name, default in (("shifted_training", False), ("stitching", True)):
            if name in kwargs and kwargs[name] is not default:
                raise TypeError(f"TwoLevelMGTFNO does not take {name}={kwargs[name]!r}: it patches and "
                                f"stitches whole fields inside forward")
        modes = check_n_modes(n_modes)
        if len(modes) != 2:
            raise ValueError(f"TwoLevelMGTFNO is 2D: n_modes must be a pair of ints, got {n_modes!r}")
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        self.levels = check_int(levels, "levels", minimum=1)
        self.coarse_channels = check_int(coarse_channels, "coarse_channels", minimum=self.out_channels)
        self.positional_embedding = check_choice(positional_embedding, "positional_embedding", EMBEDDINGS)
        coarse_modes = modes if coarse_modes is None else check_n_modes(coarse_modes)
        if len(coarse_modes) != 2:
            raise ValueError(f"coarse_modes must be a pair of ints, got {coarse_modes!r}")
        width = check_int(hidden_channels, "hidden_channels", minimum=1)
        coarse_width = width if coarse_hidden_channels is None else coarse_hidden_channels
        kw = {"factorization": factorization, "rank": rank, "dtype": self.dtype, "random_state": self.rng}
        self.coarse = self.add_module("coarse", TFNO(
            coarse_modes, self.in_channels, self.coarse_channels,
            check_int(coarse_width, "coarse_hidden_channels", minimum=1),
            n_layers if coarse_layers is None else check_int(coarse_layers, "coarse_layers", minimum=1),
            positional_embedding=self.positional_embedding, **kw,
        ))
        self.local = self.add_module("local", MGTFNO(
            modes, self.in_channels + self.coarse_channels, self.out_channels, width, n_layers,
            levels=self.levels, padding_fraction=padding_fraction, joint_factorization=True,
            positional_embedding=self.positional_embedding, **kw, **kwargs,
        ))
        self._restrict = _PerAxis(lambda n: _restriction(n, n >> self.levels))
        self._prolong = _PerAxis(lambda m: trigonometric_matrix(m, m << self.levels, (m - 1) // 2))
        self._cache = None

    @property
    def processor(self) -> None:
        """None: the model patches inside :meth:`forward` (pass no patching processor to a trainer)."""
        return None

    def extra_repr(self) -> str:
        return (
            f"levels={self.levels}, padding_fraction={self.local.processor.padding_fraction}, "
            f"coarse_channels={self.coarse_channels}, positional_embedding={self.positional_embedding!r}"
        )

    def forward(self, x: Any) -> Any:
        x = self._as_input(x, min_ndim=4)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"TwoLevelMGTFNO expects x of shape (batch, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        side = 2**self.levels
        if x.shape[2] % side or x.shape[3] % side or min(x.shape[2:]) < 2 * side:
            raise ValueError(
                f"the grid {tuple(x.shape[2:])} must be divisible by 2^levels = {side} into patches of at "
                f"least 2 x 2 nodes"
            )
        xp = get_namespace(x)
        restrict = self._restrict.matrices(x)
        g = self.coarse.forward(_PerAxis.apply(x, restrict))
        prolong = self._prolong.matrices(g)
        u = _PerAxis.apply(g, prolong)
        processor = self.local.processor.train(self.training)  # overlap tilings in evaluation only
        patches, _ = processor.preprocess(xp.concat([x, u], axis=1))
        out, _ = processor.postprocess(self.local.forward(patches))
        out = out + u[:, : self.out_channels]
        self._cache = (restrict, prolong, tuple(out.shape))
        return out

    def backward(self, grad_out: Any) -> Any:
        if self._cache is None:
            raise RuntimeError("TwoLevelMGTFNO.backward called before forward")
        restrict, prolong, shape = self._cache
        grad_out = self._as_grad(grad_out, shape)
        processor = self.local.processor
        grad_z = processor.patch_adjoint(self.local.backward(processor.postprocess_adjoint(grad_out)))
        xp = get_namespace(grad_z)
        c, n_out = self.in_channels, self.out_channels
        grad_u = grad_z[:, c:]
        grad_u = xp.concat([grad_u[:, :n_out] + grad_out, grad_u[:, n_out:]], axis=1)
        grad_coarse = self.coarse.backward(_PerAxis.apply(grad_u, prolong, adjoint=True))
        return grad_z[:, :c] + _PerAxis.apply(grad_coarse, restrict, adjoint=True)

    def predict_fields(self, x: Any) -> Any:
        """The model on whole fields (the same as calling it; for the API of :class:`MGTFNO`)."""
        return self.forward(x)


def _restriction(n: int, m: int) -> np.ndarray:
    """``(m, n)`` matrix sampling the band ``|k| < m / 2`` of periodic ``n``-point data at ``m`` points."""
    return trigonometric_matrix(n, m, (m - 1) // 2)
