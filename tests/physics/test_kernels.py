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


def _spectral_state(dtype, seed=1, batch=3, n=8):
    rng = np.random.default_rng(seed)
    ctype = np.result_type(dtype, np.complex64)
    m = n // 2 + 1
    w_hat = (rng.standard_normal((batch, n, m)) + 1j * rng.standard_normal((batch, n, m))).astype(ctype)
    kx = (2 * np.pi * np.fft.fftfreq(n, 1 / n)).astype(dtype)
    ky = (2 * np.pi * np.fft.rfftfreq(n, 1 / n)).astype(dtype)
    lap = kx[:, None] ** 2 + ky[None, :] ** 2
    lap[0, 0] = 1.0
    return w_hat, kx, ky, lap, (rng.random((n, m)) > 0.3).astype(dtype), rng


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_navier_stokes_step_kernels_match_the_spectral_formulas(dtype):
    w_hat, kx, ky, lap, mask, rng = _spectral_state(dtype)
    tol = 2e-6 if dtype == np.float32 else 1e-14
    # the formulas written out: psi = w / |k|^2, (u, v) = (d_y psi, -d_x psi), grad w
    psi = w_hat / lap
    expected = np.stack([1j * ky * psi, -1j * kx[:, None] * psi, 1j * kx[:, None] * w_hat, 1j * ky * w_hat])
    fields = rng.standard_normal((4, 3, 8, 8)).astype(dtype)
    f_hat = w_hat[1] * 0.3
    adv_hat = w_hat[::-1].copy()
    for backend in ("numpy", "numba"):
        out = _kernels.vorticity_gradients(w_hat, 1 / lap, kx, ky, np.empty((4, *w_hat.shape), w_hat.dtype),
                                           backend)
        np.testing.assert_allclose(out, expected, rtol=tol, atol=tol * np.abs(expected).max())
        prod = _kernels.advection(fields, np.empty_like(fields[0]), backend)
        np.testing.assert_allclose(prod, fields[0] * fields[2] + fields[1] * fields[3], rtol=tol, atol=tol)
        for forcing in (None, f_hat):
            dt, nu = 0.01, 0.05
            half = 0.5 * dt * nu * lap
            expect = ((1 - half) * w_hat - dt * mask * adv_hat + (0 if forcing is None else dt * forcing)) / (
                1 + half)
            got = _kernels.crank_nicolson_step(w_hat.copy(), adv_hat, forcing, lap, mask, dt, nu, backend)
            assert got.dtype == w_hat.dtype
            np.testing.assert_allclose(got, expect, rtol=tol, atol=tol)


def test_navier_stokes_kernels_on_the_gpu_path_match():
    # the GPU versions are the array-module code; on numpy arrays they must agree with Numba
    from physics._kernels import cuda

    w_hat, kx, ky, lap, mask, _ = _spectral_state(np.float64, seed=2)
    out = cuda.vorticity_gradients(w_hat, 1 / lap, kx, ky, np.empty((4, *w_hat.shape), complex))
    np.testing.assert_allclose(out, _kernels.vorticity_gradients(
        w_hat, 1 / lap, kx, ky, np.empty((4, *w_hat.shape), complex), "numba"), rtol=1e-14)
    got = cuda.crank_nicolson_step(w_hat.copy(), w_hat, None, lap, mask, 0.1, 0.2)
    np.testing.assert_allclose(got, _kernels.crank_nicolson_step(w_hat.copy(), w_hat, None, lap, mask, 0.1,
                                                                 0.2, "numba"), rtol=1e-14)
