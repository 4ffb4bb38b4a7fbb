"""Shared fixtures: the ``backend`` and ``device`` parametrizations, dtypes and per-dtype tolerances.

``backend`` yields ``"numpy"`` (reference kernels), ``"numba"`` (CPU kernels) and ``"cupy"``
(skipped unless a CUDA device is usable). Tests convert their inputs with ``xp_for(backend)``.

``device`` yields a :class:`Device` for ``"cpu"`` and ``"gpu"`` (marked ``gpu``, skipped without a
CUDA device): ``device.put`` moves numpy test data there with :func:`tensorkit.to_device`,
``device.get`` checks that a result stayed there and brings it back with :func:`tensorkit.to_numpy`.
``dtype`` yields float32 and float64; ``rtol(dtype)`` and ``atol(dtype)`` are the tolerances.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from hypothesis import settings

from tensorkit.backend import gpu_available, is_cupy_array, to_device, to_numpy

# JIT compilation makes first calls slow: no per-example deadline.
settings.register_profile("tensorkit", deadline=None, max_examples=30, derandomize=True)
settings.load_profile("tensorkit")

CUDASIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


@pytest.fixture(
    params=[
        "numpy",
        "numba",
        pytest.param("cupy", marks=[pytest.mark.gpu]),
    ]
)
def backend(request):
    """Kernel set under test; CuPy is skipped without a CUDA device."""
    if request.param == "cupy" and not gpu_available():
        pytest.skip("no CUDA device")
    return request.param


class Device:
    """A device under test: moves numpy data onto it and results back, checking where they live.

    On ``"cpu"`` the inputs stay numpy arrays, so a parity test still runs its whole code path; on
    ``"gpu"`` they become CuPy arrays and the CuPy path runs.
    """

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"Device({self.name!r})"

    @property
    def xp(self):
        """The array module of the device (``numpy`` or ``cupy``)."""
        if self.name == "gpu":
            import cupy

            return cupy
        return np

    def put(self, data: Any) -> Any:
        """``data`` (an array, or a list/tuple of them, nested) moved to this device."""
        if isinstance(data, (list, tuple)):
            return type(data)(self.put(item) for item in data)
        return to_device(np.asarray(data), self.name)

    def get(self, result: Any) -> Any:
        """``result`` (an array, or a list/tuple of them) as numpy, after checking that it is on
        this device: results stay on the device of the inputs."""
        if isinstance(result, (list, tuple)):
            return type(result)(self.get(item) for item in result)
        on_gpu = is_cupy_array(result)
        if on_gpu != (self.name == "gpu"):
            where = "a CuPy array" if on_gpu else f"a {type(result).__name__}"
            raise AssertionError(f"result left device {self.name!r}: got {where}")
        return to_numpy(result)


@pytest.fixture(params=["cpu", pytest.param("gpu", marks=[pytest.mark.gpu])])
def device(request):
    """The device a parity test runs on; ``"gpu"`` is skipped without a CUDA device."""
    if request.param == "gpu" and not gpu_available():
        pytest.skip("no CUDA device")
    return Device(request.param)


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    """The real floating dtype under test (a ``numpy.dtype``)."""
    return np.dtype(request.param)


@pytest.fixture(autouse=True)
def _tensorly_numpy_backend():
    """Importing neuraloperator (an optional peer) switches tensorly's global backend to PyTorch;
    every test starts from tensorly's numpy backend."""
    import tensorly

    if tensorly.get_backend() != "numpy":
        tensorly.set_backend("numpy")
    yield


@pytest.fixture
def xp_for():
    """Return a function mapping a backend name to the array module its inputs live in."""

    def get(backend):
        if backend == "cupy":
            import cupy

            return cupy
        return np

    return get


def pytest_collection_modifyitems(config, items):
    """Skip ``cuda_kernel`` tests unless a GPU or the CUDA simulator is there."""
    if CUDASIM or gpu_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device or NUMBA_ENABLE_CUDASIM=1")
    for item in items:
        if "cuda_kernel" in item.keywords:
            item.add_marker(skip)


TOLERANCES = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12,
              np.dtype(np.complex64): 1e-5, np.dtype(np.complex128): 1e-12}


@pytest.fixture
def rtol():
    """Relative tolerance per dtype: ``rtol(np.float32)``."""
    return lambda dtype: TOLERANCES[np.dtype(dtype)]


@pytest.fixture
def atol():
    """Absolute tolerance per dtype for quantities of order one: ``atol(np.float32)``."""
    return lambda dtype: TOLERANCES[np.dtype(dtype)]
