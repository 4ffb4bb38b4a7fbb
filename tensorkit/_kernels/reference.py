"""Plain-numpy reference kernels: slow, obviously right, the oracle for the others."""

from __future__ import annotations

import importlib
import math

import numpy as np

from ..backend import array_module, scipy_for
from ..tenalg import kron_rows
from .winograd import tile_extent


def mttkrp_coo(indices, values, factors, mode, n_rows):
    """COO MTTKRP by forming each nonzero's row product and scattering with ``np.add.at``."""
    rank = factors[0].shape[1]
    dtype = np.result_type(values, *factors)
    rows = np.repeat(values.astype(dtype)[:, None], rank, axis=1)
    for k, factor in enumerate(factors):
        if k != mode:
            rows *= factor[indices[:, k], :]
    out = np.zeros((n_rows, rank), dtype=dtype)
    np.add.at(out, indices[:, mode], rows)
    return out


def fwht(X):
    """Walsh-Hadamard transform along axis 0 by the butterfly recursion on reshaped views."""
    n, k = X.shape
    Y = np.array(X, copy=True)
    h = 1
    while h < n:
        blocks = Y.reshape(n // (2 * h), 2, h, k)
        top = blocks[:, 0] + blocks[:, 1]
        bottom = blocks[:, 0] - blocks[:, 1]
        Y = np.stack((top, bottom), axis=1).reshape(n, k)
        h *= 2
    return Y


def sparse_sketch(A, rows, signs, n_out):
    """Sparse sketch by scattering signed rows of ``A`` with ``np.add.at``."""
    out = np.zeros((n_out, A.shape[1]), dtype=A.dtype)
    for j in range(rows.shape[1]):
        np.add.at(out, rows[:, j], signs[:, j, None] * A)
    return out


def normal_matvec(A, W, B):
    """``A.T @ (A @ W - B)`` and the squared residual norms, by two BLAS products."""
    R = A @ W
    if B is not None:
        R = R - B
    return A.T @ R, np.sum(R * R, axis=0)


def gelu_shifted(x, bias=None, residual=None, gate=None, *, overwrite_x=False, slope=None):
    """``(GELU(p), GELU'(p))`` at ``p = x + bias[c] + gate[c] residual`` by array operations and
    the library's erf (numpy or CuPy arrays); see :func:`tensorkit._kernels.gelu_shifted`."""
    xp = array_module(x)
    special = importlib.import_module(f"{scipy_for(xp).__name__}.special")
    p = shifted_input(x, bias, residual, gate)
    cdf = 0.5 * (1.0 + special.erf(p * (1.0 / math.sqrt(2.0))))
    y, s = p * cdf, cdf + p * (1.0 / math.sqrt(2.0 * math.pi)) * xp.exp(-0.5 * p * p)
    if slope is not None and slope.shape == x.shape:
        slope[...] = s
        s = slope
    if overwrite_x:
        x[...] = y
        y = x
    return y, s


def shifted_input(x, bias=None, residual=None, gate=None):
    """``p = x + bias[c] + gate[c] residual`` over ``(batch, channels, ...)`` arrays (a new array
    when a term is given; ``gate`` None means one)."""
    view = (1, -1) + (1,) * (x.ndim - 2)
    p = x
    if bias is not None:
        p = p + bias.reshape(view)
    if residual is not None:
        p = p + (1.0 if gate is None else gate.reshape(view)) * residual
    return p


def adam_step(p, g, m, v, *, b1, b2, weight_decay, lr, bias1, bias2, eps):
    """One Adam step in place by array operations (PyTorch's formula; numpy or CuPy arrays); see
    :func:`tensorkit._kernels.adam_step`."""
    xp = array_module(p)
    g = g + weight_decay * p
    m *= b1
    m += (1.0 - b1) * g
    v *= b2
    v += (1.0 - b2) * (g.real * g.real + g.imag * g.imag if g.dtype.kind == "c" else g * g)
    p -= (lr / bias1) * (m / (xp.sqrt(v / bias2) + eps))


def conv_taps(flat, taps, offsets, out):
    """``out[b] = sum_t taps[t] @ flat[b, :, off_t : off_t + L]`` by batched matmuls (numpy or
    CuPy); see :func:`tensorkit._kernels.conv_taps`."""
    xp = array_module(flat)
    length = out.shape[2]
    tmp = xp.empty_like(out) if len(offsets) > 1 else None
    for t, off in enumerate(offsets):
        window = flat[:, :, off: off + length]
        if t == 0:
            xp.matmul(taps[t], window, out=out)
        else:
            xp.matmul(taps[t], window, out=tmp)
            out += tmp
    return out


def conv_taps_adjoint(flat, taps, offsets, gflat, dflat, dtaps):
    """Adjoint of :func:`conv_taps`: ``dtaps[t] += sum_b gflat[b] window_t[b]^T`` and
    ``dflat[b, :, window_t] += taps[t]^T gflat[b]`` (numpy or CuPy)."""
    xp = array_module(flat)
    length = gflat.shape[2]
    for t, off in enumerate(offsets):
        window = flat[:, :, off: off + length]
        dtaps[t] += xp.matmul(gflat, window.transpose(0, 2, 1)).sum(axis=0)
        dflat[:, :, off: off + length] += xp.matmul(taps[t].T, gflat)
    return dflat, dtaps


def cp_values(indices, weights, factors):
    """Values of a CP model at cells by gathering each cell's factor rows; see
    :func:`tensorkit._kernels.cp_values`."""
    xp = array_module(weights)
    dtype = xp.result_type(weights, *factors)
    prod = xp.broadcast_to(weights.astype(dtype), (indices.shape[0], weights.shape[0])).copy()
    for k, factor in enumerate(factors):
        prod *= factor[indices[:, k]]
    return prod.sum(axis=1)


# Cells per chunk of the Tucker gather: bounds the (chunk, prod of ranks) Kronecker rows in memory.
TUCKER_CHUNK = 1 << 15


def tucker_values(indices, core, factors):
    """Values of a Tucker model at cells: each chunk's Kronecker rows times ``vec(core)`` (numpy or
    CuPy arrays); see :func:`tensorkit._kernels.tucker_values`."""
    xp = array_module(core)
    flat = core.reshape(-1)
    dtype = xp.result_type(core, *factors)
    parts = [kron_rows(factors, indices[s:s + TUCKER_CHUNK]) @ flat
             for s in range(0, indices.shape[0], TUCKER_CHUNK)]
    return xp.concatenate(parts).astype(dtype, copy=False) if parts else xp.zeros(0, dtype=dtype)


# --- Winograd convolution tiles (see tensorkit._kernels.winograd) --------------------------------


def winograd_input(x, pads, mode, m, bt, out):
    """``out[f, c, n] = (B^T d_n B)[f]`` by an einsum over strided tile views of the padded ``x``
    (numpy or CuPy); see :func:`tensorkit._kernels.winograd_input`."""
    nxp = array_module(x)
    a = bt.shape[0]
    n_batch, n_chan = x.shape[:2]
    image = _winograd_image(x, pads, mode, m, a)
    tiles = _tile_view(image, m, a)
    bt = nxp.asarray(bt, dtype=x.dtype)
    gapped = _gapped(out, a, n_chan, n_batch, tiles.shape[2])
    gapped[..., : tiles.shape[3]] = nxp.einsum("ri,bcyxij,sj->rscbyx", bt, tiles, bt)
    gapped[..., tiles.shape[3]:] = 0
    return out


def winograd_input_adjoint(dv, pads, mode, m, bt, dx):
    """Adjoint of :func:`winograd_input`: each tile's ``B dV B^T`` added back at its place, then the
    padding's adjoint; written into ``dx``."""
    nxp = array_module(dv)
    a = bt.shape[0]
    n_batch, n_chan, height, width = dx.shape
    rows, cols = tile_extent(height, width, pads, m, a)
    n_ty, n_tx = (rows - a) // m + 1, (cols - a) // m + 1
    bt = nxp.asarray(bt, dtype=dx.dtype)
    d = nxp.einsum("ri,rscbyx,sj->bcyxij", bt, _gapped(dv, a, n_chan, n_batch, n_ty)[..., :n_tx], bt)
    image = nxp.zeros((n_batch, n_chan, rows, cols), dtype=dx.dtype)
    for i in range(a):
        for j in range(a):
            image[:, :, i: i + (n_ty - 1) * m + 1: m, j: j + (n_tx - 1) * m + 1: m] += d[..., i, j]
    image = image[:, :, : height + 2 * pads[0], : width + 2 * pads[1]]
    for axis, p in ((2, pads[0]), (3, pads[1])):
        n = image.shape[axis] - 2 * p
        core = _along(image, axis, p, p + n).copy()
        if mode == "periodic" and p:
            _along(core, axis, n - p, n)[...] += _along(image, axis, 0, p)
            _along(core, axis, 0, p)[...] += _along(image, axis, p + n, 2 * p + n)
        image = core
    dx[...] = image
    return dx


def winograd_output(mprod, m, at, bias, y):
    """``y[b, o] = A^T M_n A`` per tile, cropped, plus ``bias`` (None: none), by an einsum (numpy or
    CuPy); see :func:`tensorkit._kernels.winograd_output`."""
    nxp = array_module(mprod)
    a = at.shape[1]
    n_batch, n_out, height, width = y.shape
    n_ty, n_tx = -(-height // m), -(-width // m)
    at = nxp.asarray(at, dtype=y.dtype)
    tiles = nxp.einsum("ir,rsobyx,js->boyixj", at, _gapped(mprod, a, n_out, n_batch, n_ty)[..., :n_tx], at)
    y[...] = tiles.reshape(n_batch, n_out, n_ty * m, n_tx * m)[:, :, :height, :width]
    if bias is not None:
        y += bias.reshape(1, -1, 1, 1)
    return y


def winograd_output_adjoint(dy, m, at, out):
    """Adjoint of :func:`winograd_output` (without the bias): ``out[f, o, n] = (A dY_n A^T)[f]`` with
    ``dY`` zero beyond the output."""
    nxp = array_module(dy)
    a = at.shape[1]
    n_batch, n_out, height, width = dy.shape
    n_ty, n_tx = -(-height // m), -(-width // m)
    grown = nxp.zeros((n_batch, n_out, n_ty * m, n_tx * m), dtype=out.dtype)
    grown[:, :, :height, :width] = dy
    at = nxp.asarray(at, dtype=out.dtype)
    gapped = _gapped(out, a, n_out, n_batch, n_ty)
    tiles = grown.reshape(n_batch, n_out, n_ty, m, n_tx, m)
    gapped[..., :n_tx] = nxp.einsum("ir,boyixj,js->rsobyx", at, tiles, at)
    gapped[..., n_tx:] = 0
    return out


def _gapped(t, a, n_chan, n_batch, n_ty):
    """The transformed array ``(a*a, channels, tiles)`` as ``(a, a, channels, batch, TH, TW + e)``."""
    return t.reshape(a, a, n_chan, n_batch, n_ty, -1)


def _winograd_image(x, pads, mode, m, a):
    """``x`` padded (zeros or periodic) and grown with zeros to whole tiles."""
    nxp = array_module(x)
    height, width = x.shape[2:]
    rows, cols = tile_extent(height, width, pads, m, a)
    widths = ((0, 0), (0, 0), (pads[0], pads[0]), (pads[1], pads[1]))
    padded = nxp.pad(x, widths, mode="wrap" if mode == "periodic" else "constant")
    image = nxp.zeros((*x.shape[:2], rows, cols), dtype=x.dtype)
    image[:, :, : padded.shape[2], : padded.shape[3]] = padded
    return image


def _tile_view(image, m, a):
    """Overlapping ``a x a`` tiles at steps of ``m``: a strided view ``(b, c, TH, TW, a, a)``."""
    nxp = array_module(image)
    sb, sc, sh, sw = image.strides
    n_ty, n_tx = (image.shape[2] - a) // m + 1, (image.shape[3] - a) // m + 1
    return nxp.lib.stride_tricks.as_strided(
        image, (*image.shape[:2], n_ty, n_tx, a, a), (sb, sc, sh * m, sw * m, sh, sw))


def _along(x, axis, start, stop):
    index = [slice(None)] * x.ndim
    index[axis] = slice(start, stop)
    return x[tuple(index)]
