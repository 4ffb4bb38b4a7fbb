r"""Matern Gaussian-process priors of one coordinate as linear SDEs (state-space form).

A stationary GP ``f`` with a Matern-1/2 or Matern-3/2 kernel is the first entry of the state
``s`` of the linear SDE ``ds/dt = F s + L w(t)``; between two sorted coordinates ``delta`` apart,

.. math::

    s_{i} = A_i s_{i-1} + q_i, \qquad A_i = e^{F \delta_i}, \qquad
    q_i \sim \mathcal N(0, P_\infty - A_i P_\infty A_i^\top),

with the stationary covariance ``P_inf``. Matern-1/2: ``F = -1/l``, ``P_inf = s^2``. Matern-3/2:
``lambda = sqrt(3)/l``, ``F = [[0, 1], [-lambda^2, -2 lambda]]``, ``P_inf = diag(s^2, lambda^2 s^2)``
(Hartikainen and Saerkkae, 2010). Both exponentials have closed forms, used here for all gaps
at once.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["KERNELS", "backward_transition", "state_dim", "stationary_covariance", "transitions"]

KERNELS = ("matern12", "matern32")


def state_dim(kernel: str) -> int:
    """Dimension ``d`` of one function's state: 1 (Matern-1/2) or 2 (value and derivative)."""
    return 1 if kernel == "matern12" else 2


def stationary_covariance(kernel: str, lengthscale: float, variance: float) -> np.ndarray:
    """``P_inf`` (d, d) of one function.

    Examples
    --------
    >>> from tensorkit.functional._sde import stationary_covariance
    >>> stationary_covariance("matern32", 3.0 ** 0.5, 2.0).tolist()
    [[2.0, 0.0], [0.0, 2.0]]
    """
    if kernel == "matern12":
        return np.array([[variance]])
    lam = math.sqrt(3.0) / lengthscale
    return np.diag([variance, lam * lam * variance])


def drift(kernel: str, lengthscale: float) -> np.ndarray:
    """The SDE's drift matrix ``F`` (d, d)."""
    if kernel == "matern12":
        return np.array([[-1.0 / lengthscale]])
    lam = math.sqrt(3.0) / lengthscale
    return np.array([[0.0, 1.0], [-lam * lam, -2.0 * lam]])


def transitions(kernel: str, lengthscale: float, variance: float, gaps) -> tuple[np.ndarray, np.ndarray]:
    """``(A, Q)`` of shapes (n, d, d) for the non-negative ``gaps`` (n,): ``A = expm(F delta)``,
    ``Q = P_inf - A P_inf A^T``.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from tensorkit.functional._sde import drift, transitions
    >>> A, Q = transitions("matern32", 0.7, 1.0, np.array([0.3]))
    >>> np.allclose(A[0], scipy.linalg.expm(drift("matern32", 0.7) * 0.3))
    True
    """
    gaps = np.asarray(gaps, dtype=np.float64)
    if kernel == "matern12":
        A = np.exp(-gaps / lengthscale)[:, None, None]
    else:
        lam = math.sqrt(3.0) / lengthscale
        x = lam * gaps
        e = np.exp(-x)
        A = np.empty((gaps.shape[0], 2, 2))
        A[:, 0, 0] = e * (1.0 + x)
        A[:, 0, 1] = e * gaps
        A[:, 1, 0] = -e * lam * x
        A[:, 1, 1] = e * (1.0 - x)
    P = stationary_covariance(kernel, lengthscale, variance)
    Q = P - A @ P @ np.swapaxes(A, 1, 2)
    # Q is a difference of nearly equal matrices at tiny gaps: keep it symmetric
    Q = 0.5 * (Q + np.swapaxes(Q, 1, 2))
    return A, Q


def backward_transition(kernel: str, lengthscale: float, variance: float, gaps):
    """``(B, C)`` (n, d, d) of the stationary process run backwards: the state ``delta`` before a
    known state ``s`` is ``N(B s, C)`` with ``B = P_inf A^T P_inf^{-1}``, ``C = P_inf - B A P_inf``
    (``A = expm(F delta)``), for extrapolating to the left of the data."""
    A, _ = transitions(kernel, lengthscale, variance, gaps)
    P = stationary_covariance(kernel, lengthscale, variance)
    Pinv = np.linalg.inv(P)
    B = P @ np.swapaxes(A, 1, 2) @ Pinv
    C = P - B @ A @ P
    return B, 0.5 * (C + np.swapaxes(C, 1, 2))
