"""CP-ALS: planted rank-3 recovery (dense and sparse), fit bookkeeping, complex data, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import tensorly as tl

from tensorkit import CPTensor, cp


def planted_cp(shape, rank, rng, dtype=np.float64):
    factors = [rng.standard_normal((n, rank)).astype(dtype) for n in shape]
    if np.dtype(dtype).kind == "c":
        factors = [f + 1j * rng.standard_normal(f.shape) for f in factors]
    return CPTensor(np.ones(rank, dtype=dtype), factors)


@pytest.mark.parametrize("init", ["svd", "random"])
def test_planted_rank3_is_recovered(init):
    rng = np.random.default_rng(0)
    X = planted_cp((12, 13, 14), 3, rng).to_dense()
    result = cp(X, 3, init=init, random_state=0, stop_tol=1e-14, n_iter_max=500)
    err = np.linalg.norm(X - result.to_dense()) / np.linalg.norm(X)
    assert err < 1e-6
    assert result.info.rel_error == pytest.approx(err, rel=1e-6, abs=1e-12)


def test_sparse_coo_input_matches_dense(backend):
    rng = np.random.default_rng(1)
    X = planted_cp((8, 9, 10), 2, rng).to_dense()
    indices = np.argwhere(np.ones(X.shape, bool))
    values = X[tuple(indices.T)]
    sparse = cp((indices, values, X.shape), 2, init="random", random_state=3, backend=backend,
                stop_tol=1e-14, n_iter_max=500)
    assert np.linalg.norm(X - sparse.to_dense()) / np.linalg.norm(X) < 1e-6


def test_complex_planted_recovery():
    rng = np.random.default_rng(2)
    X = planted_cp((7, 8, 9), 2, rng, np.complex128).to_dense()
    result = cp(X, 2, random_state=0, stop_tol=1e-14, n_iter_max=500)
    assert np.linalg.norm(X - result.to_dense()) / np.linalg.norm(X) < 1e-6


def test_reported_error_tracks_the_true_error_on_noisy_data_and_matches_tensorly():
    rng = np.random.default_rng(3)
    X = planted_cp((10, 11, 12), 3, rng).to_dense() + 0.1 * rng.standard_normal((10, 11, 12))
    result = cp(X, 3, random_state=0, stop_tol=1e-12, n_iter_max=300)
    true_err = np.linalg.norm(X - result.to_dense()) / np.linalg.norm(X)
    assert result.info.rel_error == pytest.approx(true_err, rel=1e-8)
    tl_cp = tl.decomposition.parafac(X, 3, init="svd", tol=1e-12, n_iter_max=300)
    tl_err = np.linalg.norm(X - tl.cp_to_tensor(tl_cp)) / np.linalg.norm(X)
    assert true_err <= tl_err + 1e-6
    assert np.all(np.diff(result.info.history) <= 1e-10)  # ALS never increases the error


def test_float32_stays_float32():
    rng = np.random.default_rng(4)
    X = planted_cp((6, 7, 8), 2, rng, np.float32).to_dense()
    result = cp(X, 2, random_state=0, n_iter_max=300, stop_tol=1e-7)
    assert result.factors[0].dtype == np.float32 and result.weights.dtype == np.float32
    assert np.linalg.norm(X - result.to_dense()) / np.linalg.norm(X) < 1e-4


def test_rank_above_a_dimension_and_warning_on_iteration_limit():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3, 10, 11))
    with pytest.warns(RuntimeWarning, match="n_iter_max=2"):
        result = cp(X, 5, n_iter_max=2, stop_tol=0.0)
    assert result.rank == 5 and not result.info.converged


def test_bad_input_is_named():
    X = np.ones((3, 4, 5))
    with pytest.raises(ValueError, match="rank=0 gives an empty cp factorization"):
        cp(X, 0)
    with pytest.raises(TypeError, match="a CP rank must be an int or a float fraction"):
        cp(X, "2")
    with pytest.raises(ValueError, match="init must be"):
        cp(X, 2, init="nope")
    with pytest.raises(ValueError, match="order >= 2"):
        cp(np.ones(3), 1)
    bad = X.copy()
    bad[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        cp(bad, 2)
    with pytest.raises(ValueError, match="init has shape"):
        cp(X, 2, init=CPTensor(np.ones(2), [np.ones((3, 2)), np.ones((4, 2)), np.ones((6, 2))]))
