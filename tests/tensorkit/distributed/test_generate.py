"""generate_to_zarr: the same bytes on a 2-worker LocalCluster, in one process, for any chunk."""

from __future__ import annotations

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")

from tensorkit.distributed._generate import generate_to_zarr, sample_rng  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=":0", processes=True) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def sample(rng):
    return {"x": rng.standard_normal((3, 4)), "k": rng.integers(0, 10, size=2)}


def test_same_dataset_on_cluster_and_in_one_process(client, tmp_path):
    on_cluster = generate_to_zarr(sample, 11, tmp_path / "c.zarr", client=client, chunk=2,
                                  random_state=7, progress=False)
    local = generate_to_zarr(sample, 11, tmp_path / "l.zarr", chunk=5, random_state=7, progress=False)
    for name in ("x", "k"):
        assert on_cluster[name].shape[0] == 11
        assert np.array_equal(on_cluster[name][:], local[name][:])
    assert on_cluster["x"].chunks == (2, 3, 4) and on_cluster.attrs["random_state"] == 7
    # sample i is fn(sample_rng(random_state, i)), whatever block computed it
    assert np.array_equal(on_cluster["x"][9], sample(sample_rng(7, 9))["x"])
    other = generate_to_zarr(sample, 3, tmp_path / "o.zarr", random_state=8, progress=False)
    assert not np.array_equal(other["x"][:], local["x"][:3])


def test_single_array_lambda_and_refusals(client, tmp_path):
    g = generate_to_zarr(lambda rng: rng.random(2), 4, tmp_path / "a.zarr", client=client, chunk=3,
                         random_state=0, attrs={"what": "uniform"}, progress=False)
    assert g["data"].shape == (4, 2) and g.attrs["what"] == "uniform"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        generate_to_zarr(lambda rng: rng.random(2), 4, tmp_path / "a.zarr", random_state=0)
    g = generate_to_zarr(lambda rng: rng.random(1), 2, tmp_path / "a.zarr", random_state=0,
                         overwrite=True, progress=False)
    assert g["data"].shape == (2, 1)
    with pytest.raises(ValueError, match="n_samples"):
        generate_to_zarr(lambda rng: 0.0, 0, tmp_path / "b.zarr")
    with pytest.raises(TypeError, match="callable"):
        generate_to_zarr(3, 2, tmp_path / "b.zarr")
    fresh = generate_to_zarr(lambda rng: rng.random(1), 2, tmp_path / "c.zarr", progress=False)
    assert isinstance(fresh.attrs["random_state"], int)
