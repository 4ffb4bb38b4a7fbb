r"""Nearest-neighbour upsampling of the spatial axes (:class:`Upsample`) with its adjoint.

Arrays are ``(batch, channels, *spatial)``. With integer factors ``s_d`` the output is
``y[b, c, i_1, .., i_d] = x[b, c, i_1 // s_1, .., i_d // s_d]``, torch's ``mode="nearest"``; the
adjoint sums each output block of ``prod(s)`` entries back onto the input entry it copied.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_int, per_axis
from ..backend import array_module
from ._module import Module

__all__ = ["Upsample"]


class Upsample(Module):
    r"""Nearest-neighbour upsampling by integer factors, like ``torch.nn.Upsample(mode="nearest")``.

    ``y[b, c, i_1, .., i_d] = x[b, c, i_1 // s_1, .., i_d // s_d]``; the adjoint is the block sum
    ``dx[b, c, j] = sum_{i : i // s = j} g[b, c, i]``. No parameters.

    Parameters
    ----------
    scale_factor : int or tuple of ``ndim`` ints
        Per spatial axis, >= 1 (1 leaves the axis alone, e.g. the time axis of a space-time field).
    ndim : int
        Number of spatial axes (1 to 3).
    dtype
        See :class:`Module`.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.nn import Upsample
    >>> up = Upsample(2)
    >>> up(np.arange(4.0).reshape(1, 1, 2, 2))[0, 0]
    array([[0., 0., 1., 1.],
           [0., 0., 1., 1.],
           [2., 2., 3., 3.],
           [2., 2., 3., 3.]])
    >>> up.backward(np.ones((1, 1, 4, 4)))[0, 0]
    array([[4., 4.],
           [4., 4.]])
    >>> Upsample((1, 2, 2), ndim=3)(np.ones((1, 2, 5, 3, 3))).shape
    (1, 2, 5, 6, 6)
    """

    def __init__(self, scale_factor: int | tuple[int, ...] = 2, *, ndim: int = 2, dtype: Any = np.float64):
        super().__init__(dtype=dtype)
        self.ndim = check_int(ndim, "ndim", minimum=1, maximum=3)
        self.scale_factor = per_axis(scale_factor, self.ndim, "scale_factor",
                                     lambda v, n: check_int(v, n, minimum=1))
        self._in_shape = None

    def extra_repr(self) -> str:
        return f"scale_factor={self.scale_factor}, ndim={self.ndim}"

    def forward(self, x):
        x = self._as_input(x, min_ndim=2 + self.ndim)
        if x.ndim != 2 + self.ndim:
            raise ValueError(f"Upsample(ndim={self.ndim}) expects input of shape (batch, channels, "
                             f"{self.ndim} spatial axes), got {tuple(x.shape)}")
        self._in_shape = x.shape
        lead, spatial = x.shape[:2], x.shape[2:]
        # a broadcast view (n_1, 1, n_2, 1, ..) -> (n_1, s_1, n_2, s_2, ..), then one copy
        expanded = x.reshape(*lead, *_interleave(spatial, (1,) * self.ndim))
        blocks = array_module(x).broadcast_to(expanded, (*lead, *_interleave(spatial, self.scale_factor)))
        return blocks.reshape(*lead, *(n * s for n, s in zip(spatial, self.scale_factor, strict=True)))

    def backward(self, grad_out):
        if self._in_shape is None:
            raise RuntimeError("Upsample.backward called before forward")
        lead, spatial = self._in_shape[:2], self._in_shape[2:]
        g = grad_out.astype(self.dtype, copy=False).reshape(*lead, *_interleave(spatial, self.scale_factor))
        return g.sum(axis=tuple(3 + 2 * d for d in range(self.ndim)))


def _interleave(sizes, factors) -> tuple[int, ...]:
    return tuple(v for pair in zip(sizes, factors, strict=True) for v in pair)
