"""Band-limited layers for resolution-consistent operators: a low-pass filter and an anti-aliased GELU.

A pointwise nonlinearity applied to grid samples creates frequencies the grid cannot hold; they fold
back (alias) onto the kept modes, differently at every resolution, which is one reason an operator
trained at one resolution errs at another (Bartolucci et al., "Representation equivalent neural
operators", NeurIPS 2023; the convolutional neural operator, CNO, Raonic et al. 2023). Both layers
act on periodic samples along the trailing 1 or 2 axes of ``(batch, channels, *spatial)``, through
the trigonometric interpolant of the samples restricted to the frequencies ``|k| <= cutoff`` (``k`` in
cycles per period, so a cutoff means the same physical band on every grid of the same period).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkit.extend import array_module, check_int
from tensorkit.nn import GELU, Module

__all__ = ["AntialiasedGELU", "BandLimit", "trigonometric_matrix"]


def trigonometric_matrix(n_in: int, n_out: int, cutoff: int) -> np.ndarray:
    """Matrix ``M`` (n_out, n_in) mapping periodic samples to samples of their band-limited interpolant.

    With ``x_j`` at ``j / n_in`` and ``t_r = r / n_out`` (one period), ``(M x)_r = p(t_r)`` for the
    trigonometric interpolant restricted to ``|k| <= K``:

    .. math::

        M_{rj} = \\frac{1}{n_\\text{in}} \\Big(1 + \\sum_{k=1}^{K} c_k
        \\cos\\big(2 \\pi k (n_\\text{in} t_r - j) / n_\\text{in}\\big)\\Big),

    ``c_k = 2`` except ``c_k = 1`` for the input's Nyquist frequency ``2k = n_in`` (its sine part is
    not sampled). ``K = min(cutoff, n_in // 2)``; ``n_out == n_in`` with ``K = n_in // 2`` is the
    identity, a smaller ``K`` an ideal (symmetric) low-pass filter.

    Examples
    --------
    >>> import numpy as np
    >>> from operators._antialias import trigonometric_matrix
    >>> np.allclose(trigonometric_matrix(8, 8, 4), np.eye(8))
    True
    >>> x = np.cos(2 * np.pi * np.arange(6) / 6)          # one mode: interpolated exactly
    >>> np.allclose(trigonometric_matrix(6, 12, 3) @ x, np.cos(2 * np.pi * np.arange(12) / 12))
    True
    """
    n_in = check_int(n_in, "n_in", minimum=1)
    n_out = check_int(n_out, "n_out", minimum=1)
    cutoff = min(check_int(cutoff, "cutoff", minimum=0), n_in // 2)
    k = np.arange(1, cutoff + 1)
    weights = np.where(2 * k == n_in, 1.0, 2.0)
    shift = np.arange(n_out)[:, None] * (n_in / n_out) - np.arange(n_in)[None, :]  # (n_out, n_in)
    phase = 2.0 * np.pi * shift[..., None] * k / n_in
    return (1.0 + (weights * np.cos(phase)).sum(axis=-1)) / n_in


class _PerAxis:
    """Apply one matrix per trailing spatial axis (1 or 2 of them) and its adjoint, cached per grid."""

    def __init__(self, build):
        self.build = build  # (n) -> matrix (n_out, n)
        self._cache: dict[tuple, Any] = {}

    def matrices(self, x: Any) -> list[Any]:
        spatial = tuple(int(s) for s in x.shape[2:])
        key = (spatial, np.dtype(x.dtype).str, type(x).__module__)
        if key not in self._cache:
            nxp = array_module(x)
            self._cache[key] = [nxp.asarray(self.build(n).astype(x.dtype)) for n in spatial]
        return self._cache[key]

    @staticmethod
    def apply(x: Any, mats: list[Any], adjoint: bool = False) -> Any:
        if adjoint:
            mats = [m.T for m in mats]
        if len(mats) == 1:
            return x @ mats[0].T
        return mats[0] @ x @ mats[1].T


def _check_spatial(module: Module, x: Any) -> None:
    if x.ndim not in (3, 4) or 0 in x.shape[2:]:
        raise ValueError(
            f"{type(module).__name__} expects x of shape (batch, channels, n) or (batch, channels, n, n) "
            f"with n >= 1, got {tuple(x.shape)}"
        )


def _per_channel(value: Any, name: str, channels: int) -> Any:
    if not hasattr(value, "shape") or not hasattr(value, "reshape"):
        raise TypeError(f"{name} must be a numpy or CuPy array, got {type(value).__name__}")
    if tuple(value.shape) != (channels,):
        raise ValueError(f"{name} must have shape ({channels},) (one per channel), got {tuple(value.shape)}")
    return value


class BandLimit(Module):
    """Low-pass filter: keep the Fourier modes ``|k_d| <= cutoff`` of every spatial axis.

    ``y = M_0 x M_1^T`` with ``M`` the symmetric matrix of :func:`trigonometric_matrix` (``n`` to
    ``n``); the filter is its own adjoint. Filtering the input of an operator to the band of the grid
    it was trained on ("band-limited input") makes a finer grid present the same function to it.

    Parameters
    ----------
    cutoff : int
        Highest kept frequency (cycles per period), >= 0; on a grid of ``n <= 2 cutoff`` points the
        filter is the identity along that axis.
    dtype
        See :class:`tensorkit.nn.Module`.

    Examples
    --------
    >>> import numpy as np
    >>> from operators._antialias import BandLimit
    >>> s = 2 * np.pi * np.arange(16) / 16
    >>> x = (np.cos(s) + np.cos(5 * s)).reshape(1, 1, 16)
    >>> np.allclose(BandLimit(3)(x), np.cos(s))
    True
    """

    def __init__(self, cutoff: int, *, dtype: Any = np.float64):
        super().__init__(dtype=dtype)
        self.cutoff = check_int(cutoff, "cutoff", minimum=0)
        self._filter = _PerAxis(lambda n: trigonometric_matrix(n, n, self.cutoff))
        self._mats = None

    def extra_repr(self) -> str:
        return f"cutoff={self.cutoff}"

    def forward(self, x: Any) -> Any:
        x = self._as_input(x)
        _check_spatial(self, x)
        self._mats = self._filter.matrices(x)
        self._shape = x.shape
        return self._filter.apply(x, self._mats)

    def backward(self, grad_out: Any) -> Any:
        if self._mats is None:
            raise RuntimeError("BandLimit.backward called before forward")
        return self._filter.apply(self._as_grad(grad_out, self._shape), self._mats, adjoint=True)


class AntialiasedGELU(Module):
    """GELU evaluated on a finer grid and low-passed back: ``y = D GELU(U x)`` (CNO's activation).

    ``U`` interpolates the samples trigonometrically onto a grid ``oversample`` times finer (all
    modes of the input grid), GELU acts pointwise there, and ``D`` samples the result back on the
    input grid keeping the frequencies ``|k| <= cutoff`` (default: those below the input grid's
    Nyquist frequency). The harmonics GELU creates above the cutoff are removed instead of aliased;
    with a fixed ``cutoff`` the layer computes the same band-limited function on every grid fine
    enough to hold it. The adjoint is ``U^T (GELU'(U x) * D^T g)``.

    Parameters
    ----------
    cutoff : int or None
        Highest frequency kept after the activation; None: ``(n - 1) // 2`` on a grid of ``n``.
    oversample : int
        Refinement of the grid the activation is evaluated on, >= 1 (2 as CNO).
    dtype
        See :class:`tensorkit.nn.Module`.

    Examples
    --------
    >>> import numpy as np
    >>> from operators._antialias import AntialiasedGELU
    >>> x = np.cos(2 * np.pi * np.arange(32) / 32).reshape(1, 1, 32)
    >>> y = AntialiasedGELU(cutoff=4)(x)
    >>> y.shape, bool(np.abs(np.fft.rfft(y[0, 0])[5:]).max() < 1e-12)
    ((1, 1, 32), True)
    """

    def __init__(self, cutoff: int | None = None, oversample: int = 2, *, dtype: Any = np.float64):
        super().__init__(dtype=dtype)
        self.cutoff = None if cutoff is None else check_int(cutoff, "cutoff", minimum=0)
        self.oversample = check_int(oversample, "oversample", minimum=1)
        self.add_module("gelu", GELU(dtype=self.dtype))
        self._up = _PerAxis(lambda n: trigonometric_matrix(n, self.oversample * n, n // 2))
        self._down = _PerAxis(lambda n: trigonometric_matrix(self.oversample * n, n, self._band(n)))
        self._mats = None

    def _band(self, n: int) -> int:
        band = (n - 1) // 2
        return band if self.cutoff is None else min(self.cutoff, band)

    def extra_repr(self) -> str:
        return f"cutoff={self.cutoff}, oversample={self.oversample}"

    def forward(self, x: Any) -> Any:
        x = self._as_input(x)
        _check_spatial(self, x)
        up, down = self._up.matrices(x), self._down.matrices(x)
        self._mats = (up, down)
        self._shape = x.shape
        fine = self._modules["gelu"].forward(_PerAxis.apply(x, up))
        return _PerAxis.apply(fine, down)

    def forward_shifted(self, x: Any, bias: Any = None, residual: Any = None, gate: Any = None, *,
                        overwrite_x: bool = False) -> Any:
        """The layer at ``p = x + bias + gate * residual`` (:meth:`tensorkit.nn.GELU.forward_shifted`'s
        signature, so that it stands in for a GELU anywhere); :meth:`backward` returns ``dL/dp``."""
        x = self._as_input(x)
        _check_spatial(self, x)
        view = (1, -1) + (1,) * (x.ndim - 2)
        # shapes checked: a (3,) bias on 1 channel or a smaller residual would broadcast silently
        bias, gate = (None if v is None else _per_channel(v, name, x.shape[1])
                      for v, name in ((bias, "bias"), (gate, "gate")))
        p = x if bias is None else x + bias.reshape(view)
        if residual is not None:
            if not hasattr(residual, "shape") or tuple(residual.shape) != tuple(x.shape):
                raise ValueError(f"residual must be an array of x's shape {tuple(x.shape)}, got "
                                 f"{getattr(residual, 'shape', type(residual).__name__)}")
            p = p + (residual if gate is None else gate.reshape(view) * residual)
        y = self.forward(p)
        if overwrite_x:
            x[...] = y
            return x
        return y

    def backward(self, grad_out: Any, *, overwrite: bool = False) -> Any:
        """``dL/dx``; ``overwrite`` is accepted for GELU's signature (a new array is returned)."""
        if self._mats is None:
            raise RuntimeError("AntialiasedGELU.backward called before forward")
        up, down = self._mats
        g = _PerAxis.apply(self._as_grad(grad_out, self._shape), down, adjoint=True)
        g = self._modules["gelu"].backward(g)
        return _PerAxis.apply(g, up, adjoint=True)
