"""Sketching kernels: Numba and reference against BLAS/explicit matrices; the GPU FWHT kernel
under the CUDA simulator (tiny launches)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import hadamard

from tensorkit import _kernels


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_b", [False, True])
def test_normal_matvec(backend, dtype, with_b, rtol):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((300, 7)).astype(dtype)
    W = rng.standard_normal((7, 3)).astype(dtype)
    B = rng.standard_normal((300, 3)).astype(dtype) if with_b else None
    g, sq = _kernels.normal_matvec(A, W, B, backend)
    A64, W64 = A.astype(np.float64), W.astype(np.float64)
    R = A64 @ W64 - (B.astype(np.float64) if with_b else 0.0)
    assert g.dtype == dtype and g.shape == (7, 3)
    scale = np.abs(A64).T @ np.abs(R)
    assert np.all(np.abs(g - A64.T @ R) <= 50 * rtol(dtype) * scale + 1e-30)
    np.testing.assert_allclose(sq, np.sum(R * R, axis=0), rtol=50 * rtol(dtype))


def test_normal_matvec_fortran_order_falls_back():
    rng = np.random.default_rng(1)
    A = np.asfortranarray(rng.standard_normal((50, 4)))
    W = rng.standard_normal((4, 1))
    g, _ = _kernels.normal_matvec(A, W, None, "numba")
    np.testing.assert_allclose(g, A.T @ (A @ W), atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_sparse_sketch_against_explicit_matrix(backend):
    rng = np.random.default_rng(2)
    n, m, s = 40, 9, 2
    A = rng.standard_normal((n, 5))
    rows = rng.integers(0, m, size=(n, s))
    signs = rng.choice([-1.0, 1.0], size=(n, s))
    S = np.zeros((m, n))
    for j in range(s):
        np.add.at(S, (rows[:, j], np.arange(n)), signs[:, j])
    np.testing.assert_allclose(_kernels.sparse_sketch(A, rows, signs, m, backend), S @ A, atol=1e-12)


@pytest.mark.cuda_kernel
def test_fwht_cuda_kernel_under_simulator():
    from tensorkit._kernels import cuda

    X = np.random.default_rng(3).standard_normal((8, 2))
    out = cuda.fwht(X.copy())
    np.testing.assert_allclose(out, hadamard(8) @ X, atol=1e-12)
    one = np.ones((1, 3))
    np.testing.assert_array_equal(cuda.fwht(one.copy()), one)
