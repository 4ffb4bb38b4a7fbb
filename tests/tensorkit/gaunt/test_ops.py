import numpy as np
import pytest

from tensorkit.gaunt import (
    equivariant_convolution,
    feature_interaction,
    gaunt_tensor_product,
    many_body_product,
    real_sph_harm,
    wigner_D,
)

from .scipy_oracle import random_rotation, scipy_real_sph_harm, sphere_grid


def test_feature_interaction_self_and_pair():
    rng = np.random.default_rng(0)
    h, g = rng.standard_normal((2, 4, 3, 9))
    w = rng.standard_normal((3, 3))
    np.testing.assert_allclose(feature_interaction(h, lmax_out=2, weights=w),
                               gaunt_tensor_product(h, h.copy(), lmax_out=2, weights=w), atol=1e-14)
    np.testing.assert_allclose(feature_interaction(h, g, lmax_out=4),
                               gaunt_tensor_product(h, g, lmax_out=4), atol=1e-14)


def _conv_setup(rng, n=6, e=10, c=2):
    pos = rng.standard_normal((n, 3))
    edges = np.stack([rng.integers(0, n, e), rng.integers(0, n, e)])
    edges[1, edges[0] == edges[1]] = (edges[0, edges[0] == edges[1]] + 1) % n
    h = rng.standard_normal((n, c, 9))  # L = 2
    radial = rng.standard_normal((e, c, 3))  # lmax_filter = 2
    return pos, edges, h, radial


def test_equivariant_convolution_matches_edge_loop():
    rng = np.random.default_rng(1)
    pos, edges, h, radial = _conv_setup(rng)
    vec = pos[edges[1]] - pos[edges[0]]
    out = equivariant_convolution(h, edges, vec, radial, lmax_filter=2, lmax_out=3)
    ref = np.zeros((6, 2, 16))
    l = np.repeat(np.arange(3), 2 * np.arange(3) + 1)
    for k, (s, t) in enumerate(edges.T):
        filt = scipy_real_sph_harm(2, vec[k]) * radial[k][:, l]
        ref[t] += gaunt_tensor_product(h[s], filt, lmax_out=3, method="direct")
    np.testing.assert_allclose(out, ref, atol=1e-13)


def test_equivariant_convolution_radial_weights_without_channels():
    rng = np.random.default_rng(8)
    pos, edges, h, radial = _conv_setup(rng, e=10, c=10)  # as many channels as edges
    vec = pos[edges[1]] - pos[edges[0]]
    shared = radial[:, 0, :]  # (E, lmax_filter + 1): the same filter for every channel
    out = equivariant_convolution(h, edges, vec, shared, lmax_filter=2, lmax_out=2)
    ref = equivariant_convolution(h, edges, vec, np.repeat(shared[:, None, :], 10, axis=1),
                                  lmax_filter=2, lmax_out=2)
    np.testing.assert_allclose(out, ref, atol=1e-14)


@pytest.mark.parametrize(("dtype", "atol"), [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_equivariant_convolution_is_equivariant(dtype, atol):
    rng = np.random.default_rng(2)
    pos, edges, h, radial = _conv_setup(rng)
    r = random_rotation(rng)
    pos, h, radial = pos.astype(dtype), h.astype(dtype), radial.astype(dtype)
    out = equivariant_convolution(h, edges, pos[edges[1]] - pos[edges[0]], radial, lmax_filter=2,
                                  lmax_out=3)
    assert out.dtype == dtype
    pos_r = pos @ r.T.astype(dtype)
    h_r = h @ wigner_D(2, r).T.astype(dtype)
    out_r = equivariant_convolution(h_r, edges, pos_r[edges[1]] - pos_r[edges[0]], radial,
                                    lmax_filter=2, lmax_out=3)
    np.testing.assert_allclose(out_r, out @ wigner_D(3, r).T.astype(dtype), atol=atol * np.abs(out).max())


@pytest.mark.parametrize("nu", [1, 2, 3, 4])
def test_many_body_product_is_projection_of_the_power(nu):
    rng = np.random.default_rng(nu)
    x = rng.standard_normal((3, 9))  # L = 2
    lmax_out = 3
    pts, w = sphere_grid(12, 25)
    f = x @ scipy_real_sph_harm(2, pts).T
    ref = (f**nu * w) @ scipy_real_sph_harm(lmax_out, pts)
    weights = rng.standard_normal(lmax_out + 1)
    l = np.repeat(np.arange(lmax_out + 1), 2 * np.arange(lmax_out + 1) + 1)
    out = many_body_product(x, nu, lmax_out=lmax_out, weights=weights)
    np.testing.assert_allclose(out, ref * weights[l], atol=1e-12 * max(1.0, np.abs(ref).max()))


def test_many_body_equivariance_float32():
    rng = np.random.default_rng(5)
    r = random_rotation(rng)
    x = rng.standard_normal((4, 2, 9)).astype(np.float32)
    out = many_body_product(x, 3, lmax_out=2)
    out_r = many_body_product(x @ wigner_D(2, r).T.astype(np.float32), 3, lmax_out=2)
    expected = out @ wigner_D(2, r).T.astype(np.float32)
    np.testing.assert_allclose(out_r, expected, atol=1e-5 * np.abs(out).max())


def test_real_sph_harm_filter_consistency():
    v = np.random.default_rng(6).standard_normal((4, 3))
    np.testing.assert_allclose(real_sph_harm(3, v), scipy_real_sph_harm(3, v), atol=1e-13)


def test_bad_input():
    rng = np.random.default_rng(7)
    pos, edges, h, radial = _conv_setup(rng)
    vec = pos[edges[1]] - pos[edges[0]]
    with pytest.raises(ValueError, match=r"edge_index entries must lie in \[0, 6\)"):
        equivariant_convolution(h, edges + 1, vec, radial, lmax_filter=2, lmax_out=2)
    with pytest.raises(ValueError, match=r"edge_index must be an int array of shape \(2, E\)"):
        equivariant_convolution(h, edges.T, vec, radial, lmax_filter=2, lmax_out=2)
    with pytest.raises(ValueError, match="edge_vectors must have shape"):
        equivariant_convolution(h, edges, vec[:-1], radial, lmax_filter=2, lmax_out=2)
    with pytest.raises(ValueError, match="radial_weights must broadcast"):
        equivariant_convolution(h, edges, vec, radial[..., :2], lmax_filter=2, lmax_out=2)
    with pytest.raises(ValueError, match="zero vector"):
        equivariant_convolution(h, edges, np.zeros_like(vec), radial, lmax_filter=2, lmax_out=2)
    with pytest.raises(ValueError, match="nu must be >= 1, got 0"):
        many_body_product(h, 0, lmax_out=2)
    with pytest.raises(TypeError, match="nu must be an int"):
        many_body_product(h, True, lmax_out=2)
    with pytest.raises(ValueError, match="x must have last dimension"):
        many_body_product(np.ones((2, 5)), 2, lmax_out=2)
