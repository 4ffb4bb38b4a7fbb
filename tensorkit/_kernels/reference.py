"""Plain-numpy reference kernels: slow, obviously right, the oracle for the others."""

from __future__ import annotations

import numpy as np


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


def gelu_erf(x):
    """``(x Phi(x), Phi(x))`` with scipy's erf."""
    from scipy.special import erf

    cdf = 0.5 * (1.0 + erf(x * x.dtype.type(1.0 / np.sqrt(2.0))))
    return x * cdf, cdf
