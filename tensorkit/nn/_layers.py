"""Layers with hand-written adjoints: Linear (1x1 convolution), Conv2d, CPConv2d, activations,
Sequential and Residual composition.

Arrays are shaped ``(batch, channels, *spatial)``. Every contraction is one (batched) matmul over a
``(batch, channels, spatial)`` view, so BLAS sees long rows and there is no Python loop over the batch.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .._kernels import gelu_erf
from ..backend import resolve_backend
from ._module import Module, array_module

__all__ = ["GELU", "CPConv2d", "Conv2d", "Linear", "ReLU", "Residual", "Sequential", "Tanh"]

PADDING_MODES = ("zeros", "periodic")


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _uniform(rng, bound: float, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(-bound, bound, size=shape)


# ------------------------------------------------------------------------------------ Linear
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
        self.in_features = _check_positive_int(in_features, "in_features")
        self.out_features = _check_positive_int(out_features, "out_features")
        if not isinstance(axis, numbers.Integral):
            raise TypeError(f"axis must be an int, got {axis!r}")
        self.axis = int(axis)
        bound = 1.0 / math.sqrt(self.in_features)
        self.add_parameter("weight", _uniform(self.rng, bound, (self.out_features, self.in_features)))
        self.has_bias = bool(bias)
        if self.has_bias:
            self.add_parameter("bias", _uniform(self.rng, bound, (self.out_features,)))
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
        x = self._as_input(x)
        axis, pre, post = self._view(x)
        xp = array_module(x)
        w = self.params["weight"]
        if post == 1:
            x2 = x.reshape(pre, self.in_features)
            y = x2 @ w.T
            if self.has_bias:
                y += self.params["bias"]
        else:
            x3 = x.reshape(pre, self.in_features, post)
            y = xp.matmul(w, x3)
            if self.has_bias:
                y += self.params["bias"][:, None]
        self._x = x
        return y.reshape((*x.shape[:axis], self.out_features, *x.shape[axis + 1:]))

    def backward(self, grad_out):
        x = self._x
        if x is None:
            raise RuntimeError("Linear.backward called before forward")
        _, pre, post = self._view(x)
        xp = array_module(x)
        w = self.params["weight"]
        grad_out = grad_out.astype(w.dtype, copy=False)
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
            self.grads["weight"] += xp.matmul(g, x3.transpose(0, 2, 1)).sum(axis=0)
            if self.has_bias:
                self.grads["bias"] += g.sum(axis=(0, 2))
            dx = xp.matmul(w.T, g)
        return dx.reshape(x.shape)


# ------------------------------------------------------------------------------------ padding
def _pad_axis(x, axis: int, before: int, after: int, mode: str):
    """Pad one axis with zeros or periodically (``before``/``after`` at most the axis length)."""
    if before == 0 and after == 0:
        return x
    xp = array_module(x)
    n = x.shape[axis]
    if mode == "periodic":
        parts = []
        if before:
            parts.append(_take(x, axis, n - before, n))
        parts.append(x)
        if after:
            parts.append(_take(x, axis, 0, after))
        return xp.concatenate(parts, axis=axis)
    shape = list(x.shape)
    shape[axis] = n + before + after
    out = xp.zeros(shape, dtype=x.dtype)
    index = [slice(None)] * x.ndim
    index[axis] = slice(before, before + n)
    out[tuple(index)] = x
    return out


def _pad_axis_adjoint(g, axis: int, before: int, after: int, mode: str):
    """Adjoint of :func:`_pad_axis`: crop, and for periodic padding fold the margins back in."""
    if before == 0 and after == 0:
        return g
    n = g.shape[axis] - before - after
    out = _take(g, axis, before, before + n).copy()
    if mode == "periodic":
        if before:
            _take(out, axis, n - before, n)[...] += _take(g, axis, 0, before)
        if after:
            _take(out, axis, 0, after)[...] += _take(g, axis, before + n, before + n + after)
    return out


def _take(x, axis: int, start: int, stop: int):
    index = [slice(None)] * x.ndim
    index[axis] = slice(start, stop)
    return x[tuple(index)]


def _check_padding(padding: Any, kernel_size: int, padding_mode: str) -> int:
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    if padding == "same":
        if kernel_size % 2 == 0:
            raise ValueError(f"padding='same' needs an odd kernel_size, got {kernel_size}")
        return kernel_size // 2
    if isinstance(padding, (bool, np.bool_)) or not isinstance(padding, numbers.Integral) or padding < 0:
        raise ValueError(f"padding must be 'same' or a non-negative int, got {padding!r}")
    return int(padding)


class _Conv2dBase(Module):
    """Shared input checks and padding of the 2D convolutions (stride 1)."""

    def _setup(self, in_channels, out_channels, kernel_size, padding, padding_mode):
        self.in_channels = _check_positive_int(in_channels, "in_channels")
        self.out_channels = _check_positive_int(out_channels, "out_channels")
        self.kernel_size = _check_positive_int(kernel_size, "kernel_size")
        self.padding_mode = padding_mode
        self.padding = _check_padding(padding, self.kernel_size, padding_mode)

    def _check(self, x):
        x = self._as_input(x)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__} expects input of shape (batch, {self.in_channels}, H, W), "
                f"got {tuple(x.shape)}"
            )
        p, k = self.padding, self.kernel_size
        for axis in (2, 3):
            n = x.shape[axis]
            if self.padding_mode == "periodic" and p > n:
                raise ValueError(f"periodic padding {p} exceeds the input size {n} on axis {axis}")
            if n + 2 * p < k:
                raise ValueError(
                    f"input of shape {tuple(x.shape)} padded by {p} is smaller than the kernel {k}"
                )
        return x

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"padding={self.padding}, padding_mode={self.padding_mode!r}"
        )


# ------------------------------------------------------------------------------------ Conv2d
class Conv2d(_Conv2dBase):
    r"""2D cross-correlation (stride 1) with zero or periodic padding, like ``torch.nn.Conv2d``.

    ``y[b, o, h, w] = bias[o] + sum_{c, i, j} K[o, c, i, j] x_pad[b, c, h + i, w + j]``.

    Parameters
    ----------
    in_channels, out_channels, kernel_size : int
    padding : "same" or int
        ``"same"`` (default) pads ``kernel_size // 2`` on each side (odd kernels).
    padding_mode : {"zeros", "periodic"}
        ``"periodic"`` wraps around (PyTorch's ``"circular"``).
    bias : bool
    dtype, random_state
        See :class:`Module`; PyTorch's initialization ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

    Notes
    -----
    Shifted matmuls without im2col: with the padded input flattened per channel (row length
    ``Wp``), tap ``(i, j)`` of the kernel reads the contiguous window starting at ``i Wp + j``, so
    ``Y = sum_ij K_ij X[:, off_ij : off_ij + H_out Wp]`` is ``k^2`` batched matmuls on views of one
    buffer, computed on an ``H_out x Wp`` grid whose last ``Wp - W_out`` columns are dropped. The
    adjoint adds ``K_ij^T G`` back into the same windows; ``dK_ij = sum_b G_b X_b[:, window]^T``.
    Memory stays at the size of the input (im2col would need ``k^2`` times that).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        padding: int | str = "same",
        padding_mode: str = "zeros",
        bias: bool = True,
        dtype: Any = np.float64,
        random_state: Any = None,
    ):
        super().__init__(dtype=dtype, random_state=random_state)
        self._setup(in_channels, out_channels, kernel_size, padding, padding_mode)
        k = self.kernel_size
        bound = 1.0 / math.sqrt(self.in_channels * k * k)
        self.add_parameter("weight", _uniform(self.rng, bound, (self.out_channels, self.in_channels, k, k)))
        self.has_bias = bool(bias)
        if self.has_bias:
            self.add_parameter("bias", _uniform(self.rng, bound, (self.out_channels,)))
        self._flat = None
        self._in_shape = None

    def forward(self, x):
        x = self._check(x)
        xp = array_module(x)
        p, k = self.padding, self.kernel_size
        b, c, h, w = x.shape
        hp, wp = h + 2 * p, w + 2 * p
        ho, wo = hp - k + 1, wp - k + 1
        length = ho * wp
        # k - 1 trailing zeros: the last windows overrun only into output columns that are dropped
        flat = xp.zeros((b, c, hp * wp + k - 1), dtype=x.dtype)
        _pad_into(x, flat[:, :, : hp * wp].reshape(b, c, hp, wp), p, self.padding_mode)
        taps = xp.ascontiguousarray(self.params["weight"].transpose(2, 3, 0, 1))
        out = xp.empty((b, self.out_channels, length), dtype=x.dtype)
        tmp = xp.empty_like(out) if k > 1 else None
        for i in range(k):
            for j in range(k):
                window = flat[:, :, i * wp + j: i * wp + j + length]
                if i == 0 and j == 0:
                    xp.matmul(taps[i, j], window, out=out)
                else:
                    xp.matmul(taps[i, j], window, out=tmp)
                    out += tmp
        if self.has_bias:
            out += self.params["bias"][:, None]
        self._flat = flat
        self._in_shape = x.shape
        return xp.ascontiguousarray(out.reshape(b, self.out_channels, ho, wp)[:, :, :, :wo])

    def backward(self, grad_out):
        if self._flat is None:
            raise RuntimeError("Conv2d.backward called before forward")
        xp = array_module(self._flat)
        flat = self._flat
        b, c, h, w = self._in_shape
        p, k = self.padding, self.kernel_size
        hp, wp = h + 2 * p, w + 2 * p
        ho, wo = hp - k + 1, wp - k + 1
        length = ho * wp
        weight = self.params["weight"]
        g = grad_out.astype(weight.dtype, copy=False)
        if self.has_bias:
            self.grads["bias"] += g.sum(axis=(0, 2, 3))
        gflat = xp.zeros((b, self.out_channels, ho, wp), dtype=weight.dtype)
        gflat[:, :, :, :wo] = g
        gflat = gflat.reshape(b, self.out_channels, length)
        taps_t = xp.ascontiguousarray(weight.transpose(2, 3, 1, 0))
        dflat = xp.zeros_like(flat)
        tmp = xp.empty((b, c, length), dtype=weight.dtype)
        dweight = self.grads["weight"]
        for i in range(k):
            for j in range(k):
                off = i * wp + j
                window = flat[:, :, off: off + length]
                dweight[:, :, i, j] += xp.matmul(gflat, window.transpose(0, 2, 1)).sum(axis=0)
                xp.matmul(taps_t[i, j], gflat, out=tmp)
                dflat[:, :, off: off + length] += tmp
        dxpad = dflat[:, :, : hp * wp].reshape(b, c, hp, wp)
        return _pad_axis_adjoint(
            _pad_axis_adjoint(dxpad, 3, p, p, self.padding_mode), 2, p, p, self.padding_mode
        )


def _pad_into(x, out, p: int, mode: str) -> None:
    """Write ``x`` padded by ``p`` on both spatial axes into ``out`` (already zero)."""
    h, w = x.shape[-2:]
    out[..., p: p + h, p: p + w] = x
    if mode == "periodic" and p:
        out[..., :p, p: p + w] = x[..., h - p:, :]
        out[..., p + h:, p: p + w] = x[..., :p, :]
        out[..., :, :p] = out[..., :, w: w + p]
        out[..., :, p + w:] = out[..., :, p: 2 * p]


# ------------------------------------------------------------------------------------ CPConv2d
class CPConv2d(_Conv2dBase):
    r"""A k x k convolution held a priori in CP form, as four one-way filters (Lebedev et al. 2015).

    The kernel is never stored densely:
    ``K[o, c, i, j] = sum_r last[o, r] first[r, c] vertical[r, i] horizontal[r, j]``, applied as
    a 1x1 convolution ``in -> R``, a depthwise ``k x 1`` one, a depthwise ``1 x k`` one and a 1x1
    ``R -> out`` (plus bias). It equals :class:`Conv2d` with that kernel (same padding rules), for
    ``R (in + out + 2k)`` parameters instead of ``in out k^2``.

    Parameters
    ----------
    in_channels, out_channels, kernel_size : int
    rank : int
        The CP rank ``R``.
    padding, padding_mode, bias, dtype, random_state
        As for :class:`Conv2d`. The factors are initialized so that the entries of the implied
        kernel have the variance of PyTorch's Conv2d initialization.

    References
    ----------
    V. Lebedev et al., "Speeding-up convolutional neural networks using fine-tuned CP-decomposition",
    ICLR 2015. Boukraichi et al., arXiv 2304.04964 (CP convolutions for wave simulators).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        rank: int,
        *,
        padding: int | str = "same",
        padding_mode: str = "zeros",
        bias: bool = True,
        dtype: Any = np.float64,
        random_state: Any = None,
    ):
        super().__init__(dtype=dtype, random_state=random_state)
        self._setup(in_channels, out_channels, kernel_size, padding, padding_mode)
        self.rank = _check_positive_int(rank, "rank")
        k, r = self.kernel_size, self.rank
        fan_in = self.in_channels * k * k
        # Var(K) = R * prod(factor variances) = 1 / (3 fan_in), PyTorch's uniform-bound variance
        std = (1.0 / (3.0 * fan_in * r)) ** 0.125
        self.add_parameter("first", self.rng.normal(0.0, std, (r, self.in_channels)))
        self.add_parameter("vertical", self.rng.normal(0.0, std, (r, k)))
        self.add_parameter("horizontal", self.rng.normal(0.0, std, (r, k)))
        self.add_parameter("last", self.rng.normal(0.0, std, (self.out_channels, r)))
        self.has_bias = bool(bias)
        if self.has_bias:
            bound = 1.0 / math.sqrt(fan_in)
            self.add_parameter("bias", _uniform(self.rng, bound, (self.out_channels,)))
        self._cache = None

    def extra_repr(self) -> str:
        return super().extra_repr() + f", rank={self.rank}"

    def kernel(self):
        """The dense ``(out, in, k, k)`` kernel these factors represent."""
        xp = array_module(self.params["first"])
        return xp.einsum(
            "or,rc,ri,rj->ocij",
            self.params["last"],
            self.params["first"],
            self.params["vertical"],
            self.params["horizontal"],
        )

    def forward(self, x):
        x = self._check(x)
        xp = array_module(x)
        b, c, h, w = x.shape
        p, k, r = self.padding, self.kernel_size, self.rank
        y1 = xp.matmul(self.params["first"], x.reshape(b, c, h * w)).reshape(b, r, h, w)
        y1p = _pad_axis(y1, 2, p, p, self.padding_mode)
        ho = h + 2 * p - k + 1
        vert = self.params["vertical"]
        y2 = vert[None, :, 0, None, None] * y1p[:, :, 0:ho]
        for i in range(1, k):
            y2 += vert[None, :, i, None, None] * y1p[:, :, i:i + ho]
        y2p = _pad_axis(y2, 3, p, p, self.padding_mode)
        wo = w + 2 * p - k + 1
        horiz = self.params["horizontal"]
        y3 = horiz[None, :, 0, None, None] * y2p[:, :, :, 0:wo]
        for j in range(1, k):
            y3 += horiz[None, :, j, None, None] * y2p[:, :, :, j:j + wo]
        out = xp.matmul(self.params["last"], y3.reshape(b, r, ho * wo))
        if self.has_bias:
            out += self.params["bias"][:, None]
        self._cache = (x, y1p, y2p, y3)
        return out.reshape(b, self.out_channels, ho, wo)

    def backward(self, grad_out):
        if self._cache is None:
            raise RuntimeError("CPConv2d.backward called before forward")
        x, y1p, y2p, y3 = self._cache
        xp = array_module(x)
        b, c, h, w = x.shape
        p, k, r = self.padding, self.kernel_size, self.rank
        _, _, ho, wo = y3.shape
        last = self.params["last"]
        g = grad_out.astype(last.dtype, copy=False).reshape(b, self.out_channels, ho * wo)
        if self.has_bias:
            self.grads["bias"] += g.sum(axis=(0, 2))
        self.grads["last"] += xp.matmul(g, y3.reshape(b, r, ho * wo).transpose(0, 2, 1)).sum(axis=0)
        g3 = xp.matmul(last.T, g).reshape(b, r, ho, wo)
        horiz = self.params["horizontal"]
        g2p = xp.zeros_like(y2p)
        for j in range(k):
            self.grads["horizontal"][:, j] += xp.einsum("brhw,brhw->r", g3, y2p[:, :, :, j:j + wo])
            g2p[:, :, :, j:j + wo] += horiz[None, :, j, None, None] * g3
        g2 = _pad_axis_adjoint(g2p, 3, p, p, self.padding_mode)
        vert = self.params["vertical"]
        g1p = xp.zeros_like(y1p)
        for i in range(k):
            self.grads["vertical"][:, i] += xp.einsum("brhw,brhw->r", g2, y1p[:, :, i:i + ho])
            g1p[:, :, i:i + ho] += vert[None, :, i, None, None] * g2
        g1 = _pad_axis_adjoint(g1p, 2, p, p, self.padding_mode).reshape(b, r, h * w)
        x3 = x.reshape(b, c, h * w)
        self.grads["first"] += xp.matmul(g1, x3.transpose(0, 2, 1)).sum(axis=0)
        return xp.matmul(self.params["first"].T, g1).reshape(x.shape)


# ------------------------------------------------------------------------------------ activations
class GELU(Module):
    r"""Gaussian error linear unit ``x Phi(x)``.

    Parameters
    ----------
    approximate : {"none", "tanh"}
        ``"none"`` (default, PyTorch's default) uses the exact ``Phi(x) = (1 + erf(x/sqrt 2)) / 2``;
        ``"tanh"`` uses ``Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2``.

    Notes
    -----
    The erf form runs as one fused Numba pass on the CPU (float32: a rational erf approximation
    accurate to about 2e-7 absolute, like PyTorch's float32 GELU; float64: libm's erf).
    ``Phi`` is kept for the adjoint ``g (Phi(x) + x phi(x))``.
    """

    def __init__(self, approximate: str = "none", *, dtype: Any = np.float64, random_state: Any = None):
        super().__init__(dtype=dtype, random_state=random_state)
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate
        self._x = None
        self._cdf = None

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def forward(self, x):
        x = self._as_input(x)
        xp = array_module(x)
        if self.approximate == "none":
            y, cdf = gelu_erf(x, resolve_backend(None, x))
        else:
            c = x.dtype.type(math.sqrt(2.0 / math.pi))
            cdf = x * x
            cdf *= x.dtype.type(0.044715)
            cdf += 1
            cdf *= x
            cdf *= c
            xp.tanh(cdf, out=cdf)
            cdf += 1
            cdf *= x.dtype.type(0.5)
            y = x * cdf
        self._x, self._cdf = x, cdf
        return y

    def backward(self, grad_out):
        if self._x is None:
            raise RuntimeError("GELU.backward called before forward")
        xp = array_module(self._x)
        x, cdf = self._x, self._cdf
        t = x.dtype.type
        if self.approximate == "none":
            # d/dx [x Phi(x)] = Phi(x) + x phi(x)
            d = x * x
            d *= t(-0.5)
            xp.exp(d, out=d)
            d *= t(1.0 / math.sqrt(2.0 * math.pi))
            d *= x
        else:
            # Phi = (1 + tanh u)/2, u = c (x + a x^3): dPhi/dx = (1 - tanh^2 u) c (1 + 3 a x^2) / 2
            c = math.sqrt(2.0 / math.pi)
            tanh_u = 2 * cdf - 1
            d = 1 - tanh_u * tanh_u
            d *= t(0.5 * c) * (1 + t(3 * 0.044715) * x * x)
            d *= x
        d += cdf
        d *= grad_out
        return d


class ReLU(Module):
    """``max(x, 0)``; the gradient at 0 is taken as 0 (as in PyTorch)."""

    _mask = None

    def forward(self, x):
        x = self._as_input(x)
        self._mask = x > 0
        return x * self._mask

    def backward(self, grad_out):
        if self._mask is None:
            raise RuntimeError("ReLU.backward called before forward")
        return grad_out * self._mask


class Tanh(Module):
    """``tanh(x)``, with adjoint ``(1 - tanh^2) g``."""

    _y = None

    def forward(self, x):
        x = self._as_input(x)
        self._y = array_module(x).tanh(x)
        return self._y

    def backward(self, grad_out):
        if self._y is None:
            raise RuntimeError("Tanh.backward called before forward")
        return grad_out * (1 - self._y * self._y)


# ------------------------------------------------------------------------------------ composition
class Sequential(Module):
    """Modules applied in order; ``backward`` runs their adjoints in reverse.

    Children are named ``"0"``, ``"1"``, ... (parameter names ``"0.weight"`` etc.). The dtype is
    taken from the first child.
    """

    def __init__(self, *modules: Module):
        if not modules:
            raise ValueError("Sequential needs at least one module")
        super().__init__(dtype=modules[0].dtype)
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]

    def forward(self, x):
        for m in self._modules.values():
            x = m.forward(x)
        return x

    def backward(self, grad_out):
        for m in reversed(list(self._modules.values())):
            grad_out = m.backward(grad_out)
        return grad_out


class Residual(Module):
    """Skip connection ``y = body(x) + shortcut(x)`` (``shortcut`` is the identity by default).

    Parameters
    ----------
    body : Module
    shortcut : Module, optional
        For example a :class:`Linear` when the channel counts differ.
    """

    def __init__(self, body: Module, shortcut: Module | None = None):
        super().__init__(dtype=body.dtype)
        self.add_module("body", body)
        self.shortcut = shortcut
        if shortcut is not None:
            self.add_module("shortcut", shortcut)

    def forward(self, x):
        y = self._modules["body"].forward(x)
        skip = x if self.shortcut is None else self.shortcut.forward(x)
        if y.shape != skip.shape:
            raise ValueError(
                f"Residual: body output {tuple(y.shape)} and shortcut {tuple(skip.shape)} differ"
            )
        return y + skip

    def backward(self, grad_out):
        dx = self._modules["body"].backward(grad_out)
        if self.shortcut is None:
            return dx + grad_out
        return dx + self.shortcut.backward(grad_out)
