"""Numba kernels of the neural-network layers (:mod:`tensorkit.nn`), re-exported by :mod:`.cpu`.

GELU: one pass writes the activation and its slope at the shifted input ``p = x + b + s r`` (where
numpy would make several passes, each with a temporary of the full size). float32 evaluates Phi
with a rational approximation of erf (Eigen's, absolute error about 2e-7) and exp with a
Cody-Waite reduction and Cephes' polynomial (relative error about 3e-7), both without library
calls, so that LLVM vectorizes the loop (a libm call per element stays scalar, 30x slower);
float64 calls libm's erf and exp. Adam: one pass updates a parameter and both moments.
Convolution taps: each tap is one BLAS GEMM (:func:`blas_gemm`) that adds into its target
(beta = 1) through BLAS's leading dimensions, so windows of the flat buffer are read in place and
no tap needs a temporary or a separate sum.
"""

from __future__ import annotations

import ctypes
import glob
import math
import os

import numpy as np
from numba import njit, types
from numba.extending import get_cython_function_address, overload

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


def gelu_shifted(x, bias=None, residual=None, gate=None, *, overwrite_x=False, slope=None):
    """``(GELU(p), GELU'(p))`` at ``p = x + bias[c] + gate[c] residual`` (erf form), one Numba pass;
    see :func:`tensorkit._kernels.gelu_shifted`."""
    if overwrite_x and not x.flags.c_contiguous:
        raise ValueError("gelu_shifted: overwrite_x needs a C-contiguous x")
    # the passes run over flat views: any other layout is copied once (a reshape of it would copy
    # and the kernel would write into the copy)
    if slope is None or slope.shape != x.shape or slope.dtype != x.dtype or not slope.flags.c_contiguous:
        slope = np.empty(x.shape, dtype=x.dtype)
    if bias is None and residual is None and not overwrite_x:
        y = np.empty(x.shape, dtype=x.dtype)
        _gelu_into(np.ascontiguousarray(x).reshape(-1), y.reshape(-1), slope.reshape(-1))
        return y, slope
    y = x if overwrite_x else np.array(x, order="C", copy=True)
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


@njit(**_JIT)
def _adam_real(p, g, m, v, b1, b2, wd, step, eps):
    for i in range(p.size):
        gi = g[i] + wd * p[i]
        mi = b1 * m[i] + (1 - b1) * gi
        vi = b2 * v[i] + (1 - b2) * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] -= step * mi / (math.sqrt(vi) + eps)


@njit(**_JIT)
def _adam_complex(p, g, m, v, b1, b2, wd, step, eps):
    # p, g, m: (n, 2) real and imaginary parts; v: (n,), the second moment of |g|^2
    for i in range(v.size):
        gr = g[i, 0] + wd * p[i, 0]
        gi = g[i, 1] + wd * p[i, 1]
        mr = b1 * m[i, 0] + (1 - b1) * gr
        mi = b1 * m[i, 1] + (1 - b1) * gi
        vi = b2 * v[i] + (1 - b2) * (gr * gr + gi * gi)
        m[i, 0] = mr
        m[i, 1] = mi
        v[i] = vi
        scale = step / (math.sqrt(vi) + eps)
        p[i, 0] -= scale * mr
        p[i, 1] -= scale * mi


def adam_step(p, g, m, v, *, b1, b2, weight_decay, lr, bias1, bias2, eps):
    """One Adam step in place, one Numba pass; see :func:`tensorkit._kernels.adam_step`.

    The step is taken as ``(lr sqrt(bias2) / bias1) m / (sqrt(v) + eps sqrt(bias2))`` (the same
    number, one division less). Arrays the pass cannot take in place (a gradient of another dtype,
    a non-contiguous array) go through the reference.
    """
    if g.dtype != p.dtype or not all(a.flags.c_contiguous for a in (p, g, m, v)):
        from .reference import adam_step as reference

        return reference(p, g, m, v, b1=b1, b2=b2, weight_decay=weight_decay, lr=lr, bias1=bias1,
                         bias2=bias2, eps=eps)
    t = v.dtype.type
    root = math.sqrt(bias2)
    args = (t(b1), t(b2), t(weight_decay), t(lr / bias1 * root), t(eps * root))
    if p.dtype.kind == "c":
        pairs = [a.reshape(-1).view(v.dtype).reshape(-1, 2) for a in (p, g, m)]
        _adam_complex(*pairs, v.reshape(-1), *args)
    else:
        _adam_real(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), *args)
    return None


# --- convolution taps -----------------------------------------------------------------------------


def conv_taps(flat, taps, offsets, out):
    """``out[b] = sum_t taps[t] @ flat[b, :, off_t : off_t + L]`` by one BLAS GEMM per tap; see
    :func:`tensorkit._kernels.conv_taps`."""
    gemm = _gemm_for(flat, taps, out)
    if gemm is None:
        from .reference import conv_taps as reference

        return reference(flat, taps, offsets, out)
    gemm, int_dtype = gemm
    _, n_in, row = flat.shape
    args = _gemm_args(flat.dtype, int_dtype, out.shape[2], taps.shape[1], n_in, row)
    _taps_forward(gemm, flat, taps, np.asarray(offsets, dtype=np.int64), out, *args)
    return out


def conv_taps_adjoint(flat, taps, offsets, gflat, dflat, dtaps):
    """Adjoint of :func:`conv_taps`, accumulated into ``dflat`` and ``dtaps``; see
    :func:`tensorkit._kernels.conv_taps_adjoint`."""
    gemm = _gemm_for(flat, taps, gflat, dflat, dtaps)
    if gemm is None:
        from .reference import conv_taps_adjoint as reference

        return reference(flat, taps, offsets, gflat, dflat, dtaps)
    gemm, int_dtype = gemm
    _, n_in, row = flat.shape
    args = _gemm_args(flat.dtype, int_dtype, gflat.shape[2], taps.shape[1], n_in, row)
    _taps_adjoint(gemm, flat, taps, np.asarray(offsets, dtype=np.int64), gflat, dflat, dtaps, *args)
    return dflat, dtaps


def _gemm_for(*arrays):
    """The BLAS GEMM of :func:`blas_gemm` when every operand is a C-contiguous numpy array of one
    float32/float64 dtype, else None (the reference then runs)."""
    first = arrays[0]
    if not all(isinstance(a, np.ndarray) and a.dtype == first.dtype and a.flags.c_contiguous for a in arrays):
        return None
    return blas_gemm(first.dtype)


def blas_gemm(dtype):
    """``(gemm, int_dtype)``: a Fortran ``?gemm`` callable from Numba (13 pointer arguments) for
    float32/float64 and the integer type of its size arguments, or None for other dtypes.

    numpy's own OpenBLAS when numpy was built with the scipy-openblas64 wheel (its ``scipy_?gemm_64_``,
    64-bit sizes): on this project's machine its version ran the small-K GEMMs of the convolutions
    1.4-1.6x faster than the older copy inside scipy. Otherwise scipy's ``cython_blas`` (32-bit sizes).
    """
    return _GEMM.get(np.dtype(dtype))


def _numpy_openblas():
    """The ``?gemm`` pointers of the OpenBLAS numpy loaded, when it is a scipy-openblas64 build."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        built = blas.get("openblas configuration", "")
        if blas.get("name") != "scipy-openblas" or "USE64BITINT" not in built:
            return None
        libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
        (path,) = glob.glob(os.path.join(libs, "libscipy_openblas64_*"))
        lib = ctypes.CDLL(path)  # already loaded by numpy: the same library and thread settings
        return {t: ctypes.cast(getattr(lib, f"scipy_{c}gemm_64_"), _VOID).value for t, c in _PREFIX.items()}
    except (KeyError, TypeError, ValueError, AttributeError, OSError):
        return None


# Each tap is one GEMM that adds into its target (beta = 1) through BLAS's leading dimensions, so
# windows of the flat buffer are read in place and no tap needs a temporary or a separate sum.
_VOID = ctypes.c_void_p
_PREFIX = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}
_ADDRESSES, _INT = _numpy_openblas(), np.dtype(np.int64)
if _ADDRESSES is None:
    _ADDRESSES = {t: get_cython_function_address("scipy.linalg.cython_blas", f"{c}gemm")
                  for t, c in _PREFIX.items()}
    _INT = np.dtype(np.int32)
_GEMM = {t: (ctypes.CFUNCTYPE(None, *([_VOID] * 13))(address), _INT) for t, address in _ADDRESSES.items()}


def _gemm_args(dtype, int_dtype, *ints):
    return np.array([ord("N"), ord("T")], np.int8), np.array(ints, int_dtype), np.array([0.0, 1.0], dtype)


@njit(nogil=True, cache=True)
def _taps_forward(gemm, flat, taps, offsets, out, trans, dims, scalars):
    """``out[b] = sum_t taps[t] @ flat[b, :, off_t : off_t + L]`` (row-major), as column-major
    ``out[b]^T (L x o) += window^T (L x c, leading dimension = row) taps[t]^T (c x o)``."""
    n_batch = flat.shape[0]
    n_taps = taps.shape[0]
    no, zero, one = trans[0:].ctypes, scalars[0:].ctypes, scalars[1:].ctypes
    m, n, k, ld = dims[0:].ctypes, dims[1:].ctypes, dims[2:].ctypes, dims[3:].ctypes
    for b in range(n_batch):
        for t in range(n_taps):
            gemm(no, no, m, n, k, one, flat[b, :, offsets[t]:].ctypes, ld, taps[t].ctypes, k,
                 zero if t == 0 else one, out[b].ctypes, m)


@njit(nogil=True, cache=True)
def _taps_adjoint(gemm, flat, taps, offsets, gflat, dflat, dtaps, trans, dims, scalars):
    """Adjoint of :func:`_taps_forward`: ``dtaps[t] += sum_b gflat[b] @ window^T`` and
    ``dflat[b, :, window] += taps[t]^T @ gflat[b]`` (windows overlap: the GEMMs run in turn)."""
    n_batch = flat.shape[0]
    n_taps = taps.shape[0]
    no, tr, one = trans[0:].ctypes, trans[1:].ctypes, scalars[1:].ctypes
    m, n, k, ld = dims[0:].ctypes, dims[1:].ctypes, dims[2:].ctypes, dims[3:].ctypes
    for b in range(n_batch):
        for t in range(n_taps):
            window = flat[b, :, offsets[t]:].ctypes
            # dtaps[t]^T (c x o) += window (c x L) gflat[b]^T (L x o)
            gemm(tr, no, k, n, m, one, window, ld, gflat[b].ctypes, m, one, dtaps[t].ctypes, k)
            # dwindow^T (L x c) += gflat[b]^T (L x o) taps[t] (o x c)
            gemm(no, tr, m, k, n, one, gflat[b].ctypes, m, taps[t].ctypes, k, one,
                 dflat[b, :, offsets[t]:].ctypes, ld)
