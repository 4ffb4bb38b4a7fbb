"""Numba Kalman filter and RTS smoother (``nogil``, ``cache``): block-diagonal transitions applied
per function, small dense solves written out (a LAPACK call per coordinate costs more than the
arithmetic at ``R d <= 20``)."""

from __future__ import annotations

import numpy as np
from numba import njit


def rts_smoother(A, Q, P0, lam, eta):
    """See :func:`tensorkit.functional._kernels.rts_smoother`."""
    n, R = eta.shape
    D = R * P0.shape[0]
    m_f, P_f = np.empty((n, D)), np.empty((n, D, D))
    m_s, P_s = np.empty((n, D)), np.empty((n, D, D))
    _rts(np.ascontiguousarray(A, dtype=np.float64), np.ascontiguousarray(Q, dtype=np.float64),
         np.ascontiguousarray(P0, dtype=np.float64), np.ascontiguousarray(lam, dtype=np.float64),
         np.ascontiguousarray(eta, dtype=np.float64), m_f, P_f, m_s, P_s)
    return m_f, P_f, m_s, P_s


@njit(cache=True, nogil=True)
def _solve(M, B):
    """Solve ``M X = B`` in place (``B`` becomes ``X``) by LU with partial pivoting; ``M`` is
    overwritten."""
    n = M.shape[0]
    k = B.shape[1]
    for c in range(n):
        p = c
        for r in range(c + 1, n):
            if abs(M[r, c]) > abs(M[p, c]):
                p = r
        if p != c:
            for j in range(n):
                M[c, j], M[p, j] = M[p, j], M[c, j]
            for j in range(k):
                B[c, j], B[p, j] = B[p, j], B[c, j]
        inv = 1.0 / M[c, c]
        for r in range(c + 1, n):
            f = M[r, c] * inv
            if f != 0.0:
                for j in range(c + 1, n):
                    M[r, j] -= f * M[c, j]
                for j in range(k):
                    B[r, j] -= f * B[c, j]
    for c in range(n - 1, -1, -1):
        inv = 1.0 / M[c, c]
        for j in range(k):
            s = B[c, j]
            for q in range(c + 1, n):
                s -= M[c, q] * B[q, j]
            B[c, j] = s * inv


@njit(cache=True, nogil=True)
def _predict(Ai, Qi, m, P, m_out, P_out, T):
    """``m_out = (I (x) Ai) m``, ``P_out = (I (x) Ai) P (I (x) Ai)^T + I (x) Qi``; ``T`` scratch."""
    d = Ai.shape[0]
    D = m.shape[0]
    R = D // d
    for r in range(R):
        for c in range(d):
            s = 0.0
            for q in range(d):
                s += Ai[c, q] * m[r * d + q]
            m_out[r * d + c] = s
    for r in range(R):
        for c in range(d):
            for j in range(D):
                s = 0.0
                for q in range(d):
                    s += Ai[c, q] * P[r * d + q, j]
                T[r * d + c, j] = s
    for i in range(D):
        for r in range(R):
            for c in range(d):
                s = 0.0
                for q in range(d):
                    s += T[i, r * d + q] * Ai[c, q]
                P_out[i, r * d + c] = s
    for r in range(R):
        for c in range(d):
            for q in range(d):
                P_out[r * d + c, r * d + q] += Qi[c, q]


@njit(cache=True, nogil=True)
def _rts(A, Q, P0, lam, eta, m_f, P_f, m_s, P_s):
    n, R = eta.shape
    d = P0.shape[0]
    D = R * d
    m = np.zeros(D)
    P = np.zeros((D, D))
    T = np.empty((D, D))
    M = np.empty((R, R))
    B = np.empty((R, D + 1))
    for r in range(R):
        for c in range(d):
            for q in range(d):
                P[r * d + c, r * d + q] = P0[c, q]
    for i in range(n):
        if i > 0:
            _predict(A[i], Q[i], m_f[i - 1], P_f[i - 1], m, P, T)
        # M = I + lam H P H^T; B = [lam H P | eta - lam H m]
        for a in range(R):
            for b in range(R):
                s = 0.0
                for c in range(R):
                    s += lam[i, a, c] * P[c * d, b * d]
                M[a, b] = s + (1.0 if a == b else 0.0)
            for j in range(D):
                s = 0.0
                for c in range(R):
                    s += lam[i, a, c] * P[c * d, j]
                B[a, j] = s
            s = eta[i, a]
            for c in range(R):
                s -= lam[i, a, c] * m[c * d]
            B[a, D] = s
        _solve(M, B)
        for j in range(D):
            s = m[j]
            for a in range(R):
                s += P[j, a * d] * B[a, D]
            m_f[i, j] = s
        for j in range(D):
            for k in range(j, D):
                s = P[j, k]
                for a in range(R):
                    s -= 0.5 * (P[j, a * d] * B[a, k] + P[k, a * d] * B[a, j])
                P_f[i, j, k] = s
                P_f[i, k, j] = s
    m_s[n - 1] = m_f[n - 1]
    P_s[n - 1] = P_f[n - 1]
    mp = np.empty(D)
    Pp = np.empty((D, D))
    Gt = np.empty((D, D))
    W = np.empty((D, D))
    diff = np.empty(D)
    for i in range(n - 2, -1, -1):
        _predict(A[i + 1], Q[i + 1], m_f[i], P_f[i], mp, Pp, T)
        # G^T = Pp^{-1} (I (x) A) P_f[i]: T holds (I (x) A) P_f[i] after _predict
        Gt[:, :] = T
        W[:, :] = Pp
        _solve(W, Gt)
        for j in range(D):
            diff[j] = m_s[i + 1, j] - mp[j]
        for j in range(D):
            s = m_f[i, j]
            for k in range(D):
                s += Gt[k, j] * diff[k]
            m_s[i, j] = s
        # P_s = P_f + G (P_s[i+1] - Pp) G^T
        for j in range(D):
            for k in range(D):
                W[j, k] = P_s[i + 1, j, k] - Pp[j, k]
        for j in range(D):
            for k in range(D):
                s = 0.0
                for q in range(D):
                    s += W[j, q] * Gt[q, k]
                T[j, k] = s
        for j in range(D):
            for k in range(j, D):
                s = P_f[i, j, k]
                for q in range(D):
                    s += Gt[q, j] * T[q, k]
                P_s[i, j, k] = s
                P_s[i, k, j] = s
