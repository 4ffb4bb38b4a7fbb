import numpy as np
import pytest

from tensorkit.gaunt import real_sph_harm, wigner_D

from .scipy_oracle import random_rotation


def test_rotates_harmonics_and_is_orthogonal_homomorphism():
    rng = np.random.default_rng(0)
    r1, r2 = random_rotation(rng), random_rotation(rng)
    v = rng.standard_normal((20, 3))
    d1, d2 = wigner_D(8, np.stack([r1, r2]))
    np.testing.assert_allclose(real_sph_harm(8, v @ r1.T), real_sph_harm(8, v) @ d1.T, atol=1e-12)
    np.testing.assert_allclose(d1 @ d1.T, np.eye(81), atol=1e-13)
    np.testing.assert_allclose(wigner_D(8, r1 @ r2), d1 @ d2, atol=1e-12)
    # block diagonal with exact zeros off the blocks
    l = np.repeat(np.arange(9), 2 * np.arange(9) + 1)
    assert not np.any(d1[l[:, None] != l[None, :]])


def test_reflection_acts_by_parity():
    d = wigner_D(4, -np.eye(3))
    l = np.repeat(np.arange(5), 2 * np.arange(5) + 1)
    np.testing.assert_allclose(d, np.diag((-1.0) ** l), atol=1e-13)


def test_float32():
    r = random_rotation(np.random.default_rng(1)).astype(np.float32)
    d = wigner_D(3, r)
    assert d.dtype == np.float32
    np.testing.assert_allclose(d, wigner_D(3, r.astype(np.float64)), atol=1e-5)


def test_matches_e3nn():
    torch = pytest.importorskip("torch")
    o3 = pytest.importorskip("e3nn.o3")
    r = random_rotation(np.random.default_rng(2))
    ref = o3.Irreps.spherical_harmonics(5).D_from_matrix(torch.tensor(r)).numpy()
    # e3nn goes through Euler angles, which costs it some accuracy
    np.testing.assert_allclose(wigner_D(5, r), ref, atol=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="orthogonal"):
        wigner_D(2, np.diag([1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, 3\)"):
        wigner_D(2, np.eye(2))
    with pytest.raises(ValueError, match="lmax"):
        wigner_D(-2, np.eye(3))
