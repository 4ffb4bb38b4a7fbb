r"""Numba kernels of the Winograd convolution's tile transforms (see :mod:`.winograd` for the math).

Layouts: transformed arrays are ``(a*a, channels, tiles)`` with frequency ``f = r a + s`` and the
gapped tile index ``n = (b TH + ty)(TW + e) + tx``, ``e = (a - 1) // m``, so that each frequency's
product is one GEMM over contiguous tiles. The input runs one image channel at a time through its
``m x m`` polyphase planes ``P[j % m, i % m][i // m, j // m] = x_pad[i, j]`` (rows ``TW + e``
long): entry ``(i, j)`` of tile ``(ty, tx)`` is ``P[j % m, i % m]`` at the flat offset
``(ty + i // m)(TW + e) + tx + j // m``, so both separable stages are shifted sums of contiguous
runs over all of an image's tiles at once, which LLVM vectorizes (per tile row, or with indices
that Numba must check for wraparound, they ran 3-5x slower). The ``e`` gap tiles per row keep the
runs contiguous; they cost ``e / (TW + e)`` more GEMM work. Each 1D transform is one pass of
:mod:`.winograd_transforms` (F(2, 3), F(3, 3) and F(4, 3) written out); other matrices go through
the reference. The planes are filled (and the output tiles interleaved back, stride ``m``) one
vectorized interleave per image row, with the padding's margins entry by entry.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .winograd import tile_extent, winograd_matrices
from .winograd_transforms import (
    JIT,
    a2,
    a3,
    a4,
    at2,
    at3,
    at4,
    b2,
    b3,
    b4,
    bt2,
    bt3,
    bt4,
    constants,
)


def winograd_input(x, pads, mode, m, bt, out):
    """``out[f, c, n] = (B^T d_n B)[f]`` over the tiles ``d_n`` of the padded ``x``, zero on the gap
    tiles; see :func:`tensorkit._kernels.winograd_input`."""
    if not _written_out(m, bt, 2):
        from .reference import winograd_input as reference

        return reference(x, pads, mode, m, bt, out)
    tiles, planes, vt, _ = _scratch(x.shape[2:], pads, m, x.dtype)
    _input_transform(np.ascontiguousarray(x), pads[0], pads[1], mode == "periodic", m, out, *tiles, planes,
                     vt, constants(m, bt, x.dtype))
    return out


def winograd_input_adjoint(dv, pads, mode, m, bt, dx):
    """Adjoint of :func:`winograd_input` written into ``dx`` (``dv``'s gap tiles are zeroed first);
    see :func:`tensorkit._kernels.winograd_input_adjoint`."""
    if not _written_out(m, bt, 2):
        from .reference import winograd_input_adjoint as reference

        return reference(dv, pads, mode, m, bt, dx)
    tiles, planes, vt, shifted = _scratch(dx.shape[2:], pads, m, dx.dtype)
    _input_adjoint(dv, pads[0], pads[1], mode == "periodic", m, dx, *tiles, planes, vt, shifted,
                   constants(m, bt, dx.dtype))
    return dx


def winograd_output(mprod, m, at, bias, y):
    """``y[b, o] = A^T M_n A (+ bias)`` tile by tile, cropped; see
    :func:`tensorkit._kernels.winograd_output`."""
    if not _written_out(m, at, 0):
        from .reference import winograd_output as reference

        return reference(mprod, m, at, bias, y)
    shift = np.zeros(y.shape[1], dtype=y.dtype) if bias is None else np.ascontiguousarray(bias, dtype=y.dtype)
    _output_transform(mprod, m, shift, y, constants(m, at, y.dtype))
    return y


def winograd_output_adjoint(dy, m, at, out):
    """``out[f, o, n] = (A dY_n A^T)[f]`` with ``dY`` zero beyond the output and on the gap tiles;
    see :func:`tensorkit._kernels.winograd_output_adjoint`."""
    if not _written_out(m, at, 0):
        from .reference import winograd_output_adjoint as reference

        return reference(dy, m, at, out)
    _output_adjoint(np.ascontiguousarray(dy, dtype=out.dtype), m, out, constants(m, at, out.dtype))
    return out


def _written_out(m, matrix, which):
    """Whether ``matrix`` is F(m, 3)'s ``A^T`` (``which`` 0) or ``B^T`` (2), as written out here
    (rounded to ``matrix``'s dtype: F(3, 3)'s thirds are not exact in float32)."""
    return m in (2, 3, 4) and np.array_equal(matrix, winograd_matrices(m)[which].astype(matrix.dtype))


def _scratch(spatial, pads, m, dtype):
    """The tile counts ``(TH, TW)``, zeroed polyphase planes ``(m, m, (TH + 1)(TW + 1))``, the
    vertical stage ``(a, m, TH (TW + 1) + 1)`` and the shifted halves ``(a - m, TH (TW + 1))`` of
    the adjoint (``e = 1`` for the written-out transforms; entries never written stay zero)."""
    a = m + 2
    rows, cols = tile_extent(*spatial, pads, m, a)
    n_ty, n_tx = (rows - a) // m + 1, (cols - a) // m + 1
    length = n_ty * (n_tx + 1)
    return ((n_ty, n_tx), np.zeros((m, m, (n_ty + 1) * (n_tx + 1)), dtype),
            np.zeros((a, m, length + 1), dtype), np.zeros((a - m, length), dtype))


@njit(**JIT)
def _sources(n, p, periodic):
    """Source index in ``[0, n)`` of each of the ``n + 2 p`` padded positions, -1 for a zero."""
    src = np.empty(n + 2 * p, dtype=np.int64)
    for i in range(n + 2 * p):
        k = i - p
        if periodic:
            k %= n
        src[i] = k if 0 <= k < n else -1
    return src


@njit(**JIT)
def _fill_planes(x, rows, cols, m, width, flat):
    """Scatter ``x`` padded into the flattened planes ``(m, m, size)``: padded row ``i`` (source
    ``rows[i]``, -1 for a zero) goes to row phase ``i % m`` at tile row ``i // m``, padded column
    ``j`` (source ``cols[j]``) to plane ``j % m`` at ``j // m``. The tile columns inside ``x`` are one
    interleaved run per row (:func:`_row_phases`), the margins go one by one."""
    size = flat.size // (m * m)
    n, p = x.shape[1], (cols.size - x.shape[1]) // 2
    t_lo, t_hi = (p + m - 1) // m, (p + n) // m
    span = m * max(t_hi - t_lo, 0)
    for i in range(rows.size):
        k = rows[i]
        if k >= 0:
            xr = x[k]
            base = (i % m) * size + (i // m) * width
            _row_phases(xr, flat, base + t_lo, m * t_lo - p, t_hi - t_lo, size, m, False)
            for e in range(cols.size - span):
                j = e if e < m * t_lo else e + span
                if cols[j] >= 0:
                    flat[base + (j % m) * m * size + j // m] = xr[cols[j]]


@njit(**JIT)
def _fold_planes(flat, rows, cols, m, width, dx, start):
    """``dx`` <- ``start`` + adjoint of :func:`_fill_planes`: each padded position adds into its
    source (with no padding, the planes back to the image: the output tiles)."""
    size = flat.size // (m * m)
    n, p = dx.shape[1], (cols.size - dx.shape[1]) // 2
    t_lo, t_hi = (p + m - 1) // m, (p + n) // m
    span = m * max(t_hi - t_lo, 0)
    dx[...] = start
    for i in range(rows.size):
        k = rows[i]
        if k >= 0:
            dr = dx[k]
            base = (i % m) * size + (i // m) * width
            _row_phases(dr, flat, base + t_lo, m * t_lo - p, t_hi - t_lo, size, m, True)
            for e in range(cols.size - span):
                j = e if e < m * t_lo else e + span
                if cols[j] >= 0:
                    dr[cols[j]] += flat[base + (j % m) * m * size + j // m]


@njit(**JIT)
def _row_phases(xr, flat, o, s, count, size, m, fold):
    """``flat[o + pc m size + t] = xr[s + m t + pc]`` for ``t < count`` and the phases ``pc < m``
    (``fold``: ``xr[...] +=`` the planes instead). One loop per ``m`` with unsigned indices (no
    wraparound checks): LLVM vectorizes the interleave, 2-3x faster than a gather through index
    arrays or one strided copy per phase and row."""
    u = np.uint64
    o, s, step, n = u(o), u(s), u(m * size), u(max(count, 0))
    if m == 2:
        for t in range(n):
            q, d = s + u(2) * t, o + t
            if fold:
                xr[q] += flat[d]
                xr[q + u(1)] += flat[d + step]
            else:
                flat[d], flat[d + step] = xr[q], xr[q + u(1)]
    elif m == 3:
        for t in range(n):
            q, d = s + u(3) * t, o + t
            if fold:
                xr[q] += flat[d]
                xr[q + u(1)] += flat[d + step]
                xr[q + u(2)] += flat[d + u(2) * step]
            else:
                flat[d], flat[d + step], flat[d + u(2) * step] = xr[q], xr[q + u(1)], xr[q + u(2)]
    else:
        for t in range(n):
            q, d = s + u(4) * t, o + t
            if fold:
                xr[q] += flat[d]
                xr[q + u(1)] += flat[d + step]
                xr[q + u(2)] += flat[d + u(2) * step]
                xr[q + u(3)] += flat[d + u(3) * step]
            else:
                flat[d], flat[d + step] = xr[q], xr[q + u(1)]
                flat[d + u(2) * step], flat[d + u(3) * step] = xr[q + u(2)], xr[q + u(3)]


@njit(**JIT)
def _input_transform(x, p0, p1, periodic, m, out, n_ty, n_tx, planes, vt, consts):
    n_batch, n_chan, height, width = x.shape
    a = m + 2
    rows, cols = _sources(height, p0, periodic), _sources(width, p1, periodic)
    flat = planes.reshape(planes.size)
    row = n_tx + 1
    length = n_ty * row
    for b in range(n_batch):
        base = b * length
        for ch in range(n_chan):
            _fill_planes(x[b, ch], rows, cols, m, row, flat)
            # vertical: vt[r, pc] = sum_i BT[r, i] P[pc, i % m, (i // m) row:]
            for pc in range(m):
                p = planes[pc]
                if m == 2:
                    bt2(p[0], p[1], p[0, row:], p[1, row:], vt[0, pc], vt[1, pc], vt[2, pc], vt[3, pc],
                         length, consts)
                elif m == 3:
                    bt3(p[0], p[1], p[2], p[0, row:], p[1, row:], vt[0, pc], vt[1, pc], vt[2, pc], vt[3, pc],
                         vt[4, pc], length, consts)
                else:
                    bt4(p[0], p[1], p[2], p[3], p[0, row:], p[1, row:], vt[0, pc], vt[1, pc], vt[2, pc],
                         vt[3, pc], vt[4, pc], vt[5, pc], length, consts)
            # horizontal: out[r a + s, ch, tile k] = sum_j BT[s, j] vt[r, j % m, k + j // m]
            for r in range(a):
                v = vt[r]
                f = r * a
                if m == 2:
                    bt2(v[0], v[1], v[0, 1:], v[1, 1:], out[f, ch, base:], out[f + 1, ch, base:],
                         out[f + 2, ch, base:], out[f + 3, ch, base:], length, consts)
                elif m == 3:
                    bt3(v[0], v[1], v[2], v[0, 1:], v[1, 1:], out[f, ch, base:], out[f + 1, ch, base:],
                         out[f + 2, ch, base:], out[f + 3, ch, base:], out[f + 4, ch, base:], length, consts)
                else:
                    bt4(v[0], v[1], v[2], v[3], v[0, 1:], v[1, 1:], out[f, ch, base:], out[f + 1, ch, base:],
                         out[f + 2, ch, base:], out[f + 3, ch, base:], out[f + 4, ch, base:],
                         out[f + 5, ch, base:], length, consts)
                for s in range(a):
                    dst = out[f + s, ch, base:]
                    for ty in range(n_ty):
                        dst[ty * row + n_tx] = 0


@njit(**JIT)
def _input_adjoint(dv, p0, p1, periodic, m, dx, n_ty, n_tx, planes, vt, shifted, consts):
    n_batch, n_chan, height, width = dx.shape
    a = m + 2
    rows, cols = _sources(height, p0, periodic), _sources(width, p1, periodic)
    flat = planes.reshape(planes.size)
    row = n_tx + 1
    length = n_ty * row
    for b in range(n_batch):
        base = b * length
        for ch in range(n_chan):
            # horizontal adjoint: vt[r, j % m, k + j // m] += BT[s, j] dv[r a + s, ch, tile k]
            for r in range(a):
                f = r * a
                for s in range(a):
                    src = dv[f + s, ch, base:]
                    for ty in range(n_ty):
                        src[ty * row + n_tx] = 0
                v = vt[r]
                if m == 2:
                    b2(dv[f, ch, base:], dv[f + 1, ch, base:], dv[f + 2, ch, base:], dv[f + 3, ch, base:],
                        v[0], v[1], shifted[0], shifted[1], length, consts)
                elif m == 3:
                    b3(dv[f, ch, base:], dv[f + 1, ch, base:], dv[f + 2, ch, base:], dv[f + 3, ch, base:],
                        dv[f + 4, ch, base:], v[0], v[1], v[2], shifted[0], shifted[1], length, consts)
                else:
                    b4(dv[f, ch, base:], dv[f + 1, ch, base:], dv[f + 2, ch, base:], dv[f + 3, ch, base:],
                        dv[f + 4, ch, base:], dv[f + 5, ch, base:], v[0], v[1], v[2], v[3], shifted[0],
                        shifted[1], length, consts)
                _add_shifted(v, shifted, 1, length)
            # vertical adjoint: P[pc, i % m, (i // m) row:] += BT[r, i] vt[r, pc]
            for pc in range(m):
                p = planes[pc]
                if m == 2:
                    b2(vt[0, pc], vt[1, pc], vt[2, pc], vt[3, pc], p[0], p[1], shifted[0], shifted[1],
                        length, consts)
                elif m == 3:
                    b3(vt[0, pc], vt[1, pc], vt[2, pc], vt[3, pc], vt[4, pc], p[0], p[1], p[2], shifted[0],
                        shifted[1], length, consts)
                else:
                    b4(vt[0, pc], vt[1, pc], vt[2, pc], vt[3, pc], vt[4, pc], vt[5, pc], p[0], p[1], p[2],
                        p[3], shifted[0], shifted[1], length, consts)
                _add_shifted(p, shifted, row, length)
            _fold_planes(flat, rows, cols, m, row, dx[b, ch], 0)


@njit(**JIT)
def _add_shifted(rows, shifted, shift, length):
    """``rows[q, shift + k] += shifted[q, k]`` for ``k < length``, after zeroing ``rows[q, length:]``
    (the entries only the shifted terms reach)."""
    for q in range(rows.shape[0]):
        tail = rows[q, length:]
        for k in range(tail.size):
            tail[k] = 0
    for q in range(shifted.shape[0]):
        dst, src = rows[q, shift:], shifted[q]
        for k in range(length):
            dst[k] += src[k]


@njit(**JIT)
def _output_transform(mprod, m, bias, y, consts):
    n_batch, n_out, height, width = y.shape
    a = m + 2
    n_ty, n_tx = -(-height // m), -(-width // m)
    row = n_tx + 1
    length = n_ty * row
    horiz = np.empty((m, a, length), dtype=y.dtype)
    # (j, i, tile): the planes of y's tiles, y[ty m + i, tx m + j] at [j, i, ty (TW + 1) + tx]
    tiles = np.empty((m, m, length), dtype=y.dtype)
    rows, cols = np.arange(height), np.arange(width)
    for b in range(n_batch):
        base = b * length
        for o in range(n_out):
            # horiz[j, r] = sum_s AT[j, s] M[r a + s, o, tiles]
            for r in range(a):
                f = r * a
                if m == 2:
                    at2(mprod[f, o, base:], mprod[f + 1, o, base:], mprod[f + 2, o, base:],
                         mprod[f + 3, o, base:], horiz[0, r], horiz[1, r], length, consts)
                elif m == 3:
                    at3(mprod[f, o, base:], mprod[f + 1, o, base:], mprod[f + 2, o, base:],
                         mprod[f + 3, o, base:], mprod[f + 4, o, base:], horiz[0, r], horiz[1, r],
                         horiz[2, r], length, consts)
                else:
                    at4(mprod[f, o, base:], mprod[f + 1, o, base:], mprod[f + 2, o, base:],
                         mprod[f + 3, o, base:], mprod[f + 4, o, base:], mprod[f + 5, o, base:], horiz[0, r],
                         horiz[1, r], horiz[2, r], horiz[3, r], length, consts)
            # tiles[j, i] = sum_r AT[i, r] horiz[j, r], then y = bias + the planes, cropped
            for j in range(m):
                h, t = horiz[j], tiles[j]
                if m == 2:
                    at2(h[0], h[1], h[2], h[3], t[0], t[1], length, consts)
                elif m == 3:
                    at3(h[0], h[1], h[2], h[3], h[4], t[0], t[1], t[2], length, consts)
                else:
                    at4(h[0], h[1], h[2], h[3], h[4], h[5], t[0], t[1], t[2], t[3], length, consts)
            _fold_planes(tiles.reshape(tiles.size), rows, cols, m, row, y[b, o], bias[o])


@njit(**JIT)
def _output_adjoint(dy, m, out, consts):
    n_batch, n_out, height, width = dy.shape
    a = m + 2
    n_ty, n_tx = -(-height // m), -(-width // m)
    row = n_tx + 1
    length = n_ty * row
    # (j, i, tile): entries beyond the output and on the gap tiles are never written and stay zero
    grads = np.zeros((m, m, length), dtype=dy.dtype)
    horiz = np.empty((a, m, length), dtype=dy.dtype)
    rows, cols = np.arange(height), np.arange(width)
    for b in range(n_batch):
        base = b * length
        for o in range(n_out):
            _fill_planes(dy[b, o], rows, cols, m, row, grads.reshape(grads.size))
            # horiz[r, j] = sum_i AT[i, r] grads[j, i]
            for j in range(m):
                g = grads[j]
                if m == 2:
                    a2(g[0], g[1], horiz[0, j], horiz[1, j], horiz[2, j], horiz[3, j], length, consts)
                elif m == 3:
                    a3(g[0], g[1], g[2], horiz[0, j], horiz[1, j], horiz[2, j], horiz[3, j], horiz[4, j],
                        length, consts)
                else:
                    a4(g[0], g[1], g[2], g[3], horiz[0, j], horiz[1, j], horiz[2, j], horiz[3, j],
                        horiz[4, j], horiz[5, j], length, consts)
            # out[r a + s, o, tiles] = sum_j AT[j, s] horiz[r, j]
            for r in range(a):
                h = horiz[r]
                f = r * a
                if m == 2:
                    a2(h[0], h[1], out[f, o, base:], out[f + 1, o, base:], out[f + 2, o, base:],
                        out[f + 3, o, base:], length, consts)
                elif m == 3:
                    a3(h[0], h[1], h[2], out[f, o, base:], out[f + 1, o, base:], out[f + 2, o, base:],
                        out[f + 3, o, base:], out[f + 4, o, base:], length, consts)
                else:
                    a4(h[0], h[1], h[2], h[3], out[f, o, base:], out[f + 1, o, base:], out[f + 2, o, base:],
                        out[f + 3, o, base:], out[f + 4, o, base:], out[f + 5, o, base:], length, consts)
