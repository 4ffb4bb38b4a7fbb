r"""Numba kernels of the Winograd convolution's tile transforms (see :mod:`.winograd` for the math).

Layouts: transformed arrays are ``(a*a, channels, tiles)`` with frequency ``f = r a + s`` and the
gapped tile index ``n = (b TH + ty)(TW + e) + tx``, ``e = (a - 1) // m``, so that each frequency's
product is one GEMM over contiguous tiles. The input runs one image channel at a time through its
``m x m`` polyphase planes ``P[j % m, i % m][i // m, j // m] = x_pad[i, j]`` (rows ``TW + e``
long): entry ``(i, j)`` of tile ``(ty, tx)`` is ``P[j % m, i % m]`` at the flat offset
``(ty + i // m)(TW + e) + tx + j // m``, so both separable stages are shifted sums of contiguous
runs over all of an image's tiles at once, which LLVM vectorizes (per tile row, or with indices
that Numba must check for wraparound, they ran 3-5x slower). The ``e`` gap tiles per row keep the
runs contiguous; they cost ``e / (TW + e)`` more GEMM work. The only scalar passes are the scatter
into the planes and the interleaving of output tiles (stride ``m``). Zero matrix entries are
skipped outside the vector loops, and the first term of each sum is stored, not added.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .winograd import tile_extent, tile_gap

_JIT = {"cache": True, "nogil": True, "fastmath": True, "error_model": "numpy"}


def winograd_input(x, pads, mode, m, bt, out):
    """``out[f, c, n] = (B^T d_n B)[f]`` over the tiles ``d_n`` of the padded ``x``, zero on the gap
    tiles; see :func:`tensorkit._kernels.winograd_input`."""
    tiles, planes, vt = _scratch(x.shape[2:], pads, m, bt.shape[0], x.dtype)
    _input_transform(np.ascontiguousarray(x), pads[0], pads[1], mode == "periodic", m,
                     bt.astype(x.dtype), out, *tiles, planes, vt)
    return out


def winograd_input_adjoint(dv, pads, mode, m, bt, dx):
    """Adjoint of :func:`winograd_input` written into ``dx`` (``dv``'s gap tiles are zeroed first);
    see :func:`tensorkit._kernels.winograd_input_adjoint`."""
    tiles, planes, vt = _scratch(dx.shape[2:], pads, m, bt.shape[0], dx.dtype)
    _input_adjoint(dv, pads[0], pads[1], mode == "periodic", m, bt.astype(dx.dtype), dx, *tiles, planes,
                   vt)
    return dx


def winograd_output(mprod, m, at, bias, y):
    """``y[b, o] = A^T M_n A (+ bias)`` tile by tile, cropped; see
    :func:`tensorkit._kernels.winograd_output`."""
    shift = np.zeros(y.shape[1], dtype=y.dtype) if bias is None else np.ascontiguousarray(bias, dtype=y.dtype)
    _output_transform(mprod, m, at.astype(y.dtype), shift, y, tile_gap(m, at.shape[1]))
    return y


def winograd_output_adjoint(dy, m, at, out):
    """``out[f, o, n] = (A dY_n A^T)[f]`` with ``dY`` zero beyond the output and on the gap tiles;
    see :func:`tensorkit._kernels.winograd_output_adjoint`."""
    _output_adjoint(np.ascontiguousarray(dy, dtype=out.dtype), m, at.astype(out.dtype), out,
                    tile_gap(m, at.shape[1]))
    return out


def _scratch(spatial, pads, m, a, dtype):
    """The tile counts ``(TH, TW)``, zeroed polyphase planes ``(m, m, (TH + e)(TW + e))`` and the
    vertical stage ``(a, m, TH (TW + e) + e)`` (entries never written stay zero)."""
    rows, cols = tile_extent(*spatial, pads, m, a)
    n_ty, n_tx = (rows - a) // m + 1, (cols - a) // m + 1
    e = tile_gap(m, a)
    return ((n_ty, n_tx), np.zeros((m, m, (n_ty + e) * (n_tx + e)), dtype),
            np.zeros((a, m, n_ty * (n_tx + e) + e), dtype))


@njit(**_JIT)
def _sources(n, p, periodic):
    """Source index in ``[0, n)`` of each of the ``n + 2 p`` padded positions, -1 for a zero."""
    src = np.empty(n + 2 * p, dtype=np.int64)
    for i in range(n + 2 * p):
        k = i - p
        if periodic:
            k %= n
        src[i] = k if 0 <= k < n else -1
    return src


@njit(**_JIT)
def _fill_planes(x, rows, cols, m, width, planes):
    """Scatter ``x`` padded (``rows``/``cols``: sources of the padded positions) into the planes:
    the interior of each padded row by strided copies, the margins through ``cols``."""
    n_cols = x.shape[1]
    p = (cols.size - n_cols) // 2
    for i in range(rows.size):
        k = rows[i]
        if k < 0:
            continue
        xr = x[k]
        base = (i // m) * width
        for pc in range(m):
            lo, hi = (p - pc + m - 1) // m, (p + n_cols - pc + m - 1) // m
            dst = planes[pc, i % m, base + lo:]
            src = xr[lo * m + pc - p::m]
            for t in range(hi - lo):
                dst[t] = src[t]
        for t in range(2 * p):
            j = t if t < p else t + n_cols
            if cols[j] >= 0:
                planes[j % m, i % m, base + j // m] = xr[cols[j]]


@njit(**_JIT)
def _fold_planes(planes, rows, cols, m, width, dx):
    """``dx`` <- adjoint of :func:`_fill_planes`: each padded position adds into its source."""
    n_cols = dx.shape[1]
    p = (cols.size - n_cols) // 2
    for i in range(dx.shape[0]):
        for j in range(n_cols):
            dx[i, j] = 0
    for i in range(rows.size):
        k = rows[i]
        if k < 0:
            continue
        dr = dx[k]
        base = (i // m) * width
        for pc in range(m):
            lo, hi = (p - pc + m - 1) // m, (p + n_cols - pc + m - 1) // m
            src = planes[pc, i % m, base + lo:]
            dst = dr[lo * m + pc - p::m]
            for t in range(hi - lo):
                dst[t] += src[t]
        for t in range(2 * p):
            j = t if t < p else t + n_cols
            if cols[j] >= 0:
                dr[cols[j]] += planes[j % m, i % m, base + j // m]


@njit(**_JIT)
def _input_transform(x, p0, p1, periodic, m, bt, out, n_ty, n_tx, planes, vt):
    n_batch, n_chan, height, width = x.shape
    a = bt.shape[0]
    e = (a - 1) // m
    rows, cols = _sources(height, p0, periodic), _sources(width, p1, periodic)
    row = n_tx + e
    length = n_ty * row
    for b in range(n_batch):
        for c in range(n_chan):
            _fill_planes(x[b, c], rows, cols, m, row, planes)
            # vertical: vt[r, pc, k] = sum_i BT[r, i] P[i % m, pc, (i // m) row + k]
            for r in range(a):
                for pc in range(m):
                    _combine(bt[r], planes[pc], m, row, vt[r, pc], length)
            # horizontal: out[r a + s, c, tile k] = sum_j BT[s, j] vt[r, j % m, k + j // m]
            for r in range(a):
                for s in range(a):
                    dst = out[r * a + s, c, b * length:]
                    _combine(bt[s], vt[r], m, 1, dst, length)
                    for ty in range(n_ty):
                        for tx in range(n_tx, row):
                            dst[ty * row + tx] = 0


@njit(**_JIT)
def _combine(coefs, sources, m, step, dst, length):
    """``dst[k] = sum_i coefs[i] sources[i % m, (i // m) step + k]`` for ``k < length``."""
    first = True
    for i in range(coefs.size):
        coef = coefs[i]
        if coef == 0:
            continue
        src = sources[i % m, (i // m) * step:]
        if first:
            for k in range(length):
                dst[k] = coef * src[k]
        else:
            for k in range(length):
                dst[k] += coef * src[k]
        first = False
    if first:
        for k in range(length):
            dst[k] = 0


@njit(**_JIT)
def _input_adjoint(dv, p0, p1, periodic, m, bt, dx, n_ty, n_tx, planes, vt):
    n_batch, n_chan, height, width = dx.shape
    a = bt.shape[0]
    e = (a - 1) // m
    rows, cols = _sources(height, p0, periodic), _sources(width, p1, periodic)
    row = n_tx + e
    length = n_ty * row
    for b in range(n_batch):
        for c in range(n_chan):
            # horizontal adjoint: vt[r, j % m, k + j // m] += BT[s, j] dv[r a + s, c, tile k]
            for r in range(a):
                for pc in range(m):
                    dst = vt[r, pc]
                    for k in range(dst.size):
                        dst[k] = 0
                for s in range(a):
                    src = dv[r * a + s, c, b * length:]
                    for ty in range(n_ty):
                        for tx in range(n_tx, row):
                            src[ty * row + tx] = 0
                    for j in range(a):
                        coef = bt[s, j]
                        if coef != 0:
                            dst = vt[r, j % m, j // m:]
                            for k in range(length):
                                dst[k] += coef * src[k]
            # vertical adjoint: P[i % m, pc, (i // m) row + k] += BT[r, i] vt[r, pc, k]
            for pc in range(m):
                for i in range(m):
                    dst = planes[pc, i]
                    for k in range(dst.size):
                        dst[k] = 0
            for i in range(a):
                for pc in range(m):
                    dst = planes[pc, i % m, (i // m) * row:]
                    for r in range(a):
                        coef = bt[r, i]
                        if coef != 0:
                            src = vt[r, pc]
                            for k in range(length):
                                dst[k] += coef * src[k]
            _fold_planes(planes, rows, cols, m, row, dx[b, c])


@njit(**_JIT)
def _output_transform(mprod, m, at, bias, y, e):
    n_batch, n_out, height, width = y.shape
    a = at.shape[1]
    n_ty, n_tx = -(-height // m), -(-width // m)
    row = n_tx + e
    length = n_ty * row
    horiz = np.empty((m, a, length), dtype=y.dtype)
    acc = np.empty(length, dtype=y.dtype)
    for b in range(n_batch):
        for o in range(n_out):
            # horiz[j, r, n] = sum_s AT[j, s] M[r a + s, o, n] over the image's tiles
            for r in range(a):
                for j in range(m):
                    dst = horiz[j, r]
                    for n in range(length):
                        dst[n] = 0
                    for s in range(a):
                        coef = at[j, s]
                        if coef != 0:
                            src = mprod[r * a + s, o, b * length:]
                            for n in range(length):
                                dst[n] += coef * src[n]
            # y[ty m + i, tx m + j] = sum_r AT[i, r] horiz[j, r, tile] + bias, cropped
            yb = y[b, o]
            for i in range(m):
                for j in range(m):
                    _combine(at[i], horiz[j], a, 0, acc, length)
                    for ty in range((height - i + m - 1) // m):
                        yr = yb[ty * m + i, j::m]
                        src = acc[ty * row:]
                        for tx in range(yr.size):
                            yr[tx] = src[tx] + bias[o]


@njit(**_JIT)
def _output_adjoint(dy, m, at, out, e):
    n_batch, n_out, height, width = dy.shape
    a = at.shape[1]
    n_ty, n_tx = -(-height // m), -(-width // m)
    row = n_tx + e
    length = n_ty * row
    # entries beyond the output and on the gap tiles are never written: they stay zero
    grads = np.zeros((m, m, length), dtype=dy.dtype)  # (j, i, tile)
    horiz = np.empty((a, m, length), dtype=dy.dtype)
    for b in range(n_batch):
        for o in range(n_out):
            for i in range(m):
                for j in range(m):
                    for ty in range((height - i + m - 1) // m):
                        dr = dy[b, o, ty * m + i, j::m]
                        dst = grads[j, i, ty * row:]
                        for tx in range(dr.size):
                            dst[tx] = dr[tx]
            # horiz[r, j] = sum_i AT[i, r] grads[i, j]
            for r in range(a):
                for j in range(m):
                    _combine(at[:, r], grads[j], m, 0, horiz[r, j], length)
            # out[r a + s, o, tile] = sum_j AT[j, s] horiz[r, j]
            for r in range(a):
                for s in range(a):
                    _combine(at[:, s], horiz[r], m, 0, out[r * a + s, o, b * length:], length)
