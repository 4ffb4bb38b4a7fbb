"""lstsq against numpy.linalg.lstsq, the exact Gaussian sketch-and-solve moment, the l-infinity
bound on coherent matrices, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tensorkit.sketch import (
    CountSketch,
    GaussianSketch,
    KroneckerSketch,
    linf_error,
    lstsq,
    preconditioned_cg,
)


def _ill_conditioned(n, d, cond, rng):
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return (rng.standard_normal((n, d)) * np.logspace(0, -math.log10(cond), d)) @ V.T


def _coherent(n, d, rng, scale=1e3):
    """Gaussian rows plus d spike rows, each carrying one whole column."""
    A = rng.standard_normal((n, d))
    spikes = rng.choice(n, d, replace=False)
    A[spikes] = 0.0
    A[spikes, np.arange(d)] = scale
    b = A @ rng.standard_normal(d) + rng.standard_normal(n)
    return A, b


def _excess(A, b, x, x_ref):
    return np.linalg.norm(A @ x - b, axis=0) / np.linalg.norm(A @ x_ref - b, axis=0) - 1.0


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("sketch", ["auto", "gaussian", "srht", "srdct", "countsketch", "sparse_sign"])
def test_precondition_reaches_lapack_answer(backend, sketch):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((3000, 15))
    b = A @ rng.standard_normal((15, 3)) + 0.1 * rng.standard_normal((3000, 3))
    x_np = np.linalg.lstsq(A, b, rcond=None)[0]
    res = lstsq(A, b, method="sketch_precondition", sketch=sketch, random_state=0, backend=backend)
    assert res.converged and res.method == "sketch_precondition" and res.iterations > 0
    assert res.x.shape == (15, 3)
    assert np.all(_excess(A, b, res.x, x_np) <= 1e-12)
    assert res.excess_estimate <= 1e-12
    np.testing.assert_allclose(res.residual_norm, np.linalg.norm(A @ res.x - b, axis=0), rtol=1e-10)
    np.testing.assert_allclose(res.x, x_np, rtol=0, atol=1e-6 * np.abs(x_np).max())


@pytest.mark.parametrize("cond", [1e4, 1e8])
def test_precondition_ill_conditioned(cond):
    rng = np.random.default_rng(2)
    A = _ill_conditioned(4000, 30, cond, rng)
    b = A @ rng.standard_normal(30) + 1e-3 * rng.standard_normal(4000)
    x_np = np.linalg.lstsq(A, b, rcond=None)[0]
    res = lstsq(A, b, method="sketch_precondition", random_state=3)
    assert _excess(A, b, res.x, x_np) <= 1e-12
    assert isinstance(res.residual_norm, float) and res.x.shape == (30,)


def test_precondition_coherent_and_tight_tol_matches_to_rounding():
    rng = np.random.default_rng(4)
    A, b = _coherent(3000, 12, rng)
    x_np = np.linalg.lstsq(A, b, rcond=None)[0]
    res = lstsq(A, b, method="sketch_precondition", tol=1e-30, random_state=0)
    assert res.converged
    np.testing.assert_allclose(res.x, x_np, rtol=1e-9, atol=1e-12)


def test_float32():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((3000, 10)).astype(np.float32)
    b = (A @ np.ones(10, dtype=np.float32) + 0.1 * rng.standard_normal(3000)).astype(np.float32)
    x64 = np.linalg.lstsq(A.astype(np.float64), b.astype(np.float64), rcond=None)[0]
    for method in ("direct", "sketch_precondition"):
        res = lstsq(A, b, method=method, random_state=0, tol=1e-6)
        assert res.x.dtype == np.float32
        np.testing.assert_allclose(res.x, x64, atol=1e-4)


def test_direct_and_auto():
    rng = np.random.default_rng(6)
    A = rng.standard_normal((200, 8))
    b = rng.standard_normal((200, 2))
    res = lstsq(A, b)
    assert res.method == "direct" and res.rank == 8
    np.testing.assert_allclose(res.x, np.linalg.lstsq(A, b, rcond=None)[0], atol=1e-13)
    big = rng.standard_normal((8000, 30))
    assert lstsq(big, big[:, 0] + 1.0, random_state=0).method == "sketch_precondition"
    assert lstsq(big, big[:, 0] + 1.0, tol=0.9, random_state=0).method == "sketch_solve"


def test_gaussian_sketch_and_solve_exact_moment():
    """E[||A x' - b||^2 / ||A x* - b||^2 - 1] = d / (m - d - 1) for a Gaussian sketch (any A, b)."""
    rng = np.random.default_rng(7)
    n, d, m, trials = 120, 4, 14, 300
    A = rng.standard_normal((n, d))
    b = rng.standard_normal(n)
    r_star2 = np.linalg.norm(A @ np.linalg.lstsq(A, b, rcond=None)[0] - b) ** 2
    norms = np.array([
        lstsq(A, b, method="sketch_solve", sketch="gaussian", sketch_size=m, random_state=s).residual_norm
        for s in range(trials)
    ])
    ratios = norms**2 / r_star2 - 1.0
    expected = d / (m - d - 1)
    stderr = ratios.std(ddof=1) / math.sqrt(trials)
    assert abs(ratios.mean() - expected) < 4 * stderr, (ratios.mean(), expected, stderr)


def test_linf_bound_dense_holds_countsketch_violates():
    """Dense sketches keep eps_eff <= 3 sqrt(d ln(2d) / m) on a coherent matrix; CountSketch
    (sparse: spike rows collide) visibly does not, so the guarantee really needs density."""
    rng = np.random.default_rng(1)
    n, d = 4000, 20
    m = 4 * d
    A, b = _coherent(n, d, rng)
    x_star = np.linalg.lstsq(A, b, rcond=None)[0]
    bound = 3 * math.sqrt(d * math.log(2 * d) / m)
    for sketch in ("gaussian", "srht", "srdct", "auto"):
        eps = [linf_error(A, b, lstsq(A, b, method="sketch_solve", sketch=sketch, sketch_size=m,
                                      random_state=s).x, x_star=x_star) for s in range(4)]
        assert max(eps) <= bound, (sketch, eps, bound)
    eps_count = [linf_error(A, b, lstsq(A, b, method="sketch_solve", sketch="countsketch",
                                        sketch_size=m, random_state=s).x, x_star=x_star)
                 for s in range(10)]
    assert np.median(eps_count) > 1.3 * bound, (eps_count, bound)


def test_auto_sketch_solve_uses_sparse_then_gaussian_for_tall_input():
    rng = np.random.default_rng(8)
    A, b = _coherent(2000, 10, rng)
    res = lstsq(A, b, method="sketch_solve", random_state=0)
    assert res.sketch == "sparse_sign+gaussian" and res.sketch_size == 40
    small = lstsq(A[:150], b[:150], method="sketch_solve", random_state=0)
    assert small.sketch == "gaussian"


def test_linf_error_formula():
    rng = np.random.default_rng(9)
    A = rng.standard_normal((50, 3))
    b = rng.standard_normal(50)
    x_star = np.linalg.lstsq(A, b, rcond=None)[0]
    x = x_star + np.array([0.0, 0.01, -0.02])
    expected = math.sqrt(3) * 0.02 * np.linalg.svd(A, compute_uv=False)[-1] / np.linalg.norm(A @ x_star - b)
    assert linf_error(A, b, x) == pytest.approx(expected, rel=1e-10)
    assert linf_error(A, b, x_star) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="range of A"):
        linf_error(A, A @ x_star, x_star, x_star=x_star)
    with pytest.raises(ValueError, match="x must have shape"):
        linf_error(A, b, x[:2])


def test_n_iter_max_warns_and_reports():
    rng = np.random.default_rng(10)
    A = _ill_conditioned(3000, 20, 1e6, rng)
    b = rng.standard_normal(3000)
    with pytest.warns(RuntimeWarning, match="n_iter_max=1"):
        res = lstsq(A, b, method="sketch_precondition", sketch_size=25, n_iter_max=1, random_state=0)
    assert not res.converged and res.iterations == 1 and res.excess_estimate > 1e-12
    assert not res.info.converged and res.info.iterations == 1 and len(res.info.history) == 2


def test_preconditioned_cg_with_identity_preconditioner_solves_normal_equations():
    rng = np.random.default_rng(11)
    Q = np.linalg.qr(rng.standard_normal((200, 6)))[0]
    b = rng.standard_normal((200, 1))

    def normal_op(W, cols, subtract_b):
        R = Q @ W - (b[:, cols] if subtract_b else 0.0)
        return Q.T @ R, np.sum(R * R, axis=0)

    X, _res, its, ok, _ = preconditioned_cg(normal_op, np.eye(6), np.zeros((6, 1)),
                                           np.linalg.norm(b, axis=0), 1e-14, 10, 10**6)
    assert ok and its <= 2
    np.testing.assert_allclose(X, Q.T @ b, atol=1e-12)


def test_rank_deficient():
    rng = np.random.default_rng(12)
    A = rng.standard_normal((3000, 8))
    A[:, 5] = A[:, 1] - 2.0 * A[:, 3]
    b = rng.standard_normal(3000)
    for method in ("sketch_solve", "sketch_precondition"):
        with pytest.raises(np.linalg.LinAlgError, match="rank deficient.*method='direct'"):
            lstsq(A, b, method=method, random_state=0)
    # auto documents the minimum-norm answer
    res = lstsq(A, b, random_state=0, method="auto")
    assert res.method == "direct" and res.rank == 7
    np.testing.assert_allclose(res.x, np.linalg.pinv(A) @ b, atol=1e-10)


def test_bad_input():
    rng = np.random.default_rng(13)
    A = rng.standard_normal((100, 5))
    b = rng.standard_normal(100)
    with pytest.raises(ValueError, match="b has 99 rows but A has 100"):
        lstsq(A, b[:99])
    with pytest.raises(ValueError, match=r"tall A.*\(4, 5\)"):
        lstsq(A[:4], b[:4], method="sketch_solve")
    with pytest.raises(ValueError, match="sketch_size=3 is smaller than d=5"):
        lstsq(A, b, method="sketch_precondition", sketch_size=3)
    bad = A.copy()
    bad[7, 2] = np.nan
    for method in ("direct", "sketch_solve", "sketch_precondition"):
        with pytest.raises(ValueError, match="A contains 1 non-finite"):
            lstsq(bad, b, method=method)
    bad_b = b.copy()
    bad_b[3] = np.inf
    with pytest.raises(ValueError, match="b contains 1 non-finite"):
        lstsq(A, bad_b, method="sketch_precondition")
    with pytest.raises(ValueError, match="method must be one of"):
        lstsq(A, b, method="qr")
    with pytest.raises(ValueError, match="tol"):
        lstsq(A, b, tol=-1.0)
    with pytest.raises(ValueError, match="n_iter_max must be >= 0, got -2"):
        lstsq(A, b, n_iter_max=-2)
    with pytest.raises(ValueError, match="sketch must be one of"):
        lstsq(A, b, method="sketch_solve", sketch="fft")
    with pytest.raises(TypeError, match="KroneckerSketch"):
        lstsq(A, b, method="sketch_solve", sketch=KroneckerSketch(10, (10, 10)))
    with pytest.raises(ValueError, match="disagrees"):
        lstsq(A, b, method="sketch_solve", sketch=GaussianSketch(20), sketch_size=30)
    with pytest.raises(ValueError, match="A must be a matrix"):
        lstsq(b, b)
    with pytest.raises(ValueError, match="backend"):
        lstsq(A, b, backend="cuda")
    with pytest.raises(TypeError, match="real"):
        lstsq(A.astype(complex), b)


def test_operator_instance_is_used_as_given():
    rng = np.random.default_rng(14)
    A = rng.standard_normal((500, 4))
    b = rng.standard_normal(500)
    op = CountSketch(40, random_state=1)
    r1 = lstsq(A, b, method="sketch_solve", sketch=op)
    r2 = lstsq(A, b, method="sketch_solve", sketch=CountSketch(40, random_state=1))
    np.testing.assert_array_equal(r1.x, r2.x)
    assert r1.sketch_size == 40 and r1.sketch == "countsketch"
