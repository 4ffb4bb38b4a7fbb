"""tensorkit.tenalg on the device against the numpy result, float32 and float64."""

import numpy as np
import pytest

from tensorkit import tenalg

SHAPE = (4, 5, 6)


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_unfold_fold(device, assert_parity, random_array, mode):
    X = random_array(*SHAPE)
    oracle = tenalg.unfold(X, mode)
    unfolded = tenalg.unfold(device.put(X), mode)
    assert_parity(unfolded, oracle, factor=0)
    assert_parity(tenalg.fold(unfolded, mode, SHAPE), X, factor=0)


@pytest.mark.parametrize("transpose", [False, True])
def test_mode_dot(device, assert_parity, random_array, transpose):
    X = random_array(*SHAPE)
    M = random_array(3, 5, seed=1)
    M = M.T.copy() if transpose else M
    assert_parity(
        tenalg.mode_dot(device.put(X), device.put(M), 1, transpose=transpose),
        tenalg.mode_dot(X, M, 1, transpose=transpose),
    )


def test_mode_dot_vector(device, assert_parity, random_array):
    X = random_array(*SHAPE)
    v = random_array(6, seed=1)
    assert_parity(tenalg.mode_dot(device.put(X), device.put(v), 2), tenalg.mode_dot(X, v, 2))


@pytest.mark.parametrize("skip", [None, 1])
def test_multi_mode_dot(device, assert_parity, random_array, skip):
    X = random_array(*SHAPE)
    matrices = [random_array(r, n, seed=k) for k, (r, n) in enumerate(zip((2, 3, 7), SHAPE, strict=True))]
    assert_parity(
        tenalg.multi_mode_dot(device.put(X), device.put(matrices), skip=skip),
        tenalg.multi_mode_dot(X, matrices, skip=skip),
    )


@pytest.mark.parametrize(("skip", "reverse"), [(None, False), (0, False), (None, True)])
def test_khatri_rao(device, assert_parity, random_array, skip, reverse):
    matrices = [random_array(n, 3, seed=k) for k, n in enumerate(SHAPE)]
    assert_parity(
        tenalg.khatri_rao(device.put(matrices), skip=skip, reverse=reverse),
        tenalg.khatri_rao(matrices, skip=skip, reverse=reverse),
    )


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_mttkrp_dense(device, assert_parity, random_array, mode):
    X = random_array(*SHAPE)
    factors = [random_array(n, 3, seed=k + 1) for k, n in enumerate(SHAPE)]
    oracle = tenalg.mttkrp(X, factors, mode)
    # independent check of the oracle itself: the definition X_(n) @ KR(factors, skip=n)
    np.testing.assert_allclose(
        oracle, tenalg.unfold(X, mode) @ tenalg.khatri_rao(factors, skip=mode),
        rtol=1e-4, atol=1e-4 * float(np.max(np.abs(oracle))),
    )
    assert_parity(tenalg.mttkrp(device.put(X), device.put(factors), mode), oracle)
