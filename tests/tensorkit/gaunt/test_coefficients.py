import itertools

import numpy as np
import pytest

from tensorkit.gaunt import gaunt_coefficients

from .scipy_oracle import scipy_real_sph_harm, sphere_grid


def test_all_blocks_up_to_degree_3_match_sympy():
    wigner = pytest.importorskip("sympy.physics.wigner")
    worst = 0.0
    for l1, l2, l3 in itertools.product(range(4), repeat=3):
        g = gaunt_coefficients(l1, l2, l3)
        ref = np.array([[[float(wigner.real_gaunt(l1, l2, l3, m1, m2, m3))
                          for m3 in range(-l3, l3 + 1)]
                         for m2 in range(-l2, l2 + 1)]
                        for m1 in range(-l1, l1 + 1)])
        worst = max(worst, np.abs(g - ref).max())
    assert worst < 1e-15


def _quadrature_block(l1, l2, l3):
    n = (l1 + l2 + l3) // 2 + 2
    pts, w = sphere_grid(n, l1 + l2 + l3 + 3)
    y = scipy_real_sph_harm(max(l1, l2, l3), pts)
    b = [y[:, l * l:(l + 1) ** 2] for l in (l1, l2, l3)]
    return np.einsum("p,pa,pb,pc->abc", w, *b)


def test_random_blocks_up_to_degree_12_match_scipy_quadrature():
    rng = np.random.default_rng(0)
    for _ in range(8):
        l1, l2 = rng.integers(0, 13, size=2)
        l3 = int(rng.integers(abs(l1 - l2), min(l1 + l2, 12) + 1))
        np.testing.assert_allclose(gaunt_coefficients(int(l1), int(l2), l3), _quadrature_block(l1, l2, l3),
                                   atol=1e-14)


def test_degree_20_block_to_round_off():
    np.testing.assert_allclose(gaunt_coefficients(20, 18, 12), _quadrature_block(20, 18, 12), atol=1e-14)


def test_selection_rules_and_symmetry():
    assert not np.any(gaunt_coefficients(1, 1, 1))  # parity: l1 + l2 + l3 odd
    assert not np.any(gaunt_coefficients(1, 1, 4))  # triangle
    g = gaunt_coefficients(2, 3, 3)
    np.testing.assert_allclose(g, np.transpose(gaunt_coefficients(3, 2, 3), (1, 0, 2)), atol=1e-16)
    np.testing.assert_allclose(g, np.transpose(gaunt_coefficients(3, 3, 2), (2, 1, 0)), atol=1e-16)
    # Y_00 is 1/sqrt(4 pi): the (l, 0, l) block is the identity over sqrt(4 pi)
    np.testing.assert_allclose(gaunt_coefficients(5, 0, 5)[:, 0, :], np.eye(11) / np.sqrt(4 * np.pi),
                               atol=1e-15)


def test_read_only_and_bad_input():
    assert not gaunt_coefficients(1, 1, 2).flags.writeable
    with pytest.raises(ValueError, match="l2 must be >= 0"):
        gaunt_coefficients(1, -1, 2)
    with pytest.raises(TypeError, match="l3"):
        gaunt_coefficients(1, 1, 2.0)
