"""Tensor algebra against tensorly and explicit einsum formulas."""

from __future__ import annotations

import numpy as np
import pytest
import tensorly as tl
from tensorly.tenalg import khatri_rao as tl_khatri_rao
from tensorly.tenalg import mode_dot as tl_mode_dot

from tensorkit.tenalg import fold, khatri_rao, mode_dot, mttkrp, multi_mode_dot, unfold

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_unfold_matches_tensorly_and_folds_back(mode):
    X = RNG.standard_normal((3, 4, 5, 2))
    np.testing.assert_array_equal(unfold(X, mode), tl.unfold(X, mode))
    np.testing.assert_array_equal(fold(unfold(X, mode), mode, X.shape), X)


def test_negative_mode_counts_from_the_end():
    X = RNG.standard_normal((3, 4, 5))
    np.testing.assert_array_equal(unfold(X, -1), unfold(X, 2))


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_mode_dot_matches_tensorly_matrix_vector_and_transpose(mode):
    X = RNG.standard_normal((3, 4, 5))
    M = RNG.standard_normal((6, X.shape[mode]))
    np.testing.assert_allclose(mode_dot(X, M, mode), tl_mode_dot(X, M, mode), rtol=1e-13)
    v = RNG.standard_normal(X.shape[mode])
    np.testing.assert_allclose(mode_dot(X, v, mode), tl_mode_dot(X, v, mode), rtol=1e-13)
    Z = RNG.standard_normal((X.shape[mode], 2)) + 1j * RNG.standard_normal((X.shape[mode], 2))
    np.testing.assert_allclose(mode_dot(X, Z, mode, transpose=True), tl_mode_dot(X, Z.conj().T, mode))


def test_multi_mode_dot_is_order_independent_and_skips():
    X = RNG.standard_normal((4, 5, 6))
    mats = [RNG.standard_normal((2, 4)), RNG.standard_normal((7, 5)), RNG.standard_normal((3, 6))]
    expected = np.einsum("ijk,ai,bj,ck->abc", X, *mats)
    np.testing.assert_allclose(multi_mode_dot(X, mats), expected, rtol=1e-12)
    skipped = np.einsum("ijk,ai,ck->ajc", X, mats[0], mats[2])
    np.testing.assert_allclose(multi_mode_dot(X, mats, skip=1), skipped, rtol=1e-12)
    vecs = [RNG.standard_normal(4), RNG.standard_normal(6)]
    np.testing.assert_allclose(
        multi_mode_dot(X, vecs, modes=[0, 2]), np.einsum("ijk,i,k->j", X, *vecs), rtol=1e-12
    )


def test_khatri_rao_matches_tensorly_and_cp_unfolding_identity():
    mats = [RNG.standard_normal((n, 3)) for n in (2, 4, 5)]
    np.testing.assert_allclose(khatri_rao(mats), tl_khatri_rao(mats), rtol=1e-14)
    X = np.einsum("ir,jr,kr->ijk", *mats)
    for n in range(3):
        np.testing.assert_allclose(unfold(X, n), mats[n] @ khatri_rao(mats, skip=n).T, rtol=1e-12)
    np.testing.assert_allclose(khatri_rao(mats, reverse=True), tl_khatri_rao(mats[::-1]))


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_dense_mttkrp_equals_unfolding_times_khatri_rao(mode):
    X = RNG.standard_normal((4, 5, 6))
    factors = [RNG.standard_normal((n, 3)) for n in X.shape]
    expected = unfold(X, mode) @ tl_khatri_rao(factors, skip_matrix=mode)
    np.testing.assert_allclose(mttkrp(X, factors, mode), expected, rtol=1e-12)


def test_bad_input_is_named():
    X = np.zeros((3, 4))
    with pytest.raises(ValueError, match="mode must be <= 1, got 2"):
        unfold(X, 2)
    with pytest.raises(TypeError, match="mode must be an int"):
        unfold(X, 1.0)
    with pytest.raises(ValueError, match="does not match tensor.shape"):
        mode_dot(X, np.zeros((2, 5)), 1)
    with pytest.raises(ValueError, match="all matrices need 3 columns"):
        khatri_rao([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="unfolded has shape"):
        fold(np.zeros((3, 5)), 0, (3, 4))


@pytest.mark.parametrize(
    "call",
    [
        lambda: unfold([[1.0, 2.0], [3.0, 4.0]], 0),
        lambda: fold([[1.0, 2.0]], 0, (1, 2)),
        lambda: mode_dot(np.ones((2, 3)), [[1.0, 1.0, 1.0]], 1),
        lambda: multi_mode_dot(np.ones((2, 3)), [np.ones((4, 2)), [[1.0, 1.0, 1.0]]]),
        lambda: khatri_rao([np.ones((2, 3)), [[1.0, 1.0, 1.0]]]),
        lambda: mttkrp(np.ones((2, 3)), [np.ones((2, 4)), [[1.0] * 4] * 3], 0),
        lambda: mttkrp(([[0, 0]], np.ones(1), (2, 3)), [np.ones((2, 4)), np.ones((3, 4))], 0),
    ],
)
def test_lists_are_refused_with_a_type_error_naming_the_argument(call):
    """tenalg sits in inner loops: a list is refused up front (not converted at every call, not
    left to crash inside numpy)."""
    with pytest.raises(TypeError, match=r"must be an array \(numpy or CuPy\), got list"):
        call()


def test_mode_arguments_follow_the_int_policy():
    X = np.zeros((3, 4))
    with pytest.raises(TypeError, match="mode must be an int, got True"):
        unfold(X, True)
    with pytest.raises(ValueError, match="mode must be >= -2, got -3"):
        mode_dot(X, np.ones(3), -3)
    with pytest.raises(ValueError, match="skip must be <= 2, got 3"):
        khatri_rao([np.ones((2, 3))] * 3, skip=3)
    with pytest.raises(ValueError, match=r"got 2 matrices but 1 modes"):
        multi_mode_dot(X, [np.ones((2, 3)), np.ones((2, 4))], modes=[0])
    with pytest.raises(TypeError, match=r"shape\[1\] must be an int, got 4.0"):
        fold(np.zeros((3, 4)), 0, (3, 4.0))
    np.testing.assert_array_equal(multi_mode_dot(X, [np.ones((2, 3))], skip=-2), X)


def test_given_xp_is_used_and_never_re_inferred(monkeypatch):
    import tensorkit.tenalg as tenalg_module
    from tensorkit.backend import get_namespace

    X = RNG.standard_normal((3, 4, 5))
    mats = [RNG.standard_normal((2, n)) for n in X.shape]
    factors = [RNG.standard_normal((n, 2)) for n in X.shape]
    expected = [unfold(X, 1), fold(unfold(X, 1), 1, X.shape), mode_dot(X, mats[1], 1),
                multi_mode_dot(X, mats, skip=0), khatri_rao(factors), mttkrp(X, factors, 2)]
    xp = get_namespace(X)

    def refuse(*arrays):
        raise AssertionError("get_namespace called although xp was given")

    monkeypatch.setattr(tenalg_module, "get_namespace", refuse)
    got = [unfold(X, 1, xp=xp), fold(unfold(X, 1, xp=xp), 1, X.shape, xp=xp),
           mode_dot(X, mats[1], 1, xp=xp), multi_mode_dot(X, mats, skip=0, xp=xp),
           khatri_rao(factors, xp=xp), mttkrp(X, factors, 2, xp=xp)]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g, e)
    with pytest.raises(AssertionError, match="get_namespace called"):
        unfold(X, 1)  # the patch is live: without xp the namespace is inferred


def test_given_xp_decides_the_namespace_of_the_result():
    xs = pytest.importorskip("array_api_strict")
    X = RNG.standard_normal((3, 4, 5))
    out = unfold(xs.asarray(X), 2, xp=xs)
    assert type(out).__module__.startswith("array_api_strict")
    np.testing.assert_array_equal(np.from_dlpack(out), unfold(X, 2))
