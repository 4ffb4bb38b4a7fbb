r"""Numba kernels of the Winograd convolution's tile transforms (see :mod:`.winograd` for the math).

Layouts: transformed arrays are ``(a*a, channels, tiles)`` with frequency ``f = r a + s`` and the
gapped tile index ``n = (b TH + ty)(TW + e) + tx``, ``e = (a - 1) // m``, so that each frequency's
product is one GEMM over contiguous tiles. The input runs one image channel at a time through its
``m x m`` polyphase planes ``P[j % m, i % m][i // m, j // m] = x_pad[i, j]`` (rows ``TW + e``
long): entry ``(i, j)`` of tile ``(ty, tx)`` is ``P[j % m, i % m]`` at the flat offset
``(ty + i // m)(TW + e) + tx + j // m``, so both separable stages are shifted sums of contiguous
runs over all of an image's tiles at once, which LLVM vectorizes (per tile row, or with indices
that Numba must check for wraparound, they ran 3-5x slower). The ``e`` gap tiles per row keep the
runs contiguous; they cost ``e / (TW + e)`` more GEMM work. Each 1D transform is one pass that
reads its ``a`` (or ``m``) input runs and writes all its outputs, with the matrices of F(2, 3) and
F(4, 3) written out (``_bt2`` ... ``_a4``, checked against :func:`.winograd.winograd_matrices` in
the tests): a pass per matrix entry cost 3-5x more loads and stores. Other matrices go through the
reference. The only scalar passes are the scatter into the planes and the interleaving of output
tiles (stride ``m``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .winograd import tile_extent, winograd_matrices

_JIT = {"cache": True, "nogil": True, "fastmath": True, "error_model": "numpy"}


def winograd_input(x, pads, mode, m, bt, out):
    """``out[f, c, n] = (B^T d_n B)[f]`` over the tiles ``d_n`` of the padded ``x``, zero on the gap
    tiles; see :func:`tensorkit._kernels.winograd_input`."""
    if not _written_out(m, bt, 2):
        from .reference import winograd_input as reference

        return reference(x, pads, mode, m, bt, out)
    tiles, planes, vt, _ = _scratch(x.shape[2:], pads, m, x.dtype)
    _input_transform(np.ascontiguousarray(x), pads[0], pads[1], mode == "periodic", m, out, *tiles, planes,
                     vt, _constants(m, bt, x.dtype))
    return out


def winograd_input_adjoint(dv, pads, mode, m, bt, dx):
    """Adjoint of :func:`winograd_input` written into ``dx`` (``dv``'s gap tiles are zeroed first);
    see :func:`tensorkit._kernels.winograd_input_adjoint`."""
    if not _written_out(m, bt, 2):
        from .reference import winograd_input_adjoint as reference

        return reference(dv, pads, mode, m, bt, dx)
    tiles, planes, vt, shifted = _scratch(dx.shape[2:], pads, m, dx.dtype)
    _input_adjoint(dv, pads[0], pads[1], mode == "periodic", m, dx, *tiles, planes, vt, shifted,
                   _constants(m, bt, dx.dtype))
    return dx


def winograd_output(mprod, m, at, bias, y):
    """``y[b, o] = A^T M_n A (+ bias)`` tile by tile, cropped; see
    :func:`tensorkit._kernels.winograd_output`."""
    if not _written_out(m, at, 0):
        from .reference import winograd_output as reference

        return reference(mprod, m, at, bias, y)
    shift = np.zeros(y.shape[1], dtype=y.dtype) if bias is None else np.ascontiguousarray(bias, dtype=y.dtype)
    _output_transform(mprod, m, shift, y, _constants(m, at, y.dtype))
    return y


def winograd_output_adjoint(dy, m, at, out):
    """``out[f, o, n] = (A dY_n A^T)[f]`` with ``dY`` zero beyond the output and on the gap tiles;
    see :func:`tensorkit._kernels.winograd_output_adjoint`."""
    if not _written_out(m, at, 0):
        from .reference import winograd_output_adjoint as reference

        return reference(dy, m, at, out)
    _output_adjoint(np.ascontiguousarray(dy, dtype=out.dtype), m, out, _constants(m, at, out.dtype))
    return out


def _written_out(m, matrix, which):
    """Whether ``matrix`` is F(m, 3)'s ``A^T`` (``which`` 0) or ``B^T`` (2), as written out here
    (rounded to ``matrix``'s dtype: F(3, 3)'s thirds are not exact in float32)."""
    return m in (2, 3, 4) and np.array_equal(matrix, winograd_matrices(m)[which].astype(matrix.dtype))


def _constants(m, matrix, dtype):
    """The coefficients of the written-out transforms: 2, 4, 5, 8 for F(2, 3) and F(4, 3); the
    matrix (``A^T`` or ``B^T``) flattened for F(3, 3), whose points are not small integers."""
    if m == 3:
        return np.ascontiguousarray(matrix, dtype=dtype).ravel()
    return np.array([2, 4, 5, 8], dtype=dtype)


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
def _column_map(cols, m, size):
    """``(dst, src)`` of the padded columns that read ``x`` (``cols``: their sources, -1 for a zero):
    offset of column ``j`` in the flattened planes (plane ``(j % m, 0)``, place ``j // m``; ``size``
    entries per plane) and its source column."""
    keep = np.flatnonzero(cols >= 0)
    return (keep % m) * (m * size) + keep // m, cols[keep]


@njit(**_JIT)
def _fill_planes(x, rows, dst, src, m, width, flat):
    """Scatter ``x`` padded into the flattened planes: padded row ``i`` (source ``rows[i]``, -1 for
    a zero) goes to row phase ``i % m`` at tile row ``i // m``, its columns through :func:`_column_map`
    (one gather-scatter pass: per-phase strided copies with slices cost 1.4x more here)."""
    size = flat.size // (m * m)
    for i in range(rows.size):
        k = rows[i]
        if k >= 0:
            xr = x[k]
            base = (i % m) * size + (i // m) * width
            for q in range(dst.size):
                flat[base + dst[q]] = xr[src[q]]


@njit(**_JIT)
def _fold_planes(flat, rows, dst, src, m, width, dx, start):
    """``dx`` <- ``start`` + adjoint of :func:`_fill_planes`: each padded position adds into its
    source (with no padding, the planes back to the image: the output tiles)."""
    size = flat.size // (m * m)
    dx[...] = start
    for i in range(rows.size):
        k = rows[i]
        if k >= 0:
            dr = dx[k]
            base = (i % m) * size + (i // m) * width
            for q in range(dst.size):
                dr[src[q]] += flat[base + dst[q]]


@njit(**_JIT)
def _input_transform(x, p0, p1, periodic, m, out, n_ty, n_tx, planes, vt, consts):
    n_batch, n_chan, height, width = x.shape
    a = m + 2
    rows, cols = _sources(height, p0, periodic), _sources(width, p1, periodic)
    to_plane, from_x = _column_map(cols, m, planes.shape[2])
    flat = planes.reshape(planes.size)
    row = n_tx + 1
    length = n_ty * row
    for b in range(n_batch):
        base = b * length
        for ch in range(n_chan):
            _fill_planes(x[b, ch], rows, to_plane, from_x, m, row, flat)
            # vertical: vt[r, pc] = sum_i BT[r, i] P[pc, i % m, (i // m) row:]
            for pc in range(m):
                p = planes[pc]
                if m == 2:
                    _bt2(p[0], p[1], p[0, row:], p[1, row:], vt[0, pc], vt[1, pc], vt[2, pc], vt[3, pc],
                         length, consts)
                elif m == 3:
                    _bt3(p[0], p[1], p[2], p[0, row:], p[1, row:], vt[0, pc], vt[1, pc], vt[2, pc], vt[3, pc],
                         vt[4, pc], length, consts)
                else:
                    _bt4(p[0], p[1], p[2], p[3], p[0, row:], p[1, row:], vt[0, pc], vt[1, pc], vt[2, pc],
                         vt[3, pc], vt[4, pc], vt[5, pc], length, consts)
            # horizontal: out[r a + s, ch, tile k] = sum_j BT[s, j] vt[r, j % m, k + j // m]
            for r in range(a):
                v = vt[r]
                f = r * a
                if m == 2:
                    _bt2(v[0], v[1], v[0, 1:], v[1, 1:], out[f, ch, base:], out[f + 1, ch, base:],
                         out[f + 2, ch, base:], out[f + 3, ch, base:], length, consts)
                elif m == 3:
                    _bt3(v[0], v[1], v[2], v[0, 1:], v[1, 1:], out[f, ch, base:], out[f + 1, ch, base:],
                         out[f + 2, ch, base:], out[f + 3, ch, base:], out[f + 4, ch, base:], length, consts)
                else:
                    _bt4(v[0], v[1], v[2], v[3], v[0, 1:], v[1, 1:], out[f, ch, base:], out[f + 1, ch, base:],
                         out[f + 2, ch, base:], out[f + 3, ch, base:], out[f + 4, ch, base:],
                         out[f + 5, ch, base:], length, consts)
                for s in range(a):
                    dst = out[f + s, ch, base:]
                    for ty in range(n_ty):
                        dst[ty * row + n_tx] = 0


@njit(**_JIT)
def _input_adjoint(dv, p0, p1, periodic, m, dx, n_ty, n_tx, planes, vt, shifted, consts):
    n_batch, n_chan, height, width = dx.shape
    a = m + 2
    rows, cols = _sources(height, p0, periodic), _sources(width, p1, periodic)
    to_plane, from_x = _column_map(cols, m, planes.shape[2])
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
                    _b2(dv[f, ch, base:], dv[f + 1, ch, base:], dv[f + 2, ch, base:], dv[f + 3, ch, base:],
                        v[0], v[1], shifted[0], shifted[1], length, consts)
                elif m == 3:
                    _b3(dv[f, ch, base:], dv[f + 1, ch, base:], dv[f + 2, ch, base:], dv[f + 3, ch, base:],
                        dv[f + 4, ch, base:], v[0], v[1], v[2], shifted[0], shifted[1], length, consts)
                else:
                    _b4(dv[f, ch, base:], dv[f + 1, ch, base:], dv[f + 2, ch, base:], dv[f + 3, ch, base:],
                        dv[f + 4, ch, base:], dv[f + 5, ch, base:], v[0], v[1], v[2], v[3], shifted[0],
                        shifted[1], length, consts)
                _add_shifted(v, shifted, 1, length)
            # vertical adjoint: P[pc, i % m, (i // m) row:] += BT[r, i] vt[r, pc]
            for pc in range(m):
                p = planes[pc]
                if m == 2:
                    _b2(vt[0, pc], vt[1, pc], vt[2, pc], vt[3, pc], p[0], p[1], shifted[0], shifted[1],
                        length, consts)
                elif m == 3:
                    _b3(vt[0, pc], vt[1, pc], vt[2, pc], vt[3, pc], vt[4, pc], p[0], p[1], p[2], shifted[0],
                        shifted[1], length, consts)
                else:
                    _b4(vt[0, pc], vt[1, pc], vt[2, pc], vt[3, pc], vt[4, pc], vt[5, pc], p[0], p[1], p[2],
                        p[3], shifted[0], shifted[1], length, consts)
                _add_shifted(p, shifted, row, length)
            _fold_planes(flat, rows, to_plane, from_x, m, row, dx[b, ch], 0)


@njit(**_JIT)
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


@njit(**_JIT)
def _output_transform(mprod, m, bias, y, consts):
    n_batch, n_out, height, width = y.shape
    a = m + 2
    n_ty, n_tx = -(-height // m), -(-width // m)
    row = n_tx + 1
    length = n_ty * row
    horiz = np.empty((m, a, length), dtype=y.dtype)
    # (j, i, tile): the planes of y's tiles, y[ty m + i, tx m + j] at [j, i, ty (TW + 1) + tx]
    tiles = np.empty((m, m, length), dtype=y.dtype)
    rows, (to_plane, from_y) = np.arange(height), _column_map(np.arange(width), m, length)
    for b in range(n_batch):
        base = b * length
        for o in range(n_out):
            # horiz[j, r] = sum_s AT[j, s] M[r a + s, o, tiles]
            for r in range(a):
                f = r * a
                if m == 2:
                    _at2(mprod[f, o, base:], mprod[f + 1, o, base:], mprod[f + 2, o, base:],
                         mprod[f + 3, o, base:], horiz[0, r], horiz[1, r], length, consts)
                elif m == 3:
                    _at3(mprod[f, o, base:], mprod[f + 1, o, base:], mprod[f + 2, o, base:],
                         mprod[f + 3, o, base:], mprod[f + 4, o, base:], horiz[0, r], horiz[1, r],
                         horiz[2, r], length, consts)
                else:
                    _at4(mprod[f, o, base:], mprod[f + 1, o, base:], mprod[f + 2, o, base:],
                         mprod[f + 3, o, base:], mprod[f + 4, o, base:], mprod[f + 5, o, base:], horiz[0, r],
                         horiz[1, r], horiz[2, r], horiz[3, r], length, consts)
            # tiles[j, i] = sum_r AT[i, r] horiz[j, r], then y = bias + the planes, cropped
            for j in range(m):
                h, t = horiz[j], tiles[j]
                if m == 2:
                    _at2(h[0], h[1], h[2], h[3], t[0], t[1], length, consts)
                elif m == 3:
                    _at3(h[0], h[1], h[2], h[3], h[4], t[0], t[1], t[2], length, consts)
                else:
                    _at4(h[0], h[1], h[2], h[3], h[4], h[5], t[0], t[1], t[2], t[3], length, consts)
            _fold_planes(tiles.reshape(tiles.size), rows, to_plane, from_y, m, row, y[b, o], bias[o])


@njit(**_JIT)
def _output_adjoint(dy, m, out, consts):
    n_batch, n_out, height, width = dy.shape
    a = m + 2
    n_ty, n_tx = -(-height // m), -(-width // m)
    row = n_tx + 1
    length = n_ty * row
    # (j, i, tile): entries beyond the output and on the gap tiles are never written and stay zero
    grads = np.zeros((m, m, length), dtype=dy.dtype)
    horiz = np.empty((a, m, length), dtype=dy.dtype)
    rows, (to_plane, from_y) = np.arange(height), _column_map(np.arange(width), m, length)
    for b in range(n_batch):
        base = b * length
        for o in range(n_out):
            _fill_planes(dy[b, o], rows, to_plane, from_y, m, row, grads.reshape(grads.size))
            # horiz[r, j] = sum_i AT[i, r] grads[j, i]
            for j in range(m):
                g = grads[j]
                if m == 2:
                    _a2(g[0], g[1], horiz[0, j], horiz[1, j], horiz[2, j], horiz[3, j], length, consts)
                elif m == 3:
                    _a3(g[0], g[1], g[2], horiz[0, j], horiz[1, j], horiz[2, j], horiz[3, j], horiz[4, j],
                        length, consts)
                else:
                    _a4(g[0], g[1], g[2], g[3], horiz[0, j], horiz[1, j], horiz[2, j], horiz[3, j],
                        horiz[4, j], horiz[5, j], length, consts)
            # out[r a + s, o, tiles] = sum_j AT[j, s] horiz[r, j]
            for r in range(a):
                h = horiz[r]
                f = r * a
                if m == 2:
                    _a2(h[0], h[1], out[f, o, base:], out[f + 1, o, base:], out[f + 2, o, base:],
                        out[f + 3, o, base:], length, consts)
                elif m == 3:
                    _a3(h[0], h[1], h[2], out[f, o, base:], out[f + 1, o, base:], out[f + 2, o, base:],
                        out[f + 3, o, base:], out[f + 4, o, base:], length, consts)
                else:
                    _a4(h[0], h[1], h[2], h[3], out[f, o, base:], out[f + 1, o, base:], out[f + 2, o, base:],
                        out[f + 3, o, base:], out[f + 4, o, base:], out[f + 5, o, base:], length, consts)


# --- the 1D transforms of F(2, 3) and F(4, 3), written out -------------------------------------------


@njit(**_JIT)
def _bt2(d0, d1, d2, d3, o0, o1, o2, o3, n, c):
    """``o = B^T d`` of F(2, 3) over ``k < n`` (``c``: the constants 2, 4, 5, 8)."""
    for k in range(n):
        x0, x1, x2, x3 = d0[k], d1[k], d2[k], d3[k]
        o0[k] = -x0 + x2
        o1[k] = x1 + x2
        o2[k] = -x1 + x2
        o3[k] = -x1 + x3


@njit(**_JIT)
def _b2(d0, d1, d2, d3, o0, o1, o2, o3, n, c):
    """``o = B d`` of F(2, 3), the adjoint of :func:`_bt2`."""
    for k in range(n):
        x0, x1, x2, x3 = d0[k], d1[k], d2[k], d3[k]
        o0[k] = -x0
        o1[k] = x1 - x2 - x3
        o2[k] = x0 + x1 + x2
        o3[k] = x3


@njit(**_JIT)
def _at2(d0, d1, d2, d3, o0, o1, n, c):
    """``o = A^T d`` of F(2, 3)."""
    for k in range(n):
        x0, x1, x2, x3 = d0[k], d1[k], d2[k], d3[k]
        o0[k] = x0 + x1 + x2
        o1[k] = x1 - x2 + x3


@njit(**_JIT)
def _a2(d0, d1, o0, o1, o2, o3, n, c):
    """``o = A d`` of F(2, 3), the adjoint of :func:`_at2`."""
    for k in range(n):
        x0, x1 = d0[k], d1[k]
        o0[k] = x0
        o1[k] = x0 + x1
        o2[k] = x0 - x1
        o3[k] = x1


@njit(**_JIT)
def _bt4(d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, o4, o5, n, c):
    """``o = B^T d`` of F(4, 3) over ``k < n`` (``c``: the constants 2, 4, 5, 8)."""
    two, four, five = c[0], c[1], c[2]
    for k in range(n):
        x0, x1, x2, x3, x4, x5 = d0[k], d1[k], d2[k], d3[k], d4[k], d5[k]
        o0[k] = four * x0 - five * x2 + x4
        o1[k] = -four * x1 - four * x2 + x3 + x4
        o2[k] = four * x1 - four * x2 - x3 + x4
        o3[k] = -two * x1 - x2 + two * x3 + x4
        o4[k] = two * x1 - x2 - two * x3 + x4
        o5[k] = four * x1 - five * x3 + x5


@njit(**_JIT)
def _b4(d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, o4, o5, n, c):
    """``o = B d`` of F(4, 3), the adjoint of :func:`_bt4`."""
    two, four, five = c[0], c[1], c[2]
    for k in range(n):
        x0, x1, x2, x3, x4, x5 = d0[k], d1[k], d2[k], d3[k], d4[k], d5[k]
        o0[k] = four * x0
        o1[k] = -four * x1 + four * x2 - two * x3 + two * x4 + four * x5
        o2[k] = -five * x0 - four * x1 - four * x2 - x3 - x4
        o3[k] = x1 - x2 + two * x3 - two * x4 - five * x5
        o4[k] = x0 + x1 + x2 + x3 + x4
        o5[k] = x5


@njit(**_JIT)
def _at4(d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, n, c):
    """``o = A^T d`` of F(4, 3)."""
    two, four, eight = c[0], c[1], c[3]
    for k in range(n):
        x0, x1, x2, x3, x4, x5 = d0[k], d1[k], d2[k], d3[k], d4[k], d5[k]
        o0[k] = x0 + x1 + x2 + x3 + x4
        o1[k] = x1 - x2 + two * x3 - two * x4
        o2[k] = x1 + x2 + four * x3 + four * x4
        o3[k] = x1 - x2 + eight * x3 - eight * x4 + x5


@njit(**_JIT)
def _a4(d0, d1, d2, d3, o0, o1, o2, o3, o4, o5, n, c):
    """``o = A d`` of F(4, 3), the adjoint of :func:`_at4`."""
    two, four, eight = c[0], c[1], c[3]
    for k in range(n):
        x0, x1, x2, x3 = d0[k], d1[k], d2[k], d3[k]
        o0[k] = x0
        o1[k] = x0 + x1 + x2 + x3
        o2[k] = x0 - x1 + x2 - x3
        o3[k] = x0 + two * x1 + four * x2 + eight * x3
        o4[k] = x0 - two * x1 + four * x2 - eight * x3
        o5[k] = x3



# --- F(3, 3) at the points +-p, +-q (``POINTS[3]``): its matrices' even/odd pairs, coefficients from
# ``c`` (the matrix flattened). Rows of B^T: (-al, -be, ga, 1, 0), (al, -be, -ga, 1, 0),
# (-de, -ep, ze, 1, 0), (de, -ep, -ze, 1, 0), (et, 0, -th, 0, 1); rows of A^T: (1, 1, 1, 1, 0),
# (p, -p, q, -q, 0), (p^2, p^2, q^2, q^2, 1).


@njit(**_JIT)
def _bt3(d0, d1, d2, d3, d4, o0, o1, o2, o3, o4, n, c):
    """``o = B^T d`` of F(3, 3) over ``k < n`` (``c``: ``B^T`` flattened)."""
    al, be, ga, de, ep, ze, et, th = c[5], -c[6], -c[7], c[15], -c[16], -c[17], c[20], -c[22]
    for k in range(n):
        x0, x1, x2, x3, x4 = d0[k], d1[k], d2[k], d3[k], d4[k]
        even, odd = x3 - be * x1, al * x0 - ga * x2
        o0[k] = even - odd
        o1[k] = even + odd
        even, odd = x3 - ep * x1, de * x0 - ze * x2
        o2[k] = even - odd
        o3[k] = even + odd
        o4[k] = et * x0 - th * x2 + x4


@njit(**_JIT)
def _b3(d0, d1, d2, d3, d4, o0, o1, o2, o3, o4, n, c):
    """``o = B d`` of F(3, 3), the adjoint of :func:`_bt3`."""
    al, be, ga, de, ep, ze, et, th = c[5], -c[6], -c[7], c[15], -c[16], -c[17], c[20], -c[22]
    for k in range(n):
        x0, x1, x2, x3, x4 = d0[k], d1[k], d2[k], d3[k], d4[k]
        o0[k] = al * (x1 - x0) + de * (x3 - x2) + et * x4
        o1[k] = -be * (x0 + x1) - ep * (x2 + x3)
        o2[k] = ga * (x0 - x1) + ze * (x2 - x3) - th * x4
        o3[k] = x0 + x1 + x2 + x3
        o4[k] = x4


@njit(**_JIT)
def _at3(d0, d1, d2, d3, d4, o0, o1, o2, n, c):
    """``o = A^T d`` of F(3, 3) (``c``: ``A^T`` flattened)."""
    p, q, p2, q2 = c[5], c[7], c[10], c[12]
    for k in range(n):
        x0, x1, x2, x3, x4 = d0[k], d1[k], d2[k], d3[k], d4[k]
        s1, s2 = x0 + x1, x2 + x3
        o0[k] = s1 + s2
        o1[k] = p * (x0 - x1) + q * (x2 - x3)
        o2[k] = p2 * s1 + q2 * s2 + x4


@njit(**_JIT)
def _a3(d0, d1, d2, o0, o1, o2, o3, o4, n, c):
    """``o = A d`` of F(3, 3), the adjoint of :func:`_at3`."""
    p, q, p2, q2 = c[5], c[7], c[10], c[12]
    for k in range(n):
        x0, x1, x2 = d0[k], d1[k], d2[k]
        ep, eq = x0 + p2 * x2, x0 + q2 * x2
        o0[k] = ep + p * x1
        o1[k] = ep - p * x1
        o2[k] = eq + q * x1
        o3[k] = eq - q * x1
        o4[k] = x2
