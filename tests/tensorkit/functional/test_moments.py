"""The message and core moments without per-observation R^K x R^K arrays, against brute force."""

from __future__ import annotations

import itertools

import numpy as np

from tensorkit.functional._moments import CPCore, TuckerCore, triu


def random_rows(rng, ranks, c):
    means = [rng.standard_normal((c, R)) for R in ranks]
    W = []
    for R, m in zip(ranks, means, strict=True):
        B = rng.standard_normal((c, R, R))
        W.append(0.3 * B @ np.swapaxes(B, 1, 2) + m[:, :, None] * m[:, None, :])
    return means, W


def test_tucker_messages_and_moments_brute_force():
    rng = np.random.default_rng(0)
    ranks, c = (2, 3, 2), 3
    G = rng.standard_normal(ranks)
    L = rng.standard_normal((G.size, G.size))
    core = TuckerCore(G, 0.1 * L @ L.T)
    E2 = (np.outer(G.ravel(), G.ravel()) + core.cov).reshape(ranks + ranks)
    means, W = random_rows(rng, ranks, c)
    wtri = [triu(w) for w in W]
    for k in range(3):
        lam, ea = core.message(k, means, wtri)
        for e in range(c):
            full = np.zeros((ranks[k], ranks[k]))
            for a in itertools.product(*map(range, ranks)):
                for b in itertools.product(*map(range, ranks)):
                    w = np.prod([W[j][e][a[j], b[j]] for j in range(3) if j != k])
                    full[a[k], b[k]] += E2[a + b] * w
            np.testing.assert_allclose(lam[e], triu(full))
            vecs = [means[j][e] if j != k else np.eye(ranks[k]) for j in range(3)]
            np.testing.assert_allclose(ea[e], np.einsum("abc,ai,bj,ck->ijk", G, *[
                v[:, None] if v.ndim == 1 else v for v in vecs]).reshape(-1))
    Ef, Ef2 = core.moments(means, wtri)
    for e in range(c):
        kron = np.kron(np.kron(W[0][e], W[1][e]), W[2][e])
        np.testing.assert_allclose(Ef2[e], np.sum(E2.reshape(G.size, G.size) * kron))
    y = rng.standard_normal(c)
    stats = core.statistics(means, wtri, y)
    sse = core.expected_sse(stats, float(y @ y))
    np.testing.assert_allclose(sse, np.sum(y * y - 2 * y * Ef + Ef2))


def test_cp_core_is_the_diagonal_tucker_core():
    rng = np.random.default_rng(1)
    R, c = 3, 4
    cp = CPCore(rng.standard_normal(R), 0.1 * np.eye(R))
    G = np.zeros((R, R, R))
    G[range(R), range(R), range(R)] = cp.mean
    diag = np.ravel_multi_index((range(R),) * 3, (R, R, R))
    cov = np.zeros((R**3, R**3))
    cov[np.ix_(diag, diag)] = cp.cov
    tucker = TuckerCore(G, cov)
    means, W = random_rows(rng, (R,) * 3, c)
    wtri = [triu(w) for w in W]
    for k in range(3):
        for a, b in zip(cp.message(k, means, wtri), tucker.message(k, means, wtri), strict=True):
            np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(cp.moments(means, wtri), tucker.moments(means, wtri))
    y = rng.standard_normal(c)
    np.testing.assert_allclose(cp.expected_sse(cp.statistics(means, wtri, y), float(y @ y)),
                               tucker.expected_sse(tucker.statistics(means, wtri, y), float(y @ y)))
