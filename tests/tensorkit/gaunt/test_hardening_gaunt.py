"""Gaunt hardening (issue 10): degrees bounded by what fits (no hang), harmonics of any finite
nonzero vector, empty batches, and a catalogue of bad inputs."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorkit.gaunt import (
    GauntTensorProduct,
    equivariant_convolution,
    feature_interaction,
    gaunt_coefficients,
    gaunt_tensor_product,
    many_body_product,
    real_sph_harm,
    wigner_D,
)

V = np.array([0.3, -0.2, 0.9])


# ---------------------------------------------------------------------------- sizes and hangs
@pytest.mark.parametrize("call, match", [
    (lambda: gaunt_coefficients(3000, 3000, 3000), r"coefficients\(3000, 3000, 3000\).*gaunt_tensor_product"),
    (lambda: real_sph_harm(10**5, V), r"real_sph_harm\(100000, \.\.\.\).*smaller lmax"),
    (lambda: real_sph_harm(2000, np.ones((10**4, 3))), "fewer vectors"),
    (lambda: gaunt_tensor_product(np.ones(4), np.ones(4), lmax_out=10**5), "lmax_out=100000"),
    (lambda: gaunt_tensor_product(np.ones(4), np.ones(4), lmax_out=10**5, method="fourier"), "fourier"),
    (lambda: GauntTensorProduct(10**4, 10**4), "lmax1=10000"),
    (lambda: GauntTensorProduct(100, 100, method="direct"), "method='s2grid'"),
    (lambda: wigner_D(10**4, np.eye(3)), r"wigner_D\(10000"),
    (lambda: many_body_product(np.ones(4), 2, lmax_out=10**5), "lmax_out=100000"),
])
def test_huge_degrees_are_refused_at_once(call, match):
    start = time.perf_counter()
    with pytest.raises(MemoryError, match=match) as info:
        call()
    assert "GiB" in str(info.value)
    assert time.perf_counter() - start < 5.0


def test_moderate_degrees_still_work():
    assert gaunt_coefficients(20, 20, 30).shape == (41, 41, 61)
    x = np.random.default_rng(0).standard_normal((2, 13 * 13))
    assert gaunt_tensor_product(x, x, lmax_out=24).shape == (2, 625)


# ------------------------------------------------------------------------ scaled normalization
@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-160, 1e160, 1e200, 1e300, 1.5e308])
def test_real_sph_harm_of_tiny_and_huge_vectors(scale):
    ref = real_sph_harm(6, V)
    np.testing.assert_allclose(real_sph_harm(6, V * scale), ref, rtol=0, atol=1e-14)


@settings(max_examples=60, deadline=None)
@given(
    exponent=st.floats(min_value=-150, max_value=150),
    v=st.tuples(*[st.floats(-1, 1, allow_nan=False) for _ in range(3)]).filter(
        lambda t: max(abs(c) for c in t) > 1e-3
    ),
    normalization=st.sampled_from(["integral", "component", "norm"]),
)
def test_real_sph_harm_is_scale_invariant(exponent, v, normalization):
    v = np.array(v)
    c = 10.0**exponent
    ref = real_sph_harm(5, v, normalization=normalization)
    np.testing.assert_allclose(real_sph_harm(5, v * c, normalization=normalization), ref, rtol=0, atol=1e-13)


def test_real_sph_harm_still_refuses_zero_vectors_and_non_finite():
    with pytest.raises(ValueError, match="1 zero vector"):
        real_sph_harm(2, np.zeros((2, 3)) + np.array([[0, 0, 0], [1e-300, 0, 0]]))
    with pytest.raises(ValueError, match="vectors contains 1 non-finite"):
        real_sph_harm(2, np.array([np.inf, 0, 0]))


def test_float32_vectors_keep_float32():
    out = real_sph_harm(3, np.array([1e-30, 2e-30, 0.5e-30], dtype=np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, real_sph_harm(3, np.array([1.0, 2.0, 0.5])), atol=1e-6)


# ---------------------------------------------------------------------------------- empty
@pytest.mark.parametrize("method", ["auto", "s2grid", "fourier", "direct"])
@pytest.mark.parametrize("shapes, out", [
    (((0, 16), (0, 16)), (0, 49)),
    (((0, 16), (1, 16)), (0, 49)),
    (((3, 0, 4), (3, 0, 4)), (3, 0, 9)),
    (((0, 4), (4,)), (0, 9)),
])
def test_products_of_zero_samples_are_empty(method, shapes, out):
    a, b = (np.zeros(s) for s in shapes)
    result = gaunt_tensor_product(a, b, method=method)
    assert result.shape == out and result.dtype == np.float64


def test_empty_batches_elsewhere():
    assert real_sph_harm(3, np.zeros((0, 3))).shape == (0, 16)
    assert wigner_D(2, np.zeros((0, 3, 3))).shape == (0, 9, 9)
    assert feature_interaction(np.zeros((0, 4, 9)), lmax_out=2).shape == (0, 4, 9)
    assert many_body_product(np.zeros((0, 9)), 3, lmax_out=2).shape == (0, 9)
    tp = GauntTensorProduct(1, 1, 2)
    assert tp(np.zeros((0, 4)), np.zeros((0, 4)), weights=np.ones(3)).shape == (0, 9)
    out = equivariant_convolution(np.ones((3, 4)), np.zeros((2, 0), dtype=int), np.zeros((0, 3)),
                                  np.ones((0, 2)), lmax_filter=1, lmax_out=1)
    assert out.shape == (3, 4) and not out.any()


# ------------------------------------------------------------------------------- catalogue
CATALOGUE = [
    (lambda: gaunt_coefficients(-1, 0, 0), ValueError, "l1"),
    (lambda: gaunt_coefficients(0, 1.0, 0), TypeError, "l2"),
    (lambda: gaunt_coefficients(0, 0, True), TypeError, "l3"),
    (lambda: gaunt_coefficients(1, 1, 1, device="tpu"), ValueError, "device"),
    (lambda: real_sph_harm(-1, V), ValueError, "lmax"),
    (lambda: real_sph_harm(2.5, V), TypeError, "lmax"),
    (lambda: real_sph_harm(2, np.ones(4)), ValueError, "vectors"),
    (lambda: real_sph_harm(2, np.ones(3, complex)), TypeError, "vectors"),
    (lambda: real_sph_harm(2, np.array(["a", "b", "c"])), TypeError, "vectors"),
    (lambda: real_sph_harm(2, V, normalization="unit"), ValueError, "normalization"),
    (lambda: real_sph_harm(2, np.zeros(3)), ValueError, "zero vector"),
    (lambda: gaunt_tensor_product(np.ones(5), np.ones(4)), ValueError, "x1"),
    (lambda: gaunt_tensor_product(np.ones(4), np.ones(3)), ValueError, "x2"),
    (lambda: gaunt_tensor_product(np.ones(4), np.ones(4), lmax_out=-1), ValueError, "lmax_out"),
    (lambda: gaunt_tensor_product(np.ones(4), np.ones(4), lmax_out=2.0), TypeError, "lmax_out"),
    (lambda: gaunt_tensor_product(np.ones(4), np.ones(4), method="fft"), ValueError, "method"),
    (lambda: gaunt_tensor_product(np.ones(4), np.ones(4, complex)), TypeError, "x2"),
    (lambda: gaunt_tensor_product(np.full(4, np.nan), np.ones(4)), ValueError, "x1"),
    (lambda: gaunt_tensor_product(np.ones((2, 4)), np.ones((3, 4))), ValueError, "do not broadcast"),
    (lambda: gaunt_tensor_product(np.ones(4), np.ones(4), weights=np.ones(4)), ValueError, "weights"),
    (lambda: gaunt_tensor_product(np.ones(4), np.ones(4), weights=np.array([np.nan])), ValueError, "weights"),
    (lambda: GauntTensorProduct(-1, 1), ValueError, "lmax1"),
    (lambda: GauntTensorProduct(1, True), TypeError, "lmax2"),
    (lambda: GauntTensorProduct(1, 1, dtype=np.float16), TypeError, "dtype"),
    (lambda: GauntTensorProduct(1, 1, method="s2"), ValueError, "method"),
    (lambda: GauntTensorProduct(1, 1).resolved_method("tpu"), ValueError, "device"),
    (lambda: wigner_D(-1, np.eye(3)), ValueError, "lmax"),
    (lambda: wigner_D(2, np.eye(2)), ValueError, "rotation"),
    (lambda: wigner_D(2, 2 * np.eye(3)), ValueError, "rotation must be orthogonal"),
    (lambda: wigner_D(2, np.full((3, 3), np.nan)), ValueError, "rotation"),
    (lambda: many_body_product(np.ones(4), 0, lmax_out=2), ValueError, "nu"),
    (lambda: many_body_product(np.ones(4), 2.0, lmax_out=2), TypeError, "nu"),
    (lambda: many_body_product(np.ones(5), 2, lmax_out=2), ValueError, "x"),
    (lambda: feature_interaction(np.ones(4), np.ones(5), lmax_out=1), ValueError, "x2"),
    (lambda: equivariant_convolution(np.ones((3, 4)), np.array([[0], [5]]), np.ones((1, 3)), np.ones((1, 2)),
                                     lmax_filter=1, lmax_out=1), ValueError, "edge_index"),
    (lambda: equivariant_convolution(np.ones((3, 4)), np.array([[0], [1]]), np.ones((2, 3)), np.ones((1, 2)),
                                     lmax_filter=1, lmax_out=1), ValueError, "edge_vectors"),
    (lambda: equivariant_convolution(np.ones((3, 4)), np.array([[0], [1]]), np.ones((1, 3)), np.ones((1, 5)),
                                     lmax_filter=1, lmax_out=1), ValueError, "radial_weights"),
    (lambda: equivariant_convolution(np.ones((3, 4)), np.array([[0], [1]]), np.ones((1, 3)), np.ones((1, 2)),
                                     lmax_filter=-1, lmax_out=1), ValueError, "lmax_filter"),
]


@pytest.mark.parametrize("call, exc, text", CATALOGUE, ids=[f"case{i}" for i in range(len(CATALOGUE))])
def test_bad_input_catalogue(call, exc, text):
    with pytest.raises(exc) as info:
        call()
    assert text in str(info.value), f"{text!r} not in {str(info.value)!r}"
