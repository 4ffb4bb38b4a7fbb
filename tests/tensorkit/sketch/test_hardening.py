"""Issue 10 for tensorkit.sketch: LAPACK's digits (scipy's TestLstsq inputs, tall problems up to
cond 1e8), scale invariance (hypothesis), sizes refused before allocating, and a bad-input
catalogue (type, and a message naming the argument)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorkit.sketch import (
    CountSketch,
    GaussianSketch,
    KroneckerSketch,
    SparseSign,
    linf_error,
    lstsq,
    make_sketch,
    sparse_then_gaussian,
)
from tensorkit.sketch.planning import column_norms

EPS = np.finfo(np.float64).eps
EXACT = ("direct", "sketch_precondition")


def _forward_bound(A, b, x_ref, factor=10.0):
    """LAPACK's forward error scale: eps (cond + cond^2 ||r|| / (||A|| ||x||)) ||x|| (per column)."""
    s = np.linalg.svd(A, compute_uv=False)
    cond, norm_A = s[0] / s[-1], s[0]
    x_norm = np.linalg.norm(x_ref, axis=0)
    r = np.linalg.norm(A @ x_ref - b, axis=0)
    return factor * EPS * (cond * x_norm + cond**2 * r / norm_A)


def _assert_lapack_digits(A, b, x, factor=10.0):
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    err = np.linalg.norm(np.reshape(x - x_ref, (A.shape[1], -1)), axis=0)
    bound = _forward_bound(A, b.reshape(A.shape[0], -1), x_ref.reshape(A.shape[1], -1), factor)
    assert np.all(err <= bound), (err, bound)


# --- scipy's TestLstsq inputs (real; complex is refused) ----------------------------------------


@pytest.mark.parametrize("method", EXACT)
def test_scipy_simple_exact(method):
    a = np.array([[1.0, 20.0], [-30.0, 4.0]])
    for b in ([[1.0, 0.0], [0.0, 1.0]], [1.0, 0.0], [[2.0, 1.0], [-30.0, 4.0]]):
        b = np.asarray(b)
        res = lstsq(a, b, method=method, random_state=0)
        np.testing.assert_allclose(a @ res.x, b, atol=1e-13)
        _assert_lapack_digits(a, b, res.x)


@pytest.mark.parametrize("method", EXACT)
def test_scipy_simple_overdet(method):
    a = np.array([[1.0, 2.0], [4.0, 5.0], [3.0, 4.0]])
    b = np.array([1.0, 2.0, 3.0])
    res = lstsq(a, b, method=method, random_state=0)
    X = np.linalg.solve(a.T @ a, a.T @ b)
    np.testing.assert_allclose(res.x, X, rtol=1e-12)
    np.testing.assert_allclose(res.residual_norm, np.linalg.norm(a @ X - b), rtol=1e-12)


@pytest.mark.parametrize("method", EXACT)
def test_scipy_random_exact(method):
    rng = np.random.default_rng(1234)
    n = 20
    a = rng.random((n, n))
    a[np.arange(n), np.arange(n)] = 20 * (0.1 + np.diag(a))
    for b in (rng.random(n), rng.random((n, 3))):
        res = lstsq(a, b, method=method, random_state=0)
        np.testing.assert_allclose(a @ res.x, b, atol=1e-12)
        _assert_lapack_digits(a, b, res.x)


@pytest.mark.parametrize("method", EXACT)
def test_scipy_random_overdet_50_seeds(method):
    for seed in range(50):
        rng = np.random.default_rng(seed)
        n, m = 20, 15
        a = rng.random((n, m))
        a[np.arange(m), np.arange(m)] = 20 * (0.1 + np.diag(a))
        b = rng.random((n, 3)) if seed % 2 else rng.random(n)
        res = lstsq(a, b, method=method, random_state=seed)
        assert res.method == method and res.converged
        _assert_lapack_digits(a, b, res.x)


def test_complex_refused_clearly():
    a = np.array([[1.0 + 1j, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with pytest.raises(TypeError, match="A must be real"):
        lstsq(a, np.ones(3))
    with pytest.raises(TypeError, match="b must be real"):
        lstsq(a.real, np.ones(3) + 1j)


# --- tall problems up to cond 1e8, single machine -----------------------------------------------


def _ill(n, d, cond, rng):
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return (rng.standard_normal((n, d)) * np.logspace(0, -math.log10(cond), d)) @ V.T


@pytest.mark.parametrize("cond", [1.0, 1e4, 1e8])
@pytest.mark.parametrize("noise", [0.0, 1e-12, 1e-1])
def test_tall_lapack_forward_accuracy(cond, noise):
    rng = np.random.default_rng(int(math.log10(cond)) + 7)
    A = _ill(3000, 12, cond, rng)
    b = A @ rng.standard_normal((12, 2)) + noise * rng.standard_normal((3000, 2))
    res = lstsq(A, b, method="sketch_precondition", random_state=1)
    assert res.converged
    _assert_lapack_digits(A, b, res.x)
    if noise == 0.0:  # a consistent system: the bound is 10 cond eps ||x|| exactly
        x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
        c = np.linalg.cond(A)
        assert np.all(np.linalg.norm(res.x - x_ref, axis=0) <= 10 * c * EPS * np.linalg.norm(x_ref, axis=0))


def test_default_is_lapack_where_the_old_default_was_not():
    """The issue's case: 20000 x 20, where stopping at a residual excess of 1e-12 left 2.9e-6."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((20000, 20))
    b = A @ rng.standard_normal(20) + rng.standard_normal(20000)
    res = lstsq(A, b, random_state=0)
    assert res.method == "sketch_precondition"
    _assert_lapack_digits(A, b, res.x)
    loose = lstsq(A, b, tol=1e-6, random_state=0)
    assert loose.iterations < res.iterations and loose.info.rel_error <= 1e-6


# --- scale ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scale_problem():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((3000, 8))
    b = A @ rng.standard_normal(8) + rng.standard_normal(3000)
    return A, b, np.linalg.lstsq(A, b, rcond=None)[0]


@settings(max_examples=20, deadline=None)
@given(exponent=st.floats(-150.0, 150.0), method=st.sampled_from(["sketch_precondition", "direct"]),
       scale_b=st.booleans())
def test_scale_invariance(scale_problem, exponent, method, scale_b):
    A, b, x_ref = scale_problem
    c = 10.0**exponent
    cb = c if scale_b else 1.0
    res = lstsq(A * c, b * cb, method=method, random_state=0)
    assert res.converged
    # x(cA, cb b) = x(A, b) cb / c; cA and cb b carry one rounding each: cond(A) eps relative
    np.testing.assert_allclose(res.x * (c / cb), x_ref, rtol=1e-12)
    assert res.residual_norm / cb == pytest.approx(np.linalg.norm(A @ x_ref - b), rel=1e-12)


@pytest.mark.parametrize("c", [1e-160, 1e200, 1e300])
def test_extreme_scales(scale_problem, c):
    A, b, x_ref = scale_problem
    res = lstsq(A * c, b, method="sketch_precondition", random_state=0)
    assert res.converged and res.info.rel_error <= 1e-13
    np.testing.assert_allclose(res.x * c, x_ref, rtol=1e-12)
    solve = lstsq(A * c, b * c, method="sketch_solve", random_state=0)
    assert np.isfinite(solve.residual_norm) and solve.residual_norm / c < 2 * np.linalg.norm(A @ x_ref - b)


def test_linf_error_raises_and_is_scale_safe(scale_problem):
    A, b, x_ref = scale_problem
    x = x_ref + 1e-3
    base = linf_error(A, b, x, x_star=x_ref)
    for c in (1e-160, 1e150, 1e200):
        assert linf_error(A * c, b * c, x, x_star=x_ref) == pytest.approx(base, rel=1e-10)
    singular = A.copy()
    singular[:, 3] = singular[:, 1]
    with pytest.raises(np.linalg.LinAlgError, match="numerically singular"):
        linf_error(singular, b, x)
    with pytest.raises(ValueError, match="range of A"):
        linf_error(A, A @ x_ref, x)  # the optimal residual is rounding only


def test_column_norms_scale_safe():
    from tensorkit.backend import get_namespace

    M = np.array([[3e200, 3e-200, 0.0], [4e200, 4e-200, 0.0]])
    np.testing.assert_allclose(column_norms(M, get_namespace(M)), [5e200, 5e-200, 0.0])


# --- rank ------------------------------------------------------------------------------------------


def test_rank_deficient_only_when_a_is():
    rng = np.random.default_rng(12)
    A = rng.standard_normal((6, 5))
    seed = next(s for s in range(100)
                if np.linalg.matrix_rank(CountSketch(5, random_state=s).to_dense(6)) < 5)
    res = lstsq(A, np.ones(6), method="sketch_precondition", sketch=CountSketch(5, random_state=seed))
    assert res.method == "direct" and "lost rank" in res.info.extras["fallback"]
    _assert_lapack_digits(A, np.ones(6), res.x)
    A[:, 4] = A[:, 0]
    with pytest.raises(np.linalg.LinAlgError, match="rank deficient"):
        lstsq(A, np.ones(6), method="sketch_precondition", random_state=0)


# --- sizes refused before allocating ---------------------------------------------------------------


@pytest.mark.parametrize("call, what", [
    (lambda: GaussianSketch(10**12).apply(np.ones((50, 3))), "Gaussian sketch"),
    (lambda: KroneckerSketch(10**9, (10, 10)), "KroneckerSketch"),
    (lambda: KroneckerSketch(10**5, (10**5, 10**5)).apply(np.ones(1)), "KroneckerSketch"),
    (lambda: GaussianSketch(10**6).to_dense(10**6), "explicit sketch matrix"),
    (lambda: lstsq(np.ones((500, 3)) + np.eye(500, 3), np.ones(500), method="sketch_solve",
                   sketch="gaussian", sketch_size=10**12), "Gaussian sketch"),
])
def test_sizes_refused(call, what):
    with pytest.raises((MemoryError, ValueError), match=what):
        call()


def test_size_message_names_the_factored_alternative():
    with pytest.raises(MemoryError, match="sparse_then_gaussian"):
        GaussianSketch(10**12).apply(np.ones((50, 3)))
    with pytest.raises(MemoryError, match="apply_khatri_rao"):
        KroneckerSketch(10**9, (10, 10))


# --- entry conversions -----------------------------------------------------------------------------


def test_lists_float16_and_big_endian_are_converted():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((4000, 6))
    b = rng.standard_normal(4000)
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    np.testing.assert_allclose(lstsq(A.tolist(), b.tolist()).x, x_ref, rtol=1e-12)
    for backend in ("numpy", "numba"):
        big = lstsq(A.astype(">f8"), b.astype(">f8"), method="sketch_precondition", backend=backend,
                    random_state=0)
        _assert_lapack_digits(A, b, big.x)
    half = lstsq(A.astype(np.float16), b.astype(np.float16), method="sketch_precondition",
                 backend="numba", random_state=0)
    assert half.x.dtype == np.float32 and half.converged


# --- the bad-input catalogue -----------------------------------------------------------------------

_A = np.random.default_rng(0).standard_normal((300, 4))
_b = np.ones(300)


def _nan(M, i=3):
    M = M.copy()
    M.flat[i] = np.nan
    return M


CATALOGUE = [
    # (call, exception, text the message must contain)
    (lambda: lstsq("A", _b), TypeError, "A"),
    (lambda: lstsq([[1, 2], [3]], [1, 2]), TypeError, "A"),
    (lambda: lstsq([["a", "b"]] * 3, [1, 2, 3]), TypeError, "A"),
    (lambda: lstsq(_A, "b" * 300), TypeError, "b"),
    (lambda: lstsq(_A, [object()] * 300), TypeError, "b"),
    (lambda: lstsq(_A.astype(complex), _b), TypeError, "A must be real"),
    (lambda: lstsq(_A, _b.astype(complex)), TypeError, "b must be real"),
    (lambda: lstsq(_A.astype(np.longdouble), _b), TypeError, "A"),
    (lambda: lstsq(_A, _b[:-1]), ValueError, "b has 299 rows"),
    (lambda: lstsq(_b, _b), ValueError, "A must be a matrix"),
    (lambda: lstsq(_A[None], _b), ValueError, "A must be a vector or a matrix"),
    (lambda: lstsq(_A, _b[None, None]), ValueError, "b must be a vector or a matrix"),
    (lambda: lstsq(_A[:0], _b[:0]), ValueError, "A has no rows"),
    (lambda: lstsq(_A[:, :0], _b), ValueError, "at least one column"),
    (lambda: lstsq(_nan(_A), _b), ValueError, "A contains 1 non-finite"),
    (lambda: lstsq(_A, _nan(_b)), ValueError, "b contains 1 non-finite"),
    (lambda: lstsq(_nan(_A), _b, method="sketch_precondition"), ValueError, "A contains"),
    (lambda: lstsq(_A, _nan(_b), method="sketch_solve"), ValueError, "b contains"),
    (lambda: lstsq(_A, _b, method="qr"), ValueError, "method"),
    (lambda: lstsq(_A, _b, method=None), ValueError, "method"),
    (lambda: lstsq(_A, _b, tol=0.0), ValueError, "tol"),
    (lambda: lstsq(_A, _b, tol=-1e-3), ValueError, "tol"),
    (lambda: lstsq(_A, _b, tol=float("nan")), ValueError, "tol"),
    (lambda: lstsq(_A, _b, tol=float("inf")), ValueError, "tol"),
    (lambda: lstsq(_A, _b, tol="small"), TypeError, "tol"),
    (lambda: lstsq(_A, _b, tol=True), TypeError, "tol"),
    (lambda: lstsq(_A, _b, n_iter_max=-1), ValueError, "n_iter_max"),
    (lambda: lstsq(_A, _b, n_iter_max=2.5), TypeError, "n_iter_max"),
    (lambda: lstsq(_A, _b, n_iter_max=True), TypeError, "n_iter_max"),
    (lambda: lstsq(_A, _b, sketch_size=0), ValueError, "sketch_size"),
    (lambda: lstsq(_A, _b, sketch_size=2, method="sketch_solve"), ValueError, "sketch_size=2"),
    (lambda: lstsq(_A, _b, sketch_size=8.0), TypeError, "sketch_size"),
    (lambda: lstsq(_A, _b, sketch_size=True), TypeError, "sketch_size"),
    (lambda: lstsq(_A, _b, method="sketch_solve", sketch="fft"), ValueError, "sketch"),
    (lambda: lstsq(_A, _b, method="sketch_solve", sketch=3), TypeError, "sketch"),
    (lambda: lstsq(_A, _b, method="sketch_solve", sketch=KroneckerSketch(8, (3, 100))), TypeError,
     "KroneckerSketch"),
    (lambda: lstsq(_A, _b, method="sketch_solve", sketch=GaussianSketch(20), sketch_size=30),
     ValueError, "sketch_size=30"),
    (lambda: lstsq(_A[:3], _b[:3], method="sketch_precondition"), ValueError, "tall A"),
    (lambda: lstsq(_A, _b, random_state=-1), ValueError, "random_state"),
    (lambda: lstsq(_A, _b, random_state=True), TypeError, "random_state"),
    (lambda: lstsq(_A, _b, random_state="seed"), (TypeError, ValueError), "random_state"),
    (lambda: lstsq(_A, _b, backend="cuda"), ValueError, "backend"),
    (lambda: lstsq(_A, _b, max_iter=3, n_iter_max=3), TypeError, "max_iter"),
    (lambda: GaussianSketch(0), ValueError, "sketch_size"),
    (lambda: GaussianSketch(-5), ValueError, "sketch_size"),
    (lambda: GaussianSketch(4.0), TypeError, "sketch_size"),
    (lambda: GaussianSketch(4, random_state=1.5), TypeError, "random_state"),
    (lambda: SparseSign(4, nnz_per_column=8), ValueError, "nnz_per_column"),
    (lambda: SparseSign(4, nnz_per_column=0), ValueError, "nnz_per_column"),
    (lambda: make_sketch("hadamard", 4), ValueError, "sketch"),
    (lambda: make_sketch("srht", 64).apply(np.ones((10, 2))), ValueError, "sketch_size=64"),
    (lambda: make_sketch("srdct", 64).apply(np.ones((10, 2))), ValueError, "sketch_size=64"),
    (lambda: GaussianSketch(4).apply("abc"), TypeError, "A"),
    (lambda: GaussianSketch(4).apply(np.ones((2, 2, 2))), ValueError, "A must be a vector or a matrix"),
    (lambda: GaussianSketch(4).apply(np.ones((3, 2), dtype=complex)), TypeError, "A must be real"),
    (lambda: make_sketch("srht", 4).apply_block(np.ones((8, 2)), 0), ValueError, "row blocks"),
    (lambda: CountSketch(4).apply_block(np.ones((8, 2)), -1), ValueError, "block_index"),
    (lambda: CountSketch(4).to_dense(0), ValueError, "n"),
    (lambda: KroneckerSketch(4, ()), ValueError, "shapes"),
    (lambda: KroneckerSketch(4, 5), ValueError, "shapes"),
    (lambda: KroneckerSketch(4, (3, 0)), ValueError, r"shapes\[1\]"),
    (lambda: KroneckerSketch(4, (3, 4)).apply(np.ones(11)), ValueError, "A has 11 rows"),
    (lambda: KroneckerSketch(4, (3, 4)).apply_khatri_rao([np.ones((3, 2))]), ValueError, "factors"),
    (lambda: KroneckerSketch(4, (3, 4)).apply_khatri_rao([np.ones((3, 2)), np.ones((5, 2))]),
     ValueError, r"factors\[1\]"),
    (lambda: KroneckerSketch(4, (3, 4)).factor_sketches(device="tpu"), ValueError, "device"),
    (lambda: sparse_then_gaussian(0, 4), ValueError, "sketch_size"),
    (lambda: linf_error(_A, _b, np.ones(3)), ValueError, "x must have shape"),
    (lambda: linf_error(_A, _b, np.ones(4), x_star=np.ones(3)), ValueError, "x_star"),
    (lambda: linf_error(_A, _b, "x"), TypeError, "x"),
    (lambda: linf_error(_nan(_A), _b, np.ones(4)), ValueError, "A contains"),
]


@pytest.mark.parametrize("index", range(len(CATALOGUE)))
def test_bad_input_catalogue(index):
    call, exc, text = CATALOGUE[index]
    with pytest.raises(exc, match=text):
        call()


def test_catalogue_size():
    assert len(CATALOGUE) >= 40
