"""Electrostatics: the Gaussian-sum kernel against 1/r, direct sums against scipy distances,
kernel backends against each other, the long-range potential against the direct sum."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from physics.electrostatics import (
    GaussianSum,
    default_long_range,
    direct_potential,
    lattice,
    long_range_potential,
    newton_kernel_terms,
    random_cluster,
    read_pqr,
    read_xyz,
)


@pytest.mark.parametrize("tol, r_min, r_max", [(1e-7, 2 / 256, 3.5), (1e-7, 1e-4, 1.0),
                                               (1e-4, 0.1, 50.0), (1e-10, 1e-2, 2.0)])
def test_gaussian_sum_matches_one_over_r(tol, r_min, r_max):
    k = newton_kernel_terms(tol, r_min, r_max)
    # random radii, not the construction's check grid
    r = np.exp(np.random.default_rng(0).uniform(np.log(r_min), np.log(r_max), 5000))
    assert np.max(np.abs(k(r) * r - 1.0)) <= tol
    assert np.all(np.diff(k.exponents) > 0) and k.exponents[0] == 0.0


def test_term_count_like_the_authors():
    # M about 25-38 for 1e-7 on grids of n = 256 .. 8192 points across the box
    counts = [len(newton_kernel_terms(1e-7, 2 * np.sqrt(3) / n, 2 * np.sqrt(3))) for n in (256, 8192)]
    assert 25 <= counts[0] <= counts[1] <= 45


def test_split_is_exact_and_explicit():
    k = newton_kernel_terms(1e-7, 1e-3, 1.0)
    long, short = k.split(n_long=10)
    assert len(long) == 10 and len(short) == len(k) - 10
    r = np.geomspace(1e-3, 1.0, 50)
    np.testing.assert_allclose(long(r) + short(r), k(r), rtol=1e-14)
    by_length, _ = k.split(length=0.25)
    assert np.all(1 / by_length.exponents[1:] >= 0.25) and len(by_length) < len(k)
    assert 1 / k.exponents[len(by_length)] < 0.25
    assert len(k.default_split()[0]) == (len(k) + 1) // 2 - 3
    with pytest.raises(ValueError, match="exactly one"):
        k.split()
    with pytest.raises(ValueError, match="n_long"):
        k.split(n_long=0)
    with pytest.raises(ValueError, match="length"):
        k.split(length=-1.0)


@pytest.mark.parametrize("args, match", [((0.0, 0.1, 1.0), "tol"), ((1e-7, 1.0, 0.5), "r_min < r_max"),
                                         ((1e-7, -1.0, 1.0), "r_min")])
def test_bad_kernel_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        newton_kernel_terms(*args)


def _system(n=30, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-2, 2, (n, 3)), rng.standard_normal(n), rng.uniform(-3, 3, (40, 3))


def test_direct_coulomb_matches_cdist(backend):
    pos, q, pts = _system()
    expected = (1.0 / cdist(pts, pos)) @ q
    np.testing.assert_allclose(direct_potential(pos, q, pts, backend=backend), expected, rtol=1e-12)


def test_direct_long_range_matches_cdist(backend):
    pos, q, pts = _system()
    long = newton_kernel_terms(1e-7, 0.01, 10.0).default_split()[0]
    expected = long(cdist(pts, pos)) @ q
    got = direct_potential(pos, q, pts, kernel="long_range", long_range=long, backend=backend)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_float32_direct_sum():
    pos, q, pts = _system()
    got = direct_potential(pos.astype(np.float32), q.astype(np.float32), pts.astype(np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, (1.0 / cdist(pts, pos)) @ q, rtol=1e-4, atol=1e-4)


def test_long_range_of_one_charge_on_the_cube():
    # The authors' test: tol 1e-7, relative max error on the middle slice <= 1e-7, ranks 9..15.
    for n in (256, 4096):
        long = newton_kernel_terms(1e-7, 2 / n, 2 * np.sqrt(3)).default_split()[0]
        V = long_range_potential(np.zeros((1, 3)), np.ones(1), domain=(-1, 1), tol=1e-7, long_range=long)
        x = np.linspace(-1, 1, 101)
        X, Y = np.meshgrid(x, x, indexing="ij")
        slab = np.column_stack([X.ravel(), Y.ravel(), np.zeros(X.size)])
        exact = long(np.linalg.norm(slab, axis=1))
        assert np.max(np.abs(V(slab) - exact)) / np.max(np.abs(exact)) <= 1e-7
        assert max(V.ranks) <= 15


def test_long_range_potential_matches_direct_sum():
    system = random_cluster(60, random_state=1)
    V = long_range_potential(*system, tol=1e-7)
    long = default_long_range(V.domain, 1e-7)
    rng = np.random.default_rng(2)
    pts = np.column_stack([rng.uniform(a, b, 400) for a, b in V.domain])
    ref = direct_potential(*system, pts, kernel="long_range", long_range=long)
    assert np.max(np.abs(V(pts) - ref)) <= 1e-6 * np.max(np.abs(ref))
    grid = V.on_grid(*[np.linspace(a, b, 5) for a, b in V.domain]).to_dense()
    g = np.stack(np.meshgrid(*[np.linspace(a, b, 5) for a, b in V.domain], indexing="ij"), -1)
    np.testing.assert_allclose(grid.ravel(), V(g.reshape(-1, 3)), atol=1e-12)


def test_float32_long_range_potential():
    system = random_cluster(30, random_state=4)
    V = long_range_potential(system.positions.astype(np.float32), system.charges.astype(np.float32),
                             tol=1e-5)
    assert V.dtype == np.float32
    long = default_long_range(V.domain, 1e-5)
    pts = np.random.default_rng(5).uniform(-2, 2, (100, 3)).astype(np.float32)
    ref = direct_potential(*system, pts.astype(np.float64), kernel="long_range", long_range=long)
    assert np.max(np.abs(V(pts) - ref)) <= 1e-4 * np.max(np.abs(ref))


def test_systems():
    pos, q = lattice((4, 3, 2), spacing=2.0)
    assert pos.shape == (24, 3) and set(q.tolist()) == {1.0, -1.0}
    np.testing.assert_allclose(pos.mean(axis=0), 0.0, atol=1e-12)
    assert np.min(cdist(pos, pos) + 10 * np.eye(24)) == pytest.approx(2.0)
    neighbours = cdist(pos, pos) == pytest.approx(2.0)
    assert np.all(q[:, None] * q[None, :] * neighbours <= 0)  # nearest neighbours alternate
    a, b = random_cluster(80, random_state=3), random_cluster(80, random_state=3)
    np.testing.assert_array_equal(a.positions, b.positions)
    d = cdist(a.positions, a.positions) + 10 * np.eye(80)
    assert d.min() >= 1.2 and abs(a.charges.sum()) < 1e-12
    with pytest.raises(ValueError, match="shape"):
        lattice((2, 2))
    with pytest.raises(ValueError, match="n_charges"):
        random_cluster(0)


def test_readers(tmp_path):
    xyz = tmp_path / "w.xyz"
    xyz.write_text("3\nwater\nO 0 0 0 -0.8\nH 0.96 0 0 0.4\nH -0.24 0.93 0 0.4\n")
    s = read_xyz(xyz)
    assert s.names == ["O", "H", "H"] and s.charges.tolist() == [-0.8, 0.4, 0.4]
    plain = tmp_path / "p.xyz"
    plain.write_text("2\n\nNa 0 0 0\nCl 2.8 0 0\n")
    assert read_xyz(plain, charges=[1, -1]).charges.tolist() == [1.0, -1.0]
    with pytest.raises(ValueError, match="no charge column"):
        read_xyz(plain)
    (tmp_path / "bad.xyz").write_text("3\n\nO 0 0 0\n")
    with pytest.raises(ValueError, match="announces 3 atoms"):
        read_xyz(tmp_path / "bad.xyz")
    pqr = tmp_path / "a.pqr"
    pqr.write_text("REMARK x\nATOM      1  N   ALA A   1      -0.677  -1.230  -0.491 -0.3000 1.8240\n"
                   "ATOM      2  CA  ALA     1       0.000   0.000  -0.131  0.0337 1.9080\nEND\n")
    s = read_pqr(pqr)
    assert s.positions.shape == (2, 3) and s.charges.tolist() == [-0.3, 0.0337]
    assert s.radii.tolist() == [1.824, 1.908] and s.names == ["N", "CA"]
    (tmp_path / "bad.pqr").write_text("ATOM 1 N ALA 1 x y z q r\n")
    with pytest.raises(ValueError, match="line 1"):
        read_pqr(tmp_path / "bad.pqr")
    with pytest.raises(ValueError, match="cannot read"):
        read_pqr(tmp_path / "missing.pqr")


def test_bad_charge_input():
    pos, q, pts = _system(n=3)
    with pytest.raises(ValueError, match=r"charges must have shape \(3,\)"):
        direct_potential(pos, q[:2], pts)
    with pytest.raises(ValueError, match="coincident charges"):
        direct_potential(np.vstack([pos, pos[:1]]), np.append(q, 1.0), pts)
    with pytest.raises(ValueError, match="coincide with a charge"):
        direct_potential(pos, q, pos[:2])
    long = newton_kernel_terms(1e-5, 0.1, 10.0).default_split()[0]
    assert np.all(np.isfinite(direct_potential(pos, q, pos[:2], kernel="long_range", long_range=long)))
    with pytest.raises(ValueError, match="needs long_range"):
        direct_potential(pos, q, pts, kernel="long_range")
    with pytest.raises(ValueError, match="kernel must be"):
        direct_potential(pos, q, pts, kernel="yukawa")
    with pytest.raises(ValueError, match="points must have shape"):
        direct_potential(pos, q, pts[:, :2])
    with pytest.raises(ValueError, match="charges must have shape"):
        long_range_potential(pos, q[:1])
    with pytest.raises(TypeError, match="GaussianSum"):
        long_range_potential(pos, q, long_range=(1.0, 2.0))
    with pytest.raises(ValueError, match="ascending"):
        GaussianSum(np.ones(2), np.array([2.0, 1.0]))


def test_readers_refuse_binary_files(tmp_path):
    from physics.electrostatics import read_pqr, read_xyz

    path = tmp_path / "garbage.xyz"
    path.write_bytes(bytes(range(256)))
    for reader in (read_xyz, read_pqr):
        with pytest.raises(ValueError, match="not a text file"):
            reader(path)
