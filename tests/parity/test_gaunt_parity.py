"""tensorkit.gaunt on the device against the numpy result, float32 and float64."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from tensorkit import gaunt


@pytest.mark.parametrize("normalization", ["integral", "component", "norm"])
def test_real_sph_harm(device, random_array, assert_parity, normalization):
    vectors = random_array(5, 7, 3)
    assert_parity(
        gaunt.real_sph_harm(4, device.put(vectors), normalization=normalization),
        gaunt.real_sph_harm(4, vectors, normalization=normalization),
    )


@pytest.mark.parametrize("method", gaunt.METHODS)
@pytest.mark.parametrize("weighted", [False, True])
def test_gaunt_tensor_product(device, dtype, random_array, assert_parity, method, weighted):
    x1 = random_array(6, 3, 16, seed=1)  # degrees <= 3, 3 channels
    x2 = random_array(6, 1, 9, seed=2)  # degrees <= 2, broadcast over the channels
    weights = random_array(3, 5, seed=3) if weighted else None  # per channel and output degree
    oracle = gaunt.gaunt_tensor_product(x1, x2, lmax_out=4, method=method, weights=weights)
    # all methods agree on the CPU (the "direct" sum over Gaunt coefficients is the reference)
    reference = gaunt.gaunt_tensor_product(x1, x2, lmax_out=4, method="direct", weights=weights)
    np.testing.assert_allclose(oracle, reference, atol=100 * np.finfo(dtype).eps * np.abs(reference).max())
    result = gaunt.gaunt_tensor_product(
        device.put(x1), device.put(x2), lmax_out=4, method=method,
        weights=None if weights is None else device.put(weights),
    )
    assert_parity(result, oracle, factor=100)


def test_gaunt_tensor_product_plan(device, random_array, assert_parity):
    plan = gaunt.GauntTensorProduct(2, 2, 3)
    x1, x2 = random_array(4, 9, seed=1), random_array(4, 9, seed=2)
    oracle = plan(x1, x2)
    assert_parity(plan(device.put(x1), device.put(x2)), oracle, factor=100)
    assert_parity(plan(device.put(x1), device.put(x2)), oracle, factor=100)  # tables cached per device


def test_gaunt_coefficients(device, assert_parity):
    oracle = gaunt.gaunt_coefficients(2, 3, 3)
    assert_parity(gaunt.gaunt_coefficients(2, 3, 3, device=device.name), oracle, factor=0)


def test_wigner_D(device, dtype, assert_parity):
    rotations = Rotation.random(4, random_state=0).as_matrix()
    rotations[1] *= -1  # an improper rotation too
    rotations = rotations.astype(dtype)
    oracle = gaunt.wigner_D(3, rotations)
    assert_parity(gaunt.wigner_D(3, device.put(rotations)), oracle, factor=100)
