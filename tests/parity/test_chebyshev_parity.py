"""tensorkit.chebyshev.ChebTucker built and evaluated on the device against the numpy result."""

import inspect

import array_api_compat
import numpy as np
import pytest

from tensorkit.chebyshev import ChebTucker, chebyshev_points

DOMAIN = ((-1.0, 1.0), (0.0, 2.0), (-0.5, 0.5))
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-11}


def f(x, y, z):
    xp = array_api_compat.array_namespace(x)
    return xp.sin(x + 2 * y) * xp.exp(-z) + x * y * z


def on_device(device):
    """Where ``from_function`` builds its grid: ``device=`` (the refit's convention), or the
    ``xp=`` module it took before."""
    if "device" in inspect.signature(ChebTucker.from_function).parameters:
        return {"device": device.name}
    return {"xp": device.xp}


def points(dtype):
    rng = np.random.default_rng(0)
    return np.stack([rng.uniform(a, b, 50) for a, b in DOMAIN], axis=1).astype(dtype)


def test_from_function(device, dtype, assert_parity):
    tol = TOL[dtype]
    oracle = ChebTucker.from_function(f, DOMAIN, tol=tol, dtype=dtype)
    result = ChebTucker.from_function(f, DOMAIN, tol=tol, dtype=dtype, **on_device(device))
    assert result.ranks == oracle.ranks
    assert result.degrees == oracle.degrees
    p = points(dtype)
    values = result(device.put(p))
    assert_parity(values, oracle(p), factor=100)
    exact = f(*(p[:, k].astype(np.float64) for k in range(3)))
    np.testing.assert_allclose(device.get(values), exact, atol=100 * tol * np.abs(exact).max())


def test_from_values(device, dtype, assert_parity):
    sizes = (17, 19, 13)
    grids = np.meshgrid(*(chebyshev_points(m, d) for m, d in zip(sizes, DOMAIN, strict=True)), indexing="ij")
    values = f(*grids).astype(dtype)
    oracle = ChebTucker.from_values(values, DOMAIN, TOL[dtype])
    result = ChebTucker.from_values(device.put(values), DOMAIN, TOL[dtype])
    assert result.ranks == oracle.ranks
    p = points(dtype)
    assert_parity(result(device.put(p)), oracle(p), factor=100)


@pytest.mark.parametrize("axis", [0, 2])
def test_calculus(device, assert_parity, axis):
    """diff and integrate run on the device's arrays."""
    oracle = ChebTucker.from_function(f, DOMAIN, tol=1e-11)
    result = ChebTucker.from_function(f, DOMAIN, tol=1e-11, **on_device(device))
    p = points(np.float64)
    assert_parity(result.diff(axis)(device.put(p)), oracle.diff(axis)(p), factor=1000)
    assert float(result.integrate()) == pytest.approx(float(oracle.integrate()), rel=1e-10)
