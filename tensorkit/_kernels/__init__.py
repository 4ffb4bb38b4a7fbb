"""Hot loops behind one dispatch function each.

Every kernel has a plain-numpy reference (:mod:`.reference`, the oracle in tests), a Numba CPU
version (:mod:`.cpu`) and a GPU version (:mod:`.cuda`, ``numba.cuda`` so that it also runs under the
CUDA simulator). The dispatch functions here take already-validated arguments and a resolved
backend name (see :func:`tensorkit.backend.resolve_backend`); validation belongs to the public
entry points. As a last guard (an O(1) look at the dtype) every array reaches the compiled kernels
in native byte order and at least single precision: Numba has no float16 arithmetic and reads
native order only, so such arrays are converted here (a copy) rather than failing inside Numba.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import kernel_implementation
from .winograd import tile_gap, winograd_matrices

__all__ = [
    "adam_step",
    "conv_taps",
    "conv_taps_adjoint",
    "cp_values",
    "fwht",
    "gelu_shifted",
    "mttkrp_coo",
    "normal_matvec",
    "sparse_sketch",
    "tile_gap",
    "tucker_values",
    "winograd_input",
    "winograd_input_adjoint",
    "winograd_matrices",
    "winograd_output",
    "winograd_output_adjoint",
]


def _implementation(name: str, backend: str):
    return kernel_implementation(__name__, name, backend)


def _ready(x: Any) -> Any:
    """``x`` in native byte order, float16 as float32 (None passes through)."""
    if x is None:
        return x
    dtype = np.dtype(x.dtype)
    if dtype.kind == "f" and dtype.itemsize < 4:
        return x.astype(np.float32)
    if not dtype.isnative:
        return x.astype(dtype.newbyteorder("="))
    return x


def mttkrp_coo(
    indices: Any, values: Any, factors: list[Any], mode: int, n_rows: int, backend: str
) -> Any:
    """MTTKRP of a sparse COO tensor: ``M[i_mode, r] = sum_e v_e prod_{k != mode} A_k[i_k, r]``.

    Parameters
    ----------
    indices : int array (nnz, order), in range for every mode (checked by the caller)
    values : array (nnz,)
    factors : list of arrays (I_k, R), one per mode (the one at ``mode`` is not read)
    mode : int
    n_rows : int, the size of ``mode``
    backend : "numpy", "numba" or "cupy"
    """
    factors = [_ready(f) for f in factors]
    return _implementation("mttkrp_coo", backend)(_ready(indices), _ready(values), factors, mode, n_rows)


def cp_values(indices: Any, weights: Any, factors: list[Any], backend: str) -> Any:
    """Values of a CP model at cells: ``v_e = sum_r w_r prod_k A_k[i_k(e), r]``, shape (nnz,).

    ``indices`` (nnz, order) are in range (checked by the caller); the dense tensor is never
    formed. Used by :meth:`tensorkit.CPTensor.at` and by tensor completion.
    """
    factors = [_ready(f) for f in factors]
    return _implementation("cp_values", backend)(_ready(indices), _ready(weights), factors)


def tucker_values(indices: Any, core: Any, factors: list[Any], backend: str) -> Any:
    """Values of a Tucker model at cells: ``v_e = core x_1 A_1[i_1(e)] ... x_N A_N[i_N(e)]``
    (the core contracted with each cell's factor rows), shape (nnz,), without the dense tensor.

    Used by :meth:`tensorkit.TuckerTensor.at` and by tensor completion. The GPU version is the
    reference's chunked Kronecker-row products on CuPy (BLAS): a per-cell ``numba.cuda`` thread
    would need a scratch buffer of the core's size.
    """
    factors = [_ready(f) for f in factors]
    return _implementation("tucker_values", backend)(_ready(indices), _ready(core), factors)


# --- sketching and least squares (tensorkit.sketch) ---------------------------------------------


def fwht(X: Any, backend: str) -> Any:
    """Unnormalized fast Walsh-Hadamard transform along axis 0: ``H_n @ X`` for ``X`` of shape
    ``(n, k)`` with ``n`` a power of two (Sylvester order, ``H_{2n} = [[H, H], [H, -H]]``).

    ``X`` is a scratch array: the Numba and GPU versions transform it in place and return it.
    """
    return _implementation("fwht", backend)(_ready(X))


def sparse_sketch(A: Any, rows: Any, signs: Any, n_out: int, backend: str) -> Any:
    """Sparse sketch ``S @ A`` where column ``i`` of ``S`` holds ``signs[i, j]`` at rows ``rows[i, j]``.

    Parameters
    ----------
    A : array (n, d)
    rows : int64 array (n, s), entries in ``[0, n_out)`` (checked by the caller)
    signs : array (n, s) of the scaled signs, same dtype as ``A``
    n_out : int, the sketch size
    backend : "numpy", "numba" or "cupy"
    """
    return _implementation("sparse_sketch", backend)(_ready(A), _ready(rows), _ready(signs), n_out)


def normal_matvec(A: Any, W: Any, B: Any, backend: str) -> tuple[Any, Any]:
    """Fused normal-equation product: ``(A.T @ (A @ W - B), column sums of (A @ W - B)**2)``.

    The Numba version reads ``A`` once (row by row, each row reused from cache for both
    products), which is what makes a Krylov iteration on a tall ``A`` memory-bound at one pass.

    Parameters
    ----------
    A : array (n, d)
    W : array (d, k)
    B : array (n, k) or None (taken as zero)
    backend : "numpy", "numba" or "cupy"
    """
    return _implementation("normal_matvec", backend)(_ready(A), _ready(W), _ready(B))


# --- neural-network activations (tensorkit.nn) ------------------------------------------------


def gelu_shifted(
    x: Any,
    bias: Any = None,
    residual: Any = None,
    gate: Any = None,
    *,
    overwrite_x: bool = False,
    slope: Any = None,
    backend: str,
) -> tuple[Any, Any]:
    r"""GELU with the exact (erf) normal CDF at a shifted input, and its slope:
    ``(p Phi(p), Phi(p) + p phi(p))`` at ``p = x + bias[c] + gate[c] residual``.

    Parameters
    ----------
    x : real float array ``(batch, channels, *points)`` (any shape without ``bias``/``residual``)
    bias, gate : arrays ``(channels,)`` or None (``gate`` None means one)
    residual : array of ``x``'s shape or None
    overwrite_x : bool
        Write the activation into ``x`` (C-contiguous) and return it.
    slope : array of ``x``'s shape and dtype, optional
        A buffer for the slope (reused across calls: a fresh full-size array costs more in page
        faults than the pass that fills it); a new one when None or when it does not fit.
    backend : "numpy", "numba" or "cupy"

    The Numba pass evaluates float32 with polynomial erf and exp (absolute errors about 1e-6 and
    3e-7, like PyTorch's float32 GELU) and float64 with libm. Arrays hold the caller's dtype
    (float32 or float64): no ``_ready`` copy, which would break ``overwrite_x``.
    """
    return _implementation("gelu_shifted", backend)(
        x, bias, residual, gate, overwrite_x=overwrite_x, slope=slope
    )


def adam_step(
    p: Any, g: Any, m: Any, v: Any, *, b1: float, b2: float, weight_decay: float, lr: float,
    bias1: float, bias2: float, eps: float, backend: str,
) -> None:
    r"""One Adam step in place (PyTorch's formula): ``g' = g + wd p``, ``m <- b1 m + (1 - b1) g'``,
    ``v <- b2 v + (1 - b2) |g'|^2``, ``p <- p - (lr / bias1) m / (sqrt(v / bias2) + eps)``.

    ``p, g, m`` share a real or complex dtype (complex as pairs of reals), ``v`` is real of ``p``'s
    shape; ``bias1 = 1 - b1^t`` and ``bias2 = 1 - b2^t`` at step ``t``.
    """
    _implementation("adam_step", backend)(
        p, g, m, v, b1=b1, b2=b2, weight_decay=weight_decay, lr=lr, bias1=bias1, bias2=bias2, eps=eps
    )


def conv_taps(flat: Any, taps: Any, offsets: Any, out: Any, *, backend: str) -> Any:
    r"""The tap sum of a convolution on a flattened, padded input:
    ``out[b] = sum_t taps[t] @ flat[b, :, off_t : off_t + L]``, written into ``out``.

    Parameters
    ----------
    flat : array ``(batch, in, row)``
        The padded input flattened over its spatial axes (stride 1), or the gathered windows of a
        strided convolution side by side; windows never run past ``row`` (the caller pads).
    taps : array ``(n_taps, out, in)``
        The kernel, tap-major.
    offsets : int sequence ``(n_taps,)``
        Start of each tap's window in ``flat``.
    out : array ``(batch, out, L)``, overwritten
    backend : "numpy", "numba" or "cupy"

    The Numba version runs one BLAS GEMM per tap that adds into ``out`` through leading dimensions
    (no temporaries); arrays it cannot hand to BLAS go through the reference.
    """
    return _implementation("conv_taps", backend)(flat, taps, offsets, out)


def conv_taps_adjoint(
    flat: Any, taps: Any, offsets: Any, gflat: Any, dflat: Any, dtaps: Any, *, backend: str
) -> tuple[Any, Any]:
    r"""Adjoint of :func:`conv_taps` for the output gradient ``gflat`` ``(batch, out, L)``:
    ``dtaps[t] += sum_b gflat[b] window_t[b]^T`` and ``dflat[b, :, window_t] += taps[t]^T gflat[b]``
    (both accumulated in place; windows may overlap)."""
    return _implementation("conv_taps_adjoint", backend)(flat, taps, offsets, gflat, dflat, dtaps)


# --- Winograd convolution tiles (tensorkit.nn.Conv2d; matrices and math in .winograd) -------------


def winograd_input(x: Any, pads: tuple[int, int], mode: str, m: int, bt: Any, out: Any, *,
                   backend: str) -> Any:
    r"""Winograd input tiles of a 2D convolution: ``out[f, c, n] = (B^T d_n B)[f]``, written into ``out``.

    Parameters
    ----------
    x : array ``(batch, in, H, W)``
    pads : (int, int)
        Padding of both sides of each axis (``"periodic"`` needs ``p <= H, W``, as checked by the layer).
    mode : {"zeros", "periodic"}
    m : int
        Outputs per tile and axis; ``a = m + r - 1`` inputs, ``r`` the kernel size.
    bt : float64 array ``(a, a)``, ``B^T`` of :func:`winograd_matrices`
    out : array ``(a * a, in, batch * TH * (TW + e))``, overwritten
        Frequency ``f = r a + s``; tile ``n = (b TH + ty)(TW + e) + tx`` with ``e = tile_gap(m, a)``,
        where tile ``(ty, tx)`` reads the padded input at rows ``ty m ... ty m + a - 1`` and the
        columns alike (zeros beyond the padded input). The ``e`` gap tiles closing each row of
        tiles (``tx >= TW``) keep the Numba stages on contiguous runs; they hold zeros.
    backend : "numpy", "numba" or "cupy"
    """
    return _implementation("winograd_input", backend)(x, pads, mode, m, bt, out)


def winograd_input_adjoint(dv: Any, pads: tuple[int, int], mode: str, m: int, bt: Any, dx: Any, *,
                           backend: str) -> Any:
    """Adjoint of :func:`winograd_input`: ``B dV_n B^T`` added back over the overlapping tiles, then
    the padding's adjoint (crop, or fold the periodic margins back); written into ``dx``
    ``(batch, in, H, W)``. ``dv`` is scratch: its gap tiles are set to zero first, so that they
    contribute nothing."""
    return _implementation("winograd_input_adjoint", backend)(dv, pads, mode, m, bt, dx)


def winograd_output(mprod: Any, m: int, at: Any, bias: Any, y: Any, *, backend: str) -> Any:
    """Winograd output tiles: ``y[b, o, ty m + i, tx m + j] = (A^T M_n A)[i, j] + bias[o]`` for the
    entries inside ``y`` ``(batch, out, H_out, W_out)``, overwritten; ``mprod`` ``(a * a, out, tiles)``
    in :func:`winograd_input`'s layout, ``at`` the float64 ``A^T`` ``(m, a)``, ``bias`` None for none."""
    return _implementation("winograd_output", backend)(mprod, m, at, bias, y)


def winograd_output_adjoint(dy: Any, m: int, at: Any, out: Any, *, backend: str) -> Any:
    """Adjoint of :func:`winograd_output` without the bias: ``out[f, o, n] = (A dY_n A^T)[f]`` with
    ``dY`` the output gradient's tile (zero beyond the output), written into ``out`` (zero on the gap
    tiles)."""
    return _implementation("winograd_output_adjoint", backend)(dy, m, at, out)
