"""Activations with their adjoints: :class:`GELU` (exact or tanh form), :class:`ReLU`, :class:`Tanh`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._kernels import gelu_erf
from .._validation import check_choice
from ..backend import array_module, resolve_backend
from ._module import Module

__all__ = ["GELU", "ReLU", "Tanh"]


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
        self.approximate = check_choice(approximate, "approximate", ("none", "tanh"))
        self._x = None
        self._cdf = None

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def forward(self, x):
        x = self._as_input(x)
        nxp = array_module(x)
        if self.approximate == "none":
            y, cdf = gelu_erf(x, resolve_backend(None, x))
        else:
            c = x.dtype.type(math.sqrt(2.0 / math.pi))
            cdf = x * x
            cdf *= x.dtype.type(0.044715)
            cdf += 1
            cdf *= x
            cdf *= c
            nxp.tanh(cdf, out=cdf)
            cdf += 1
            cdf *= x.dtype.type(0.5)
            y = x * cdf
        self._x, self._cdf = x, cdf
        return y

    def backward(self, grad_out):
        if self._x is None:
            raise RuntimeError("GELU.backward called before forward")
        grad_out = self._as_grad(grad_out, self._x.shape)
        nxp = array_module(self._x)
        x, cdf = self._x, self._cdf
        t = x.dtype.type
        if self.approximate == "none":
            # d/dx [x Phi(x)] = Phi(x) + x phi(x)
            d = x * x
            d *= t(-0.5)
            nxp.exp(d, out=d)
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
        return self._as_grad(grad_out, self._mask.shape) * self._mask


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
        return self._as_grad(grad_out, self._y.shape) * (1 - self._y * self._y)

