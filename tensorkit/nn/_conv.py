r"""Dense N-d convolutions (:class:`Conv2d`, :class:`Conv3d`) and the convolution primitives that the
factorized convolutions reuse.

Arrays are ``(batch, channels, *spatial)``. A convolution is a cross-correlation, as in PyTorch:

.. math::

    y[b, o, h] = \mathrm{bias}[o] + \sum_{c, t} K[o, c, t] \, x_{pad}[b, c, s \odot h + t]

with ``h`` and the tap ``t`` running over the spatial axes and ``s`` the per-axis stride. The
primitives take the unpadded input and return a cache for their adjoint:

- :func:`conv_forward` / :func:`conv_adjoint`: dense kernel ``(out, in, *k)``;
- :func:`winograd_forward` / :func:`winograd_adjoint`: the same dense 2D kernel by Winograd's
  minimal filtering (``r x r`` kernels at stride 1);
- :func:`depthwise_forward` / :func:`depthwise_adjoint`: one filter per channel, ``(channels, *k)``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from .. import _kernels
from .._validation import check_allocation, check_choice, check_int, per_axis
from ..backend import array_module, is_numpy_namespace
from ._module import Module
from ._padding import check_conv_input, pad, pad_adjoint, pad_into, resolve_padding

__all__ = [
    "CONV_ALGORITHMS",
    "Conv2d",
    "Conv3d",
    "conv_adjoint",
    "conv_forward",
    "depthwise_adjoint",
    "depthwise_forward",
    "winograd_adjoint",
    "winograd_forward",
]

# "winograd", "winograd3", "winograd4": F(m x m, 3x3) for m = 2, 3, 4 (see Conv2d's notes for their accuracy)
CONV_ALGORITHMS = ("auto", "direct", "winograd", "winograd3", "winograd4")
_TILE = {"winograd": 2, "winograd3": 3, "winograd4": 4}


class _ConvNd(Module):
    """Dense ``ndim``-d cross-correlation (the body of :class:`Conv2d` and :class:`Conv3d`)."""

    ndim = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        *,
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | str = "same",
        padding_mode: str = "zeros",
        bias: bool = True,
        algorithm: str = "auto",
        dtype: Any = np.float64,
        random_state: Any = None,
    ):
        super().__init__(dtype=dtype, random_state=random_state)
        set_conv_geometry(self, in_channels, out_channels, self.ndim, kernel_size, stride, padding,
                          padding_mode)
        self.algorithm = check_choice(algorithm, "algorithm", CONV_ALGORITHMS)
        if self.algorithm.startswith("winograd") and not self._winograd_applies():
            raise ValueError(
                f"algorithm={algorithm!r} needs a 2D 3x3 kernel at stride 1, got a {self.ndim}D kernel "
                f"{self.kernel_size} at stride {self.stride}"
            )
        bound = 1.0 / math.sqrt(self.in_channels * math.prod(self.kernel_size))
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        check_allocation(
            shape, self.dtype, f"{type(self).__name__}'s kernel", count=2,
            alternative="a factorized convolution (tensorkit.nn.FactorizedConv) or a smaller kernel",
        )
        self.add_parameter("weight", self.rng.uniform(-bound, bound, size=shape))
        self.has_bias = bool(bias)
        if self.has_bias:
            self.add_parameter("bias", self.rng.uniform(-bound, bound, size=(self.out_channels,)))
        self._cache = None
        # the Winograd tile buffers, kept between calls (a fresh array costs its page faults)
        self._workspace: dict = {}

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, padding_mode={self.padding_mode!r}, "
            f"algorithm={self.algorithm!r}"
        )

    def _winograd_applies(self) -> bool:
        return self.ndim == 2 and self.kernel_size == (3, 3) and self.stride == (1, 1)

    def forward(self, x):
        x = check_conv_input(self, x, self.in_channels, self.kernel_size, self.padding, self.padding_mode)
        bias = self.params["bias"] if self.has_bias else None
        algorithm = self.algorithm
        if algorithm == "auto":
            # F(3) pays for its transforms from in x out x pixels = 2^19 on (fwd+bwd over the taps, float32,
            # batch 8, 32 channels: 0.54x at 64x64, 0.99x at 24x24, 1.5x at 16x16); the GPU keeps cuBLAS taps
            wins = (self._winograd_applies() and is_numpy_namespace(array_module(x))
                    and self.in_channels * self.out_channels * x.shape[2] * x.shape[3] >= 1 << 19)
            algorithm = "winograd3" if wins else "direct"
        if algorithm == "direct":
            y, self._cache = conv_forward(x, self.params["weight"], self.padding, self.padding_mode,
                                          self.stride, bias=bias)
        else:
            y, self._cache = winograd_forward(x, self.params["weight"], self.padding, self.padding_mode,
                                              _TILE[algorithm], bias=bias, workspace=self._workspace)
        self._out_shape = y.shape
        return y

    def backward(self, grad_out):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        weight = self.params["weight"]
        g = self._as_grad(grad_out, self._out_shape)
        if self.has_bias:
            self.grads["bias"] += g.sum(axis=(0, *range(2, g.ndim)))
        adjoint = winograd_adjoint if self._cache[0] == "winograd" else conv_adjoint
        dx, dweight = adjoint(self._cache, weight, g)
        self.grads["weight"] += dweight
        return dx


class Conv2d(_ConvNd):
    r"""2D cross-correlation with zero or periodic padding, like ``torch.nn.Conv2d``.

    ``y[b, o, h, w] = bias[o] + sum_{c, i, j} K[o, c, i, j] x_pad[b, c, s_0 h + i, s_1 w + j]``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or tuple of 2 ints
    stride : int or tuple of 2 ints
    padding : "same", int or tuple of 2 ints
        ``"same"`` (default) pads ``k // 2`` on each side (odd kernels; the output keeps the input
        size at stride 1).
    padding_mode : {"zeros", "periodic"}
        ``"periodic"`` wraps around (PyTorch's ``"circular"``).
    bias : bool
    algorithm : {"auto", "direct", "winograd", "winograd3", "winograd4"}
        ``"direct"``: the shifted-matmul taps of :class:`Conv3d`'s notes. ``"winograd"``, ``"winograd3"``,
        ``"winograd4"``: Winograd's ``F(m x m, 3x3)``, ``m`` = 2, 3, 4 (3x3 kernels at stride 1, else a
        ``ValueError``). ``"auto"`` (default): ``"winograd3"`` for 3x3 kernels at stride 1 on the CPU
        when ``in_channels * out_channels * height * width >= 2**19``, else ``"direct"``.
    dtype, random_state
        See :class:`Module`; PyTorch's initialization ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

    Notes
    -----
    Winograd's algorithm (Lavin and Gray, 2016) splits the padded input into ``a x a`` tiles
    ``d`` (``a = m + 2``) at steps of ``m`` and computes each ``m x m`` output tile as

    .. math::

        Y = A^T \Big[ \sum_c (G K_{oc} G^T) \odot (B^T d_c B) \Big] A,

    so the channel sum is one GEMM per frequency, ``(out x in) @ (in x tiles)``, with ``a^2``
    multiplications per tile instead of ``9 m^2`` (2.25x, 3.24x, 4x fewer for ``m`` = 2, 3, 4;
    matrices from ``tensorkit._kernels.winograd_matrices``). ``F(3x3, 3x3)`` interpolates at
    ``+-1/3, +-4/3`` and infinity: rows of ``A^T`` (1, 1, 1, 1, 0), (1/3, -1/3, 4/3, -4/3, 0),
    (1/9, 1/9, 16/9, 16/9, 1); of ``G`` (-9, -3, -1)/10, (9, -3, 1)/10, (9/4, 3, 4)/10, (-9/4, 3, -4)/10,
    (0, 0, 1); of ``B^T`` (-16/27, -16/9, 1/3, 1, 0), (16/27, -16/9, -1/3, 1, 0), (-4/27, -1/9, 4/3,
    1, 0), (4/27, -1/9, -4/3, 1, 0), (16/81, 0, -17/9, 0, 1). The algorithm is linear in input
    and kernel, so the backward pass is its exact adjoint: ``dK = G^T [sum_n (A dY A^T) (.)
    (B^T d B)] G`` and ``dx`` adds ``B [(G K G^T) (.) (A dY A^T)] B^T`` back over the overlapping
    tiles. The transforms add rounding that grows with their entries, hence with ``m``; ``F(3x3,
    3x3)``'s points had the least error of the sets ``+-p, +-q`` with small denominators (``0, +-1,
    +-2`` had 2x more). Float32 errors against a float64 oracle (max ``|err|`` / max ``|ref|``, RMS;
    worst of 3 seeds; batch 8, 32 channels, 64x64, periodic; ``bench_nn_layers.py --accuracy``):

    ============= ============= ============= =============
    algorithm     y             dx            dK
    ============= ============= ============= =============
    direct        1.8e-7 1.2e-7 2.0e-7 1.2e-7 3.9e-7 3.5e-7
    winograd      3.6e-7 2.0e-7 2.8e-7 2.0e-7 5.5e-7 4.7e-7
    winograd3     6.8e-7 3.5e-7 5.8e-7 3.5e-7 9.0e-7 7.2e-7
    winograd4     5.3e-6 1.2e-6 3.1e-6 1.2e-6 6.0e-6 2.9e-6
    torch float32 4.3e-7 2.2e-7 4.6e-7 2.2e-7 3.8e-6 2.3e-6
    ============= ============= ============= =============

    ``"winograd3"`` stays within about 3x of the direct RMS error (below PyTorch's float32 ``dK``),
    so ``"auto"`` uses it; ``"winograd4"`` costs about 10x and ``"auto"`` never takes it. Speed
    (fwd+bwd, 1 thread, the benchmark's size, CPU time over PyTorch's): ``"direct"`` 1.45-1.55x,
    ``"winograd"`` 1.1x, ``"winograd3"`` 0.95-0.99x, ``"winograd4"`` 0.9x.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.nn import Conv2d
    >>> Conv2d(2, 4, 3, stride=2, random_state=0)(np.ones((1, 2, 9, 8))).shape
    (1, 4, 5, 4)
    """

    ndim = 2


class Conv3d(_ConvNd):
    r"""3D cross-correlation with zero or periodic padding, like ``torch.nn.Conv3d``.

    ``y[b, o, h, w, d] = bias[o] + sum_{c, i, j, l} K[o, c, i, j, l] x_pad[b, c, s_0 h + i, s_1 w + j,
    s_2 d + l]``. Parameters as :class:`Conv2d`, with 3 entries per tuple.

    Notes
    -----
    Stride 1 runs as shifted matmuls without im2col: with the padded input flattened per channel,
    tap ``t`` reads the contiguous window starting at ``sum_d t_d P_d`` (``P_d`` the flattened
    stride of axis ``d``), so ``Y = sum_t K_t X[:, off_t : off_t + L]`` is ``prod(k)`` batched
    matmuls on views of one buffer, computed on a grid whose trailing padded entries are dropped.
    The adjoint adds ``K_t^T G`` back into the same windows and ``dK_t = sum_b G_b X_b[:, window]^T``.
    Memory stays at the size of the input (im2col would need ``prod(k)`` times that). A stride
    ``s`` above 1 splits the padded input into its ``prod(s)`` polyphase components
    ``x_q[u] = x_pad[s u + q]``, flattened one after the other: tap ``t = s t' + q`` reads component
    ``q`` shifted by ``t'``, again a contiguous window, so strided convolutions need no im2col either.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.nn import Conv3d
    >>> Conv3d(1, 2, 3, padding_mode="periodic", random_state=0)(np.ones((1, 1, 4, 5, 6))).shape
    (1, 2, 4, 5, 6)
    """

    ndim = 3


def set_conv_geometry(layer: Module, in_channels: Any, out_channels: Any, ndim: int, kernel_size: Any,
                      stride: Any, padding: Any, padding_mode: str) -> None:
    """Check and store what every convolution shares: channel counts, per-axis kernel size and
    stride, and the resolved padding (dense, factorized and one-way convolutions alike)."""
    layer.in_channels = check_int(in_channels, "in_channels", minimum=1)
    layer.out_channels = check_int(out_channels, "out_channels", minimum=1)
    layer.kernel_size = per_axis(kernel_size, ndim, "kernel_size", _positive)
    layer.stride = per_axis(stride, ndim, "stride", _positive)
    layer.padding = resolve_padding(padding, layer.kernel_size, padding_mode)
    layer.padding_mode = padding_mode


def _positive(value: Any, name: str) -> int:
    return check_int(value, name, minimum=1)


# ------------------------------------------------------------------------------------ primitives
def output_shape(spatial, kernel, pads, stride) -> tuple[int, ...]:
    """Spatial output size ``(n + 2p - k) // s + 1`` per axis."""
    return tuple((n + 2 * p - k) // s + 1 for n, k, p, s in zip(spatial, kernel, pads, stride, strict=True))


def conv_forward(x, kernel, pads, mode, stride, bias=None):
    """Dense convolution of ``x`` (batch, in, *n) with ``kernel`` (out, in, *k) plus ``bias`` (out,)
    if given; returns ``(y, cache)``.

    The padded input is split into its ``prod(stride)`` polyphase components
    ``x_q[u] = x_pad[s u + q]``, flattened one after the other per channel; tap ``t = s t' + q`` then
    reads component ``q`` shifted by ``t'`` (a contiguous window of the flat buffer), so that any
    stride is one tap sum of :func:`tensorkit._kernels.conv_taps` without im2col (stride 1 is the
    single component ``x_pad``).
    """
    nxp = array_module(x)
    b, c = x.shape[:2]
    k = kernel.shape[2:]
    o = kernel.shape[0]
    geometry = _phase_geometry(x.shape[2:], k, pads, stride)
    out_sp, grid, size, steps, length, n_phases = geometry
    # trailing zeros: the last windows overrun only into grid entries that are dropped
    extra = sum((-(-kd // sd) - 1) * st for kd, sd, st in zip(k[1:], stride[1:], steps[1:], strict=True))
    flat = nxp.zeros((b, c, n_phases * size + extra), dtype=x.dtype)
    if n_phases == 1:
        pad_into(x, flat[:, :, :size].reshape(b, c, *grid), pads, mode)
    else:
        xpad = pad(x, pads, mode)
        for n_q, index, take in _phases(xpad.shape[2:], grid, stride):
            flat[:, :, n_q * size:(n_q + 1) * size].reshape(b, c, *grid)[take] = xpad[index][take]
    out = nxp.empty((b, o, length), dtype=x.dtype)
    taps = _tap_major(kernel.reshape(o, c, -1))
    _kernels.conv_taps(flat, taps, _phase_offsets(k, stride, size, steps), out, backend=_taps_backend(nxp))
    kept = out.reshape(b, o, out_sp[0], *grid[1:])[(slice(None), slice(None), slice(None),
                                                     *map(slice, out_sp[1:]))]
    y = nxp.empty(kept.shape, dtype=x.dtype)
    if bias is None:
        y[...] = kept
    else:  # the bias rides on the copy out of the padded grid
        nxp.add(kept, bias.reshape((-1,) + (1,) * len(k)), out=y)
    return y, ("phases", flat, x.shape, pads, mode, stride, geometry)


def conv_adjoint(cache, kernel, grad_out):
    """``(dx, dkernel)`` of :func:`conv_forward` for the output gradient ``grad_out``."""
    kind, flat, in_shape, pads, mode, stride, geometry = cache
    if kind != "phases":
        raise ValueError(f"conv_adjoint: unknown cache kind {kind!r}")
    nxp = array_module(flat)
    out_sp, grid, size, steps, length, n_phases = geometry
    b, c = in_shape[:2]
    o = kernel.shape[0]
    k = kernel.shape[2:]
    gflat = nxp.zeros((b, o, out_sp[0], *grid[1:]), dtype=kernel.dtype)
    gflat[(slice(None), slice(None), slice(None), *map(slice, out_sp[1:]))] = grad_out
    tap_major = _tap_major(kernel.reshape(o, c, -1))
    dflat = nxp.zeros_like(flat)
    dtaps = nxp.zeros_like(tap_major)
    _kernels.conv_taps_adjoint(flat, tap_major, _phase_offsets(k, stride, size, steps),
                               gflat.reshape(b, o, length), dflat, dtaps, backend=_taps_backend(nxp))
    dkernel = nxp.moveaxis(dtaps, 0, -1).reshape(kernel.shape)
    padded = tuple(n + 2 * p for n, p in zip(in_shape[2:], pads, strict=True))
    if n_phases == 1:
        dxpad = dflat[:, :, :size].reshape(b, c, *grid)
    else:
        # the components are disjoint in the padded input; entries a component has beyond it were
        # read by no kept output
        dxpad = nxp.zeros((b, c, *padded), dtype=kernel.dtype)
        for n_q, index, take in _phases(padded, grid, stride):
            dxpad[index][take] = dflat[:, :, n_q * size:(n_q + 1) * size].reshape(b, c, *grid)[take]
    return pad_adjoint(dxpad, pads, mode), dkernel


def _phase_geometry(spatial, k, pads, stride):
    """``(out_sp, grid, size, steps, length, n_phases)`` of the polyphase tap sum: each component
    on a ``grid`` of ``out + ceil(k / s) - 1`` per axis (``size`` entries, flattened strides
    ``steps``), and ``length`` outputs on the grid (trailing axes' extra columns dropped after)."""
    out_sp = output_shape(spatial, k, pads, stride)
    grid = tuple(n + -(-kd // sd) - 1 for n, kd, sd in zip(out_sp, k, stride, strict=True))
    steps = _flat_steps(grid)
    return out_sp, grid, math.prod(grid), steps, out_sp[0] * steps[0], math.prod(stride)


def _phases(padded, grid, stride):
    """``(n_q, index, take)`` per polyphase component ``q``: its index in the padded input and the
    part of the grid it fills."""
    for n_q, q in enumerate(itertools.product(*map(range, stride))):
        index = (slice(None), slice(None), *(slice(qd, None, sd) for qd, sd in zip(q, stride, strict=True)))
        counts = (-(-(p - qd) // sd) for p, qd, sd in zip(padded, q, stride, strict=True))
        take = (slice(None), slice(None), *(slice(min(g, n)) for g, n in zip(grid, counts, strict=True)))
        yield n_q, index, take


def _phase_offsets(k, stride, size, steps) -> list[int]:
    """Start of each tap's window: component ``t mod s`` at ``size`` per component, shifted by
    ``t // s`` on its grid."""
    phase_index = {q: n for n, q in enumerate(itertools.product(*map(range, stride)))}
    return [
        phase_index[tuple(td % sd for td, sd in zip(t, stride, strict=True))] * size
        + sum(td // sd * st for td, sd, st in zip(t, stride, steps, strict=True))
        for t in itertools.product(*map(range, k))
    ]


def winograd_forward(x, kernel, pads, mode, m, bias=None, workspace=None):
    r"""Dense 2D convolution at stride 1 by Winograd's ``F(m x m, r x r)``; returns ``(y, cache)``.

    With ``U_f = (G K_{oc} G^T)_f`` and ``V_f = (B^T d_n B)_f`` over the ``a x a`` input tiles
    ``d_n`` (``a = m + r - 1``, stepping by ``m``), each frequency ``f`` is one GEMM
    ``M_f = U_f V_f`` ``(out x in) @ (in x tiles)`` and every output tile is ``A^T M_n A``
    (matrices of ``tensorkit._kernels.winograd_matrices``). The images go through in chunks
    whose tiles stay in cache from their transform through the GEMMs; ``workspace`` (a dict) keeps
    the buffers between calls, and ``V`` for the adjoint.
    """
    nxp = array_module(x)
    n_out, _, r, _ = kernel.shape
    at, g, bt = (nxp.asarray(mat, dtype=x.dtype) for mat in _kernels.winograd_matrices(m, r))
    a = m + r - 1
    out_sp = output_shape(x.shape[2:], (r, r), pads, (1, 1))
    # U = (G (x) G) vec(K): one small GEMM (an einsum over the 3x3 taps took a millisecond)
    gg = nxp.kron(g, g)
    u = nxp.matmul(gg, kernel.reshape(-1, r * r).T).reshape(a * a, n_out, x.shape[1])
    workspace = {} if workspace is None else workspace
    backend = _taps_backend(nxp)
    y = nxp.empty((x.shape[0], n_out, *out_sp), dtype=x.dtype)
    for batch, v, prod in _winograd_chunks(x, n_out, out_sp, m, a, workspace):
        _kernels.winograd_input(x[batch], pads, mode, m, bt, v, backend=backend)
        nxp.matmul(u, v, out=prod)
        _kernels.winograd_output(prod, m, at, bias, y[batch], backend=backend)
    return y, ("winograd", x.shape, u, pads, mode, m, workspace)


def winograd_adjoint(cache, kernel, grad_out):
    r"""``(dx, dkernel)`` of :func:`winograd_forward`: the algorithm is linear in each argument, so
    its adjoint runs it backwards, ``Z_f = (A dY_n A^T)_f``, ``dU_f = sum_n Z_f V_f^T``,
    ``dK = G^T dU G`` and ``dx = `` the overlapping tiles' ``B (U_f^T Z_f) B^T`` added back, then
    the padding's adjoint."""
    _, in_shape, u, pads, mode, m, workspace = cache
    nxp = array_module(u)
    n_out, n_in, r = kernel.shape[0], kernel.shape[1], kernel.shape[-1]
    a = m + r - 1
    at, g, bt = (nxp.asarray(mat, dtype=kernel.dtype) for mat in _kernels.winograd_matrices(m, r))
    backend = _taps_backend(nxp)
    du = nxp.zeros((a * a, n_out, n_in), dtype=kernel.dtype)
    ut = u.transpose(0, 2, 1)
    dx = nxp.empty(in_shape, dtype=kernel.dtype)
    grad_out = nxp.ascontiguousarray(grad_out)
    for batch, v, z in _winograd_chunks(dx, n_out, grad_out.shape[2:], m, a, workspace):
        _kernels.winograd_output_adjoint(grad_out[batch], m, at, z, backend=backend)
        du += nxp.matmul(z, v.transpose(0, 2, 1))
        dv = _workspace_buffer(workspace, "input_grad", v.shape, v)
        nxp.matmul(ut, z, out=dv)
        _kernels.winograd_input_adjoint(dv, pads, mode, m, bt, dx[batch], backend=backend)
    dkernel = nxp.matmul(du.reshape(a * a, -1).T, nxp.kron(g, g)).reshape(kernel.shape)
    return dx, dkernel


# bytes of transformed tiles per chunk of whole images, about a core's L2 cache: per-image chunks ran
# fwd+bwd 10-30% faster than the whole batch (8 x 32 x 64 x 64, float32); blocks of a few tile rows,
# a BLAS call per block and frequency, were slower again (small-GEMM overheads)
_CHUNK_BYTES = 1 << 20


def _winograd_chunks(x, n_out, out_sp, m, a, workspace):
    """``(batch slice, V buffer of the chunk, product buffer)`` per chunk of whole images; the V
    buffers are kept per chunk (the adjoint reads them), the product buffer is shared."""
    tiles = math.prod(-(-n // m) for n in out_sp) + -(-out_sp[0] // m) * _kernels.tile_gap(m, a)
    per_image = a * a * max(x.shape[1], n_out) * tiles * x.dtype.itemsize
    step = max(1, _CHUNK_BYTES // per_image)
    starts = range(0, x.shape[0], step)
    for index, start in enumerate(starts):
        stop = min(start + step, x.shape[0])
        n_tiles = (stop - start) * tiles
        yield (slice(start, stop),
               _workspace_buffer(workspace, ("input", index), (a * a, x.shape[1], n_tiles), x),
               _workspace_buffer(workspace, "product", (a * a, n_out, n_tiles), x))
    for key in [k for k in workspace if isinstance(k, tuple) and k[1] >= len(starts)]:
        del workspace[key]


def _workspace_buffer(workspace: dict, name: str, shape: tuple, like):
    """``workspace[name]`` when it has this shape and ``like``'s dtype and array type, else a new
    array stored there (after checking that it fits)."""
    buf = workspace.get(name)
    if buf is None or buf.shape != shape or buf.dtype != like.dtype or type(buf) is not type(like):
        workspace.pop(name, None)
        check_allocation(shape, like.dtype, "the Winograd tile buffer",
                         device="cpu" if is_numpy_namespace(array_module(like)) else "gpu",
                         alternative="algorithm='direct' (no tile buffers)")
        buf = workspace[name] = array_module(like).empty(shape, dtype=like.dtype)
    return buf


def depthwise_forward(x, weight, pads, mode, stride):
    """Per-channel convolution of ``x`` (batch, c, *n) with ``weight`` (c, *k); returns ``(y, cache)``."""
    xpad = pad(x, pads, mode)
    k = weight.shape[1:]
    out_sp = output_shape(x.shape[2:], k, pads, stride)
    shape = (1, -1) + (1,) * len(k)
    y = None
    for t in itertools.product(*map(range, k)):
        term = weight[(slice(None), *t)].reshape(shape) * xpad[_window(t, out_sp, stride)]
        if y is None:
            y = term
        else:
            y += term
    return y, (xpad, pads, mode, stride, out_sp)


def depthwise_adjoint(cache, weight, grad_out):
    """``(dx, dweight)`` of :func:`depthwise_forward` for the output gradient ``grad_out``."""
    xpad, pads, mode, stride, out_sp = cache
    nxp = array_module(xpad)
    k = weight.shape[1:]
    shape = (1, -1) + (1,) * len(k)
    letters = "nc" + "xyzuvw"[: len(k)]
    dweight = nxp.empty_like(weight)
    dxpad = nxp.zeros_like(xpad)
    for t in itertools.product(*map(range, k)):
        index = _window(t, out_sp, stride)
        dweight[(slice(None), *t)] = nxp.einsum(f"{letters},{letters}->c", grad_out, xpad[index])
        dxpad[index] += weight[(slice(None), *t)].reshape(shape) * grad_out
    return pad_adjoint(dxpad, pads, mode), dweight


def _flat_steps(padded) -> tuple[int, ...]:
    """Flattened stride of every spatial axis of the padded grid."""
    return tuple(math.prod(padded[d + 1:]) for d in range(len(padded)))


def _window(tap, out_sp, stride) -> tuple:
    """Index of the padded-input entries that tap ``tap`` reads for every output position."""
    return (
        slice(None),
        slice(None),
        *(slice(t, t + (n - 1) * s + 1, s) for t, n, s in zip(tap, out_sp, stride, strict=True)),
    )


def _tap_major(taps):
    """The kernel ``(out, in, n_taps)`` as C-contiguous ``(n_taps, out, in)`` (one matrix per tap)."""
    nxp = array_module(taps)
    return nxp.ascontiguousarray(nxp.moveaxis(taps, -1, 0))


def _taps_backend(nxp) -> str:
    """The kernel set for the tap sums: Numba (BLAS) for numpy arrays, CuPy's otherwise."""
    return "numba" if is_numpy_namespace(nxp) else "cupy"
