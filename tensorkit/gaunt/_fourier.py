"""The ``"fourier"`` Gaunt product: 2D Fourier series on the torus and FFT convolution.

The route of Luo, Chen and Krishnapriyan (ICLR 2024). Extend ``theta`` to the whole circle
``[0, 2 pi)`` with signed ``sin theta``: then ``bar P_l^{|m|}(cos theta)`` (which carries
``sin^{|m|} theta``) is a trigonometric polynomial of degree ``l`` in ``theta``, and every spherical
function of degree ``<= L`` is a 2D Fourier series on the torus,

.. math::

    F(\\theta, \\varphi) = \\sum_{|u|, |v| \\le L} c_{uv}\\, e^{i u \\theta} e^{i v \\varphi},

with ``c`` a fixed linear map of the coefficients ``x_lm``. The product ``F_1 F_2`` is the 2D
convolution of ``c_1`` and ``c_2`` (degree ``L1 + L2``), computed by FFT on a grid of
``n_u > 2 (L1 + L2)`` x ``n_v > L1 + L2 + Lout`` points (the ``phi`` direction real, half-spectrum).
Back to harmonics the ``phi`` integral keeps ``v = |m|`` (``c^{(12)}`` of the real product, ``v >= 0``)
and the ``theta`` integral is exact:

.. math::

    \\mathrm{GTP}_{l, v} = \\mathrm{Re}\\, S_{v l}, \\quad \\mathrm{GTP}_{l, -v} = -\\mathrm{Im}\\, S_{v l},
    \\quad S_{v l} = \\sum_u c^{(12)}_{u v} J_{v l u}, \\quad
    J_{v l u} = 2 \\pi \\sqrt{2}^{[v > 0]} \\int_0^{\\pi} e^{i u \\theta}\\,
    \\bar P_l^{v}(\\cos \\theta) \\sin \\theta \\, d\\theta ,

with ``int_0^pi e^{i n theta} sin(theta) dtheta`` in closed form. Every table is built in float64.
The conversions to and from the torus are pruned 2D FFTs (only the non-zero columns ``|v| <= L`` are
transformed), so the cost is O(L^2 log L) per product in FFTs plus O(L^3) in the small matmuls; on
the CPU the many short FFTs measured 3-10x slower than the ``"s2grid"`` matmuls at every size.

References
----------
S. Luo, T. Chen, A. S. Krishnapriyan, "Enabling Efficient Equivariant Operations in the Fourier
Basis via Gaunt Tensor Products", ICLR 2024, arXiv:2401.10216.
"""

from __future__ import annotations

import importlib
import math
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.fft

from ..backend import scipy_for
from ._sph_harm import gather_index, legendre_by_order, to_order_degree

__all__ = ["fourier_product", "fourier_tables"]


def fourier_tables(lmax1: int, lmax2: int, lmax_out: int) -> dict[str, Any]:
    """Host (float64 / complex128 / index) tables of the Fourier route for these degrees.

    ``y1``, ``y2`` (order, frequency u, degree) the real factors of the ``theta`` Fourier
    coefficients of the Legendre functions; ``odd1``, ``odd2`` which orders carry the factor ``i``;
    ``z`` (v, l, u at its FFT position) the exact back-projection ``J``; ``idx*`` layout indices;
    ``shape`` the FFT grid and ``grid_size`` its number of points (Python ints).
    """
    lsum = lmax1 + lmax2
    n_u = scipy.fft.next_fast_len(2 * lsum + 1, real=False)
    n_v = scipy.fft.next_fast_len(lsum + lmax_out + 1, real=True)
    tables: dict[str, Any] = {"shape": (n_u, n_v), "grid_size": n_u * n_v}
    for name, lmax in (("1", lmax1), ("2", lmax2)):
        p = _theta_fourier(lmax, 2 * lmax + 1)
        # Even |m|: p is real (cosine series); odd |m|: purely imaginary (sine series). Keep the
        # real factor and apply i^{|m| mod 2} when assembling, so the matmuls stay real.
        odd = (np.abs(np.arange(-lmax, lmax + 1)) % 2 == 1)[:, None, None]
        tables["y" + name] = np.where(odd, p.imag, p.real)
        tables["odd" + name] = (np.arange(lmax + 1) % 2 == 1)[:, None]
        tables["idx" + name] = gather_index(lmax)
    # Back to SH: J[v, l, u] = int_0^pi e^{i u theta} bar P_l^v(theta) sin(theta) d theta for the
    # product frequencies |u| <= lsum, stored at their FFT positions u mod n_u.
    p_out = _theta_fourier(lmax_out, 2 * lmax_out + 1)[lmax_out:]  # v = 0..Lout, (k, l)
    u = np.arange(-lsum, lsum + 1)
    k = np.arange(-lmax_out, lmax_out + 1)
    moments = _sin_moments(u[:, None] + k[None, :])  # (u, k)
    j = np.einsum("vkl,uk->vlu", p_out, moments)
    v = np.arange(lmax_out + 1)
    # phi integrals: 2 pi at v = 0, 2 sqrt2 pi (real part -> m = v, -imag part -> m = -v) for v > 0.
    j *= np.where(v == 0, 2 * np.pi, 2 * math.sqrt(2) * np.pi)[:, None, None]
    z = np.zeros((lmax_out + 1, lmax_out + 1, n_u), dtype=complex)
    z[:, :, u % n_u] = j
    tables["z"] = z
    tables["idx_out"] = _scatter_index(lmax_out)
    return tables


def fourier_product(x1: Any, x2: Any, t: dict[str, Any], same: bool, xp: Any):
    """The product of ``x1`` (*b1, K1) and ``x2`` (*b2, K2) with the device tables ``t``.

    The batch shapes broadcast; ``same`` says ``x2 is x1`` (one torus grid serves both).
    """
    fft = _fft_for(xp)
    shape = t["shape"]
    lmax_out = t["z"].shape[0] - 1
    g1 = _torus_grid(x1, t["y1"], t["odd1"], t["idx1"], shape, xp, fft)
    g2 = g1 if same else _torus_grid(x2, t["y2"], t["odd2"], t["idx2"], shape, xp, fft)
    grid = g1 * g2
    batch = tuple(grid.shape[:-2])
    grid = xp.reshape(grid, (-1, *shape))
    # 2D FFT pruned to the output orders v <= lmax_out.
    spec = fft.rfft(grid, axis=-1, norm="forward")[:, :, : lmax_out + 1]
    spec = fft.fft(spec, axis=-2, norm="forward")  # (B, n_u, lmax_out + 1)
    spec = xp.permute_dims(spec, (2, 1, 0))  # (v, u, B)
    proj = t["z"] @ spec  # (v, l, B) complex
    stacked = xp.concat([xp.real(proj), -xp.imag(proj)], axis=0)
    flat = xp.reshape(stacked, (-1, stacked.shape[-1]))
    out = xp.matrix_transpose(xp.take(flat, t["idx_out"], axis=0))
    return xp.reshape(out, (*batch, out.shape[-1]))


@lru_cache(maxsize=8)
def _fft_for(xp: Any):
    """``scipy.fft`` or ``cupyx.scipy.fft`` for ``xp``, looked up once per namespace (per call it cost
    ~2 us of a ~60 us product at small L)."""
    return importlib.import_module(f"{scipy_for(xp).__name__}.fft")


def _torus_grid(x, y_real, odd, idx, shape, xp, fft):
    """Samples on the uniform (n_u x n_v) torus grid of the 2D Fourier series of x, batch first."""
    n_u, n_v = shape
    lmax = y_real.shape[-1] - 1
    coeffs = to_order_degree(x, idx, xp)  # (2L+1, L+1, B)
    a = xp.permute_dims(y_real @ coeffs, (2, 0, 1))  # (B, 2L+1 [m], 2L+1 [u]) real factors
    pos, neg = a[:, lmax:, :], a[:, lmax::-1, :]  # orders +v and -v for v = 0..L
    r = 1.0 / math.sqrt(2.0)
    # half spectrum H[v] = (A_v - i A_{-v}) / sqrt2 with A_{+-v} = i^{v mod 2} a_{+-v}; H[0] = A_0.
    complex_type = xp.complex64 if x.dtype == xp.float32 else xp.complex128
    h = xp.astype(xp.where(odd, neg, pos) * r, complex_type) + 1j * (xp.where(odd, pos, -neg) * r)
    h[:, 0, :] = pos[:, 0, :]
    h = xp.permute_dims(h, (0, 2, 1))  # (B, u, v)
    half = xp.zeros((a.shape[0], n_u, lmax + 1), dtype=complex_type)
    half[:, : lmax + 1, :] = h[:, lmax:, :]  # u = 0..L
    if lmax:
        half[:, n_u - lmax :, :] = h[:, :lmax, :]  # u = -L..-1 at their FFT positions
    # A 2D inverse FFT, pruned: only the columns v <= L are non-zero, so transform those along u,
    # then let the real inverse transform along v pad the rest with zeros.
    grid = fft.irfft(fft.ifft(half, axis=-2, norm="forward"), n=n_v, axis=-1, norm="forward")
    return xp.reshape(grid, (*x.shape[:-1], n_u, n_v))


def _theta_fourier(lmax: int, n: int) -> np.ndarray:
    """``p[m + lmax, u + lmax, l]``: coefficient of e^{i u theta} in bar P_l^{|m|}(theta), theta on the torus.

    ``bar P_l^{|m|}`` with signed ``sin theta`` is a trigonometric polynomial of degree l; its
    coefficients are the DFT of ``n > 2 lmax`` samples, exact to float64 round-off.
    """
    theta = 2 * np.pi * np.arange(n) / n
    table = legendre_by_order(lmax, np.cos(theta), np.sin(theta))  # (2L+1, n, L+1)
    coef = np.fft.fft(table, axis=1) / n
    u = np.arange(-lmax, lmax + 1)
    return np.ascontiguousarray(coef[:, u % n, :])


def _sin_moments(n: np.ndarray) -> np.ndarray:
    """``int_0^pi e^{i n theta} sin(theta) d theta`` for integer n."""
    out = np.zeros(n.shape, dtype=complex)
    even = n % 2 == 0
    out[even] = 2.0 / (1.0 - n[even].astype(float) ** 2)
    out[n == 1] = 0.5j * np.pi
    out[n == -1] = -0.5j * np.pi
    return out


def _scatter_index(lmax: int) -> np.ndarray:
    """Positions of output (l, m) in the stacked [real parts; imaginary parts] (2, v, l) array."""
    size = (lmax + 1) ** 2
    idx = np.empty(size, dtype=np.intp)
    for l in range(lmax + 1):
        for m in range(-l, l + 1):
            part = 1 if m < 0 else 0
            idx[l * l + l + m] = (part * (lmax + 1) + abs(m)) * (lmax + 1) + l
    return idx
