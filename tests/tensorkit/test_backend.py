"""Backend names, namespaces, device checks, dtype promotion and random_state handling."""

from __future__ import annotations

import numpy as np
import pytest

import tensorkit
from tensorkit.backend import (
    check_random_state,
    get_namespace,
    gpu_available,
    resolve_backend,
    thread_limits,
    to_device,
    to_numpy,
)
from tensorkit.extend import as_float_array


def test_available_backends_and_inference():
    names = tensorkit.available_backends()
    assert names[:2] == ["numba", "numpy"]
    assert ("cupy" in names) == gpu_available()
    x = np.ones(3)
    assert resolve_backend(None, x) == "numba"
    assert resolve_backend("numpy", x) == "numpy"


def test_backend_that_does_not_match_the_device_raises():
    with pytest.raises(ValueError, match="needs CuPy arrays"):
        resolve_backend("cupy", np.ones(2))
    with pytest.raises(ValueError, match="backend must be one of"):
        resolve_backend("jax", np.ones(2))


def test_mixed_devices_raise(monkeypatch):
    import tensorkit.backend as backend_module

    class FakeGpuArray:
        pass

    monkeypatch.setattr(backend_module, "is_cupy_array", lambda x: isinstance(x, FakeGpuArray))
    with pytest.raises(TypeError, match="mix numpy and CuPy"):
        get_namespace(np.ones(2), FakeGpuArray())
    with pytest.raises(TypeError, match="mix numpy and CuPy"):
        resolve_backend(None, np.ones(2), FakeGpuArray())


def test_to_numpy_and_to_device_on_cpu():
    x = np.arange(3.0)
    assert to_numpy([1, 2]).tolist() == [1, 2]
    assert to_device(x, "cpu") is not None
    with pytest.raises(ValueError, match="device must be 'cpu' or 'gpu'"):
        to_device(x, "tpu")
    if not gpu_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            to_device(x, "gpu")


def test_random_state_forms():
    assert check_random_state(3).integers(100) == check_random_state(3).integers(100)
    g = np.random.default_rng(0)
    assert check_random_state(g) is g
    assert isinstance(check_random_state(None), np.random.Generator)
    with pytest.raises(TypeError, match="random_state must be an int"):
        check_random_state(1.5)
    with pytest.raises(ValueError, match="non-negative"):
        check_random_state(-1)


def test_as_float_array_promotes_once_and_rejects_non_finite():
    assert as_float_array(np.arange(3), "x").dtype == np.float64
    assert as_float_array(np.ones(2, np.float32), "x").dtype == np.float32
    assert as_float_array(np.ones(2, np.float16), "x").dtype == np.float32
    with pytest.raises(ValueError, match="x contains 2 non-finite"):
        as_float_array(np.array([np.nan, np.inf, 1.0]), "x")
    with pytest.raises(TypeError, match="x must be real"):
        as_float_array(np.ones(2, complex), "x", allow_complex=False)


def test_thread_limits_restores_numba_threads():
    import numba

    before = numba.get_num_threads()
    with thread_limits(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with pytest.raises(ValueError, match="n_threads must be >= 1"), thread_limits(0):
        pass


def test_native_and_scipy_for_follow_the_compat_namespace():
    """``xp`` is array-api-compat's namespace, which is not the numpy module: the helpers map it
    back without anyone testing ``xp is np``."""
    import scipy

    from tensorkit.backend import is_numpy_namespace, native, scipy_for

    xp = get_namespace(np.ones(2))
    assert xp is not np
    assert native(xp) is np and scipy_for(xp) is scipy
    assert is_numpy_namespace(xp) and is_numpy_namespace(np)
    xs = pytest.importorskip("array_api_strict")
    assert not is_numpy_namespace(get_namespace(xs.ones(2)))
