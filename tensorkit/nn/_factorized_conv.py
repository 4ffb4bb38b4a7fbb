r"""Convolutions whose kernel is held as CP, Tucker or tensor-train factors (:class:`FactorizedConv`).

The kernel ``K[o, c, *t]`` (output channel, input channel, one tap index per spatial axis) is a
:class:`~tensorkit.nn.FactorizedWeight` with subscripts ``"oixy"`` (2D) or ``"oixyz"`` (3D). The
factorized implementation applies the factors as a sequence of small convolutions, never forming
the kernel; the reconstructed one rebuilds the kernel and runs the dense convolution.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import check_choice, check_int
from ..backend import array_module
from ._conv import conv_adjoint, conv_forward, depthwise_adjoint, depthwise_forward, set_conv_geometry
from ._factorized import FactorizedWeight, einsum_gradient, einsum_many
from ._module import Module
from ._padding import check_conv_input

__all__ = ["CPConv2d", "FactorizedConv"]

CONV_FACTORIZATIONS = ("cp", "tucker", "tt")
IMPLEMENTATIONS = ("factorized", "reconstructed")
_TAP_LETTERS = "xyz"


class FactorizedConv(Module):
    r"""A 2D or 3D convolution whose kernel is held as CP, Tucker or tensor-train factors.

    The layer computes the cross-correlation of :class:`Conv2d` / :class:`Conv3d`
    (``y[b, o, h] = bias[o] + sum_{c, t} K[o, c, t] x_pad[b, c, s h + t]``) with the kernel
    ``K`` of shape ``(out, in, *kernel_size)`` given by its factors (tltorch's ``FactorizedConv``):

    - CP: ``K[o, c, t_1, .., t_d] = sum_r U_o[o, r] U_c[c, r] U_1[t_1, r] ... U_d[t_d, r]``,
      applied as a 1x1 convolution ``in -> R``, one depthwise 1D convolution per spatial axis and a
      1x1 convolution ``R -> out`` (Lebedev et al. 2015);
    - Tucker: ``K = G x_1 U_o x_2 U_c x_3 U_1 ... x_{d+2} U_d``, applied as a 1x1 convolution
      ``in -> R_c``, a dense convolution ``R_c -> R_o`` with the small kernel
      ``G x_3 U_1 ... x_{d+2} U_d`` and a 1x1 convolution ``R_o -> out`` (Kim et al. 2016);
    - TT: ``K[o, c, t_1, .., t_d] = G_0[:, o, :] G_1[:, c, :] G_2[:, t_1, :] ... G_{d+1}[:, t_d, :]``,
      applied as a 1x1 convolution ``in -> R_1 R_2`` channels, one dense 1D convolution per
      spatial axis ``R_{k} -> R_{k+1}`` (batched over ``R_1``), and a 1x1 convolution ``R_1 -> out``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or tuple of ``ndim`` ints
    ndim : {2, 3}
        Spatial dimensions.
    factorization : {"cp", "tucker", "tt"}
    rank : float, int or tuple
        As :func:`tensorkit.decomposition.resolve_rank` for the kernel shape: a float is the
        fraction of the dense kernel's parameter count, an int or tuple explicit.
    implementation : {"factorized", "reconstructed"}
        ``factorized`` applies the factors in sequence (the dense kernel is never formed);
        ``reconstructed`` rebuilds the dense kernel and runs the dense convolution. Both hold the
        same parameters and give the same numbers, so a ``state_dict`` moves between them.
    stride : int or tuple of ``ndim`` ints
    padding : "same", int or tuple of ``ndim`` ints
        ``"same"`` (default) pads ``k // 2`` on each side (odd kernels).
    padding_mode : {"zeros", "periodic"}
    bias : bool
    dtype, random_state
        See :class:`Module`. The factors are drawn normal with the standard deviation that gives the
        implied kernel PyTorch's Conv variance ``1 / (3 fan_in)`` (tltorch's rule; TT lower);
        the bias as PyTorch's.

    Notes
    -----
    Parameters (without bias): CP ``R (out + in + sum_d k_d)`` (the CP weights are folded into the
    factors); Tucker ``prod(R) + out R_o + in R_c + sum_d k_d R_d``; TT ``sum_k R_k n_k R_{k+1}``
    over the modes ``n = (out, in, k_1, .., k_d)``. A float ``rank`` resolves as tensorly does.

    References
    ----------
    V. Lebedev et al., "Speeding-up convolutional neural networks using fine-tuned CP-decomposition",
    ICLR 2015. Y.-D. Kim et al., "Compression of deep convolutional neural networks for fast and low
    power mobile applications", ICLR 2016. J. Kossaifi et al., "Factorized higher-order CNNs with an
    application to spatio-temporal emotion estimation", CVPR 2020 (tltorch).

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.nn import FactorizedConv
    >>> conv = FactorizedConv(4, 8, 3, factorization="tucker", rank=0.5, random_state=0)
    >>> conv(np.ones((2, 4, 16, 16))).shape
    (2, 8, 16, 16)
    >>> conv3 = FactorizedConv(2, 3, 3, ndim=3, factorization="cp", rank=4, stride=2)
    >>> conv3(np.ones((1, 2, 8, 8, 8))).shape, conv3.num_parameters()
    ((1, 3, 4, 4, 4), 59)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        *,
        ndim: int = 2,
        factorization: str = "cp",
        rank: float | int | tuple[int, ...] = 0.5,
        implementation: str = "factorized",
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
        self.factorization = check_choice(factorization, "factorization", CONV_FACTORIZATIONS)
        self.implementation = check_choice(implementation, "implementation", IMPLEMENTATIONS)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = FactorizedWeight(
            shape, factorization, rank, subscripts="oi" + _TAP_LETTERS[: self.ndim], cp_weights=False
        )
        self.rank = self.weight.rank
        fan_in = self.in_channels * math.prod(self.kernel_size)
        # the variance of PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the implied kernel
        std = self.weight.factor_std(math.sqrt(1.0 / (3.0 * fan_in)))
        for spec in self.weight.specs:
            self.add_parameter(spec.name, self.rng.normal(0.0, std, spec.shape))
        self.has_bias = bool(bias)
        if self.has_bias:
            bound = 1.0 / math.sqrt(fan_in)
            self.add_parameter("bias", self.rng.uniform(-bound, bound, size=(self.out_channels,)))
        self._cache = None

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"factorization={self.factorization!r}, rank={self.rank}, "
            f"implementation={self.implementation!r}, stride={self.stride}, padding={self.padding}, "
            f"padding_mode={self.padding_mode!r}"
        )

    def factors(self) -> list[Any]:
        """The factor arrays (the parameters themselves), in ``self.weight.specs`` order."""
        return [self.params[name] for name in self.weight.names]

    def kernel(self) -> Any:
        """The dense ``(out, in, *kernel_size)`` kernel these factors represent."""
        return self.weight.dense(self.factors())

    def weight_tensor(self) -> Any:
        """The kernel as a CPTensor, TuckerTensor or TTTensor sharing the parameter arrays."""
        return self.weight.to_format(self.factors())

    # ------------------------------------------------------------------------------------ forward
    def forward(self, x):
        x = check_conv_input(self, x, self.in_channels, self.kernel_size, self.padding, self.padding_mode)
        geometry = (self.padding, self.padding_mode, self.stride)
        if self.implementation == "reconstructed":
            y, cache = conv_forward(x, self.kernel(), *geometry)
        else:
            run = {"cp": _cp_forward, "tucker": _tucker_forward, "tt": _tt_forward}[self.factorization]
            y, cache = run(x, self.params, geometry)
        if self.has_bias:
            y += self.params["bias"].reshape((-1,) + (1,) * self.ndim)
        self._cache = cache
        return y

    def backward(self, grad_out):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        g = grad_out.astype(self.dtype, copy=False)
        if self.has_bias:
            self.grads["bias"] += g.sum(axis=(0, *range(2, g.ndim)))
        if self.implementation == "reconstructed":
            factors = self.factors()
            dx, dkernel = conv_adjoint(self._cache, self.weight.dense(factors), g)
            grads = dict(zip(self.weight.names, self.weight.factor_gradients(factors, dkernel), strict=True))
        else:
            run = {"cp": _cp_backward, "tucker": _tucker_backward, "tt": _tt_backward}[self.factorization]
            dx, grads = run(self._cache, self.params, g)
        for name, value in grads.items():
            self.grads[name] += value
        return dx


class CPConv2d(FactorizedConv):
    r"""A 2D convolution held a priori in CP form (Lebedev et al. 2015): :class:`FactorizedConv` with
    ``factorization="cp"``, kept for its positional ``rank``.

    ``K[o, c, i, j] = sum_r U_o[o, r] U_c[c, r] U_1[i, r] U_2[j, r]``, applied as a 1x1 convolution
    ``in -> R``, a depthwise ``k x 1`` one, a depthwise ``1 x k`` one and a 1x1 ``R -> out`` (plus
    bias), for ``R (in + out + 2k)`` parameters instead of ``in out k^2``.

    Parameters
    ----------
    in_channels, out_channels, kernel_size : int or tuple
    rank : int
        The CP rank ``R`` (a float is a fraction of the dense kernel's parameter count).
    padding, padding_mode, stride, bias, implementation, dtype, random_state
        As for :class:`FactorizedConv`.

    References
    ----------
    V. Lebedev et al., "Speeding-up convolutional neural networks using fine-tuned CP-decomposition",
    ICLR 2015. Boukraichi et al., arXiv 2304.04964 (CP convolutions for wave simulators).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        rank: int,
        *,
        padding: int | tuple[int, int] | str = "same",
        padding_mode: str = "zeros",
        stride: int | tuple[int, int] = 1,
        bias: bool = True,
        implementation: str = "factorized",
        dtype: Any = np.float64,
        random_state: Any = None,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            ndim=2,
            factorization="cp",
            rank=rank,
            implementation=implementation,
            stride=stride,
            padding=padding,
            padding_mode=padding_mode,
            bias=bias,
            dtype=dtype,
            random_state=random_state,
        )


# ---------------------------------------------------------------------- channel mixing (1x1 conv)
def _mix(matrix, z):
    """``y[b, o, ...] = sum_c M[o, c] z[b, c, ...]`` as one batched matmul."""
    b, c = z.shape[:2]
    return array_module(z).matmul(matrix, z.reshape(b, c, -1)).reshape(b, matrix.shape[0], *z.shape[2:])


def _mix_adjoint(matrix, z, g):
    """``(dz, dM)`` of :func:`_mix`: ``M^T G`` and ``sum_b G_b Z_b^T``."""
    nxp = array_module(z)
    b, c = z.shape[:2]
    g3 = g.reshape(b, matrix.shape[0], -1)
    z3 = z.reshape(b, c, -1)
    dm = nxp.matmul(g3, z3.transpose(0, 2, 1)).sum(axis=0)
    return nxp.matmul(matrix.T, g3).reshape(z.shape), dm


def _on_axis(d: int, ndim: int, value: int, rest: int) -> tuple[int, ...]:
    """A per-axis tuple holding ``value`` on axis ``d`` and ``rest`` elsewhere."""
    return tuple(value if e == d else rest for e in range(ndim))


# --------------------------------------------------------------------------------------------- CP
def _cp_forward(x, params, geometry):
    """1x1 ``in -> R``, a depthwise 1D convolution per spatial axis, 1x1 ``R -> out``."""
    pads, mode, stride = geometry
    ndim = x.ndim - 2
    z = _mix(params["factor_1"].T, x)
    stages = []
    for d in range(ndim):
        taps = params[f"factor_{2 + d}"]
        weight = taps.T.reshape(taps.shape[1], *_on_axis(d, ndim, taps.shape[0], 1))
        z, cache = depthwise_forward(
            z, weight, _on_axis(d, ndim, pads[d], 0), mode, _on_axis(d, ndim, stride[d], 1)
        )
        stages.append((weight, cache))
    y = _mix(params["factor_0"], z)
    return y, (x, stages, z)


def _cp_backward(cache, params, g):
    x, stages, z = cache
    grads = {}
    gz, grads["factor_0"] = _mix_adjoint(params["factor_0"], z, g)
    for d in reversed(range(len(stages))):
        weight, stage = stages[d]
        gz, dweight = depthwise_adjoint(stage, weight, gz)
        grads[f"factor_{2 + d}"] = dweight.reshape(dweight.shape[0], -1).T
    dx, dm = _mix_adjoint(params["factor_1"].T, x, gz)
    grads["factor_1"] = dm.T
    return dx, grads


# ----------------------------------------------------------------------------------------- Tucker
def _tucker_small_kernel(ndim: int) -> tuple[list[str], str]:
    """Subscripts of ``G x_3 U_1 ... x_{d+2} U_d`` (the core with its tap factors, channel ranks
    kept): operands and output."""
    core = "abcde"[: ndim + 2]
    return [core] + [_TAP_LETTERS[d] + core[2 + d] for d in range(ndim)], "ab" + _TAP_LETTERS[:ndim]


def _tucker_forward(x, params, geometry):
    """1x1 ``in -> R_c``, a dense ``R_c -> R_o`` convolution with the small kernel, 1x1 ``R_o -> out``."""
    ndim = x.ndim - 2
    operands = [params["core"]] + [params[f"factor_{2 + d}"] for d in range(ndim)]
    subs, out = _tucker_small_kernel(ndim)
    small = einsum_many(",".join(subs) + "->" + out, *operands)
    z = _mix(params["factor_1"].T, x)
    z2, conv_cache = conv_forward(z, small, *geometry)
    y = _mix(params["factor_0"], z2)
    return y, (x, z2, small, operands, conv_cache)


def _tucker_backward(cache, params, g):
    x, z2, small, operands, conv_cache = cache
    ndim = x.ndim - 2
    grads = {}
    gz2, grads["factor_0"] = _mix_adjoint(params["factor_0"], z2, g)
    gz, dsmall = conv_adjoint(conv_cache, small, gz2)
    subs, out = _tucker_small_kernel(ndim)
    names = ["core"] + [f"factor_{2 + d}" for d in range(ndim)]
    for j, name in enumerate(names):
        grads[name] = einsum_gradient(subs, out, operands, dsmall, j)
    dx, dm = _mix_adjoint(params["factor_1"].T, x, gz)
    grads["factor_1"] = dm.T
    return dx, grads


# --------------------------------------------------------------------------------------------- TT
def _tt_forward(x, params, geometry):
    """1x1 ``in -> R_1 R_2``, one dense 1D ``R_k -> R_{k+1}`` convolution per axis (batched over
    ``R_1``), 1x1 ``R_1 -> out``."""
    pads, mode, stride = geometry
    ndim = x.ndim - 2
    b = x.shape[0]
    core_in = params["core_1"]  # (R_1, in, R_2)
    r1, _, r2 = core_in.shape
    m_in = core_in.transpose(0, 2, 1).reshape(r1 * r2, -1)
    z = _mix(m_in, x)
    z = z.reshape(b * r1, r2, *z.shape[2:])
    stages = []
    for d in range(ndim):
        core = params[f"core_{2 + d}"]  # (R_k, k_d, R_{k+1})
        kernel = core.transpose(2, 0, 1).reshape(
            core.shape[2], core.shape[0], *_on_axis(d, ndim, core.shape[1], 1)
        )
        z, conv_cache = conv_forward(
            z, kernel, _on_axis(d, ndim, pads[d], 0), mode, _on_axis(d, ndim, stride[d], 1)
        )
        stages.append((kernel, conv_cache))
    z = z.reshape(b, r1, *z.shape[2:])
    y = _mix(params["core_0"][0], z)
    return y, (x, m_in, stages, z)


def _tt_backward(cache, params, g):
    x, m_in, stages, z = cache
    b = x.shape[0]
    r1 = z.shape[1]
    grads = {}
    gz, dm = _mix_adjoint(params["core_0"][0], z, g)
    grads["core_0"] = dm[None]
    gz = gz.reshape(b * r1, 1, *gz.shape[2:])
    for d in reversed(range(len(stages))):
        kernel, conv_cache = stages[d]
        gz, dkernel = conv_adjoint(conv_cache, kernel, gz)
        r_in, k, r_out = params[f"core_{2 + d}"].shape
        grads[f"core_{2 + d}"] = dkernel.reshape(r_out, r_in, k).transpose(1, 2, 0)
    gz = gz.reshape(b, -1, *gz.shape[2:])
    dx, dm = _mix_adjoint(m_in, x, gz)
    core_shape = params["core_1"].shape
    grads["core_1"] = dm.reshape(core_shape[0], core_shape[2], core_shape[1]).transpose(0, 2, 1)
    return dx, grads
