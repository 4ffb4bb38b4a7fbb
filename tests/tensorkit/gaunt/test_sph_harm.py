import numpy as np
import pytest

from tensorkit.gaunt import real_sph_harm

from .scipy_oracle import scipy_real_sph_harm, sphere_grid


def test_matches_scipy_oracle_up_to_degree_16():
    v = np.random.default_rng(0).standard_normal((40, 3))
    np.testing.assert_allclose(real_sph_harm(16, v), scipy_real_sph_harm(16, v), atol=1e-12)


def test_orthonormal_by_quadrature():
    pts, w = sphere_grid(13, 25)
    y = real_sph_harm(12, pts)
    np.testing.assert_allclose((y * w[:, None]).T @ y, np.eye(169), atol=1e-13)


def test_degree_one_is_the_vector_and_poles_are_finite():
    v = np.array([[0.0, 3.0, 0.0], [0.0, -1.0, 0.0], [0.6, 0.0, 0.8]])
    y = real_sph_harm(6, v, normalization="component")
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y[:, 1:4], np.sqrt(3) * v / np.linalg.norm(v, axis=1, keepdims=True))
    # on the polar axis (y) only the m = 0 harmonics survive
    m = np.concatenate([np.arange(-l, l + 1) for l in range(7)])
    np.testing.assert_allclose(y[0, m != 0], 0.0, atol=1e-15)


@pytest.mark.parametrize("normalization", ["integral", "component", "norm"])
def test_normalizations(normalization):
    v = np.random.default_rng(1).standard_normal((5, 3))
    y = real_sph_harm(4, v, normalization=normalization)
    base = real_sph_harm(4, v)
    l = np.repeat(np.arange(5), 2 * np.arange(5) + 1)
    scale = {"integral": 1.0, "component": np.sqrt(4 * np.pi),
             "norm": np.sqrt(4 * np.pi / (2 * l + 1))}[normalization]
    np.testing.assert_allclose(y, base * scale, rtol=1e-14)
    if normalization == "norm":
        for deg in range(5):
            np.testing.assert_allclose(np.linalg.norm(y[:, l == deg], axis=1), 1.0, rtol=1e-13)


def test_float32_and_batch_shape():
    v = np.random.default_rng(2).standard_normal((2, 3, 3)).astype(np.float32)
    y = real_sph_harm(5, v)
    assert y.dtype == np.float32 and y.shape == (2, 3, 36)
    np.testing.assert_allclose(y, real_sph_harm(5, v.astype(np.float64)), atol=1e-5)


@pytest.mark.parametrize("normalization", ["integral", "component", "norm"])
def test_matches_e3nn(normalization):
    torch = pytest.importorskip("torch")
    o3 = pytest.importorskip("e3nn.o3")
    v = np.random.default_rng(3).standard_normal((30, 3))
    ref = o3.spherical_harmonics(list(range(12)), torch.tensor(v), normalize=True,
                                 normalization=normalization).numpy()
    np.testing.assert_allclose(real_sph_harm(11, v, normalization=normalization), ref, atol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="zero vector"):
        real_sph_harm(2, np.array([[1.0, 0, 0], [0, 0, 0]]))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        real_sph_harm(2, np.ones((4, 2)))
    with pytest.raises(ValueError, match="lmax must be >= 0"):
        real_sph_harm(-1, np.ones(3))
    with pytest.raises(TypeError, match="lmax"):
        real_sph_harm(1.5, np.ones(3))
    with pytest.raises(ValueError, match="normalization"):
        real_sph_harm(2, np.ones(3), normalization="unit")
    with pytest.raises(ValueError, match="non-finite"):
        real_sph_harm(2, np.array([np.nan, 0, 1.0]))
