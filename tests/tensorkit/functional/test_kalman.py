"""State-space priors and the Kalman/RTS kernels against dense Gaussian-process posteriors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from tensorkit.functional._kalman import smooth_mode, states_at
from tensorkit.functional._kernels import rts_smoother
from tensorkit.functional._sde import (
    backward_transition,
    drift,
    stationary_covariance,
    transitions,
)

KERNELS = ("matern12", "matern32")


def matern(kernel, a, b, lengthscale, variance=1.0):
    r = np.abs(a[:, None] - b[None, :])
    if kernel == "matern12":
        return variance * np.exp(-r / lengthscale)
    x = np.sqrt(3.0) * r / lengthscale
    return variance * (1 + x) * np.exp(-x)


def dense_posterior(kernel, z_all, n_data, lam, eta, lengthscale, variance):
    """Posterior of R independent GPs at z_all given information messages at the first n_data."""
    R = eta.shape[1]
    N = z_all.shape[0]
    K = np.kron(np.eye(R), matern(kernel, z_all, z_all, lengthscale, variance))
    L = np.zeros((R * N, R * N))
    h = np.zeros(R * N)
    for i in range(n_data):
        idx = np.arange(R) * N + i
        L[np.ix_(idx, idx)] = lam[i]
        h[idx] = eta[i]
    S = K @ np.linalg.solve(np.eye(R * N) + L @ K, np.eye(R * N))  # (K^-1 + L)^-1, no K^-1
    S = 0.5 * (S + S.T)
    mu = S @ h
    cov = np.stack([S[np.ix_(np.arange(R) * N + i, np.arange(R) * N + i)] for i in range(N)])
    return mu.reshape(R, N).T, cov


def messages(rng, n, R):
    B = rng.standard_normal((n, R, 2))
    return B @ np.swapaxes(B, 1, 2), rng.standard_normal((n, R))


@pytest.mark.parametrize("kernel", KERNELS)
def test_transitions_are_the_matrix_exponential(kernel):
    gaps = np.array([0.0, 0.01, 0.4, 3.0])
    A, Q = transitions(kernel, 0.7, 2.0, gaps)
    P = stationary_covariance(kernel, 0.7, 2.0)
    for g, Ai, Qi in zip(gaps, A, Q, strict=True):
        E = scipy.linalg.expm(drift(kernel, 0.7) * g)
        np.testing.assert_allclose(Ai, E, atol=1e-13)
        np.testing.assert_allclose(Qi, P - E @ P @ E.T, atol=1e-13)
    # the stationary covariance is invariant: F P + P F^T + L q L^T = 0 means P_inf = A P A^T + Q
    np.testing.assert_allclose(A @ P @ np.swapaxes(A, 1, 2) + Q, np.broadcast_to(P, A.shape), atol=1e-13)


@pytest.mark.parametrize("kernel", KERNELS)
def test_first_state_entry_has_the_matern_covariance(kernel):
    """cov(f(0), f(delta)) = (A P_inf)[0, 0] equals the Matern kernel."""
    gaps = np.linspace(0, 3, 7)
    A, _ = transitions(kernel, 0.9, 1.5, gaps)
    P = stationary_covariance(kernel, 0.9, 1.5)
    np.testing.assert_allclose((A @ P)[:, 0, 0], matern(kernel, gaps, np.zeros(1), 0.9, 1.5)[:, 0])


@pytest.mark.parametrize("kernel", KERNELS)
def test_backward_transition_is_the_conditional(kernel):
    """s(-delta) | s(0) from the joint stationary Gaussian [[P, P A^T], [A P, P]]."""
    P = stationary_covariance(kernel, 0.8, 1.0)
    A, _ = transitions(kernel, 0.8, 1.0, np.array([0.5]))
    B, C = backward_transition(kernel, 0.8, 1.0, np.array([0.5]))
    cross = P @ A[0].T  # cov(s(-delta), s(0))
    np.testing.assert_allclose(B[0], cross @ np.linalg.inv(P), atol=1e-12)
    np.testing.assert_allclose(C[0], P - cross @ np.linalg.inv(P) @ cross.T, atol=1e-12)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("backend", ["numba", "cupy_entry_on_host"])
def test_kernels_match_reference(kernel, backend):
    rng = np.random.default_rng(0)
    n, R = 40, 3
    z = np.sort(rng.random(n)) * 10
    A, Q = transitions(kernel, 1.3, 1.0, np.diff(z, prepend=z[0]))
    P0 = stationary_covariance(kernel, 1.3, 1.0)
    lam, eta = messages(rng, n, R)
    ref = rts_smoother(A, Q, P0, lam, eta, "numpy")
    if backend == "numba":
        got = rts_smoother(A, Q, P0, lam, eta, "numba")
    else:  # the GPU entry only moves arrays around the Numba kernel: numpy in, numpy out
        from tensorkit.functional._kernels import cuda

        got = cuda.rts_smoother(A, Q, P0, lam, eta)
    for r, g in zip(ref, got, strict=True):
        np.testing.assert_allclose(g, r, atol=1e-12)


@pytest.mark.parametrize("kernel", KERNELS)
def test_smoother_and_interpolation_match_dense_gp(kernel):
    rng = np.random.default_rng(1)
    n, R, ls, var = 25, 2, 1.3, 0.7
    z = np.sort(rng.random(n)) * 10
    lam, eta = messages(rng, n, R)
    st = smooth_mode(z, lam, eta, kernel, ls, var, "numba")
    zq = np.concatenate([[-2.0, -0.1], rng.random(6) * 10, [z[3], z[-1], 10.2, 13.0]])
    mu, cov = dense_posterior(kernel, np.concatenate([z, zq]), n, lam, eta, ls, var)
    m, V = st.values()
    np.testing.assert_allclose(m, mu[:n], atol=1e-9)
    np.testing.assert_allclose(V, cov[:n], atol=1e-9)
    mq, Vq = states_at(st, zq)
    np.testing.assert_allclose(mq, mu[n:], atol=1e-9)
    np.testing.assert_allclose(Vq, cov[n:], atol=1e-9)
