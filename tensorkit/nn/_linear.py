"""The affine layer :class:`Linear` (a 1x1 convolution over the channel axis).

Arrays are ``(batch, channels, *spatial)``. Every contraction is one (batched) matmul over a
``(batch, channels, spatial)`` view, so BLAS sees long rows and there is no Python loop over the batch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg.blas

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

    def forward(self, x, *, add_to=None):
        """``W x + b``; with ``add_to`` (an array of the output's shape and dtype) the result is
        added into it in place (one BLAS call with ``beta = 1`` on the CPU, no temporary) and it is
        returned."""
        return self._forward(x, add_bias=True, add_to=add_to)

    def _forward(self, x, add_bias, add_to=None):
        """The forward; ``add_bias=False`` leaves the bias to the caller (a fused activation)."""
        x = self._as_input(x)
        axis, pre, post = self._view(x)
        nxp = array_module(x)
        w = self.params["weight"]
        add_bias = add_bias and self.has_bias
        shape = (*x.shape[:axis], self.out_features, *x.shape[axis + 1:])
        self._x = x
        self._out_shape = shape
        if add_to is not None:
            _check_target(add_to, shape, self.dtype)
            _matmul_add(nxp, w, x.reshape(pre, self.in_features, post),
                        add_to.reshape(pre, self.out_features, post))
            if add_bias:
                add_to += self.params["bias"].reshape((-1,) + (1,) * (x.ndim - axis - 1))
            return add_to
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
        return y.reshape(shape)

    def backward(self, grad_out, *, add_to=None):
        """The input gradient ``W^T g`` (and the parameter gradients, accumulated); with ``add_to``
        it is added into that array in place and returned, as in :meth:`forward`."""
        x = self._x
        if x is None:
            raise RuntimeError("Linear.backward called before forward")
        _, pre, post = self._view(x)
        nxp = array_module(x)
        w = self.params["weight"]
        grad_out = self._as_grad(grad_out, self._out_shape)
        if add_to is not None:
            _check_target(add_to, x.shape, self.dtype)
        if post == 1:
            g = grad_out.reshape(pre, self.out_features)
            x2 = x.reshape(pre, self.in_features)
            self.grads["weight"] += g.T @ x2
            if self.has_bias:
                self.grads["bias"] += g.sum(axis=0)
            if add_to is None:
                return (g @ w).reshape(x.shape)
        else:
            g = grad_out.reshape(pre, self.out_features, post)
            x3 = x.reshape(pre, self.in_features, post)
            # sum_p G_p X_p^T: one batched matmul whose (out, in) results are summed
            self.grads["weight"] += nxp.matmul(g, x3.transpose(0, 2, 1)).sum(axis=0)
            if self.has_bias:
                self.grads["bias"] += g.sum(axis=(0, 2))
            if add_to is None:
                return nxp.matmul(w.T, g).reshape(x.shape)
        _matmul_add(nxp, w.T, grad_out.reshape(pre, self.out_features, post),
                    add_to.reshape(pre, self.in_features, post))
        return add_to


def _check_target(add_to, shape, dtype) -> None:
    if not hasattr(add_to, "shape") or tuple(add_to.shape) != tuple(shape) or add_to.dtype != dtype:
        raise ValueError(f"add_to must be an array of shape {tuple(shape)} and dtype {np.dtype(dtype)}, got "
                         f"{getattr(add_to, 'shape', type(add_to).__name__)} "
                         f"{getattr(add_to, 'dtype', '')}")
    if not add_to.flags.c_contiguous:
        raise ValueError("add_to must be C-contiguous")


def _matmul_add(nxp, w, x3, out3) -> None:
    """``out3[p] += w @ x3[p]`` for every ``p``: on the CPU one BLAS GEMM per ``p`` with ``beta = 1``
    into ``out3`` (read as the column-major ``out3[p]^T = x3[p]^T w^T``), else a matmul and a sum."""
    gemm = None
    if isinstance(out3, np.ndarray) and out3.dtype in (np.float32, np.float64) and w.dtype == out3.dtype:
        gemm = scipy.linalg.blas.sgemm if out3.dtype == np.float32 else scipy.linalg.blas.dgemm
    if gemm is None:
        out3 += nxp.matmul(w, x3)
        return
    x3 = np.ascontiguousarray(x3, dtype=out3.dtype)
    w_t = w.T if w.flags.c_contiguous else np.ascontiguousarray(w).T  # Fortran-ordered w^T, no copy
    for p in range(out3.shape[0]):
        result = gemm(1.0, x3[p].T, w_t, 1.0, out3[p].T, overwrite_c=True)
        if not np.shares_memory(result, out3[p]):  # never expected: f2py copied the target
            out3[p] = result.T
