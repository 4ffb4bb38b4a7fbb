"""Activations with their adjoints: :class:`GELU` (exact or tanh form), :class:`ReLU`, :class:`Tanh`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _kernels
from .._kernels.reference import shifted_input
from .._validation import check_choice
from ..backend import array_module, is_numpy_namespace
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
    The forward keeps the slope ``GELU'(p) = Phi(p) + p phi(p)`` (one array), so the adjoint is one
    product ``g GELU'(p)``. The erf form runs as one kernel (``tensorkit._kernels.gelu_shifted``:
    on the CPU one fused Numba pass that writes the activation and the slope, float32 with
    rational erf and polynomial exp, absolute errors about 1e-6 and 3e-7 against float64, like
    PyTorch's float32 GELU; on CuPy its built-ins). The slope's buffer is
    reused by the next forward of the same shape, which the adjoint of the previous one no longer
    needs: a fresh full-size array costs more in page faults than the pass that fills it.
    :meth:`forward_shifted` adds a bias and a gated residual in the same pass.
    """

    def __init__(self, approximate: str = "none", *, dtype: Any = np.float64, random_state: Any = None):
        super().__init__(dtype=dtype, random_state=random_state)
        self.approximate = check_choice(approximate, "approximate", ("none", "tanh"))
        self._slope = None

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def forward(self, x):
        return self.forward_shifted(x)

    def forward_shifted(self, x, bias=None, residual=None, gate=None, *, overwrite_x: bool = False):
        r"""``GELU(p)`` at ``p = x + bias + gate * residual``, in one pass on the CPU.

        Parameters
        ----------
        x : array ``(batch, channels, *points)`` (any shape without ``bias`` and ``residual``)
        bias : array ``(channels,)``, optional
            Added per channel (the bias of the layer before, folded into this pass).
        residual : array of ``x``'s shape, optional
            Added times ``gate`` (a skip connection).
        gate : array ``(channels,)``, optional
            Per-channel weight of ``residual``; None means one.
        overwrite_x : bool
            Write the activation into ``x`` (which must then hold the module dtype and be
            C-contiguous) instead of a new array.

        Returns
        -------
        array
            The activation; :meth:`backward` then returns ``dL/dp``, the gradient with respect to
            ``x`` (and to ``residual`` divided by ``gate``, to ``bias`` summed over the rest).
        """
        x = self._as_input(x)
        if (bias is not None or residual is not None) and x.ndim < 2:
            raise ValueError(f"GELU.forward_shifted: a bias or residual needs x of shape (batch, channels, "
                             f"...), got {tuple(x.shape)}")
        if residual is not None and tuple(residual.shape) != tuple(x.shape):
            raise ValueError(f"GELU.forward_shifted: residual has shape {tuple(residual.shape)}, x has "
                             f"{tuple(x.shape)}")
        for name, value in (("bias", bias), ("gate", gate)):
            if value is not None and tuple(value.shape) != (x.shape[1],):
                raise ValueError(f"GELU.forward_shifted: {name} must have shape ({x.shape[1]},), got "
                                 f"{tuple(value.shape)}")
        if overwrite_x and not x.flags.c_contiguous:
            raise ValueError("GELU.forward_shifted: overwrite_x needs a C-contiguous x")
        nxp = array_module(x)
        if self.approximate == "none":
            slope = self._slope if self._slope is not None and self._slope.shape == x.shape else None
            y, self._slope = _kernels.gelu_shifted(
                x, bias, residual, gate, overwrite_x=overwrite_x, slope=slope,
                backend="numba" if is_numpy_namespace(nxp) else "cupy",
            )
            return y
        y, self._slope = _gelu_tanh(nxp, shifted_input(x, bias, residual, gate))
        if overwrite_x:
            x[...] = y
            return x
        return y

    def backward(self, grad_out, *, overwrite: bool = False):
        """``grad_out * GELU'(p)``; ``overwrite=True`` writes it into ``grad_out`` (which must then
        hold the module dtype)."""
        if self._slope is None:
            raise RuntimeError("GELU.backward called before forward")
        grad_out = self._as_grad(grad_out, self._slope.shape)
        if overwrite:
            grad_out *= self._slope
            return grad_out
        return grad_out * self._slope


def _gelu_tanh(nxp, x):
    """``(x Phi(x), Phi(x) + x Phi'(x))`` with ``Phi(x) = (1 + tanh u) / 2``, ``u = c (x + a x^3)``."""
    t = x.dtype.type
    c = math.sqrt(2.0 / math.pi)
    tanh_u = x * x
    tanh_u *= t(0.044715)
    tanh_u += 1
    tanh_u *= x
    tanh_u *= t(c)
    nxp.tanh(tanh_u, out=tanh_u)
    cdf = (tanh_u + 1) * t(0.5)
    # dPhi/dx = (1 - tanh^2 u) c (1 + 3 a x^2) / 2
    slope = 1 - tanh_u * tanh_u
    slope *= t(0.5 * c) * (1 + t(3 * 0.044715) * x * x)
    slope *= x
    slope += cdf
    return x * cdf, slope


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
