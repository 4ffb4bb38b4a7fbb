"""Skip concatenation (:class:`SkipConcat`): the U-Net's way of handing an encoder's features to
the decoder, ``y = concat([x, body(x)], axis=1)``, with its adjoint."""

from __future__ import annotations

from ..backend import array_module
from ._module import Module

__all__ = ["SkipConcat"]


class SkipConcat(Module):
    """``y = concat([x, body(x)])`` along the channel axis (axis 1).

    The body (for a U-Net level: down-sampling, the inner levels, up-sampling) must keep the batch
    and spatial shape; the output has ``C_x + C_body`` channels. The adjoint splits the gradient:
    ``dx = g[:, :C_x] + body.backward(g[:, C_x:])``.

    Parameters
    ----------
    body : Module

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.nn import Conv2d, SkipConcat
    >>> block = SkipConcat(Conv2d(2, 3, 3, random_state=0))
    >>> y = block(np.ones((4, 2, 8, 8)))
    >>> y.shape, bool((y[:, :2] == 1).all())
    ((4, 5, 8, 8), True)
    """

    def __init__(self, body: Module):
        if not isinstance(body, Module):
            raise TypeError(f"body must be a tensorkit.nn.Module, got {type(body).__name__}")
        super().__init__(dtype=body.dtype)
        self.add_module("body", body)
        self._channels = None

    def forward(self, x):
        x = self._as_input(x, min_ndim=2)
        h = self._modules["body"].forward(x)
        if h.shape[0] != x.shape[0] or h.shape[2:] != x.shape[2:]:
            raise ValueError(f"SkipConcat: body output {tuple(h.shape)} does not match the input "
                             f"{tuple(x.shape)} outside the channel axis")
        self._channels = x.shape[1]
        return array_module(x).concatenate((x, h.astype(x.dtype, copy=False)), axis=1)

    def backward(self, grad_out):
        if self._channels is None:
            raise RuntimeError("SkipConcat.backward called before forward")
        c = self._channels
        return grad_out[:, :c] + self._modules["body"].backward(grad_out[:, c:])
