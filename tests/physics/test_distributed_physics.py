"""Darcy / Navier-Stokes / wave datasets and potentials of charges on a 2-worker LocalCluster."""

from __future__ import annotations

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")

import tensorkit.distributed  # noqa: E402
from tensorkit.distributed import _cluster, _generate  # noqa: E402

# Until tensorkit/distributed/__init__.py exports these names (physics imports only public names).
for _name, _module in (("generate_to_zarr", _generate), ("sample_rng", _generate),
                       ("cluster_client", _cluster)):
    if not hasattr(tensorkit.distributed, _name):
        setattr(tensorkit.distributed, _name, getattr(_module, _name))

from physics.electrostatics import (  # noqa: E402
    default_domain,
    default_long_range,
    direct_potential,
    long_range_potential,
    random_cluster,
)
from physics.electrostatics._distributed import (  # noqa: E402
    distributed_direct_potential,
    distributed_long_range_potential,
)
from physics.pde import darcy  # noqa: E402
from physics.pde._distributed import darcy_to_zarr, navier_stokes2d_to_zarr, wave2d_to_zarr  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=":0", processes=True) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def test_darcy_bit_identical_on_cluster(client, tmp_path):
    g = darcy_to_zarr(tmp_path / "c.zarr", 6, 16, client=client, chunk=2, random_state=3, progress=False)
    h = darcy_to_zarr(tmp_path / "l.zarr", 6, 16, chunk=4, random_state=3, progress=False)
    assert g["a"].shape == (6, 16, 16) and g.attrs["generator"] == "darcy"
    for name in ("a", "u"):
        assert np.array_equal(g[name][:], h[name][:])
    a, u = darcy(1, 16, random_state=_generate.sample_rng(3, 4), progress=False)
    assert np.array_equal(g["a"][4], a[0]) and np.array_equal(g["u"][4], u[0])


def test_navier_stokes_and_wave_bit_identical(client, tmp_path):
    options = {"t_final": 0.2, "n_snapshots": 3}
    g = navier_stokes2d_to_zarr(tmp_path / "n.zarr", 3, 16, client=client, chunk=1, random_state=0,
                                progress=False, **options)
    h = navier_stokes2d_to_zarr(tmp_path / "m.zarr", 3, 16, chunk=3, random_state=0, progress=False,
                                **options)
    assert g["w"].shape == (3, 3, 16, 16) and g.attrs["times"] == [0.0, 0.1, 0.2]
    assert np.array_equal(g["w"][:], h["w"][:])
    g = wave2d_to_zarr(tmp_path / "w.zarr", 2, 12, client=client, chunk=1, random_state=0,
                       progress=False, **options)
    h = wave2d_to_zarr(tmp_path / "v.zarr", 2, 12, random_state=0, progress=False, **options)
    assert g["u"].shape == (2, 3, 12, 12) and np.array_equal(g["u"][:], h["u"][:])
    with pytest.raises(TypeError, match="n_snapshots"):
        wave2d_to_zarr(tmp_path / "x.zarr", 2, 12, t_final=1.0)
    with pytest.raises(TypeError, match="device cannot be given"):
        navier_stokes2d_to_zarr(tmp_path / "x.zarr", 2, 16, device="cpu")


def test_potentials_split_by_charge_and_point(client):
    system = random_cluster(400, random_state=0)
    pos, q = system.positions, system.charges
    domain = default_domain(pos)
    lr = default_long_range(domain, 1e-7)
    single = long_range_potential(pos, q, tol=1e-7)
    split = distributed_long_range_potential(pos, q, client=client, chunk=150, tol=1e-7)
    points = np.random.default_rng(1).uniform(*np.array(domain).T, size=(100, 3))
    ref = direct_potential(pos, q, points, kernel="long_range", long_range=lr)
    scale = np.abs(ref).max()
    assert np.abs(single(points) - ref).max() <= 1e-6 * scale
    assert np.abs(split(points) - ref).max() <= 1e-6 * scale
    assert split.ranks == pytest.approx(single.ranks, abs=3)
    direct = distributed_direct_potential(pos, q, points, client=client, chunk=150, point_chunk=30,
                                          kernel="long_range", long_range=lr)
    np.testing.assert_allclose(direct, ref, rtol=1e-12, atol=1e-13 * scale)
    coulomb = distributed_direct_potential(pos, q, points, client=client, chunk=150)
    np.testing.assert_allclose(coulomb, direct_potential(pos, q, points), rtol=1e-12)
    with pytest.raises(ValueError, match="coincident"):
        distributed_long_range_potential(np.zeros((2, 3)), np.ones(2), client=client)
