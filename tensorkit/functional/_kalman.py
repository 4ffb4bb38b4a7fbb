r"""Posterior of one mode's latent functions: Kalman smoothing over its sorted distinct coordinates,
and the posterior at coordinates the data did not contain.

Given the merged Gaussian messages ``(Lambda_i, eta_i)`` on the ``R`` function values at each
distinct coordinate ``z_i``, :func:`smooth_mode` runs the filter and RTS smoother of
:func:`tensorkit.functional._kernels.rts_smoother` (cost linear in the number of coordinates).
:func:`states_at` gives the exact posterior of the state at new coordinates: between two data
coordinates, the filtered state of the left one is propagated to ``z`` and smoothed with the right
one's smoothed state (one RTS step, exact for a Markov prior); outside the range the stationary
process is propagated from the nearest end (forwards to the right, backwards to the left).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..backend import array_module, to_numpy
from . import _kernels
from ._sde import backward_transition, state_dim, stationary_covariance, transitions

__all__ = ["ModeStates", "smooth_mode", "states_at"]

# Query coordinates per batch of dense (R d x R d) algebra in states_at.
_CHUNK = 1 << 14


@dataclass
class ModeStates:
    """Filtered and smoothed states of one mode's ``R`` functions at its distinct coordinates."""

    z: Any
    m_f: Any
    P_f: Any
    m_s: Any
    P_s: Any
    kernel: str
    lengthscale: float
    variance: float

    @property
    def d(self) -> int:
        return state_dim(self.kernel)

    def values(self) -> tuple[Any, Any]:
        """Posterior mean (n, R) and covariance (n, R, R) of the function values at ``z``."""
        d = self.d
        return self.m_s[:, ::d], self.P_s[:, ::d, ::d]


def smooth_mode(z, lam, eta, kernel: str, lengthscale: float, variance: float, backend: str) -> ModeStates:
    """Run the Kalman filter and RTS smoother over sorted distinct coordinates ``z`` (n,) with
    messages ``lam`` (n, R, R) and ``eta`` (n, R); lengthscale in the units of ``z``."""
    xp = array_module(lam)
    zh = to_numpy(z)
    gaps = zh - zh[[0, *range(zh.shape[0] - 1)]]
    A, Q = transitions(kernel, lengthscale, variance, gaps)
    P0 = stationary_covariance(kernel, lengthscale, variance)
    if backend == "cupy":
        A, Q, P0 = xp.asarray(A), xp.asarray(Q), xp.asarray(P0)
    m_f, P_f, m_s, P_s = _kernels.rts_smoother(A, Q, P0, lam, eta, backend)
    return ModeStates(z, m_f, P_f, m_s, P_s, kernel, lengthscale, variance)


def states_at(st: ModeStates, zq) -> tuple[Any, Any]:
    """Posterior mean (M, R) and covariance (M, R, R) of the function values at coordinates ``zq``
    (M,), in the units of ``st.z``."""
    xp = array_module(st.m_s)
    mean = xp.empty((zq.shape[0], st.m_s.shape[1] // st.d))
    cov = xp.empty((zq.shape[0], mean.shape[1], mean.shape[1]))
    for start in range(0, zq.shape[0], _CHUNK):
        sl = slice(start, start + _CHUNK)
        m, P = _states_chunk(st, zq[sl], xp)
        mean[sl], cov[sl] = m[:, :: st.d], P[:, :: st.d, :: st.d]
    return mean, cov


def _blocks(st: ModeStates, mats, xp):
    """``I_R (x) M`` for a batch of (d, d) matrices ``mats`` (host arrays), on the device."""
    R = st.m_s.shape[1] // st.d
    eye = xp.eye(R)
    M = xp.asarray(mats)
    return (eye[None, :, None, :, None] * M[:, None, :, None, :]).reshape(M.shape[0], R * st.d, R * st.d)


def _propagate(st, B, C, m, P, xp):
    """``N(B m, B P B^T + C)`` for block-diagonal ``B``, ``C``."""
    BT = xp.swapaxes(B, 1, 2)
    return (B @ m[:, :, None])[:, :, 0], B @ P @ BT + C


def _states_chunk(st: ModeStates, zq, xp):
    n = st.z.shape[0]
    loc = xp.searchsorted(st.z, zq)  # z[loc - 1] < zq <= z[loc]
    locc = xp.minimum(loc, n - 1)
    m = st.m_s[locc].copy()
    P = st.P_s[locc].copy()
    zh, qh, lh = to_numpy(st.z), to_numpy(zq), to_numpy(loc)
    args = (st.kernel, st.lengthscale, st.variance)
    right = lh >= n
    left = (lh == 0) & (qh < zh[0])
    inner = ~right & ~left & (zh[lh.clip(max=n - 1)] != qh)
    if right.any():
        idx = xp.asarray(right.nonzero()[0])
        A, Q = transitions(*args, qh[right] - zh[-1])
        m[idx], P[idx] = _propagate(st, _blocks(st, A, xp), _blocks(st, Q, xp), st.m_s[-1][None],
                                    st.P_s[-1][None], xp)
    if left.any():
        idx = xp.asarray(left.nonzero()[0])
        B, C = backward_transition(*args, zh[0] - qh[left])
        m[idx], P[idx] = _propagate(st, _blocks(st, B, xp), _blocks(st, C, xp), st.m_s[0][None],
                                    st.P_s[0][None], xp)
    if inner.any():
        rows = inner.nonzero()[0]
        idx, prev = xp.asarray(rows), xp.asarray(lh[rows] - 1)
        A1, Q1 = transitions(*args, qh[rows] - zh[lh[rows] - 1])
        A2, Q2 = transitions(*args, zh[lh[rows]] - qh[rows])
        A2 = _blocks(st, A2, xp)
        mt, Pt = _propagate(st, _blocks(st, A1, xp), _blocks(st, Q1, xp), st.m_f[prev], st.P_f[prev], xp)
        mp, Pp = _propagate(st, A2, _blocks(st, Q2, xp), mt, Pt, xp)
        # G = Pt A2^T Pp^{-1}, from Pp G^T = A2 Pt (Pp and Pt symmetric)
        G = xp.swapaxes(xp.linalg.solve(Pp, A2 @ Pt), 1, 2)
        nxt = prev + 1
        m[idx] = mt + (G @ (st.m_s[nxt] - mp)[:, :, None])[:, :, 0]
        Pn = Pt + G @ (st.P_s[nxt] - Pp) @ xp.swapaxes(G, 1, 2)
        P[idx] = 0.5 * (Pn + xp.swapaxes(Pn, 1, 2))
    return m, P
