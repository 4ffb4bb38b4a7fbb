"""tensorkit.distributed cp_complete on a loopback LocalCluster against the single-machine
tensorkit.completion.cp_complete from the same initial model."""

from __future__ import annotations

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import tensorkit  # noqa: E402
from tensorkit.completion import cp_complete, initial_cp, rmse  # noqa: E402
from tensorkit.distributed._completion import cp_complete as dask_cp_complete  # noqa: E402
from tensorkit.observed import ObservedTensor  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                                  processes=False) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def _problem(shape=(14, 12, 10), rank=3, fraction=0.3, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    X = tensorkit.CPTensor(np.ones(rank), [rng.standard_normal((n, rank)) for n in shape]).to_dense()
    X = X + noise * rng.standard_normal(shape)
    return ObservedTensor.from_dense(X).split((fraction, 1 - fraction), random_state=seed)


@pytest.mark.parametrize(("chunk_size", "reg"), [(97, 1e-3), (10_000, 0.0)])
def test_matches_single_machine_from_the_same_start(client, chunk_size, reg):
    train, test = _problem()
    start = initial_cp(train, 3, random_state=0)
    ref = cp_complete(train, 3, reg=reg, init=start, n_iter_max=15, stop_tol=0)
    got = dask_cp_complete(train, 3, reg=reg, init=start, n_iter_max=15, stop_tol=0, chunk_size=chunk_size,
                           client=client)
    assert got.info.iterations == ref.info.iterations == 15
    dense = ref.to_dense()
    np.testing.assert_allclose(got.to_dense(), dense, rtol=0, atol=1e-10 * np.abs(dense).max())
    np.testing.assert_allclose(got.info.history, ref.info.history, rtol=1e-10)
    assert got.info.extras["chunks"] == -(-train.nnz // chunk_size)
    assert rmse(got, test) < 0.2


def test_default_init_and_reg_and_bad_input(client):
    train, _ = _problem(seed=1)
    ref = cp_complete(train, 2, n_iter_max=5, stop_tol=0, random_state=0)
    got = dask_cp_complete(train, 2, n_iter_max=5, stop_tol=0, random_state=0, chunk_size=200, client=client)
    np.testing.assert_allclose(got.to_dense(), ref.to_dense(), atol=1e-10 * np.abs(ref.to_dense()).max())
    with pytest.raises(TypeError, match="ObservedTensor"):
        dask_cp_complete(np.ones((3, 3)), 2, client=client)
    with pytest.raises(ValueError, match="rank"):
        dask_cp_complete(train, 0, client=client)
    with pytest.raises(ValueError, match="chunk_size"):
        dask_cp_complete(train, 2, chunk_size=0, client=client)
    with pytest.raises(ValueError, match="init has shape"):
        dask_cp_complete(train, 3, init=initial_cp(train, 2, random_state=0), client=client)
