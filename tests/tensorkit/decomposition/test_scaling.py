"""Scale invariance (issue 10): for X and c X with c from 1e-150 to 1e150 (and the float64 extremes),
every decomposition gives the same ranks, the same relative error and the same reconstruction / c;
and the relative error it reports is the measured one."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorkit
from tensorkit import TuckerTensor
from tensorkit.chebyshev import ChebTucker
from tensorkit.decomposition.linalg import leading_subspace, norm, rank_from_tail, safe_scale

METHODS = ["hosvd", "st_hosvd", "hooi", "randomized"]
EXPONENTS = st.integers(min_value=-150, max_value=150)


def decaying(shape=(9, 10, 11), seed=0):
    """A tensor with decaying multilinear singular values (ranks by tolerance are nontrivial)."""
    rng = np.random.default_rng(seed)
    core = rng.standard_normal(shape) * np.exp(-np.add.outer(np.add.outer(
        np.arange(shape[0]), np.arange(shape[1])), np.arange(shape[2])))
    factors = [np.linalg.qr(rng.standard_normal((n, n)))[0] for n in shape]
    return TuckerTensor(core, factors).to_dense()


X0 = decaying()


def measured(X, result):
    return norm(X - result.to_dense()) / norm(X)


@pytest.mark.parametrize("c", [1e-300, 1e-170, 1e-160, 1.0, 1e160, 1e200, 1e300])
def test_issue_cases_tucker_tt_cp(c):
    X = np.random.default_rng(0).standard_normal((10, 11, 12)) * c
    T = tensorkit.tucker(X, tol=1e-3)
    assert T.ranks == (10, 11, 12)  # a random tensor is incompressible to 1e-3
    assert T.info.rel_error < 1e-12
    low = tensorkit.tucker(X, rank=3)
    assert abs(low.info.rel_error - measured(X, low)) < 1e-10
    assert 0.8 < low.info.rel_error < 0.99
    tt = tensorkit.tt(X, tol=1e-3)
    assert tt.info.rel_error < 1e-12 and math.isfinite(tt.info.rel_error)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cp = tensorkit.cp(X, 3, random_state=0, n_iter_max=30)
    assert abs(cp.info.rel_error - measured(X, cp)) < 1e-8
    assert bool(np.all(np.isfinite(cp.weights)))


@settings(max_examples=25, deadline=None)
@given(exponent=EXPONENTS, method=st.sampled_from(METHODS), tol=st.sampled_from([1e-2, 1e-6, 1e-10]))
def test_tucker_by_tolerance_is_scale_invariant(exponent, method, tol):
    c = 10.0**exponent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = tensorkit.tucker(X0, tol=tol, method=method, random_state=0)
        got = tensorkit.tucker(X0 * c, tol=tol, method=method, random_state=0)
    assert got.ranks == ref.ranks
    assert got.info.rel_error <= tol
    assert math.isclose(got.info.rel_error, ref.info.rel_error, rel_tol=1e-6, abs_tol=1e-13)
    assert abs(got.info.rel_error - measured(X0 * c, got)) < 1e-9
    np.testing.assert_allclose(got.to_dense() / c, ref.to_dense(), atol=1e-10 * np.abs(X0).max())


@settings(max_examples=25, deadline=None)
@given(exponent=EXPONENTS, method=st.sampled_from(METHODS))
def test_tucker_by_rank_is_scale_invariant(exponent, method):
    c = 10.0**exponent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = tensorkit.tucker(X0, rank=(3, 4, 2), method=method, random_state=0)
        got = tensorkit.tucker(X0 * c, rank=(3, 4, 2), method=method, random_state=0)
    assert got.ranks == (3, 4, 2)
    assert math.isclose(got.info.rel_error, ref.info.rel_error, rel_tol=1e-6, abs_tol=1e-12)
    assert abs(got.info.rel_error - measured(X0 * c, got)) < 1e-9


@settings(max_examples=25, deadline=None)
@given(exponent=EXPONENTS, tol=st.sampled_from([1e-2, 1e-6, 1e-10]))
def test_tt_is_scale_invariant(exponent, tol):
    c = 10.0**exponent
    ref = tensorkit.tt(X0, tol=tol)
    got = tensorkit.tt(X0 * c, tol=tol)
    assert got.ranks == ref.ranks
    assert math.isclose(got.info.rel_error, ref.info.rel_error, rel_tol=1e-6, abs_tol=1e-13)
    assert abs(got.info.rel_error - measured(X0 * c, got)) < 1e-9
    np.testing.assert_allclose(got.to_dense() / c, ref.to_dense(), atol=1e-10 * np.abs(X0).max())


@settings(max_examples=20, deadline=None)
@given(exponent=EXPONENTS)
def test_cp_is_scale_invariant(exponent):
    c = 10.0**exponent
    rng = np.random.default_rng(1)
    A, B, C = (rng.standard_normal((n, 2)) for n in (5, 6, 7))
    X = np.einsum("ir,jr,kr->ijk", A, B, C) + 1e-3 * rng.standard_normal((5, 6, 7))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = tensorkit.cp(X, 2, random_state=0, n_iter_max=50)
        got = tensorkit.cp(X * c, 2, random_state=0, n_iter_max=50)
    assert math.isclose(got.info.rel_error, ref.info.rel_error, rel_tol=1e-5, abs_tol=1e-9)
    assert abs(got.info.rel_error - measured(X * c, got)) < 1e-8
    np.testing.assert_allclose(got.to_dense() / c, ref.to_dense(), atol=1e-6 * np.abs(X).max())


@settings(max_examples=20, deadline=None)
@given(exponent=EXPONENTS)
def test_sparse_cp_is_scale_invariant(exponent):
    c = 10.0**exponent
    indices = np.array([[0, 1, 2], [1, 2, 3], [2, 0, 1], [1, 1, 1]])
    values = np.array([1.0, 2.0, -0.5, 0.25])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = tensorkit.cp((indices, values, (3, 4, 5)), 2, random_state=0, n_iter_max=30)
        got = tensorkit.cp((indices, values * c, (3, 4, 5)), 2, random_state=0, n_iter_max=30)
    assert math.isclose(got.info.rel_error, ref.info.rel_error, rel_tol=1e-6, abs_tol=1e-10)
    np.testing.assert_allclose(got.weights / c, ref.weights, rtol=1e-8)


@settings(max_examples=15, deadline=None)
@given(exponent=EXPONENTS)
def test_chebtucker_from_function_is_scale_invariant(exponent):
    c = 10.0**exponent
    domain = [(-1, 1)] * 3

    def f(x, y, z):
        return np.exp(x + y * z) / (1 + x**2)

    ref = ChebTucker.from_function(f, domain, tol=1e-8)
    got = ChebTucker.from_function(lambda x, y, z: c * f(x, y, z), domain, tol=1e-8)
    assert got.ranks == ref.ranks and got.degrees == ref.degrees
    points = np.array([[0.3, 0.2, 0.1], [-0.9, 0.5, 0.7]])
    exact = np.array([f(*p) for p in points])
    np.testing.assert_allclose(got(points) / c, exact, rtol=1e-7)
    np.testing.assert_allclose(got.integrate() / c, ref.integrate(), rtol=1e-10)


@pytest.mark.parametrize("c", [1e-300, 1e-200, 1e200, 1e300])
def test_chebtucker_from_values_and_round_at_extreme_scales(c):
    x = np.cos(np.pi * np.arange(17) / 16)
    values = np.exp(np.add.outer(x, x))[:, :, None] * np.ones(17)
    ref = ChebTucker.from_values(values, [(-1, 1)] * 3, tol=1e-9)
    got = ChebTucker.from_values(values * c, [(-1, 1)] * 3, tol=1e-9)
    assert got.ranks == ref.ranks
    np.testing.assert_allclose(got.round(1e-6).integrate() / c, ref.round(1e-6).integrate(), rtol=1e-9)


# ---------------------------------------------------------------------------- the linalg helpers
@pytest.mark.parametrize("c", [1e-300, 1e-170, 1.0, 1e170, 1e300])
@pytest.mark.parametrize("shape", [(6, 40), (40, 6)])
def test_leading_subspace_at_any_scale(c, shape):
    rng = np.random.default_rng(2)
    Y = rng.standard_normal(shape) * np.logspace(0, -12, shape[1])[None, :]
    sigma_true = np.linalg.svd(Y, compute_uv=False)
    for target in ({"rank": 3}, {"threshold": 1e-6 * np.linalg.norm(Y)}):
        scaled = {k: v * c if k == "threshold" else v for k, v in target.items()}
        u_ref, _ = leading_subspace(Y, **target, xp=np)
        u, sigma = leading_subspace(Y * c, **scaled, xp=np)
        assert u.shape == u_ref.shape
        np.testing.assert_allclose(sigma[:3] / c, sigma_true[:3], rtol=1e-8)
        np.testing.assert_allclose(np.abs(u.T @ u_ref), np.eye(u.shape[1]), atol=1e-6)


@pytest.mark.parametrize("c", [1e-300, 1.0, 1e300])
def test_norm_rank_from_tail_and_safe_scale(c):
    x = np.array([3.0, 4.0, 0.0])
    assert math.isclose(norm(x * c), 5.0 * c, rel_tol=1e-15)
    c32 = min(max(c, 1e-30), 1e30)
    assert math.isclose(norm(x.astype(np.float32) * np.float32(c32)), 5.0 * c32, rel_tol=1e-6)
    assert rank_from_tail(np.array([1.0, 1e-3, 1e-9]) * c, 1e-6 * c) == 2
    s = safe_scale(x * c)
    assert s == 1.0 if c == 1.0 else 1.0 <= np.abs(x * c * s).max() < 2.0
    assert norm(np.zeros(3)) == 0.0 and safe_scale(np.zeros(3)) == 1.0


def test_norm_of_a_tensor_beyond_the_float_range_is_refused():
    X = np.full((4, 4, 4), 1e308)
    for call in (lambda: tensorkit.tucker(X, tol=0.1), lambda: tensorkit.tt(X, tol=0.1)):
        with pytest.raises(ValueError, match="tensor has a Frobenius norm above the float range"):
            call()
    T = tensorkit.tucker(X / 1e10, rank=1)  # just inside: delivered
    assert T.info.rel_error < 1e-12


def test_float32_at_extreme_scales():
    X = X0.astype(np.float32)
    for c in (1e-30, 1e30):
        ref = tensorkit.tucker(X, tol=1e-2)
        got = tensorkit.tucker(X * np.float32(c), tol=1e-2)
        assert got.ranks == ref.ranks
        assert math.isclose(got.info.rel_error, ref.info.rel_error, rel_tol=1e-3, abs_tol=1e-6)


# ---------------------------------------------------------------------------- multilinear ranks
def test_tensorly_rank_that_is_not_multilinear_is_refused_with_the_reason():
    X = np.random.default_rng(1234).random((3, 4, 3))
    for method in METHODS:
        with pytest.raises(ValueError, match=r"rank \(2, 3, 1\) is not a multilinear rank: "
                                             r"r_1=3 > r_0 \* r_2 = 2"):
            tensorkit.tucker(X, (2, 3, 1), method=method)
        with pytest.raises(ValueError, match=r"r_2=2 > r_0 \* r_1 = 1"):
            tensorkit.tucker(X, (1, 1, 2), method=method)


def valid_ranks(shape, rng):
    while True:
        ranks = tuple(int(rng.integers(1, n + 1)) for n in shape)
        if all(r <= math.prod(ranks) // r for r in ranks):
            return ranks


@pytest.mark.parametrize("method", METHODS)
def test_every_valid_rank_is_delivered_in_every_mode_order(method):
    rng = np.random.default_rng(7)
    for shape in [(3, 4, 3), (2, 5, 3), (4, 2, 3, 2)]:
        X = rng.standard_normal(shape)
        for _ in range(4):
            ranks = valid_ranks(shape, rng)
            for order in itertools.permutations(range(len(shape))):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    T = tensorkit.tucker(X, ranks, method=method, mode_order=order, random_state=0)
                assert T.ranks == ranks, (shape, ranks, order)
                assert all(f.shape == (n, r) for f, n, r in zip(T.factors, shape, ranks, strict=True))
                assert abs(T.info.rel_error - measured(X, T)) < 1e-9
                np.testing.assert_allclose(T.factors[0].T @ T.factors[0], np.eye(ranks[0]), atol=1e-10)


def test_fortran_ordered_input_delivers_the_rank_too():
    X = np.asfortranarray(np.random.default_rng(3).standard_normal((3, 4, 5)))
    for method in METHODS:
        assert tensorkit.tucker(X, (3, 4, 5), method=method).ranks == (3, 4, 5)
        assert tensorkit.tucker(X, (1, 2, 2), method=method).ranks == (1, 2, 2)


def test_chebtucker_round_clips_to_a_multilinear_rank():
    f = ChebTucker.from_function(lambda x, y, z: np.exp(x * y) + z, [(-1, 1)] * 3, tol=1e-10)
    g = f.round(rank=(1, 1, 3))
    assert g.ranks == (1, 1, 1)


def test_cp_of_a_zero_tensor_reports_zero_error():
    for X in (np.zeros((3, 4, 5)), (np.zeros((0, 3), dtype=np.int64), np.zeros(0), (3, 4, 5))):
        result = tensorkit.cp(X, 2, random_state=0)
        assert result.info.rel_error == 0.0
        assert float(np.abs(result.to_dense()).max()) == 0.0


def test_a_fraction_is_lowered_to_a_multilinear_rank_and_says_so():
    X = np.random.default_rng(5).standard_normal((2, 3, 7))
    for method in METHODS:
        T = tensorkit.tucker(X, 0.9, method=method, random_state=0)
        assert T.ranks == (1, 2, 2)
        assert T.info.extras["rank_lowered_from"] == (1, 2, 4)
        assert abs(T.info.rel_error - measured(X, T)) < 1e-10
    assert "rank_lowered_from" not in tensorkit.tucker(X, (1, 2, 2)).info.extras


@pytest.mark.parametrize("c", [1e-300, 1e-150, 1e150, 1e300])
def test_chebtucker_from_cp_and_arithmetic_at_extreme_scales(c):
    box = [(-1, 1)] * 3

    def terms(x):
        return np.stack([np.exp(x), np.cos(x)], axis=1)

    ref = ChebTucker.from_cp(np.array([1.0, 0.5]), [terms] * 3, box, tol=1e-9)
    got = ChebTucker.from_cp(np.array([1.0, 0.5]) * c, [terms] * 3, box, tol=1e-9)
    point = np.array([[0.1, 0.2, 0.3]])
    assert got.ranks == ref.ranks
    np.testing.assert_allclose(got(point) / c, ref(point), rtol=1e-10)
    np.testing.assert_allclose(got.norm() / c, ref.norm(), rtol=1e-10)
    np.testing.assert_allclose(((got + got) / 2)(point) / c, ref(point), rtol=1e-10)
    assert (got - got).norm() == 0.0


def test_lists_are_converted_by_decompositions_and_formats():
    X = np.random.default_rng(4).standard_normal((3, 4, 5))
    assert tensorkit.tucker(X.tolist(), (2, 2, 2)).ranks == (2, 2, 2)
    assert tensorkit.tt(X.tolist(), 2).ranks == (1, 2, 2, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert tensorkit.cp(X.tolist(), 2, random_state=0).rank == 2
    T = TuckerTensor([[1.0, 0.0], [0.0, 2.0]], [[[1.0, 0.0]] * 1 + [[0.0, 1.0]]] * 2)
    np.testing.assert_allclose(T.to_dense(), [[1.0, 0.0], [0.0, 2.0]])
