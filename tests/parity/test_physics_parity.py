"""physics.electrostatics.direct_potential on the device against the numpy result."""

import numpy as np
import pytest

from physics.electrostatics import default_long_range, direct_potential


@pytest.fixture
def charges(dtype):
    rng = np.random.default_rng(0)
    positions = rng.uniform(-1, 1, (40, 3))
    charges = rng.choice([-1.0, 1.0], 40)
    points = rng.uniform(-1, 1, (25, 3)) + np.array([3.0, 0.0, 0.0])  # away from the charges
    return positions.astype(dtype), charges.astype(dtype), points.astype(dtype)


def coulomb(positions, charges, points):
    r = np.linalg.norm(points[:, None, :].astype(np.float64) - positions[None, :, :], axis=-1)
    return (charges / r).sum(axis=1)


def test_direct_potential_coulomb(device, dtype, charges, assert_parity):
    positions, q, points = charges
    oracle = direct_potential(positions, q, points)
    exact_rtol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(oracle, coulomb(positions, q, points), rtol=exact_rtol)
    assert_parity(direct_potential(*device.put([positions, q, points])), oracle, factor=100)


def test_direct_potential_long_range(device, dtype, charges, assert_parity):
    positions, q, points = charges
    long_range = default_long_range(((-2.0, 5.0), (-2.0, 2.0), (-2.0, 2.0)), tol=1e-6)
    oracle = direct_potential(positions, q, points, kernel="long_range", long_range=long_range)
    result = direct_potential(*device.put([positions, q, points]), kernel="long_range", long_range=long_range)
    assert_parity(result, oracle, factor=100)
