"""Shared fixtures: the ``backend`` parametrization and per-dtype tolerances.

``backend`` yields ``"numpy"`` (reference kernels), ``"numba"`` (CPU kernels) and ``"cupy"``
(skipped unless a CUDA device is usable). Tests convert their inputs with ``xp_for(backend)``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

from tensorkit.backend import gpu_available

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
