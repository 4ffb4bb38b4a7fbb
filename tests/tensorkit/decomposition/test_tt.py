"""Tensor train: TTTensor container and TT-SVD (planted ranks, tolerance guarantee, tensorly)."""

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorkit
from tensorkit import TTTensor, tt


def planted(shape, ranks, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    full = (1, *ranks, 1)
    cores = [rng.standard_normal((full[k], n, full[k + 1])) for k, n in enumerate(shape)]
    return TTTensor([c.astype(dtype) for c in cores])


def test_to_dense_against_einsum():
    T = planted((3, 4, 5, 2), (2, 3, 2))
    a, b, c, d = T.cores
    ref = np.einsum("aib,bjc,ckd,dle->ijkl", a, b, c, d)
    np.testing.assert_allclose(T.to_dense(), ref, rtol=1e-13)
    assert T.shape == (3, 4, 5, 2) and T.ranks == (1, 2, 3, 2, 1) and T.ndim == 4
    assert T.nbytes == 8 * (6 + 24 + 30 + 4)
    assert T.compression_ratio == pytest.approx(120 / 64)


def test_planted_ranks_recovered_exactly():
    T = planted((5, 6, 7, 4), (3, 4, 2))
    X = T.to_dense()
    R = tt(X, tol=1e-10)
    assert R.ranks == (1, 3, 4, 2, 1)
    np.testing.assert_allclose(R.to_dense(), X, atol=1e-10 * np.linalg.norm(X))
    # Fixed ranks at (or above) the planted ones are exact too; above is capped by the shape
    R2 = tt(X, rank=(1, 3, 4, 2, 1))
    np.testing.assert_allclose(R2.to_dense(), X, atol=1e-10 * np.linalg.norm(X))
    assert tt(X, rank=100).ranks == (1, 5, 28, 4, 1)


@settings(max_examples=15)
@given(
    shape=st.lists(st.integers(2, 6), min_size=2, max_size=4),
    tol=st.floats(0.01, 0.9),
    seed=st.integers(0, 1000),
)
def test_tolerance_is_guaranteed(shape, tol, seed):
    X = np.random.default_rng(seed).standard_normal(shape)
    R = tt(X, tol=tol)
    err = np.linalg.norm(R.to_dense() - X) / np.linalg.norm(X)
    assert err <= tol * (1 + 1e-10)
    # the reported error is exact: the discarded singular values of orthogonal truncations
    assert R.info.rel_error == pytest.approx(err, rel=1e-6, abs=1e-12)


def test_tolerance_down_to_1e_12():
    X = planted((6, 6, 6), (3, 3)).to_dense() + 1e-9 * np.random.default_rng(1).standard_normal((6, 6, 6))
    R = tt(X, tol=1e-12)
    assert np.linalg.norm(R.to_dense() - X) <= 1e-12 * np.linalg.norm(X)


def test_complex_and_float32():
    rng = np.random.default_rng(2)
    Z = rng.standard_normal((4, 5, 6)) + 1j * rng.standard_normal((4, 5, 6))
    R = tt(Z, tol=1e-8)
    assert R.dtype == np.complex128
    np.testing.assert_allclose(R.to_dense(), Z, atol=1e-8 * np.linalg.norm(Z))
    X32 = planted((4, 5, 6), (2, 3), dtype=np.float32).to_dense()
    R32 = tt(X32, rank=(2, 3))
    assert R32.dtype == np.float32
    np.testing.assert_allclose(R32.to_dense(), X32, rtol=1e-4, atol=1e-4 * np.abs(X32).max())


def test_against_tensorly_tensor_train():
    tensorly_dec = pytest.importorskip("tensorly.decomposition")
    X = np.random.default_rng(3).standard_normal((4, 5, 6, 3))
    ours = tt(X, rank=(1, 3, 4, 2, 1))
    theirs = tensorly_dec.tensor_train(X, rank=[1, 3, 4, 2, 1])
    import tensorly

    # same truncated SVDs: same approximation (cores agree up to signs)
    np.testing.assert_allclose(ours.to_dense(), tensorly.tt_to_tensor(theirs), rtol=1e-10, atol=1e-12)
    back = TTTensor.from_tensorly(ours.to_tensorly())
    np.testing.assert_array_equal(back.to_dense(), ours.to_dense())


def test_save_load_pickle(tmp_path):
    T = planted((3, 4, 5), (2, 2))
    T.save(tmp_path / "t.npz")
    L = TTTensor.load(tmp_path / "t.npz")
    np.testing.assert_array_equal(L.to_dense(), T.to_dense())
    P = pickle.loads(pickle.dumps(T))
    np.testing.assert_array_equal(P.to_dense(), T.to_dense())
    with pytest.raises(ValueError, match="holds format"):
        tensorkit.TuckerTensor.load(tmp_path / "t.npz")
    assert "TTTensor(shape=(3, 4, 5)" in repr(T)


def test_bad_input():
    X = np.ones((3, 4, 5))
    with pytest.raises(ValueError, match="exactly one of rank and tol"):
        tt(X)
    with pytest.raises(ValueError, match="exactly one of rank and tol"):
        tt(X, rank=2, tol=0.1)
    with pytest.raises(ValueError, match=r"tol must be < 1.0, got 1.5"):
        tt(X, tol=1.5)
    with pytest.raises(ValueError, match="2 inner TT ranks"):
        tt(X, rank=(2, 2, 2))
    with pytest.raises(ValueError, match="must be >= 1"):
        tt(X, rank=(2, 0))
    with pytest.raises(ValueError, match="boundary TT ranks"):
        tt(X, rank=(2, 2, 2, 1))
    with pytest.raises(ValueError, match="order >= 2"):
        tt(np.ones(4), rank=1)
    with pytest.raises(ValueError, match="non-finite"):
        tt(np.full((2, 2), np.nan), rank=1)
    with pytest.raises(ValueError, match="left rank"):
        TTTensor([np.ones((1, 2, 2)), np.ones((3, 2, 1))])
    with pytest.raises(ValueError, match="boundary ranks must be 1"):
        TTTensor([np.ones((2, 2, 2)), np.ones((2, 2, 1))])
    with pytest.raises(ValueError, match="3-way"):
        TTTensor([np.ones((2, 2))])


@pytest.mark.gpu
def test_on_the_gpu():
    from tensorkit.backend import gpu_available, is_cupy_array, to_device, to_numpy

    if not gpu_available():
        pytest.skip("no CUDA device")
    X = planted((5, 6, 7), (2, 3)).to_dense()
    R = tt(to_device(X, "gpu"), tol=1e-10)
    assert all(is_cupy_array(c) for c in R.cores) and R.ranks == (1, 2, 3, 1)
    np.testing.assert_allclose(to_numpy(R.to_dense()), X, atol=1e-9 * np.linalg.norm(X))
