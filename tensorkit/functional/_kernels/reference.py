"""Plain-numpy Kalman filter and RTS smoother: the oracle of the Numba kernel (dense ``R d`` algebra)."""

from __future__ import annotations

import numpy as np


def rts_smoother(A, Q, P0, lam, eta):
    """See :func:`tensorkit.functional._kernels.rts_smoother`."""
    n, R = eta.shape
    d = P0.shape[0]
    D = R * d
    eye = np.eye(R)
    H = np.zeros((R, D))
    H[np.arange(R), np.arange(R) * d] = 1.0
    m_f, P_f = np.empty((n, D)), np.empty((n, D, D))
    m_s, P_s = np.empty((n, D)), np.empty((n, D, D))
    m, P = np.zeros(D), np.kron(eye, P0)
    for i in range(n):
        if i > 0:
            Ab = np.kron(eye, A[i])
            m = Ab @ m_f[i - 1]
            P = Ab @ P_f[i - 1] @ Ab.T + np.kron(eye, Q[i])
        M = eye + lam[i] @ H @ P @ H.T
        X = np.linalg.solve(M, lam[i] @ H @ P)
        x = np.linalg.solve(M, eta[i] - lam[i] @ H @ m)
        m_f[i] = m + P @ H.T @ x
        Pn = P - P @ H.T @ X
        P_f[i] = 0.5 * (Pn + Pn.T)
    m_s[-1], P_s[-1] = m_f[-1], P_f[-1]
    for i in range(n - 2, -1, -1):
        Ab = np.kron(eye, A[i + 1])
        P_pred = Ab @ P_f[i] @ Ab.T + np.kron(eye, Q[i + 1])
        G = np.linalg.solve(P_pred, Ab @ P_f[i]).T
        m_s[i] = m_f[i] + G @ (m_s[i + 1] - Ab @ m_f[i])
        Pn = P_f[i] + G @ (P_s[i + 1] - P_pred) @ G.T
        P_s[i] = 0.5 * (Pn + Pn.T)
    return m_f, P_f, m_s, P_s
