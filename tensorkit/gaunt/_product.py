"""Gaunt tensor products: multiply two spherical functions, project back onto degrees <= Lout.

For coefficient vectors ``x1`` (degrees <= L1) and ``x2`` (degrees <= L2) of the functions
``F_i = sum_lm x_i,lm Y_lm`` the Gaunt tensor product is

.. math::

    \\mathrm{GTP}(x_1, x_2)_{l_3 m_3} = w_{l_3} \\int_{S^2} F_1 F_2 \\, Y_{l_3 m_3}
    = w_{l_3} \\sum G^{l_1 l_2 l_3}_{m_1 m_2 m_3} x_{1, l_1 m_1} x_{2, l_2 m_2},
    \\qquad l_3 \\le L_{out},

with the Gaunt coefficients ``G`` and optional weights ``w`` per output degree (and channel).
Three algorithms compute the same numbers:

``"s2grid"``
    evaluate ``F_1, F_2`` on a Gauss-Legendre (``theta``) x uniform (``phi``) grid, multiply, and
    integrate against the harmonics (Xie et al. 2025). Per ``m`` the ``theta`` direction is a
    batched matmul with a precomputed Legendre table, the ``phi`` direction a matmul with a
    cosine/sine table folded onto half the circle (``phi`` and ``-phi`` share cosines): O(L^3) per
    product, few large BLAS calls, batches cut into cache-sized chunks. The grid,
    ``(L1+L2+Lout)//2 + 1`` x ``(L1+L2+Lout+1)`` nodes, makes the quadrature exact. Measured the
    fastest on the CPU from L = 2 on (a matmul beat ``rfft`` in ``phi`` at every L <= 16 there).
``"fourier"``
    the route of Luo et al. (2024): convert each input to a 2D Fourier series in
    ``(theta, phi)`` on the torus (``theta`` extended to ``[0, 2 pi)`` with signed ``sin theta``),
    multiply by 2D FFT convolution, and convert back with the exact integrals
    ``int_0^pi e^{i n theta} sin(theta) d theta``. All conversion tables are built in float64.
``"direct"``
    contraction with the sparse Gaunt tensor (the O(L^5)-O(L^6) baseline; exact, slow for large L).

``"auto"`` picks, per device and sizes, the method measured fastest (see ``_choose_method``).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.fft
import scipy.sparse
import scipy.special

from .._validation import as_float_array
from ..backend import get_namespace
from ._coefficients import gaunt_tensor_blocks
from ._sph_harm import check_lmax, degree_index, normalized_legendre

__all__ = ["METHODS", "GauntTensorProduct", "gaunt_tensor_product"]

METHODS = ("auto", "s2grid", "fourier", "direct")

# Batch elements per chunk of the "direct" method: bounds its (batch, K1*K2) outer-product buffer.
_DIRECT_MAX_OUTER_ENTRIES = 1 << 24
# Target size of one chunk's grid in the grid methods (a cache-sized working set).
_GRID_CHUNK_BYTES = 1 << 18


def gaunt_tensor_product(
    x1: Any,
    x2: Any,
    *,
    lmax_out: int | None = None,
    method: str = "auto",
    weights: Any = None,
):
    """Gaunt tensor product of two arrays of real spherical-harmonic coefficients.

    Parameters
    ----------
    x1 : array of shape (..., (L1+1)**2)
        Coefficients of degrees ``0..L1`` in the order of :func:`real_sph_harm` (e3nn's order).
    x2 : array of shape (..., (L2+1)**2)
        Same for the second input; the leading dimensions of ``x1``, ``x2`` (and ``weights``)
        broadcast, e.g. (batch, channels) against (batch, 1).
    lmax_out : int, optional
        Largest output degree, default ``L1 + L2`` (the product has no higher degrees).
    method : {"auto", "s2grid", "fourier", "direct"}
        Algorithm (see the module docstring); all give the same result to round-off.
    weights : array, optional
        Broadcastable to ``(..., lmax_out + 1)``: scales each output degree (per channel when it
        has a channel dimension).

    Returns
    -------
    array of shape (broadcast batch shape..., (lmax_out+1)**2)
        float32 when both inputs are float32, else float64; on the device of the inputs.

    Notes
    -----
    ``out[..., (l3, m3)] = w[..., l3] sum G[(l1,m1),(l2,m2),(l3,m3)] x1[..., (l1,m1)] x2[..., (l2,m2)]``
    with ``G`` from :func:`gaunt_coefficients`, i.e. the projection of the product of the two
    spherical functions. Only parity-even paths (``l1 + l2 + l3`` even) appear and the product is
    symmetric in its inputs. Each path equals e3nn's ``wigner_3j(l1, l2, l3)`` path (unit Frobenius
    norm) times the scalar ``sum(G * wigner_3j)``. Plans (tables) are cached per
    ``(L1, L2, lmax_out, method)`` and, inside the plan, per dtype and device; use
    :class:`GauntTensorProduct` to hold one explicitly.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.gaunt import gaunt_tensor_product
    >>> rng = np.random.default_rng(0)
    >>> x1, x2 = rng.standard_normal((2, 10, 16))  # 10 features of degree <= 3
    >>> gaunt_tensor_product(x1, x2, lmax_out=2).shape
    (10, 9)
    """
    xp = get_namespace(x1, x2, weights)
    lmax1 = _lmax_from_size(x1, "x1")
    lmax2 = _lmax_from_size(x2, "x2")
    if lmax_out is None:
        lmax_out = lmax1 + lmax2
    lmax_out = check_lmax(lmax_out, "lmax_out")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    plan = _cached_plan(lmax1, lmax2, lmax_out, method)
    return plan(x1, x2, weights=weights, _xp=xp)


class GauntTensorProduct:
    """A precomputed Gaunt tensor product for fixed degrees (a plan).

    Parameters
    ----------
    lmax1, lmax2 : int
        Largest degrees of the two inputs.
    lmax_out : int, optional
        Largest output degree, default ``lmax1 + lmax2``.
    method : {"auto", "s2grid", "fourier", "direct"}
        Algorithm; ``"auto"`` chooses per call from the device and the sizes.
    dtype : {None, numpy.float32, numpy.float64}
        Compute dtype. None follows the inputs (float32 only when both are float32); a dtype casts
        the inputs to it.

    Notes
    -----
    Tables are built once in float64 on the host (lazily, per method) and cast/copied once per
    dtype and device; calls then run only matmuls, FFTs and elementwise products. Plans are
    picklable (device copies are dropped and rebuilt on first use).

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.gaunt import GauntTensorProduct
    >>> tp = GauntTensorProduct(2, 2, lmax_out=2)
    >>> x = np.random.default_rng(1).standard_normal((5, 9))
    >>> y = tp(x, x)
    >>> y.shape
    (5, 9)
    >>> bool(np.allclose(y, GauntTensorProduct(2, 2, 2, method="direct")(x, x)))
    True
    """

    def __init__(
        self,
        lmax1: int,
        lmax2: int,
        lmax_out: int | None = None,
        method: str = "auto",
        dtype: Any = None,
    ) -> None:
        self.lmax1 = check_lmax(lmax1, "lmax1")
        self.lmax2 = check_lmax(lmax2, "lmax2")
        self.lmax_out = self.lmax1 + self.lmax2 if lmax_out is None else check_lmax(lmax_out, "lmax_out")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.method = method
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
                raise ValueError(f"dtype must be None, float32 or float64, got {dtype}")
        self.dtype = dtype
        self._host: dict[str, dict[str, np.ndarray]] = {}
        self._device: dict[tuple, dict[str, Any]] = {}

    @property
    def sizes(self) -> tuple[int, int, int]:
        """Last-dimension sizes ``((L1+1)**2, (L2+1)**2, (Lout+1)**2)``."""
        return (self.lmax1 + 1) ** 2, (self.lmax2 + 1) ** 2, (self.lmax_out + 1) ** 2

    def __repr__(self) -> str:
        return (
            f"GauntTensorProduct(lmax1={self.lmax1}, lmax2={self.lmax2}, lmax_out={self.lmax_out}, "
            f"method={self.method!r}, dtype={None if self.dtype is None else self.dtype.name})"
        )

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_device"] = {}
        return state

    def resolved_method(self, xp: Any = np) -> str:
        """The algorithm a call on arrays of namespace ``xp`` runs (``"auto"`` resolved)."""
        if self.method != "auto":
            return self.method
        return _choose_method(self.lmax1, self.lmax2, self.lmax_out, gpu=_is_cupy_namespace(xp))

    def __call__(self, x1: Any, x2: Any, *, weights: Any = None, _xp: Any = None):
        """Apply the product to ``x1`` (..., (L1+1)**2) and ``x2`` (..., (L2+1)**2).

        ``weights`` broadcasts to ``(..., lmax_out + 1)``; see :func:`gaunt_tensor_product`.
        """
        xp = _xp if _xp is not None else get_namespace(x1, x2, weights)
        same = x2 is x1
        x1 = as_float_array(x1, "x1", allow_complex=False, xp=xp)
        x2 = x1 if same else as_float_array(x2, "x2", allow_complex=False, xp=xp)
        k1, k2, k_out = self.sizes
        for name, x, k, l in (("x1", x1, k1, self.lmax1), ("x2", x2, k2, self.lmax2)):
            if x.ndim == 0 or x.shape[-1] != k:
                raise ValueError(
                    f"{name} must have last dimension (lmax+1)**2 = {k} for lmax = {l}, "
                    f"got shape {tuple(x.shape)}"
                )
        dtype = self._compute_dtype(x1, x2, xp)
        x1 = xp.astype(x1, dtype, copy=False)
        x2 = x1 if same else xp.astype(x2, dtype, copy=False)
        w = None
        batch_shapes = [tuple(x1.shape[:-1]), tuple(x2.shape[:-1])]
        if weights is not None:
            w = xp.astype(as_float_array(weights, "weights", allow_complex=False, xp=xp), dtype, copy=False)
            if w.ndim == 0:
                w = xp.reshape(w, (1,))
            if w.shape[-1] not in (1, self.lmax_out + 1):
                raise ValueError(
                    f"weights must broadcast to (..., lmax_out + 1) = (..., {self.lmax_out + 1}), "
                    f"got shape {tuple(w.shape)}"
                )
            batch_shapes.append(tuple(w.shape[:-1]))
        try:
            batch = np.broadcast_shapes(*batch_shapes)
        except ValueError:
            raise ValueError(
                f"the leading dimensions of x1 {tuple(x1.shape)}, x2 {tuple(x2.shape)}"
                + ("" if w is None else f" and weights {tuple(w.shape)}")
                + " do not broadcast"
            ) from None
        method = self.resolved_method(xp)
        tables = self._tables(method, xp, dtype)
        x1 = xp.reshape(x1, (1,) * (len(batch) - x1.ndim + 1) + tuple(x1.shape))
        x2 = x1 if same else xp.reshape(x2, (1,) * (len(batch) - x2.ndim + 1) + tuple(x2.shape))
        if method == "s2grid":
            out = _in_chunks(_s2grid_product, x1, x2, same, tables, xp)
        elif method == "fourier":
            out = _in_chunks(_fourier_product, x1, x2, same, tables, xp,
                             self.lmax1, self.lmax2, self.lmax_out)
        else:
            out = _direct_product(x1, x2, tables, xp, k_out)
        out = xp.broadcast_to(out, (*batch, k_out)) if tuple(out.shape[:-1]) != batch else out
        if w is not None:
            w_full = xp.take(w, tables["degree"], axis=-1) if w.shape[-1] != 1 else w
            out = out * w_full
        return out

    def _compute_dtype(self, x1, x2, xp):
        if self.dtype is not None:
            return xp.float32 if self.dtype == np.float32 else xp.float64
        if x1.dtype == xp.float32 and x2.dtype == xp.float32:
            return xp.float32
        return xp.float64

    def _tables(self, method: str, xp: Any, dtype: Any) -> dict[str, Any]:
        """Tables of ``method`` in ``dtype`` on the device of ``xp`` (built once, then cached)."""
        on_gpu = _is_cupy_namespace(xp)
        device = _cupy_device() if on_gpu else -1
        key = (method, device, str(dtype))
        cached = self._device.get(key)
        if cached is not None:
            return cached
        host = self._host.get(method)
        if host is None:
            builder = {"s2grid": _s2grid_tables, "fourier": _fourier_tables, "direct": _direct_tables}
            host = builder[method](self.lmax1, self.lmax2, self.lmax_out)
            host["degree"] = degree_index(self.lmax_out)
            self._host[method] = host
        real = np.float32 if dtype == xp.float32 else np.float64
        converted = {}
        for name, table in host.items():
            if isinstance(table, scipy.sparse.spmatrix | scipy.sparse.sparray):
                converted[name] = _sparse_on_device(table.astype(real), on_gpu)
            elif table.dtype.kind == "f":
                converted[name] = xp.asarray(table.astype(real))
            elif table.dtype.kind == "c":
                complex_type = np.complex64 if real == np.float32 else np.complex128
                converted[name] = xp.asarray(table.astype(complex_type))
            else:
                converted[name] = xp.asarray(table)
        self._device[key] = converted
        return converted


@lru_cache(maxsize=64)
def _cached_plan(lmax1: int, lmax2: int, lmax_out: int, method: str) -> GauntTensorProduct:
    return GauntTensorProduct(lmax1, lmax2, lmax_out, method=method)


def _choose_method(lmax1: int, lmax2: int, lmax_out: int, *, gpu: bool) -> str:
    """The fastest method for these degrees, from the crossovers measured by benchmarks/bench_gaunt.py.

    Measured on the CPU (float64, one thread, batch 16-1024): the sparse direct contraction is
    level with the grid up to L = 2 (within 10-30% either way) and loses from L = 3 on (its cost
    grows like L^5 against the grid's L^3; 2x slower at L = 3, 20x at L = 8); the Fourier route is
    3-10x slower than the grid at every size (many short FFTs against a few matmuls). On the GPU
    the grid route is used throughout (batched cuBLAS matmuls; not yet measured on a device).
    """
    if not gpu and max(lmax1, lmax2) <= 1 and lmax_out <= 2:
        return "direct"
    return "s2grid"


def _in_chunks(product, x1, x2, same: bool, tables, xp, *extra):
    """Run a grid ``product`` over slices of the leading batch axis so each grid stays in cache.

    The grids are the large intermediates (``grid_size`` numbers per product); keeping a chunk's
    grid near ``_GRID_CHUNK_BYTES`` measured up to 2x faster than one pass over a batch of 256 at
    L = 16 on the CPU. Broadcasting inside a chunk is untouched. On the GPU one pass is best
    (kernel launches, not caches, dominate).
    """
    batch = np.broadcast_shapes(tuple(x1.shape[:-1]), tuple(x2.shape[:-1]))
    if len(batch) > 1 and (same or tuple(x1.shape[:-1]) == tuple(x2.shape[:-1])):
        # nothing broadcasts: one flat batch axis lets the chunks be cache-sized
        flat1 = xp.reshape(x1, (-1, x1.shape[-1]))
        flat2 = flat1 if same else xp.reshape(x2, (-1, x2.shape[-1]))
        out = _in_chunks(product, flat1, flat2, same, tables, xp, *extra)
        return xp.reshape(out, (*batch, out.shape[-1]))
    rows = batch[0] if batch else 1
    if batch and not _is_cupy_namespace(xp):
        per_row = math.prod(batch[1:]) * int(tables["grid_size"]) * x1.itemsize
        rows = max(1, _GRID_CHUNK_BYTES // per_row)
    if not batch or rows >= batch[0]:
        return product(x1, x2, tables, same, xp, *extra)
    parts = []
    for start in range(0, batch[0], rows):
        a = x1 if x1.shape[0] == 1 else x1[start : start + rows]
        b = a if same else (x2 if x2.shape[0] == 1 else x2[start : start + rows])
        parts.append(product(a, b, tables, same, xp, *extra))
    return xp.concat(parts, axis=0)


def _cupy_device() -> int:
    import cupy

    return int(cupy.cuda.runtime.getDevice())


def _is_cupy_namespace(xp: Any) -> bool:
    import array_api_compat

    return array_api_compat.is_cupy_namespace(xp)


def _lmax_from_size(x: Any, name: str) -> int:
    shape = getattr(x, "shape", None)
    if shape is None:
        x = np.asarray(x)
        shape = x.shape
    if len(shape) == 0:
        raise ValueError(f"{name} must have shape (..., (lmax+1)**2), got a scalar")
    size = int(shape[-1])
    lmax = math.isqrt(size) - 1
    if size == 0 or (lmax + 1) ** 2 != size:
        raise ValueError(
            f"{name} must have last dimension (lmax+1)**2 (1, 4, 9, 16, ...), got shape {tuple(shape)}"
        )
    return lmax


# --------------------------------------------------------------------------------------------
# "s2grid": Gauss-Legendre x uniform-phi grid.


def _gather_index(lmax: int) -> np.ndarray:
    """``idx[m + lmax, l]`` = position of coefficient (l, m) in the flat vector, or the pad slot."""
    pad = (lmax + 1) ** 2
    idx = np.full((2 * lmax + 1, lmax + 1), pad, dtype=np.intp)
    for l in range(lmax + 1):
        for m in range(-l, l + 1):
            idx[m + lmax, l] = l * l + l + m
    return idx


def _legendre_by_order(lmax: int, cos_theta: np.ndarray, sin_theta: np.ndarray) -> np.ndarray:
    """``table[m + lmax, t, l] = bar P_l^{|m|}(theta_t)`` (zero for l < |m|), float64."""
    q = normalized_legendre(lmax, cos_theta)
    table = np.zeros((2 * lmax + 1, cos_theta.size, lmax + 1))
    for m in range(-lmax, lmax + 1):
        for l in range(abs(m), lmax + 1):
            table[m + lmax, :, l] = q[(l, abs(m))] * sin_theta ** abs(m)
    return table


def _phi_table(lmax: int, phi: np.ndarray) -> np.ndarray:
    """``table[p, m + lmax] = Phi_m(phi_p)``: 1, sqrt2 cos(m phi) (m > 0), sqrt2 sin(|m| phi) (m < 0)."""
    m = np.arange(-lmax, lmax + 1)
    angle = np.abs(m)[None, :] * phi[:, None]
    return np.where(m < 0, math.sqrt(2) * np.sin(angle), np.where(m > 0, math.sqrt(2) * np.cos(angle), 1.0))


def _s2grid_tables(lmax1: int, lmax2: int, lmax_out: int) -> dict[str, np.ndarray]:
    degree = lmax1 + lmax2 + lmax_out
    n_theta = degree // 2 + 1
    n_phi = degree + 1
    cos_theta, w_theta = scipy.special.roots_legendre(n_theta)
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    # phi_p and phi_{N-p} share cosines and have opposite sines: only p = 0..N//2 are evaluated.
    half = np.arange(n_phi // 2 + 1)
    phi = 2 * np.pi * half / n_phi
    tables = {}
    for name, lmax in (("1", lmax1), ("2", lmax2)):
        table = _phi_table(lmax, phi)  # columns m = -L..L
        tables["idx" + name] = _gather_index(lmax)
        tables["leg" + name] = _legendre_by_order(lmax, cos_theta, sin_theta)
        tables["cos" + name] = np.ascontiguousarray(table[:, lmax:])
        tables["sin" + name] = np.ascontiguousarray(table[:, :lmax])
    analysis = _legendre_by_order(lmax_out, cos_theta, sin_theta) * w_theta[None, :, None]
    tables["leg_out"] = np.ascontiguousarray(np.swapaxes(analysis, 1, 2))
    # Quadrature weight 2 pi / N, doubled for the points that stand for a pair (p, N - p).
    paired = (half != 0) & (2 * half != n_phi)
    weight = (2 * np.pi / n_phi) * np.where(paired, 2.0, 1.0)
    table = _phi_table(lmax_out, phi) * weight[:, None]
    tables["cos_out"] = np.ascontiguousarray(table[:, lmax_out:].T)
    tables["sin_out"] = np.ascontiguousarray(table[:, :lmax_out].T)
    tables["idx_out"] = _scatter_index(lmax_out)
    tables["grid_size"] = np.array(n_theta * n_phi)
    return tables


def _scatter_index(lmax: int) -> np.ndarray:
    """Flat positions in an (order, degree) array of the output coefficients, in output order."""
    return np.array(
        [(m + lmax) * (lmax + 1) + l for l in range(lmax + 1) for m in range(-l, l + 1)], dtype=np.intp
    )


def _to_order_degree(x, idx, xp):
    """(*batch, K) -> (2L+1, L+1, B) with zeros where l < |m| (B = prod(batch))."""
    k = x.shape[-1]
    flat = xp.reshape(x, (-1, k))
    padded = xp.concat([xp.matrix_transpose(flat), xp.zeros((1, flat.shape[0]), dtype=x.dtype)], axis=0)
    return xp.take(padded, xp.reshape(idx, (-1,)), axis=0).reshape((*idx.shape, flat.shape[0]))


def _s2grid_synthesis(x, leg, cos, sin, idx, xp):
    """Even and odd parts in phi on the half grid, each of shape (n_phi//2 + 1, n_theta, *batch).

    ``F(phi_p) = E_p + O_p`` and ``F(phi_{N-p}) = E_p - O_p``: E sums the cosine (and m = 0)
    terms, O the sine terms. Folding the grid this way halves the phi matmuls, the dominant cost.
    """
    lmax = sin.shape[1]
    coeffs = _to_order_degree(x, idx, xp)
    by_order = leg @ coeffs  # (2L+1, n_theta, B), orders m = -L..L
    _, n_theta, b = by_order.shape
    shape = (cos.shape[0], n_theta, *x.shape[:-1])
    even = xp.reshape(cos @ xp.reshape(by_order[lmax:], (lmax + 1, n_theta * b)), shape)
    if lmax == 0:
        return even, None
    odd = xp.reshape(sin @ xp.reshape(by_order[:lmax], (lmax, n_theta * b)), shape)
    return even, odd


def _s2grid_product(x1, x2, t, same, xp):
    e1, o1 = _s2grid_synthesis(x1, t["leg1"], t["cos1"], t["sin1"], t["idx1"], xp)
    e2, o2 = (e1, o1) if same else _s2grid_synthesis(x2, t["leg2"], t["cos2"], t["sin2"], t["idx2"], xp)
    # Product on the pair (p, N - p): (E1 + O1)(E2 + O2) and (E1 - O1)(E2 - O2). Their half-sum
    # (even part) and half-difference (odd part) are all the analysis needs.
    even = e1 * e2
    if o1 is not None and o2 is not None:
        even = even + o1 * o2
    if o1 is None and o2 is None:
        odd = None
    elif o1 is None:
        odd = e1 * o2
    elif o2 is None:
        odd = o1 * e2
    else:
        odd = 2 * (e1 * o2) if same else e1 * o2 + o1 * e2
    n_half, n_theta = even.shape[:2]
    batch = tuple(even.shape[2:])
    by_order = t["cos_out"] @ xp.reshape(even, (n_half, -1))  # orders m = 0..Lout
    lmax_out = t["sin_out"].shape[0]
    if lmax_out:
        if odd is None:
            sines = xp.zeros((lmax_out, by_order.shape[1]), dtype=by_order.dtype)
        else:
            sines = t["sin_out"] @ xp.reshape(xp.broadcast_to(odd, even.shape), (n_half, -1))
        by_order = xp.concat([sines, by_order], axis=0)  # orders m = -Lout..Lout
    by_order = xp.reshape(by_order, (by_order.shape[0], n_theta, -1))
    coeffs = t["leg_out"] @ by_order  # (2Lout+1, Lout+1, B)
    flat = xp.reshape(coeffs, (-1, coeffs.shape[-1]))
    out = xp.matrix_transpose(xp.take(flat, t["idx_out"], axis=0))
    return xp.reshape(out, (*batch, out.shape[-1]))


# --------------------------------------------------------------------------------------------
# "fourier": 2D Fourier series on the torus, FFT convolution.


def _fft_module(xp):
    if _is_cupy_namespace(xp):
        import cupyx.scipy.fft

        return cupyx.scipy.fft
    return scipy.fft


def _theta_fourier(lmax: int, n: int) -> np.ndarray:
    """``p[m + lmax, u + lmax, l]``: coefficient of e^{i u theta} in bar P_l^{|m|}(theta), theta on the torus.

    ``bar P_l^{|m|}`` with signed ``sin theta`` is a trigonometric polynomial of degree l; its
    coefficients are the DFT of ``n > 2 lmax`` samples, exact to float64 round-off.
    """
    theta = 2 * np.pi * np.arange(n) / n
    table = _legendre_by_order(lmax, np.cos(theta), np.sin(theta))  # (2L+1, n, L+1)
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


def _fourier_tables(lmax1: int, lmax2: int, lmax_out: int) -> dict[str, np.ndarray]:
    lsum = lmax1 + lmax2
    n_u = scipy.fft.next_fast_len(2 * lsum + 1, real=False)
    n_v = scipy.fft.next_fast_len(lsum + lmax_out + 1, real=True)
    tables: dict[str, np.ndarray] = {"shape": np.array([n_u, n_v])}
    for name, lmax in (("1", lmax1), ("2", lmax2)):
        p = _theta_fourier(lmax, 2 * lmax + 1)
        # Even |m|: p is real (cosine series); odd |m|: purely imaginary (sine series). Keep the
        # real factor and apply i^{|m| mod 2} when assembling, so the matmuls stay real.
        odd = (np.abs(np.arange(-lmax, lmax + 1)) % 2 == 1)[:, None, None]
        tables["y" + name] = np.where(odd, p.imag, p.real)
        tables["idx" + name] = _gather_index(lmax)
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
    tables["idx_out"] = _fourier_scatter_index(lmax_out)
    tables["grid_size"] = np.array(n_u * n_v)
    return tables


def _fourier_scatter_index(lmax: int) -> np.ndarray:
    """Positions of output (l, m) in the stacked [real parts; imaginary parts] (2, v, l) array."""
    size = (lmax + 1) ** 2
    idx = np.empty(size, dtype=np.intp)
    for l in range(lmax + 1):
        for m in range(-l, l + 1):
            part = 1 if m < 0 else 0
            idx[l * l + l + m] = (part * (lmax + 1) + abs(m)) * (lmax + 1) + l
    return idx


def _fourier_grid(x, y_real, idx, lmax, shape, xp, fft):
    """Samples on the uniform (n_u x n_v) torus grid of the 2D Fourier series of x, batch first."""
    n_u, n_v = shape
    coeffs = _to_order_degree(x, idx, xp)  # (2L+1, L+1, B)
    a = xp.permute_dims(y_real @ coeffs, (2, 0, 1))  # (B, 2L+1 [m], 2L+1 [u]) real factors
    pos, neg = a[:, lmax:, :], a[:, lmax::-1, :]  # orders +v and -v for v = 0..L
    odd = xp.asarray((np.arange(lmax + 1) % 2 == 1)[:, None])
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


def _fourier_product(x1, x2, t, same, xp, lmax1, lmax2, lmax_out):
    fft = _fft_module(xp)
    shape = tuple(int(s) for s in t["shape"])
    g1 = _fourier_grid(x1, t["y1"], t["idx1"], lmax1, shape, xp, fft)
    g2 = g1 if same else _fourier_grid(x2, t["y2"], t["idx2"], lmax2, shape, xp, fft)
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


# --------------------------------------------------------------------------------------------
# "direct": sparse Gaunt tensor.


def _direct_tables(lmax1: int, lmax2: int, lmax_out: int) -> dict[str, Any]:
    k2 = (lmax2 + 1) ** 2
    rows, cols, vals = [], [], []
    for (l1, l2, l3), block in gaunt_tensor_blocks(lmax1, lmax2, lmax_out):
        i1, i2, i3 = np.nonzero(np.abs(block) > 1e-15 * np.abs(block).max())
        rows.append(l3 * l3 + i3)
        cols.append((l1 * l1 + i1) * k2 + l2 * l2 + i2)
        vals.append(block[i1, i2, i3])
    shape = ((lmax_out + 1) ** 2, (lmax1 + 1) ** 2 * k2)
    if rows:
        g = scipy.sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape
        )
    else:
        g = scipy.sparse.csr_matrix(shape)
    return {"gaunt": g}


def _sparse_on_device(matrix, on_gpu: bool):
    if on_gpu:
        import cupyx.scipy.sparse

        return cupyx.scipy.sparse.csr_matrix(matrix)
    return matrix


def _direct_product(x1, x2, t, xp, k_out):
    batch = np.broadcast_shapes(tuple(x1.shape[:-1]), tuple(x2.shape[:-1]))
    k1, k2 = x1.shape[-1], x2.shape[-1]
    a = xp.reshape(xp.broadcast_to(x1, (*batch, k1)), (-1, k1))
    b = xp.reshape(xp.broadcast_to(x2, (*batch, k2)), (-1, k2))
    n = a.shape[0]
    step = max(1, _DIRECT_MAX_OUTER_ENTRIES // (k1 * k2))
    parts = []
    for start in range(0, n, step):
        outer = a[start : start + step, :, None] * b[start : start + step, None, :]
        outer = xp.reshape(outer, (outer.shape[0], k1 * k2))
        # sparse (K3, K1*K2) @ dense (K1*K2, b): O(b * nnz) work
        dense = xp.asarray(xp.matrix_transpose(outer), copy=True)
        parts.append(xp.matrix_transpose(xp.asarray(t["gaunt"] @ dense)))
    out = parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)
    return xp.reshape(out, (*batch, k_out))
