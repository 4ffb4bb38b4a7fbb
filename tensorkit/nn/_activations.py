"""Activations with their adjoints: :class:`GELU` (exact or tanh form), :class:`ReLU`, :class:`Tanh`."""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np
from numba import njit, types
from numba.extending import overload

from .._validation import check_choice
from ..backend import array_module, is_numpy_namespace, scipy_for
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
    product ``g GELU'(p)``. On the CPU the erf form runs as one fused Numba pass that writes the
    activation and the slope (float32: rational erf and polynomial exp, absolute errors about 1e-6
    and 3e-7 against float64, like PyTorch's float32 GELU; float64: libm). The slope's buffer is
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
        if residual is not None and gate is None:
            gate = nxp.ones(x.shape[1], dtype=x.dtype)
        if self.approximate == "none" and is_numpy_namespace(nxp):
            slope = self._slope if self._slope is not None and self._slope.shape == x.shape else None
            y, self._slope = gelu_forward(x, bias, residual, gate, overwrite_x=overwrite_x, slope=slope)
            return y
        view = (1, -1) + (1,) * (x.ndim - 2)
        p = x
        if bias is not None:
            p = p + bias.reshape(view)
        if residual is not None:
            p = p + gate.reshape(view) * residual
        if self.approximate == "none":
            y, self._slope = gelu_forward_reference(nxp, _special(nxp), p)
        else:
            y, self._slope = _gelu_tanh(nxp, p)
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


def _special(nxp):
    """``scipy.special`` or ``cupyx.scipy.special``."""
    return importlib.import_module(f"{scipy_for(nxp).__name__}.special")


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


# ------------------------------------------------------------------- the fused GELU kernel (CPU)
# One Numba pass writes the activation and its slope at the shifted input p = x + b + s r (where
# numpy would make several passes, each with a temporary of the full size), next to a plain-array
# reference (the oracle of the tests and the path for other array libraries). float32 evaluates
# Phi with a rational approximation of erf (Eigen's, absolute error about 2e-7) and exp with a
# Cody-Waite reduction and Cephes' polynomial (relative error about 3e-7), both without library
# calls, so that LLVM vectorizes the loop (a libm call per element stays scalar, 30x slower);
# float64 calls libm's erf and exp.
_F = np.float32
# erf(z) ~ z P(z^2) / Q(z^2) on [-4, 4] (clamped; |erf| rounds to 1 beyond in float32)
_EA = tuple(_F(a) for a in (
    -2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
    -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02,
))
_EB = tuple(_F(b) for b in (
    -1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
    -1.42647390514189e-02,
))
_EA0, _EA1, _EA2, _EA3, _EA4, _EA5, _EA6 = _EA
_EB0, _EB1, _EB2, _EB3, _EB4 = _EB
# exp(r) ~ 1 + r + r^2 P(r) on [-ln2 / 2, ln2 / 2] (Cephes expf)
_P0, _P1, _P2, _P3, _P4, _P5 = (_F(p) for p in (
    1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
))
_LOG2E, _LN2_HI, _LN2_LO = _F(1.4426950408889634), _F(0.693359375), _F(-2.12194440e-4)
_RSQRT2, _RSQRT_2PI = _F(0.7071067811865476), _F(0.3989422804014327)
_HALF, _ONE, _FOUR, _SIX = _F(0.5), _F(1.0), _F(4.0), _F(6.0)
# 2^-k for k in 16, 8, 4, 2, 1: the power of two of exp(y), y in [-18, 0], picked bit by bit
(_K16, _S16), (_K8, _S8), (_K4, _S4), (_K2, _S2), (_K1, _S1) = (
    (_F(k), _F(2.0**-k)) for k in (16, 8, 4, 2, 1)
)


# error_model="numpy": no ZeroDivisionError branch, which keeps the loops vectorizable
_JIT = {"cache": True, "nogil": True, "fastmath": True, "error_model": "numpy"}


@njit(fastmath=True, error_model="numpy")
def _cdf32(p):
    z = min(max(p * _RSQRT2, -_FOUR), _FOUR)
    z2 = z * z
    a = z2 * _EA0 + _EA1
    a = z2 * a + _EA2
    a = z2 * a + _EA3
    a = z2 * a + _EA4
    a = z2 * a + _EA5
    a = z2 * a + _EA6
    q = z2 * _EB0 + _EB1
    q = z2 * q + _EB2
    q = z2 * q + _EB3
    q = z2 * q + _EB4
    return _HALF * (_ONE + z * a / q)


@njit(fastmath=True, error_model="numpy")
def _exp32(y):
    """``exp(y)`` for ``y`` in ``[-18, 0]``; the power of two by selects (no bit casts, no calls)."""
    k = np.floor(y * _LOG2E + _HALF)
    r = y - k * _LN2_HI
    r = r - k * _LN2_LO
    p = _P0 * r + _P1
    p = p * r + _P2
    p = p * r + _P3
    p = p * r + _P4
    p = p * r + _P5
    p = p * (r * r) + r + _ONE
    m = -k
    s = _ONE
    take = m >= _K16
    s = _S16 if take else s
    m = m - _K16 if take else m
    take = m >= _K8
    s = s * _S8 if take else s
    m = m - _K8 if take else m
    take = m >= _K4
    s = s * _S4 if take else s
    m = m - _K4 if take else m
    take = m >= _K2
    s = s * _S2 if take else s
    m = m - _K2 if take else m
    return p * (s * _S1 if m >= _K1 else s)


@njit(fastmath=True, error_model="numpy")
def _slope32(p):
    # p phi(p) < 4e-8 beyond |p| = 6: clamping keeps exp's argument in its range
    w = min(max(p, -_SIX), _SIX)
    return _cdf32(p) + w * _RSQRT_2PI * _exp32(-_HALF * w * w)




@njit(fastmath=True, error_model="numpy")
def _cdf64(p):
    return 0.5 * (1.0 + math.erf(p * 0.7071067811865476))


@njit(fastmath=True, error_model="numpy")
def _slope64(p):
    return _cdf64(p) + p * 0.3989422804014327 * math.exp(-0.5 * p * p)


def _gelu_value(p):
    """``p Phi(p)`` (a Numba overload per float type)."""


def _gelu_slope(p):
    """``Phi(p) + p phi(p)`` (a Numba overload per float type)."""


@overload(_gelu_value, jit_options={"fastmath": True, "error_model": "numpy"})
def _gelu_value_typed(p):
    cdf = _cdf32 if p == types.float32 else _cdf64
    return lambda p: p * cdf(p)


@overload(_gelu_slope, jit_options={"fastmath": True, "error_model": "numpy"})
def _gelu_slope_typed(p):
    slope = _slope32 if p == types.float32 else _slope64
    return lambda p: slope(p)


@njit(**_JIT)
def _gelu_inplace(x, slopes, bias, residual, gate):
    """``x <- GELU(p)``, ``slopes <- GELU'(p)`` at ``p = x + bias[c] + gate[c] residual`` over
    ``(batch, channels, points)`` arrays; ``residual=None`` drops the last term."""
    n_batch, n_channels, n_points = x.shape
    for a in range(n_batch):
        for c in range(n_channels):
            b = bias[c]
            xr, dr = x[a, c], slopes[a, c]
            if residual is None:
                for i in range(n_points):
                    p = xr[i] + b
                    dr[i] = _gelu_slope(p)
                    xr[i] = _gelu_value(p)
            else:
                s, rr = gate[c], residual[a, c]
                for i in range(n_points):
                    p = xr[i] + b + s * rr[i]
                    dr[i] = _gelu_slope(p)
                    xr[i] = _gelu_value(p)


@njit(**_JIT)
def _gelu_into(x, y, slopes):
    """``y <- GELU(x)``, ``slopes <- GELU'(x)`` over flat arrays."""
    for i in range(x.size):
        p = x[i]
        slopes[i] = _gelu_slope(p)
        y[i] = _gelu_value(p)


def gelu_forward(x, bias=None, residual=None, gate=None, *, overwrite_x=False, slope=None):
    """``(GELU(p), GELU'(p))`` at ``p = x + bias[c] + gate[c] residual`` (erf form), one Numba pass.

    ``x`` and ``residual``: C-contiguous numpy float32 or float64 arrays ``(batch, channels,
    *points)``; ``bias``, ``gate``: ``(channels,)`` or None (``gate`` is needed with ``residual``).
    With ``overwrite_x`` the activation is written into ``x``; ``slope`` is an array to write the
    slope into (a new one when None).
    """
    if slope is None:
        slope = np.empty_like(x)
    if bias is None and residual is None and not overwrite_x:
        y = np.empty_like(x)
        _gelu_into(x.reshape(-1), y.reshape(-1), slope.reshape(-1))
        return y, slope
    y = x if overwrite_x else x.copy()
    shape = (x.shape[0], x.shape[1], -1) if x.ndim >= 2 else (1, 1, -1)
    n_channels = x.shape[1] if x.ndim >= 2 else 1
    zeros = np.zeros(n_channels, dtype=x.dtype)
    _gelu_inplace(
        y.reshape(shape),
        slope.reshape(shape),
        zeros if bias is None else np.ascontiguousarray(bias, dtype=x.dtype),
        None if residual is None else np.ascontiguousarray(residual, dtype=x.dtype).reshape(shape),
        zeros if gate is None else np.ascontiguousarray(gate, dtype=x.dtype),
    )
    return y, slope


def gelu_forward_reference(nxp, special, x, bias=None, residual=None, gate=None):
    """Plain-array :func:`gelu_forward` (``special``: ``scipy.special`` or ``cupyx.scipy.special``)."""
    view = (1, -1) + (1,) * (x.ndim - 2)
    p = x
    if bias is not None:
        p = p + bias.reshape(view)
    if residual is not None:
        p = p + gate.reshape(view) * residual
    cdf = 0.5 * (1.0 + special.erf(p * (1.0 / math.sqrt(2.0))))
    return p * cdf, cdf + p * (1.0 / math.sqrt(2.0 * math.pi)) * nxp.exp(-0.5 * p * p)
