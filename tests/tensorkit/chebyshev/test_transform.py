"""Chebyshev points and the DCT-I transforms against numpy.polynomial.chebyshev and scipy."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest
import scipy.fft
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.polynomial import chebyshev as npc

from tensorkit.chebyshev import (
    chebyshev_points,
    chebyshev_vandermonde,
    coefficients_to_values,
    values_to_coefficients,
)
from tensorkit.chebyshev._transform import dct1_by_fft


def test_points_are_the_second_kind_extrema():
    x = chebyshev_points(9)
    np.testing.assert_allclose(x, -np.cos(np.pi * np.arange(9) / 8), atol=1e-15)
    assert x[4] == 0.0 and np.all(np.diff(x) > 0)
    np.testing.assert_allclose(chebyshev_points(5, (2.0, 4.0)), 3.0 + chebyshev_points(5), atol=1e-15)
    assert chebyshev_points(1, (0, 2)).tolist() == [1.0]


@pytest.mark.parametrize("m", [2, 3, 8, 33])
def test_coefficients_recover_a_polynomial_exactly(m):
    # A polynomial of degree m-1 is its own interpolant: the transform must return its coefficients.
    c = np.random.default_rng(m).standard_normal(m)
    values = npc.chebval(chebyshev_points(m), c)
    np.testing.assert_allclose(values_to_coefficients(values), c, atol=1e-13)
    np.testing.assert_allclose(coefficients_to_values(c), values, atol=1e-13)


def test_matches_chebinterpolate_for_a_smooth_function():
    # chebinterpolate uses first-kind points; both interpolants converge to the Chebyshev series.
    f = np.exp
    ours = values_to_coefficients(f(chebyshev_points(31)))
    np.testing.assert_allclose(ours[:20], npc.chebinterpolate(f, 30)[:20], atol=1e-14)


def test_axes_and_dtypes():
    rng = np.random.default_rng(0)
    c = rng.standard_normal((5, 6, 7))
    v = npc.chebgrid3d(chebyshev_points(5), chebyshev_points(6), chebyshev_points(7), c)
    np.testing.assert_allclose(values_to_coefficients(v), c, atol=1e-12)
    partial = values_to_coefficients(v, axes=(0, 2))
    np.testing.assert_allclose(values_to_coefficients(partial, axes=1), c, atol=1e-12)
    v32 = values_to_coefficients(v.astype(np.float32))
    assert v32.dtype == np.float32
    np.testing.assert_allclose(v32, c, atol=1e-4)
    z = values_to_coefficients(v + 1j * v, axes=-1)
    np.testing.assert_allclose(z, (1 + 1j) * values_to_coefficients(v, axes=2), atol=1e-12)


@pytest.mark.parametrize("shape, axis", [((7,), 0), ((3, 9), 1), ((5, 4, 2), 0)])
def test_fft_dct_matches_scipy(shape, axis):
    x = np.random.default_rng(1).standard_normal(shape)
    np.testing.assert_allclose(dct1_by_fft(x, axis, np), scipy.fft.dct(x, type=1, axis=axis),
                               atol=1e-12)


def test_vandermonde_is_chebvander():
    x = np.linspace(-1.5, 1.5, 11)  # outside [-1, 1] too: the recurrence extrapolates
    np.testing.assert_allclose(chebyshev_vandermonde(x, 6).T, npc.chebvander(x, 5), atol=1e-12)


@pytest.mark.parametrize("m", [0, -1])
def test_bad_point_count(m):
    with pytest.raises(ValueError, match="m must be >= 1"):
        chebyshev_points(m)


@pytest.mark.parametrize("m", [2.5, True, "3"])
def test_point_count_must_be_an_int(m):
    with pytest.raises(TypeError, match="m must be an int"):
        chebyshev_points(m)


def test_points_on_a_device():
    np.testing.assert_array_equal(chebyshev_points(5, (0, 2), device="cpu"), chebyshev_points(5, (0, 2)))
    assert isinstance(chebyshev_points(3, device="cpu"), np.ndarray)
    with pytest.raises(ValueError, match="device"):
        chebyshev_points(3, device="tpu")


@pytest.mark.parametrize("domain", [(1, 1), (2, 0), (0, np.inf), (0,), "ab"])
def test_bad_interval(domain):
    with pytest.raises(ValueError, match="domain"):
        chebyshev_points(4, domain)


def test_bad_axes():
    with pytest.raises(ValueError, match="out of range"):
        values_to_coefficients(np.ones((3, 3)), axes=2)


@settings(max_examples=15)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_transforms_are_inverse(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    np.testing.assert_allclose(coefficients_to_values(values_to_coefficients(x)), x, atol=1e-12)


@pytest.mark.parametrize("dtype, atol", [(np.float32, 1e-5), (np.float64, 1e-13), (np.complex128, 1e-13)])
def test_transforms_on_array_api_strict(dtype, atol):
    """A non-numpy namespace takes the FFT route that CuPy takes; array_api_strict refuses any
    numpy-only call on it, so this stands in for the GPU without one."""
    xs = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5, 3)).astype(dtype)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(x.shape)
    for transform, axes in [(values_to_coefficients, None), (values_to_coefficients, 1),
                            (coefficients_to_values, (0, 2))]:
        out = transform(xs.asarray(x), axes=axes)
        assert array_api_compat.is_array_api_strict_namespace(array_api_compat.array_namespace(out))
        assert out.dtype == xs.asarray(x).dtype
        np.testing.assert_allclose(np.from_dlpack(out), transform(x, axes=axes), atol=atol)
    t = np.linspace(-1, 1, 7).astype(np.float32 if dtype == np.float32 else np.float64)
    np.testing.assert_allclose(np.from_dlpack(chebyshev_vandermonde(xs.asarray(t), 5)),
                               chebyshev_vandermonde(t, 5), atol=atol)
