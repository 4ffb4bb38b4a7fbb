"""physics's own kernels: the pair-potential sum of every kernel set against the numpy reference
and scipy distances; dispatch through tensorkit.extend.kernel_implementation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from physics import _kernels
from physics._kernels import reference
from physics.electrostatics import newton_kernel_terms


def _system(n=30, m=40, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-2, 2, (n, 3)).astype(dtype), rng.standard_normal(n).astype(dtype),
            rng.uniform(-3, 3, (m, 3)).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reference_matches_scipy_distances(dtype):
    pos, q, pts = _system(dtype=dtype)
    long = newton_kernel_terms(1e-7, 0.01, 10.0).default_split()[0]
    tol = 1e-4 if dtype == np.float32 else 1e-12
    got = reference.pair_potential(pos, q, pts, None, None)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, (1.0 / cdist(pts, pos)) @ q, rtol=tol, atol=tol)
    got = reference.pair_potential(pos, q, pts, long.weights.astype(dtype), long.exponents.astype(dtype))
    np.testing.assert_allclose(got, long(cdist(pts, pos)) @ q, rtol=tol, atol=tol)


def test_numba_matches_reference():
    pos, q, pts = _system()
    long = newton_kernel_terms(1e-7, 0.01, 10.0).default_split()[0]
    for args in ((None, None), tuple(long)):
        np.testing.assert_allclose(_kernels.pair_potential(pos, q, pts, *args, "numba"),
                                   _kernels.pair_potential(pos, q, pts, *args, "numpy"), rtol=1e-12)


@pytest.mark.cuda_kernel
def test_cuda_kernel_matches_reference():
    from physics._kernels import cuda

    pos, q, pts = _system(n=5, m=7)
    long = newton_kernel_terms(1e-4, 0.1, 10.0).default_split()[0]
    np.testing.assert_allclose(cuda.pair_potential(pos, q, pts, None, None),
                               reference.pair_potential(pos, q, pts, None, None), rtol=1e-12)
    np.testing.assert_allclose(cuda.pair_potential(pos, q, pts, *long),
                               reference.pair_potential(pos, q, pts, *long), rtol=1e-12)


def test_dispatch_picks_the_module_and_rejects_unknown_backends():
    from tensorkit.extend import kernel_implementation

    assert kernel_implementation("physics._kernels", "pair_potential", "numpy") is reference.pair_potential
    pos, q, pts = _system(n=2)
    with pytest.raises(ValueError, match="backend must be one of"):
        _kernels.pair_potential(pos, q, pts, None, None, "fortran")
