"""Gaunt tensor products: multiply two spherical functions, project back onto degrees <= Lout.

For coefficient vectors ``x1`` (degrees <= L1) and ``x2`` (degrees <= L2) of the functions
``F_i = sum_lm x_i,lm Y_lm`` the Gaunt tensor product is

.. math::

    \\mathrm{GTP}(x_1, x_2)_{l_3 m_3} = w_{l_3} \\int_{S^2} F_1 F_2 \\, Y_{l_3 m_3}
    = w_{l_3} \\sum G^{l_1 l_2 l_3}_{m_1 m_2 m_3} x_{1, l_1 m_1} x_{2, l_2 m_2},
    \\qquad l_3 \\le L_{out},

with the Gaunt coefficients ``G`` and optional weights ``w`` per output degree (and channel).
Three algorithms compute the same numbers, one module each (the math is in each module):

``"s2grid"`` (``_s2grid.py``)
    evaluate ``F_1, F_2`` on an exact Gauss-Legendre x uniform grid, multiply, integrate against the
    harmonics: O(L^3) per product in a few large matmuls (Xie et al. 2025);
``"fourier"`` (``_fourier.py``)
    the route of Luo et al. (2024): 2D Fourier series on the torus, product by FFT convolution,
    exact back-projection;
``"direct"`` (``_direct.py``)
    contraction with the sparse Gaunt tensor (the O(L^5)-O(L^6) baseline; exact, slow for large L).

``"auto"`` picks, per device and sizes, the method measured fastest (see ``_choose_method``). This
module holds what the three share: the plan (tables built once on the host, copied once per dtype
and device, dropped when pickled), the argument checks and the dispatch over cache-sized chunks.
"""

from __future__ import annotations

import importlib
import math
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse

from .._validation import as_float_array, check_allocation, check_choice, check_dtype, check_int, device_of
from ..backend import complex_dtype_for, get_namespace, native, scipy_for
from ._direct import direct_product, direct_tables
from ._fourier import fourier_product, fourier_tables
from ._limits import check_plan_tables
from ._s2grid import s2grid_product, s2grid_tables
from ._sph_harm import degree_index, lmax_from_size

__all__ = ["METHODS", "GauntTensorProduct", "gaunt_tensor_product"]

METHODS = ("auto", "s2grid", "fourier", "direct")

# method -> (host table builder, product on device tables); every product has the signature
# product(x1, x2, tables, same, xp) and broadcasts the batch shapes.
_ALGORITHMS = {
    "s2grid": (s2grid_tables, s2grid_product),
    "fourier": (fourier_tables, fourier_product),
    "direct": (direct_tables, direct_product),
}
# Target size of one chunk's grid in the grid methods (a cache-sized working set).
_GRID_CHUNK_BYTES = 1 << 18
_DEVICES = (None, "cpu", "gpu")


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
        float32 when both inputs are float32, else float64; on the device of the inputs. Zero
        samples give an empty array of that shape.

    Raises
    ------
    MemoryError
        When the plan's tables (``O(L^3)`` numbers on the grid, ``O(L^5)`` for ``"direct"``) or
        the output cannot fit, before anything is built.

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
    lmax1 = lmax_from_size(x1, "x1")
    lmax2 = lmax_from_size(x2, "x2")
    lmax_out = lmax1 + lmax2 if lmax_out is None else check_int(lmax_out, "lmax_out", minimum=0)
    check_choice(method, "method", METHODS)
    return _cached_plan(lmax1, lmax2, lmax_out, method)._apply(x1, x2, weights, xp)


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
        self.lmax1 = check_int(lmax1, "lmax1", minimum=0)
        self.lmax2 = check_int(lmax2, "lmax2", minimum=0)
        self.lmax_out = (
            self.lmax1 + self.lmax2 if lmax_out is None else check_int(lmax_out, "lmax_out", minimum=0)
        )
        self.method = check_choice(method, "method", METHODS)
        self.dtype = None if dtype is None else check_dtype(dtype, "dtype")
        # "auto" picks the grid whenever the sizes matter: bound its tables
        check_plan_tables(
            "s2grid" if self.method == "auto" else self.method, self.lmax1, self.lmax2, self.lmax_out
        )
        self._host: dict[str, dict[str, Any]] = {}
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

    def resolved_method(self, device: str | None = None) -> str:
        """The algorithm a call on arrays on ``device`` runs (``"auto"`` resolved).

        ``device`` is None or ``"cpu"`` for numpy arrays, ``"gpu"`` for CuPy arrays.
        """
        check_choice(device, "device", _DEVICES)
        return self._method_for(gpu=device == "gpu")

    def _method_for(self, *, gpu: bool) -> str:
        if self.method != "auto":
            return self.method
        return _choose_method(self.lmax1, self.lmax2, self.lmax_out, gpu=gpu)

    def __call__(self, x1: Any, x2: Any, *, weights: Any = None):
        """Apply the product to ``x1`` (..., (L1+1)**2) and ``x2`` (..., (L2+1)**2).

        ``weights`` broadcasts to ``(..., lmax_out + 1)``; see :func:`gaunt_tensor_product`.
        """
        return self._apply(x1, x2, weights, get_namespace(x1, x2, weights))

    def _apply(self, x1: Any, x2: Any, weights: Any, xp: Any):
        """:meth:`__call__` for a caller that already holds the namespace ``xp`` of the inputs."""
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
        device = device_of(xp)
        check_allocation(
            (*batch, k_out), np.dtype(np.float32 if dtype == xp.float32 else np.float64),
            "the Gaunt tensor product's output", alternative="fewer samples per call", device=device,
        )
        if math.prod(batch) == 0:  # zero samples: an empty result of the right shape
            return xp.zeros((*batch, k_out), dtype=dtype)
        method = self._method_for(gpu=device == "gpu")
        tables = self._tables(method, xp, dtype)
        x1 = xp.reshape(x1, (1,) * (len(batch) - x1.ndim + 1) + tuple(x1.shape))
        x2 = x1 if same else xp.reshape(x2, (1,) * (len(batch) - x2.ndim + 1) + tuple(x2.shape))
        product = _ALGORITHMS[method][1]
        if method == "direct":  # chunks its outer products itself
            out = product(x1, x2, tables, same, xp)
        else:
            out = _in_chunks(product, x1, x2, same, tables, xp)
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
        key = (method, _device_key(xp), str(dtype))
        cached = self._device.get(key)
        if cached is not None:
            return cached
        host = self._host.get(method)
        if host is None:
            host = _ALGORITHMS[method][0](self.lmax1, self.lmax2, self.lmax_out)
            host["degree"] = degree_index(self.lmax_out)
            self._host[method] = host
        real = np.dtype(np.float32 if dtype == xp.float32 else np.float64)
        converted = {name: _on_device(table, xp, real) for name, table in host.items()}
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


def _in_chunks(product, x1, x2, same: bool, tables, xp):
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
        out = _in_chunks(product, flat1, flat2, same, tables, xp)
        return xp.reshape(out, (*batch, out.shape[-1]))
    rows = batch[0] if batch else 1
    if batch and device_of(xp) != "gpu":
        per_row = math.prod(batch[1:]) * tables["grid_size"] * x1.itemsize
        rows = max(1, _GRID_CHUNK_BYTES // per_row)
    if not batch or rows >= batch[0]:
        return product(x1, x2, tables, same, xp)
    parts = []
    for start in range(0, batch[0], rows):
        a = x1 if x1.shape[0] == 1 else x1[start : start + rows]
        b = a if same else (x2 if x2.shape[0] == 1 else x2[start : start + rows])
        parts.append(product(a, b, tables, same, xp))
    return xp.concat(parts, axis=0)


def _on_device(table: Any, xp: Any, real: np.dtype) -> Any:
    """A host table in the precision ``real`` on the device of ``xp``.

    Float tables are cast (complex ones to the matching complex type), index tables copied as they
    are, sparse matrices become scipy or cupyx CSR matrices; Python ints and tuples (sizes read on
    the host) stay as they are.
    """
    if scipy.sparse.issparse(table):
        sparse = importlib.import_module(f"{scipy_for(xp).__name__}.sparse")
        return sparse.csr_matrix(table.astype(real))
    if not isinstance(table, np.ndarray):
        return table
    if table.dtype.kind == "f":
        return xp.asarray(table.astype(real))
    if table.dtype.kind == "c":
        return xp.asarray(table.astype(complex_dtype_for(real)))
    return xp.asarray(table)


def _device_key(xp: Any) -> int:
    """-1 for the host, else the current CUDA device (a device's tables serve that device only)."""
    if device_of(xp) != "gpu":
        return -1
    return int(native(xp).cuda.runtime.getDevice())
