r"""Convolutions with one-way (1D) filters: each kernel of each (in, out) channel pair is a rank-R
sum of outer products of 1D filters (:class:`OneWayConv`), as Boukraichi et al. compress the
convolutions of their wave-simulator surrogate before training."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import check_int
from ._conv import conv_adjoint, conv_forward, set_conv_geometry
from ._factorized import einsum_gradient, einsum_many
from ._module import Module
from ._padding import check_conv_input

__all__ = ["OneWayConv"]

_TAPS = "xyz"


class OneWayConv(Module):
    r"""A 2D or 3D convolution whose every 2-way or 3-way kernel is a sum of outer products of
    one-way filters.

    .. math::

        K[o, c, t_1, .., t_d] = \sum_{r=1}^{R} F_1[o, c, r, t_1] \cdots F_d[o, c, r, t_d],

    then ``y[b, o, h] = bias[o] + sum_{c, t} K[o, c, t] x_pad[b, c, s h + t]`` as :class:`Conv2d` /
    :class:`Conv3d`. Each (in, out) pair keeps its own rank-R separable kernel (an SVD of a 2D
    kernel truncated to R terms, a CP of a 3D one): ``C_in C_out R sum_d k_d`` parameters instead of
    ``C_in C_out prod_d k_d``, a ratio ``k^(d-1) / (R d)`` for cubic kernels (1.5 for ``k = 3``,
    ``d = 2``, ``R = 1``). Unlike :class:`FactorizedConv`'s CP, the channel modes are not factorized.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or tuple of ``ndim`` ints
    ndim : {2, 3}
    rank : int
        Terms per kernel, ``1 <= R``.
    stride, padding, padding_mode, bias
        As :class:`Conv2d`.
    dtype, random_state
        See :class:`Module`. The filters are drawn normal with the standard deviation that gives the
        implied kernel PyTorch's Conv variance ``1 / (3 fan_in)`` (``R s^(2d) = 1 / (3 fan_in)``).

    Notes
    -----
    The kernel is rebuilt from the filters at every forward (``C_in C_out prod(k)`` entries, cheap
    next to the convolution) and the dense convolution runs on it; the adjoint maps the kernel's
    gradient back to each filter: ``dF_1[o, c, r, t_1] = sum_{t_2..t_d} dK[o, c, t] F_2[o, c, r, t_2]
    \cdots F_d[o, c, r, t_d]``. Applying the filters one axis at a time instead would need
    ``C_in C_out R`` intermediate channels, more work and memory than the dense convolution.

    References
    ----------
    M. Boukraichi, N. Akkari, F. Casenave, D. Ryckelynck, "A priori compression of convolutional
    neural networks for wave simulators", arXiv 2304.04964.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.nn import OneWayConv
    >>> conv = OneWayConv(4, 8, 3, rank=1, random_state=0)
    >>> conv(np.ones((2, 4, 16, 16))).shape, conv.num_parameters()
    ((2, 8, 16, 16), 200)
    >>> kernel = conv.kernel()
    >>> int(np.linalg.matrix_rank(kernel[0, 0]))
    1
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        *,
        ndim: int = 2,
        rank: int = 1,
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | str = "same",
        padding_mode: str = "zeros",
        bias: bool = True,
        dtype: Any = np.float64,
        random_state: Any = None,
    ):
        super().__init__(dtype=dtype, random_state=random_state)
        self.ndim = check_int(ndim, "ndim", minimum=2, maximum=3)
        set_conv_geometry(self, in_channels, out_channels, self.ndim, kernel_size, stride, padding,
                          padding_mode)
        self.rank = check_int(rank, "rank", minimum=1)
        fan_in = self.in_channels * math.prod(self.kernel_size)
        std = (1.0 / (3.0 * fan_in * self.rank)) ** (1.0 / (2 * self.ndim))
        for d, k in enumerate(self.kernel_size):
            shape = (self.out_channels, self.in_channels, self.rank, k)
            self.add_parameter(f"filter_{d}", self.rng.normal(0.0, std, shape))
        self.has_bias = bool(bias)
        if self.has_bias:
            bound = 1.0 / math.sqrt(fan_in)
            self.add_parameter("bias", self.rng.uniform(-bound, bound, size=(self.out_channels,)))
        self._subscripts = [f"ocr{_TAPS[d]}" for d in range(self.ndim)]
        self._out = "oc" + _TAPS[: self.ndim]
        self._cache = None

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"rank={self.rank}, stride={self.stride}, padding={self.padding}, "
            f"padding_mode={self.padding_mode!r}"
        )

    def filters(self) -> list[Any]:
        """The 1D filter arrays ``(out, in, R, k_d)`` (the parameters themselves), one per axis."""
        return [self.params[f"filter_{d}"] for d in range(self.ndim)]

    def kernel(self) -> Any:
        """The dense ``(out, in, *kernel_size)`` kernel the filters represent."""
        return einsum_many(",".join(self._subscripts) + "->" + self._out, *self.filters())

    def forward(self, x):
        x = check_conv_input(self, x, self.in_channels, self.kernel_size, self.padding, self.padding_mode)
        kernel = self.kernel()
        y, cache = conv_forward(x, kernel, self.padding, self.padding_mode, self.stride)
        if self.has_bias:
            y += self.params["bias"].reshape((-1,) + (1,) * self.ndim)
        self._cache = (cache, kernel)
        return y

    def backward(self, grad_out):
        if self._cache is None:
            raise RuntimeError("OneWayConv.backward called before forward")
        cache, kernel = self._cache
        g = grad_out.astype(self.dtype, copy=False)
        if self.has_bias:
            self.grads["bias"] += g.sum(axis=(0, *range(2, g.ndim)))
        dx, dkernel = conv_adjoint(cache, kernel, g)
        filters = self.filters()
        for d in range(self.ndim):
            self.grads[f"filter_{d}"] += einsum_gradient(self._subscripts, self._out, filters, dkernel, d)
        return dx
