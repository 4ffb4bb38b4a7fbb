r"""Moments of the Tucker (or CP) model under the factorized posterior, without per-observation
``R^K x R^K`` arrays.

For an observation with coordinate indices ``(i_1, ..., i_K)`` let ``m_j``, ``W_j = V_j + m_j m_j^T``
be the posterior mean and second moment of mode ``j``'s function values there, and ``E2`` the
second moment of the vectorized core. The message to mode ``k`` needs ``E[a a^T]`` with
``a = G_(k) (kron_{j != k} u_j)``:

.. math::

    E[a a^\top]_{a a'} = \sum_{\beta, \beta'} E2[(a, \beta), (a', \beta')]
        \prod_{j \ne k} W_j[\beta_j, \beta'_j].

``W_j`` is symmetric, so only its upper triangle (``P_j = R_j (R_j + 1) / 2`` numbers) enters; the
sum is a matrix product of the rows ``x = kron_{j != k} triu(W_j)`` (``prod P_j`` numbers per
observation, formed chunk by chunk) with ``E2`` folded once per epoch
(:meth:`TuckerCore.prepare`): about ``prod_j P_j`` multiply-adds per observation and mode, by BLAS.
"""

from __future__ import annotations

import numpy as np

from ..backend import array_module

__all__ = ["CPCore", "TuckerCore", "kron_rows", "unpack_triu"]


def kron_rows(mats):
    """Row-wise Kronecker product of (c, n_j) arrays: (c, prod n_j), the first factor slowest."""
    out = mats[0]
    for m in mats[1:]:
        out = (out[:, :, None] * m[:, None, :]).reshape(out.shape[0], -1)
    return out


def unpack_triu(v, R: int):
    """Symmetric (..., R, R) matrices from their upper triangles (..., R (R + 1) / 2)."""
    xp = array_module(v)
    iu, ju = np.triu_indices(R)
    out = xp.empty((*v.shape[:-1], R, R), dtype=v.dtype)
    out[..., iu, ju] = v
    out[..., ju, iu] = v
    return out


def triu(W):
    """Upper triangles (..., R (R + 1) / 2) of (..., R, R) matrices."""
    iu, ju = np.triu_indices(W.shape[-1])
    return W[..., iu, ju]


def _fold_pairs(T, ranks, keep: int | None):
    """``T`` with axes ``(R_1, R_1', ..., R_K, R_K')`` -> axes ``(P_1, ..., P_K)``: each pair folded
    symmetrically (``(T[b, b'] + T[b', b]) / (1 + [b == b'])`` on ``b <= b'``) so that a dot
    product with upper triangles of symmetric matrices gives the full sum; mode ``keep`` only
    takes its upper triangle (its output stays a matrix entry)."""
    xp = array_module(T)
    for j, R in enumerate(ranks):
        iu, ju = np.triu_indices(R)
        T = xp.moveaxis(xp.moveaxis(T, j, -1), j, -1)  # the pair now last (after j collapsed axes)
        v = T[..., iu, ju]
        if j != keep:
            v = (v + T[..., ju, iu]) * xp.asarray(np.where(iu == ju, 0.5, 1.0))
        T = xp.moveaxis(v, -1, j)
    return T


class TuckerCore:
    """Gaussian posterior of a Tucker core ``G`` (shape ``ranks``): mean and covariance."""

    def __init__(self, mean, cov):
        self.mean, self.cov = mean, cov
        self.ranks = tuple(mean.shape)
        self.prepare()

    def prepare(self) -> None:
        """Fold the core's second moment for every mode's messages and for ``E[f^2]``."""
        xp = array_module(self.mean)
        K, ranks = len(self.ranks), self.ranks
        mu = self.mean.reshape(-1)
        E2 = (mu[:, None] * mu[None, :] + self.cov).reshape(ranks + ranks)
        inter = xp.transpose(E2, [a for j in range(K) for a in (j, K + j)])
        self._fold = []
        for k in range(K):
            F = _fold_pairs(inter, ranks, keep=k)
            self._fold.append(xp.moveaxis(F, k, 0).reshape(F.shape[k], -1))
        self._unfold = [xp.moveaxis(self.mean, k, 0).reshape(ranks[k], -1) for k in range(K)]

    def message(self, k: int, means, wtri):
        """``(triu E[a a^T] (c, P_k), E[a] (c, R_k))`` for mode ``k`` from the rows of the other modes'
        means (c, R_j) and second-moment triangles (c, P_j)."""
        others = [j for j in range(len(means)) if j != k]
        if not others:
            c = means[0].shape[0]
            xp = array_module(means[0])
            return (xp.broadcast_to(self._fold[k][:, 0], (c, self._fold[k].shape[0])),
                    xp.broadcast_to(self._unfold[k][:, 0], (c, self.ranks[k])))
        x = kron_rows([wtri[j] for j in others])
        return x @ self._fold[k].T, kron_rows([means[j] for j in others]) @ self._unfold[k].T

    def moments(self, means, wtri):
        """``E[f]`` and ``E[f^2]`` (c,) of the model's value at the rows."""
        lam, ea = self.message(0, means, wtri)
        R = self.ranks[0]
        w = np.where(np.equal(*np.triu_indices(R)), 1.0, 2.0)
        xp = array_module(lam)
        return (ea * means[0]).sum(axis=1), (lam * wtri[0] * xp.asarray(w)).sum(axis=1)

    def statistics(self, means, wtri, y):
        """Sums over the rows of ``kron triu(W_k)`` (folded later) and ``y kron m_k``."""
        return kron_rows(wtri[:-1]).T @ wtri[-1], kron_rows(means).T @ y

    def values(self, means):
        """The posterior-mean model ``G_mean x_k m_k`` at the rows (c,)."""
        return kron_rows(means) @ self.mean.reshape(-1)

    def expected_sse(self, stats, y_square_sum: float) -> float:
        """``sum_n E[(y_n - f_n)^2] = sum y^2 - 2 mu . h + fold(E2) . S`` from the summed statistics
        ``(S, h)`` of :meth:`statistics` under the current posterior."""
        xp = array_module(self.mean)
        S, h = stats
        K = len(self.ranks)
        mu = self.mean.reshape(-1)
        E2 = (mu[:, None] * mu[None, :] + self.cov).reshape(self.ranks + self.ranks)
        inter = xp.transpose(E2, [a for j in range(K) for a in (j, K + j)])
        folded = _fold_pairs(inter, self.ranks, keep=None).reshape(-1)
        return y_square_sum - 2.0 * float(mu @ h) + float(folded @ S.reshape(-1))

    def update(self, stats, tau: float, damping: float, state):
        """New posterior from the summed statistics: precision ``tau E[phi phi^T] + I`` (a unit
        Gaussian prior on the standardized scale), linear term ``tau sum y E[phi]``; natural
        parameters damped against ``state`` (returned for the next epoch)."""
        xp = array_module(self.mean)
        S, h = stats
        K, ranks = len(self.ranks), self.ranks
        St = S.reshape(tuple(R * (R + 1) // 2 for R in ranks))
        pmaps = []
        for j, R in enumerate(ranks):
            pm = np.zeros((R, R), dtype=np.int64)
            iu, ju = np.triu_indices(R)
            pm[iu, ju] = pm[ju, iu] = np.arange(iu.size)
            shape = [1] * (2 * K)
            shape[j], shape[K + j] = R, R
            pmaps.append(xp.asarray(pm.reshape(shape)))
        n = int(np.prod(ranks))
        prec = tau * St[tuple(pmaps)].reshape(n, n) + xp.eye(n)
        lin = tau * h
        if state is not None:
            prec = damping * prec + (1 - damping) * state[0]
            lin = damping * lin + (1 - damping) * state[1]
        self.cov = xp.linalg.inv(prec)
        self.cov = 0.5 * (self.cov + self.cov.T)
        self.mean = (self.cov @ lin).reshape(ranks)
        self.prepare()
        return prec, lin


class CPCore(TuckerCore):
    """The CP special case: a diagonal core with Gaussian weights ``lambda`` (R,)."""

    def __init__(self, mean, cov):
        self.mean, self.cov = mean, cov
        self.ranks = (mean.shape[0],)
        self.prepare()

    def prepare(self) -> None:
        self._E2 = self.mean[:, None] * self.mean[None, :] + self.cov

    def message(self, k: int, means, wtri):
        R = self.mean.shape[0]
        lam = self._E2[None]
        ea = self.mean[None]
        for j in range(len(means)):
            if j != k:
                lam = lam * unpack_triu(wtri[j], R)
                ea = ea * means[j]
        return triu(lam), ea

    def moments(self, means, wtri):
        lam, ea = self.message(0, means, wtri)
        R = self.mean.shape[0]
        return (ea * means[0]).sum(axis=1), (unpack_triu(lam, R) * unpack_triu(wtri[0], R)).sum(axis=(1, 2))

    def statistics(self, means, wtri, y):
        R = self.mean.shape[0]
        W, phi = unpack_triu(wtri[0], R), means[0]
        for j in range(1, len(means)):
            W, phi = W * unpack_triu(wtri[j], R), phi * means[j]
        return W.sum(axis=0), phi.T @ y

    def values(self, means):
        phi = means[0]
        for m in means[1:]:
            phi = phi * m
        return phi @ self.mean

    def expected_sse(self, stats, y_square_sum: float) -> float:
        S, h = stats
        return y_square_sum - 2.0 * float(self.mean @ h) + float((self._E2 * S).sum())

    def update(self, stats, tau: float, damping: float, state):
        xp = array_module(self.mean)
        S, h = stats
        prec, lin = tau * S + xp.eye(S.shape[0]), tau * h
        if state is not None:
            prec = damping * prec + (1 - damping) * state[0]
            lin = damping * lin + (1 - damping) * state[1]
        self.cov = xp.linalg.inv(prec)
        self.cov = 0.5 * (self.cov + self.cov.T)
        self.mean = self.cov @ lin
        self.prepare()
        return prec, lin
