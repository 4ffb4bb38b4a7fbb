"""tensorkit.sketch on the device: least squares against the numpy result, and sketch operators
by their properties (each device draws its own random stream, so sketches are never compared
entry by entry across devices)."""

import numpy as np
import pytest

from tensorkit import sketch

N, D = 2000, 10
KINDS = ("gaussian", "srht", "srdct", "countsketch", "sparse_sign")
# sketch_precondition stops on the residual excess ||Ax-b||/||Ax*-b|| - 1 <= tol: x itself agrees
# to about sqrt(tol) (float64), and to float32's own accuracy in float32
X_AGREEMENT = {np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-5}


@pytest.fixture
def problem(dtype):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((N, D))
    b = A @ rng.standard_normal(D) + 0.1 * rng.standard_normal(N)
    exact = np.linalg.lstsq(A, b, rcond=None)[0]
    return A.astype(dtype), b.astype(dtype), exact


def test_lstsq_direct(device, dtype, problem, assert_parity):
    A, b, exact = problem
    oracle = sketch.lstsq(A, b, method="direct")
    result = sketch.lstsq(device.put(A), device.put(b), method="direct")
    assert_parity(result.x, oracle.x, factor=100)
    np.testing.assert_allclose(device.get(result.x), exact, atol=X_AGREEMENT[dtype])
    assert result.residual_norm == pytest.approx(oracle.residual_norm, rel=10 * X_AGREEMENT[dtype])


@pytest.mark.parametrize("n_rhs", [None, 3])
def test_lstsq_sketch_precondition(device, dtype, problem, n_rhs):
    A, b, exact = problem
    if n_rhs is not None:
        b = np.stack([b * (k + 1) for k in range(n_rhs)], axis=1)
        exact = np.stack([exact * (k + 1) for k in range(n_rhs)], axis=1)
    oracle = sketch.lstsq(A, b, method="sketch_precondition", random_state=0)
    result = sketch.lstsq(device.put(A), device.put(b), method="sketch_precondition", random_state=0)
    assert result.converged and oracle.converged
    x = device.get(result.x)
    assert x.dtype == oracle.x.dtype == dtype
    scale = float(np.max(np.abs(exact)))
    np.testing.assert_allclose(x, oracle.x, atol=X_AGREEMENT[dtype] * scale)
    np.testing.assert_allclose(x, exact, atol=X_AGREEMENT[dtype] * scale)


@pytest.mark.parametrize("kind", KINDS)
def test_sketch_apply(device, dtype, problem, kind):
    """Same operator, same input: the same sketch (columns and vectors alike), in the input's
    dtype, on the input's device; sketch-and-solve through it nearly attains the optimal residual."""
    A, b, exact = problem
    S = sketch.make_sketch(kind, 200, random_state=0)
    A_dev, b_dev = device.put(A), device.put(b)
    SA = device.get(S.apply(A_dev))
    Sb = device.get(S.apply(b_dev))
    assert SA.shape == (200, D) and SA.dtype == dtype
    np.testing.assert_array_equal(device.get(S.apply(A_dev)), SA)
    np.testing.assert_array_equal(device.get(sketch.make_sketch(kind, 200, random_state=0).apply(A_dev)), SA)
    np.testing.assert_allclose(device.get(S.apply(A_dev[:, 0])), SA[:, 0], rtol=1e-5, atol=1e-5)
    x_sketched = np.linalg.lstsq(SA.astype(np.float64), Sb.astype(np.float64), rcond=None)[0]
    A64, b64 = A.astype(np.float64), b.astype(np.float64)
    ratio = np.linalg.norm(A64 @ x_sketched - b64) / np.linalg.norm(A64 @ exact - b64)
    assert 1 - 1e-6 <= ratio < 1.5


def test_sketch_solve_quality(device, dtype, problem):
    A, b, exact = problem
    result = sketch.lstsq(device.put(A), device.put(b), method="sketch_solve", random_state=0)
    x = device.get(result.x).astype(np.float64)
    A64, b64 = A.astype(np.float64), b.astype(np.float64)
    ratio = np.linalg.norm(A64 @ x - b64) / np.linalg.norm(A64 @ exact - b64)
    assert ratio < 1.5
