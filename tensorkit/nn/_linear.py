"""The affine layer :class:`Linear` (a 1x1 convolution over the channel axis).

Arrays are ``(batch, channels, *spatial)``. Every contraction is one (batched) matmul over a
``(batch, channels, spatial)`` view, so BLAS sees long rows and there is no Python loop over the batch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import check_allocation, check_int
from ..backend import array_module
from ._module import Module

__all__ = ["Linear"]


class Linear(Module):
    r"""Affine map over one axis (the channel axis by default): a 1x1 convolution.

    ``y[b, o, s] = sum_i W[o, i] x[b, i, s] + bias[o]`` for ``x`` of shape ``(batch, in, *spatial)``
    (``axis=1``); ``axis=-1`` acts on the last axis like ``torch.nn.Linear``.

    Parameters
    ----------
    in_features, out_features : int
    axis : int
        The axis of ``x`` holding the ``in_features`` channels.
    bias : bool
    dtype, random_state
        See :class:`Module`. Initialization as PyTorch's: ``U(-1/sqrt(in), 1/sqrt(in))`` for both.

    Notes
    -----
    With ``x`` viewed as ``X`` of shape ``(pre, in, post)``: ``Y = W X``, ``dX = W^T G``,
    ``dW = sum_p G_p X_p^T``, ``dbias = sum G``. Each is one batched matmul.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        axis: int = 1,
        bias: bool = True,
        dtype: Any = np.float64,
        random_state: Any = None,
    ):
        super().__init__(dtype=dtype, random_state=random_state)
        self.in_features = check_int(in_features, "in_features", minimum=1)
        self.out_features = check_int(out_features, "out_features", minimum=1)
        self.axis = check_int(axis, "axis")
        bound = 1.0 / math.sqrt(self.in_features)
        shape = (self.out_features, self.in_features)
        check_allocation(
            shape, self.dtype, "Linear's weight", count=2,
            alternative="a low-rank map instead (two Linear layers through a small bottleneck)",
        )
        self.add_parameter("weight", self.rng.uniform(-bound, bound, size=shape))
        self.has_bias = bool(bias)
        if self.has_bias:
            self.add_parameter("bias", self.rng.uniform(-bound, bound, size=(self.out_features,)))
        self._x = None

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, axis={self.axis}, bias={self.has_bias}"

    def _view(self, x):
        axis = self.axis if self.axis >= 0 else x.ndim + self.axis
        if not 0 <= axis < x.ndim:
            raise ValueError(f"Linear axis={self.axis} is out of range for input of shape {x.shape}")
        if x.shape[axis] != self.in_features:
            raise ValueError(
                f"Linear expects {self.in_features} channels on axis {self.axis}, "
                f"got input of shape {tuple(x.shape)}"
            )
        pre = math.prod(x.shape[:axis])
        post = math.prod(x.shape[axis + 1:])
        return axis, pre, post

    def forward(self, x):
        return self._forward(x, add_bias=True)

    def _forward(self, x, add_bias):
        """The forward; ``add_bias=False`` leaves the bias to the caller (a fused activation)."""
        x = self._as_input(x)
        axis, pre, post = self._view(x)
        nxp = array_module(x)
        w = self.params["weight"]
        add_bias = add_bias and self.has_bias
        if post == 1:
            x2 = x.reshape(pre, self.in_features)
            y = x2 @ w.T
            if add_bias:
                y += self.params["bias"]
        else:
            x3 = x.reshape(pre, self.in_features, post)
            y = nxp.matmul(w, x3)
            if add_bias:
                y += self.params["bias"][:, None]
        self._x = x
        y = y.reshape((*x.shape[:axis], self.out_features, *x.shape[axis + 1:]))
        self._out_shape = y.shape
        return y

    def backward(self, grad_out):
        x = self._x
        if x is None:
            raise RuntimeError("Linear.backward called before forward")
        _, pre, post = self._view(x)
        nxp = array_module(x)
        w = self.params["weight"]
        grad_out = self._as_grad(grad_out, self._out_shape)
        if post == 1:
            g = grad_out.reshape(pre, self.out_features)
            x2 = x.reshape(pre, self.in_features)
            self.grads["weight"] += g.T @ x2
            if self.has_bias:
                self.grads["bias"] += g.sum(axis=0)
            dx = g @ w
        else:
            g = grad_out.reshape(pre, self.out_features, post)
            x3 = x.reshape(pre, self.in_features, post)
            # sum_p G_p X_p^T: one batched matmul whose (out, in) results are summed
            self.grads["weight"] += nxp.matmul(g, x3.transpose(0, 2, 1)).sum(axis=0)
            if self.has_bias:
                self.grads["bias"] += g.sum(axis=(0, 2))
            dx = nxp.matmul(w.T, g)
        return dx.reshape(x.shape)
