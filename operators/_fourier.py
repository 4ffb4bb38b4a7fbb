"""Truncated real Fourier transforms of SpectralConv and their adjoints: the kept modes only.

Along the last axis the real FFT (or, for few kept modes, one real GEMM with the kept DFT columns);
along each leading axis one GEMM with the kept rows of the DFT matrix. Adjoints (checked against
torch.autograd): the adjoint of ``irfft(., n)`` is ``c * rfft(., dual norm)`` and of ``rfft(., n)`` is
``irfft(. / c, dual norm)``, with ``c = 1`` on column 0 (and the Nyquist column when the length is
even), else 2; the GEMM forms use the transposed matrices.
"""

from __future__ import annotations

import functools
import importlib
import math
from typing import Any

import numpy as np

from tensorkit.extend import is_numpy_namespace, scipy_for

__all__ = [
    "forward_transform",
    "forward_transform_adjoint",
    "inverse_transform",
    "inverse_transform_adjoint",
    "make_plan",
]

_DUAL_NORM = {"forward": "backward", "backward": "forward", "ortho": "ortho"}
# Kept real-FFT columns up to which the last axis is transformed by a GEMM (numpy) instead of an FFT.
_MAX_GEMM_MODES = 32


class _Plan:
    """Index bookkeeping of the truncated transforms for one grid."""

    def __init__(self, spatial: tuple[int, ...], n_modes: tuple[int, ...], dtype: np.dtype):
        self.spatial = spatial
        last = spatial[-1]
        self.m_last = n_modes[-1] // 2 + 1
        if self.m_last > last // 2 + 1:
            raise ValueError(
                f"n_modes={n_modes} keeps {self.m_last} modes of the real FFT along the last axis but a "
                f"grid of {last} points has only {last // 2 + 1}; use a finer grid or fewer modes"
            )
        # c_k: how many times column k of a real FFT stands for itself (1) or for k and -k (2).
        c = np.full(self.m_last, 2.0)
        c[0] = 1.0
        if last % 2 == 0 and self.m_last == last // 2 + 1:
            c[-1] = 1.0
        self.c = c.astype(dtype)
        # Along the last axis only m_last of last // 2 + 1 real-FFT columns are kept: for few modes
        # one real GEMM with the kept DFT columns (cos and -sin interleaved, so the product reads as
        # complex numbers in place) costs less than a full FFT and a gather, and needs no temporary
        # of the full spectrum.
        self.cols = None
        if self.m_last <= _MAX_GEMM_MODES:
            angle = 2 * np.pi * np.outer(np.arange(last), np.arange(self.m_last)) / last
            cols = np.empty((last, 2 * self.m_last))
            cols[:, 0::2], cols[:, 1::2] = np.cos(angle), -np.sin(angle)
            self.cols = cols
        self._scaled: dict = {}
        self.dtype = dtype
        # Along each leading axis only m of n frequencies are kept, -(m // 2) .. m - m // 2 - 1 in
        # increasing order: one GEMM with these rows of the DFT matrix beats a full FFT + gather.
        # rows_dft[k] acts on axis k - len(spatial) (the last spatial axis is the real FFT's).
        self.rows_dft = []
        for k, (n, m) in enumerate(zip(spatial[:-1], n_modes[:-1], strict=True)):
            if m > n:
                raise ValueError(
                    f"n_modes={n_modes} keeps {m} modes along spatial axis {k} but the grid has only {n} "
                    "points there; use a finer grid or fewer modes"
                )
            freqs = np.arange(-(m // 2), m - m // 2)
            self.rows_dft.append(np.exp(-2j * np.pi * np.outer(freqs, np.arange(n)) / n).astype(
                np.result_type(dtype, np.complex64)
            ))

    def leading_axes(self, reverse: bool = False) -> list[tuple[int, np.ndarray]]:
        """``(axis, kept DFT rows)`` of the leading spatial axes, innermost first (or last)."""
        d = len(self.spatial)
        pairs = [(k - d, rows) for k, rows in enumerate(self.rows_dft)][::-1]
        return pairs[::-1] if reverse else pairs

    def columns(self, norm: str, inverse: bool) -> np.ndarray:
        """The kept DFT columns scaled for ``norm``: ``F (n, 2 m)`` of the forward transform, or
        ``G (2 m, n)`` of the inverse (with the real-FFT multiplicities ``c_k``); their transposes are
        the adjoints."""
        key = (norm, inverse)
        if key not in self._scaled:
            cols = self.cols * _scale(norm, self.spatial[-1], inverse)
            if inverse:
                cols = (cols * np.repeat(self.c.astype(np.float64), 2)).T
            self._scaled[key] = np.ascontiguousarray(cols.astype(self.dtype))
        return self._scaled[key]


@functools.lru_cache(maxsize=64)
def make_plan(spatial: tuple[int, ...], n_modes: tuple[int, ...], dtype: np.dtype) -> _Plan:
    return _Plan(spatial, n_modes, dtype)


def _fft(nxp: Any):
    """``scipy.fft`` (on every core) or ``cupyx.scipy.fft``, with its keyword arguments."""
    sp = scipy_for(nxp)
    importlib.import_module(f"{sp.__name__}.fft")
    return sp.fft, ({"workers": -1} if is_numpy_namespace(nxp) else {})


def _scale(norm: str, n: int, inverse: bool) -> float:
    """The factor a transform of length n carries under ``norm`` (numpy's convention)."""
    if norm == "ortho":
        return 1.0 / math.sqrt(n)
    return 1.0 / n if (norm == "forward") != inverse else 1.0


def _rows(nxp, matrix, z, scale, axis, adjoint=False):
    """``scale * M @ z`` (or ``scale * M^H @ z``) along axis ``axis`` (negative) of ``z``, as one GEMM."""
    m = nxp.asarray(matrix)
    if adjoint:
        m = nxp.conj(m.T)
    m = m * m.dtype.type(scale)
    moved = nxp.moveaxis(z, axis, 0)
    out = m @ moved.reshape(z.shape[axis], -1)
    return nxp.moveaxis(out.reshape(m.shape[0], *moved.shape[1:]), 0, axis)


def _gemm_columns(nxp, plan) -> bool:
    """The last axis by a GEMM with the kept DFT columns (numpy: the complex view of a real array)."""
    return plan.cols is not None and is_numpy_namespace(nxp)


def _to_complex(nxp, x, matrix):
    """``x (..., n) @ matrix (n, 2m)`` read as ``m`` complex numbers (columns hold re, im interleaved)."""
    out = nxp.ascontiguousarray(x).reshape(-1, x.shape[-1]) @ nxp.asarray(matrix)
    return out.view(np.complex64 if out.dtype == np.float32 else np.complex128).reshape(
        *x.shape[:-1], matrix.shape[1] // 2
    )


def _to_real(nxp, z, matrix):
    """``z (..., m)`` as ``2m`` reals (re, im interleaved) ``@ matrix (2m, n)``."""
    real = nxp.ascontiguousarray(z)
    real = real.view(np.float32 if real.dtype == np.complex64 else np.float64).reshape(-1, matrix.shape[0])
    return (real @ nxp.asarray(matrix)).reshape(*z.shape[:-1], matrix.shape[1])


def forward_transform(nxp, x, plan, norm):
    """Kept modes of ``rfftn(x)``: rfft along the last axis, truncated, then the kept DFT rows."""
    if _gemm_columns(nxp, plan):
        z = _to_complex(nxp, x, plan.columns(norm, False))
    else:
        fft, kw = _fft(nxp)
        z = fft.rfft(x, axis=-1, norm=norm, **kw)[..., : plan.m_last]
    if not plan.rows_dft:
        return nxp.ascontiguousarray(z)
    for axis, rows in plan.leading_axes():
        z = _rows(nxp, rows, z, _scale(norm, plan.spatial[axis], False), axis)
    return z


def forward_transform_adjoint(nxp, g_hat, plan, norm):
    """Adjoint of :func:`forward_transform`: ``irfft(F^H g / c)`` with the dual normalization."""
    z = g_hat
    for axis, rows in plan.leading_axes(reverse=True):
        z = _rows(nxp, rows, z, _scale(norm, plan.spatial[axis], False), axis, adjoint=True)
    if _gemm_columns(nxp, plan):
        return _to_real(nxp, z, plan.columns(norm, False).T)
    fft, kw = _fft(nxp)
    z = z / nxp.asarray(plan.c)
    return fft.irfft(z, n=plan.spatial[-1], axis=-1, norm=_DUAL_NORM[norm], **kw)


def inverse_transform(nxp, y_hat, plan, norm):
    """``irfftn`` of the kept modes zero-padded to the full grid."""
    z = y_hat
    for axis, rows in plan.leading_axes(reverse=True):
        z = _rows(nxp, rows, z, _scale(norm, plan.spatial[axis], True), axis, adjoint=True)
    if _gemm_columns(nxp, plan):
        return _to_real(nxp, z, plan.columns(norm, True))
    fft, kw = _fft(nxp)
    return fft.irfft(z, n=plan.spatial[-1], axis=-1, norm=norm, **kw)


def inverse_transform_adjoint(nxp, g, plan, norm):
    """Adjoint of :func:`inverse_transform`: ``c * rfft`` then the kept DFT rows, dual normalization."""
    if _gemm_columns(nxp, plan):
        z = _to_complex(nxp, g, plan.columns(norm, True).T)
    else:
        fft, kw = _fft(nxp)
        z = fft.rfft(g, axis=-1, norm=_DUAL_NORM[norm], **kw)[..., : plan.m_last] * nxp.asarray(plan.c)
    for axis, rows in plan.leading_axes():
        z = _rows(nxp, rows, z, _scale(norm, plan.spatial[axis], True), axis)
    return z
