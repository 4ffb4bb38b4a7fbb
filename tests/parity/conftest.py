"""Helpers of the CPU-vs-device parity lane.

Every parity test computes its oracle on numpy data (the CPU result), runs the same entry point on
the data moved to ``device`` and compares after :func:`tensorkit.to_numpy`. On a machine without a
GPU the ``"cpu"`` case still runs the whole code path and the ``"gpu"`` case is skipped; on a GPU
machine the same tests are the GPU lane.
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def assert_parity(device, rtol):
    """``assert_parity(result, oracle, factor=10)``: ``result`` is on ``device``, has the oracle's
    shape and dtype, and matches it to ``factor * rtol(dtype)`` relative to the oracle's largest
    entry (cuBLAS, cuFFT and the CPU libraries sum in different orders)."""

    def check(result, oracle, *, factor: float = 10.0):
        got = device.get(result)
        expected = np.asarray(oracle)
        assert got.shape == expected.shape, f"shape {got.shape} != oracle {expected.shape}"
        assert got.dtype == expected.dtype, f"dtype {got.dtype} != oracle {expected.dtype}"
        tol = factor * rtol(expected.dtype)
        scale = float(np.max(np.abs(expected))) if expected.size else 0.0
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale)

    return check


@pytest.fixture
def random_array(dtype):
    """``random_array(*shape, seed=0)``: standard normal test data in the ``dtype`` under test."""

    def draw(*shape: int, seed: int = 0) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal(shape).astype(dtype)

    return draw
