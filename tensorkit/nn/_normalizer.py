"""Per-channel Gaussian normalization (:class:`Normalizer`) and its inverse as a layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_all_finite, check_int, check_real
from ..backend import array_module
from ._module import Module

__all__ = ["Normalizer"]


class Normalizer(Module):
    r"""Per-channel Gaussian normalization ``(x - mean_c) / (std_c + eps)``, fitted on training data.

    As a module, ``forward`` encodes and ``backward`` is its adjoint ``g / (std + eps)``;
    :meth:`decoder` gives the inverse as a module (for a model whose output is de-normalized).
    ``mean`` and ``std`` are buffers: saved in ``state_dict`` and checkpoints, never trained.

    Parameters
    ----------
    channel_axis : int
        Axis holding the channels (1 for ``(batch, channels, *spatial)``).
    n_channels : int, optional
        Registers the statistics at construction (mean 0, std 1: the identity until :meth:`fit`),
        so that a model holding the normalizer can load a checkpoint before any fitting.
    eps : float
        Guards constant channels (neuraloperator's ``UnitGaussianNormalizer`` uses 1e-7).
    dtype
        See :class:`Module`.

    Notes
    -----
    Statistics are taken over every axis but ``channel_axis``; ``std`` is the population standard
    deviation (``ddof=0``), both accumulated in float64 and stored in ``dtype``.
    """

    def __init__(
        self,
        channel_axis: int = 1,
        *,
        n_channels: int | None = None,
        eps: float = 1e-7,
        dtype: Any = np.float64,
    ):
        super().__init__(dtype=dtype)
        self.channel_axis = check_int(channel_axis, "channel_axis")
        self.eps = check_real(eps, "eps", minimum=0.0)
        if n_channels is not None:
            n_channels = check_int(n_channels, "n_channels", minimum=1)
            self.add_buffer("mean", np.zeros(n_channels, dtype=self.dtype))
            self.add_buffer("std", np.ones(n_channels, dtype=self.dtype))

    @property
    def fitted(self) -> bool:
        """Whether statistics are present (fitted, loaded, or registered by ``n_channels``)."""
        return "mean" in self.buffers

    def fit(self, x) -> Normalizer:
        """Estimate per-channel mean and standard deviation from ``x``; returns self.

        The statistics are accumulated in float64 and the variance of each channel is taken on the
        deviations scaled by their largest magnitude, so data near the overflow threshold (float64
        entries ~1e300, float32 ~1e38) give the true standard deviation instead of ``inf``.

        Raises
        ------
        ValueError
            If ``x`` holds NaN or Inf (every encoded value would be NaN).
        """
        x = self._as_input(x, min_ndim=1)
        nxp = array_module(x)
        axis = self._axis(x)
        check_all_finite(x, "Normalizer.fit: x")
        others = tuple(i for i in range(x.ndim) if i != axis)
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        wide = x.astype(np.float64, copy=False)
        # the mean of values near the overflow threshold overflows in the sum: average scaled values
        size = nxp.abs(wide).max(axis=others)
        size = nxp.where(size > 0, size, 1.0).reshape(shape)
        mean = (wide / size).mean(axis=others).reshape(shape) * size
        centered = wide - mean
        scale = nxp.abs(centered).max(axis=others)
        scale = nxp.where(scale > 0, scale, 1.0).reshape(shape)
        std = nxp.sqrt(((centered / scale) ** 2).mean(axis=others)) * scale.reshape(-1)
        for name, value in (("mean", mean.reshape(-1)), ("std", std)):
            value = value.astype(self.dtype)
            if name in self.buffers:
                self.buffers[name] = value
            else:
                self.add_buffer(name, value)
        return self

    def _axis(self, x) -> int:
        axis = self.channel_axis if self.channel_axis >= 0 else x.ndim + self.channel_axis
        if not 0 <= axis < x.ndim:
            raise ValueError(f"channel_axis={self.channel_axis} out of range for shape {tuple(x.shape)}")
        return axis

    def _stats(self, x):
        if not self.fitted:
            raise RuntimeError("Normalizer is not fitted; call fit(training_data) first")
        axis = self._axis(x)
        n = int(self.buffers["mean"].shape[0])
        if x.shape[axis] != n:
            raise ValueError(
                f"Normalizer was fitted on {n} channels, got input of shape {tuple(x.shape)} "
                f"(channel axis {self.channel_axis})"
            )
        shape = [1] * x.ndim
        shape[axis] = n
        return self.buffers["mean"].reshape(shape), (self.buffers["std"] + self.eps).reshape(shape)

    def encode(self, x):
        """``(x - mean) / (std + eps)``."""
        x = self._as_input(x)
        mean, scale = self._stats(x)
        return (x - mean) / scale

    def decode(self, x):
        """``x (std + eps) + mean``, the inverse of :meth:`encode`."""
        x = self._as_input(x)
        mean, scale = self._stats(x)
        return x * scale + mean

    def forward(self, x):
        out = self.encode(x)
        self._shape = out.shape
        return out

    def backward(self, grad_out):
        # a linear map: its adjoint needs no forward, but after one the shapes must agree
        grad_out = self._as_grad(grad_out, getattr(self, "_shape", None))
        _, scale = self._stats(grad_out)
        return grad_out / scale

    def decoder(self) -> _Decoder:
        """A module applying :meth:`decode` (adjoint ``g (std + eps)``), sharing these statistics."""
        return _Decoder(self)

    def load_state_dict(self, state) -> None:
        if "mean" in state and "std" in state and not self.fitted:
            self.add_buffer("mean", np.asarray(state["mean"], dtype=self.dtype))
            self.add_buffer("std", np.asarray(state["std"], dtype=self.dtype))
        super().load_state_dict(state)


class _Decoder(Module):
    """The inverse of a :class:`Normalizer` as a layer (holds no state of its own)."""

    def __init__(self, normalizer: Normalizer):
        super().__init__(dtype=normalizer.dtype)
        self.normalizer = normalizer

    def forward(self, x):
        out = self.normalizer.decode(x)
        self._shape = out.shape
        return out

    def backward(self, grad_out):
        grad_out = self._as_grad(grad_out, getattr(self, "_shape", None))
        _, scale = self.normalizer._stats(grad_out)
        return grad_out * scale
