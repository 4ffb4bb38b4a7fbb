"""MG-TFNO: a tensorized FNO with jointly factorized spectral weights, trained on multi-grid patches."""

from __future__ import annotations

from typing import Any

from tensorkit.extend import check_choice, check_int

from ._embedding import PeriodicCoordinates
from ._fno import TFNO
from ._patching import MultigridPatching2D
from ._spectral_conv import check_n_modes

__all__ = ["MGTFNO"]

EMBEDDINGS = ("grid", "periodic", None)
EMBEDDING_API = ("embed", "embed_adjoint", "channels")


class MGTFNO(TFNO):
    r"""Multi-grid tensorized FNO (Kossaifi et al., TMLR 2024).

    A :class:`TFNO` whose spectral weights of all layers are ONE Tucker (or CP / TT) tensor of
    shape ``(n_layers, hidden, hidden, *modes)`` (``joint_factorization=True``, a
    :class:`JointSpectralWeight`), applied to multi-grid patches: the fields are cut into
    ``2^levels x 2^levels`` circularly padded patches with ``levels`` coarser context windows
    appended as channels (:class:`MultigridPatching2D`), so the network sees an input domain
    ``4^levels`` times smaller (plus padding) and ``in_channels (levels + 1)`` channels.

    The model maps PATCHES: train and predict through its :attr:`processor` (the trainer's
    ``processor=`` hook, e.g. ``physics.fit_operator(model, x, y, processor=model.processor)``),
    or use :meth:`predict_fields` on whole fields. When one time step moves structures as large as
    the domain across a patch, :class:`TwoLevelMGTFNO` completes the patches with a global TFNO on
    the coarse grid.

    Parameters
    ----------
    n_modes : tuple of 2 ints
        As :class:`FNO` (2D only: the patching is 2D).
    in_channels : int
        Channels of the whole fields (the patches carry ``in_channels * (levels + 1)``).
    out_channels, hidden_channels, n_layers
        As :class:`FNO`.
    levels : int
        Patching levels ``L`` (0: no patching, a jointly factorized TFNO).
    padding_fraction : float
        Circular padding of each patch as a fraction of the field's side.
    stitching : bool
        Stitch outputs back to whole fields in training (else the targets are patched).
    factorization, rank : as :class:`TFNO` (Tucker, 0.1), of the joint tensor.
    joint_factorization : bool
        True (the paper's choice); False factorizes every layer on its own.
    positional_embedding : "grid", "periodic", PeriodicCoordinates or None
        ``"grid"`` (default, as neuraloperator): each PATCH's own ``[0, 1]`` coordinates, appended
        inside the model, which do not tell a patch where it lies. ``"periodic"`` (or a
        :class:`PeriodicCoordinates` for more harmonics): :math:`\sin, \cos 2 \pi x_i` of the
        GLOBAL coordinates appended to the whole fields ahead of the patching (the processor's
        ``embedding``), so they travel with each patch and its context; the patches then carry
        ``(in_channels + 4 K) (levels + 1)`` channels. Prefer it on periodic data whose dynamics
        depend on the position (a forcing term). Any other embedding with ``embed``,
        ``embed_adjoint`` and ``channels`` (e.g. ``physics.VorticityVelocity``) is used the same way.
        None: no embedding.
    overlap : bool
        Evaluate on 4 tilings shifted by half a patch, blended with tent weights (the processor's
        ``overlap``; 4x the evaluation cost, up to half a patch more halo per node). Default False.
    restriction : {"injection", "full_weighting"}
        How the context levels are sampled (the processor's ``restriction``): every ``2^l``-th node
        (default, neuraloperator) or after the multigrid full-weighting stencil (no aliasing).
    shifted_training : bool
        Train on tilings shifted by a random offset per batch (the processor's
        ``shifted_training``, seeded by ``random_state``), so patches are met at every position, as
        ``overlap`` evaluates them. Default False.
    **kwargs
        Passed to :class:`FNO` (``dtype``, ``random_state``, ``domain_padding``, ...).

    Attributes
    ----------
    processor : MultigridPatching2D
        The patching, to pass to the trainer.

    Examples
    --------
    >>> import numpy as np
    >>> from operators import MGTFNO
    >>> model = MGTFNO((8, 8), 1, 1, 8, n_layers=2, levels=1, padding_fraction=0.125, random_state=0)
    >>> x = np.zeros((2, 1, 32, 32))
    >>> patches, _ = model.processor.patch(x)
    >>> patches.shape, model(patches).shape, model.predict_fields(x).shape
    ((8, 2, 24, 24), (8, 1, 24, 24), (2, 1, 32, 32))
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
        padding_fraction: float = 0.0625,
        stitching: bool = True,
        factorization: str | None = "tucker",
        rank: float | int | tuple[int, ...] = 0.1,
        joint_factorization: bool = True,
        positional_embedding: str | PeriodicCoordinates | Any | None = "grid",
        overlap: bool = False,
        restriction: str = "injection",
        shifted_training: bool = False,
        **kwargs: Any,
    ):
        if len(check_n_modes(n_modes)) != 2:
            raise ValueError(f"MGTFNO is 2D: n_modes must be a pair of ints, got {n_modes!r}")
        embedding = None
        # an embedding object (PeriodicCoordinates, physics.VorticityVelocity, ...) embeds whole fields
        if all(callable(getattr(positional_embedding, m, None)) for m in EMBEDDING_API):
            embedding, positional_embedding = positional_embedding, None
        elif check_choice(positional_embedding, "positional_embedding", EMBEDDINGS) == "periodic":
            embedding, positional_embedding = PeriodicCoordinates(), None
        self.processor = MultigridPatching2D(
            levels, padding_fraction, stitching=stitching, embedding=embedding, overlap=overlap,
            restriction=restriction, shifted_training=shifted_training,
            random_state=kwargs.get("random_state") if shifted_training else None,
        )
        self.data_channels = check_int(in_channels, "in_channels", minimum=1)
        self.levels = self.processor.levels
        embedded = 0 if embedding is None else embedding.channels(2)
        super().__init__(
            n_modes,
            (self.data_channels + embedded) * (self.levels + 1),
            out_channels,
            hidden_channels,
            n_layers,
            factorization=factorization,
            rank=rank,
            joint_factorization=joint_factorization,
            positional_embedding=positional_embedding,
            **kwargs,
        )

    def predict_fields(self, x: Any) -> Any:
        """The model on whole fields ``(batch, in_channels, H, W)``: patch, forward, stitch (blending
        the shifted tilings with ``overlap``)."""
        patches, _ = self.processor.patch(x, overlap=self.processor.overlap)
        return self.processor.unpatch(self.forward(patches))

    def extra_repr(self) -> str:
        restriction = self.processor.restriction
        return (
            f"{super().extra_repr()}, levels={self.levels}, "
            f"padding_fraction={self.processor.padding_fraction}, joint={self.joint_factorization}"
            + ("" if self.processor.embedding is None else f", embedding={self.processor.embedding!r}")
            + (", overlap=True" if self.processor.overlap else "")
            + (", shifted_training=True" if self.processor.shifted_training else "")
            + ("" if restriction == "injection" else f", restriction={restriction!r}")
        )
