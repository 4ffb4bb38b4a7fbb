r"""The 1D transforms of Winograd's F(2, 3), F(3, 3) and F(4, 3) written out, for the tile passes of
:mod:`.winograd_cpu` (matrices and math in :mod:`.winograd`).

Each is one pass over ``k < n`` that reads its ``a`` (or ``m``) input runs and writes all its
outputs (a pass per matrix entry cost 3-5x more loads and stores); the tests check each against
:func:`.winograd.winograd_matrices`. ``c`` holds the coefficients (:func:`constants`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

JIT = {"cache": True, "nogil": True, "fastmath": True, "error_model": "numpy"}


def constants(m, matrix, dtype):
    """The coefficients of the written-out transforms: 2, 4, 5, 8 for F(2, 3) and F(4, 3); the
    matrix (``A^T`` or ``B^T``) flattened for F(3, 3), whose points are not small integers."""
    if m == 3:
        return np.ascontiguousarray(matrix, dtype=dtype).ravel()
    return np.array([2, 4, 5, 8], dtype=dtype)


# --- the 1D transforms of F(2, 3) and F(4, 3), written out -------------------------------------------


@njit(**JIT)
def bt2(d0, d1, d2, d3, o0, o1, o2, o3, n, c):
    """``o = B^T d`` of F(2, 3) over ``k < n`` (``c``: the constants 2, 4, 5, 8)."""
    for k in range(n):
        x0, x1, x2, x3 = d0[k], d1[k], d2[k], d3[k]
        o0[k] = -x0 + x2
        o1[k] = x1 + x2
        o2[k] = -x1 + x2
        o3[k] = -x1 + x3


@njit(**JIT)
def b2(d0, d1, d2, d3, o0, o1, o2, o3, n, c):
    """``o = B d`` of F(2, 3), the adjoint of :func:`bt2`."""
    for k in range(n):
        x0, x1, x2, x3 = d0[k], d1[k], d2[k], d3[k]
        o0[k] = -x0
        o1[k] = x1 - x2 - x3
        o2[k] = x0 + x1 + x2
        o3[k] = x3


@njit(**JIT)
def at2(d0, d1, d2, d3, o0, o1, n, c):
    """``o = A^T d`` of F(2, 3)."""
    for k in range(n):
        x0, x1, x2, x3 = d0[k], d1[k], d2[k], d3[k]
        o0[k] = x0 + x1 + x2
        o1[k] = x1 - x2 + x3


@njit(**JIT)
def a2(d0, d1, o0, o1, o2, o3, n, c):
    """``o = A d`` of F(2, 3), the adjoint of :func:`at2`."""
    for k in range(n):
        x0, x1 = d0[k], d1[k]
        o0[k] = x0
        o1[k] = x0 + x1
        o2[k] = x0 - x1
        o3[k] = x1


@njit(**JIT)
def bt4(d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, o4, o5, n, c):
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


@njit(**JIT)
def b4(d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, o4, o5, n, c):
    """``o = B d`` of F(4, 3), the adjoint of :func:`bt4`."""
    two, four, five = c[0], c[1], c[2]
    for k in range(n):
        x0, x1, x2, x3, x4, x5 = d0[k], d1[k], d2[k], d3[k], d4[k], d5[k]
        o0[k] = four * x0
        o1[k] = -four * x1 + four * x2 - two * x3 + two * x4 + four * x5
        o2[k] = -five * x0 - four * x1 - four * x2 - x3 - x4
        o3[k] = x1 - x2 + two * x3 - two * x4 - five * x5
        o4[k] = x0 + x1 + x2 + x3 + x4
        o5[k] = x5


@njit(**JIT)
def at4(d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, n, c):
    """``o = A^T d`` of F(4, 3)."""
    two, four, eight = c[0], c[1], c[3]
    for k in range(n):
        x0, x1, x2, x3, x4, x5 = d0[k], d1[k], d2[k], d3[k], d4[k], d5[k]
        o0[k] = x0 + x1 + x2 + x3 + x4
        o1[k] = x1 - x2 + two * x3 - two * x4
        o2[k] = x1 + x2 + four * x3 + four * x4
        o3[k] = x1 - x2 + eight * x3 - eight * x4 + x5


@njit(**JIT)
def a4(d0, d1, d2, d3, o0, o1, o2, o3, o4, o5, n, c):
    """``o = A d`` of F(4, 3), the adjoint of :func:`at4`."""
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


@njit(**JIT)
def bt3(d0, d1, d2, d3, d4, o0, o1, o2, o3, o4, n, c):
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


@njit(**JIT)
def b3(d0, d1, d2, d3, d4, o0, o1, o2, o3, o4, n, c):
    """``o = B d`` of F(3, 3), the adjoint of :func:`bt3`."""
    al, be, ga, de, ep, ze, et, th = c[5], -c[6], -c[7], c[15], -c[16], -c[17], c[20], -c[22]
    for k in range(n):
        x0, x1, x2, x3, x4 = d0[k], d1[k], d2[k], d3[k], d4[k]
        o0[k] = al * (x1 - x0) + de * (x3 - x2) + et * x4
        o1[k] = -be * (x0 + x1) - ep * (x2 + x3)
        o2[k] = ga * (x0 - x1) + ze * (x2 - x3) - th * x4
        o3[k] = x0 + x1 + x2 + x3
        o4[k] = x4


@njit(**JIT)
def at3(d0, d1, d2, d3, d4, o0, o1, o2, n, c):
    """``o = A^T d`` of F(3, 3) (``c``: ``A^T`` flattened)."""
    p, q, p2, q2 = c[5], c[7], c[10], c[12]
    for k in range(n):
        x0, x1, x2, x3, x4 = d0[k], d1[k], d2[k], d3[k], d4[k]
        s1, s2 = x0 + x1, x2 + x3
        o0[k] = s1 + s2
        o1[k] = p * (x0 - x1) + q * (x2 - x3)
        o2[k] = p2 * s1 + q2 * s2 + x4


@njit(**JIT)
def a3(d0, d1, d2, o0, o1, o2, o3, o4, n, c):
    """``o = A d`` of F(3, 3), the adjoint of :func:`at3`."""
    p, q, p2, q2 = c[5], c[7], c[10], c[12]
    for k in range(n):
        x0, x1, x2 = d0[k], d1[k], d2[k]
        ep, eq = x0 + p2 * x2, x0 + q2 * x2
        o0[k] = ep + p * x1
        o1[k] = ep - p * x1
        o2[k] = eq + q * x1
        o3[k] = eq - q * x1
        o4[k] = x2
