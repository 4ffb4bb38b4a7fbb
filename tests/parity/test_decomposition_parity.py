"""Tucker, CP and TT on the device against the numpy result, and the formats' ``to_dense``.

Factors are unique only up to rotations and signs, and randomized methods draw different streams
on each device, so decompositions are compared through their reconstructions of planted low-rank
tensors (an independent oracle as well as the CPU one).
"""

import warnings

import numpy as np
import pytest

import tensorkit
from tensorkit.decomposition import TUCKER_METHODS

TUCKER_SHAPE, TUCKER_RANKS = (12, 10, 8), (3, 4, 2)
# a relative error target well above each dtype's noise level, well below the planted signal
TOL = {np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-8}
# what a planted exact-rank tensor is recovered to
RECOVERY = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
# CP-ALS stops on the change of its error, so it gets closer only as fast as ALS converges
CP_RECOVERY = {np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-7}


def planted_tucker(dtype):
    rng = np.random.default_rng(0)
    core = rng.standard_normal(TUCKER_RANKS)
    factors = [np.linalg.qr(rng.standard_normal((n, r)))[0]
               for n, r in zip(TUCKER_SHAPE, TUCKER_RANKS, strict=True)]
    return np.einsum("abc,ia,jb,kc->ijk", core, *factors).astype(dtype)


def relative_error(approx, exact):
    return float(np.linalg.norm(approx.astype(np.float64) - exact) / np.linalg.norm(exact))


@pytest.mark.parametrize("method", TUCKER_METHODS)
def test_tucker_fixed_rank(device, dtype, assert_parity, method):
    X = planted_tucker(dtype)
    oracle = tensorkit.tucker(X, rank=TUCKER_RANKS, method=method, random_state=0).to_dense()
    result = tensorkit.tucker(device.put(X), rank=TUCKER_RANKS, method=method, random_state=0)
    assert result.ranks == TUCKER_RANKS
    assert_parity(result.to_dense(), oracle)
    assert relative_error(device.get(result.to_dense()), X) < RECOVERY[dtype]


@pytest.mark.parametrize("method", TUCKER_METHODS)
def test_tucker_tol(device, dtype, assert_parity, method):
    X = planted_tucker(dtype)
    tol = TOL[dtype]
    oracle = tensorkit.tucker(X, tol=tol, method=method, random_state=0)
    result = tensorkit.tucker(device.put(X), tol=tol, method=method, random_state=0)
    assert oracle.ranks == TUCKER_RANKS
    assert result.ranks == oracle.ranks
    assert_parity(result.to_dense(), oracle.to_dense())
    assert relative_error(device.get(result.to_dense()), X) <= tol


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # float32 may stop on n_iter_max
def test_cp(device, dtype):
    rng = np.random.default_rng(1)
    A, B, C = (rng.standard_normal((n, 2)) for n in (6, 7, 8))
    X = np.einsum("ir,jr,kr->ijk", A, B, C).astype(dtype)
    oracle = relative_error(tensorkit.cp(X, 2, random_state=0).to_dense(), X)
    result = tensorkit.cp(device.put(X), 2, random_state=0)
    dense = device.get(result.to_dense())
    assert dense.dtype == dtype
    assert oracle < CP_RECOVERY[dtype]
    assert relative_error(dense, X) < CP_RECOVERY[dtype]


def planted_tt(dtype):
    rng = np.random.default_rng(2)
    cores = [rng.standard_normal(s) for s in [(1, 6, 2), (2, 7, 3), (3, 8, 1)]]
    return tensorkit.TTTensor(cores).to_dense().astype(dtype)


def test_tt_fixed_rank(device, dtype, assert_parity):
    X = planted_tt(dtype)
    result = tensorkit.tt(device.put(X), rank=(2, 3))
    assert result.ranks == (1, 2, 3, 1)
    assert_parity(result.to_dense(), tensorkit.tt(X, rank=(2, 3)).to_dense())
    assert relative_error(device.get(result.to_dense()), X) < RECOVERY[dtype]


def test_tt_tol(device, dtype, assert_parity):
    X = planted_tt(dtype)
    oracle = tensorkit.tt(X, tol=TOL[dtype])
    result = tensorkit.tt(device.put(X), tol=TOL[dtype])
    assert result.ranks == oracle.ranks == (1, 2, 3, 1)
    assert_parity(result.to_dense(), oracle.to_dense())


def test_tucker_tensor_to_dense(device, random_array, assert_parity):
    core = random_array(2, 3, 2)
    factors = [random_array(n, r, seed=k + 1)
               for k, (n, r) in enumerate(zip((4, 5, 6), (2, 3, 2), strict=True))]
    oracle = np.einsum("abc,ia,jb,kc->ijk", core, *factors)
    assert_parity(tensorkit.TuckerTensor(device.put(core), device.put(factors)).to_dense(), oracle)


def test_cp_tensor_to_dense(device, random_array, assert_parity):
    weights = random_array(3)
    factors = [random_array(n, 3, seed=k + 1) for k, n in enumerate((4, 5, 6))]
    oracle = np.einsum("r,ir,jr,kr->ijk", weights, *factors)
    assert_parity(tensorkit.CPTensor(device.put(weights), device.put(factors)).to_dense(), oracle)


def test_tt_tensor_to_dense(device, random_array, assert_parity):
    cores = [random_array(*s, seed=k) for k, s in enumerate([(1, 4, 2), (2, 5, 3), (3, 6, 1)])]
    oracle = np.einsum("aib,bjc,ckd->ijk", *cores)
    assert_parity(tensorkit.TTTensor(device.put(cores)).to_dense(), oracle)


def test_no_warning_on_planted_tucker(device):
    """HOOI converges on an exact-rank tensor: no iteration-limit warning on any device."""
    X = device.put(planted_tucker(np.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tensorkit.tucker(X, rank=TUCKER_RANKS, method="hooi")


@pytest.mark.parametrize("method", TUCKER_METHODS)
def test_tucker_reported_error(device, dtype, method):
    """``info.rel_error`` is the achieved relative error (the README's claim), on every device
    (float32 hosvd/hooi once reported the cancelling core-norm estimate, ~4.8e-4 for 2.6e-7)."""
    X = planted_tucker(dtype)
    result = tensorkit.tucker(device.put(X), rank=TUCKER_RANKS, method=method, random_state=0)
    actual = relative_error(device.get(result.to_dense()), X)
    assert abs(result.info.rel_error - actual) <= 100 * np.finfo(dtype).eps
