"""tensorkit.distributed.tucker, the Zarr/HDF5 readers and compress_on_dask on a loopback
LocalCluster (2 worker processes x 1 thread), against the in-memory tensorkit.tucker."""

from __future__ import annotations

import os

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")

import dask  # noqa: E402

import tensorkit  # noqa: E402
from tensorkit.distributed._cluster import compress_on_dask, retry_once  # noqa: E402
from tensorkit.distributed._io import from_hdf5, from_zarr  # noqa: E402
from tensorkit.distributed._tucker import tucker  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=":0", processes=True) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def low_rank(shape, ranks, noise, seed=0):
    rng = np.random.default_rng(seed)
    core = rng.standard_normal(ranks)
    X = core
    for k, (n, r) in enumerate(zip(shape, ranks, strict=True)):
        U = np.linalg.qr(rng.standard_normal((n, r)))[0]
        X = np.moveaxis(np.tensordot(U, X, axes=(1, k)), 0, k)
    return X + noise * rng.standard_normal(shape)


def decaying(shape, seed=1):
    """A tensor whose unfoldings have singular values 2^-i (rank decided by tol)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal(shape)
    for k, n in enumerate(shape):
        U = np.linalg.qr(rng.standard_normal((n, n)))[0] * 0.5 ** np.arange(n)
        X = np.moveaxis(np.tensordot(U, X, axes=(1, k)), 0, k)
    return X


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("method", ["st_hosvd", "hosvd", "randomized"])
def test_equals_in_memory_tucker(client, method):
    X = low_rank((20, 24, 18), (4, 5, 3), 1e-6)
    options = {} if method == "hosvd" else {"mode_order": [2, 0, 1]}
    T = tucker(da.from_array(X, chunks=(7, 9, 6)), (4, 5, 3), method=method, random_state=0, **options)
    R = tensorkit.tucker(X, (4, 5, 3), method=method, random_state=0, **options)
    assert T.ranks == (4, 5, 3) and isinstance(T.core, np.ndarray) and T.info.method == method
    assert rel(T.to_dense(), R.to_dense()) < 1e-10
    assert T.info.rel_error == pytest.approx(R.info.rel_error, rel=1e-4)
    assert T.info.extras["passes"] == {"st_hosvd": 2, "hosvd": 4, "randomized": 3}[method]


@pytest.mark.parametrize("shape", [(30, 40), (6, 7, 5, 8)])
def test_any_order(client, shape):
    X = decaying(shape)
    T = tucker(da.from_array(X, chunks=4), tol=1e-4)
    R = tensorkit.tucker(X, tol=1e-4, mode_order=_order(T))
    assert T.ranks == R.ranks and rel(T.to_dense(), X) <= 1e-4


def _order(T):
    from tensorkit.decomposition import st_hosvd_mode_order

    return st_hosvd_mode_order(tuple(f.shape[0] for f in T.factors), None)


@pytest.mark.parametrize("method", ["st_hosvd", "hosvd", "randomized"])
@pytest.mark.parametrize("tol", [1e-2, 1e-11])
def test_tol_guarantee_and_accurate_path(client, method, tol):
    X = decaying((24, 20, 22))
    T = tucker(da.from_array(X, chunks=(8, 10, 11)), tol=tol, method=method, random_state=0)
    error = rel(T.to_dense(), X)
    assert error <= tol and T.info.rel_error == pytest.approx(error, rel=1e-3, abs=1e-14)
    if method != "randomized":
        assert T.ranks == tensorkit.tucker(X, tol=tol, method=method, mode_order=_order(T)).ranks
    # 2^-36 < sqrt(eps): the Gram matrix cannot resolve tol=1e-11, the TSQR route does
    assert bool(T.info.extras["accurate_modes"]) == (tol == 1e-11)


def test_float32_and_scaling(client):
    X = low_rank((16, 18, 20), (3, 4, 2), 1e-3)
    T32 = tucker(da.from_array(X.astype(np.float32), chunks=7), (3, 4, 2))
    T64 = tucker(da.from_array(X, chunks=7), (3, 4, 2))
    assert T32.core.dtype == np.float32 and T32.factors[0].dtype == np.float32
    assert rel(T32.to_dense().astype(np.float64), T64.to_dense()) < 1e-5
    for c in (1e-300, 1e300):  # squares of these overflow or underflow: the chunks are scaled
        Tc = tucker(da.from_array(X * c, chunks=7), tol=5e-2)
        assert Tc.ranks == (3, 4, 2) and Tc.info.rel_error < 5e-2
        assert rel(Tc.to_dense() / c, X) < 5e-2


def test_bad_input(client):
    X = da.ones((4, 5, 6), chunks=2)
    with pytest.raises(TypeError, match="dask.array.Array"):
        tucker(np.ones((4, 5, 6)), 2)
    with pytest.raises(ValueError, match="exactly one of rank and tol"):
        tucker(X, 2, tol=0.1)
    with pytest.raises(ValueError, match="method"):
        tucker(X, 2, method="hooi")
    with pytest.raises(ValueError, match="exceeds the size of mode 0"):
        tucker(X, (5, 2, 2))
    with pytest.raises(ValueError, match="non-finite"):
        tucker(da.from_array(np.full((4, 5, 6), np.nan), chunks=2), 2)
    with pytest.raises(TypeError, match="complex"):
        tucker(X.astype(complex), 2)


def test_survives_a_killed_worker(client, tmp_path):
    marker = str(tmp_path / "killed")
    X = low_rank((16, 12, 10), (2, 3, 2), 1e-8)

    def load(block):
        # the first task to run kills its worker process; dask reruns it on a fresh one
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)
        return block

    A = da.from_array(X, chunks=(4, 12, 10)).map_blocks(load, meta=np.empty((0, 0, 0)))
    T = tucker(A, (2, 3, 2))
    assert os.path.exists(marker) and T.info.rel_error < 1e-6


def test_retry_once_then_one_clear_error(client, monkeypatch):
    from distributed.client import FutureCancelledError

    X = low_rank((10, 11, 12), (2, 2, 2), 1e-8)
    A = da.from_array(X, chunks=5)
    real, calls = dask.compute, []

    def flaky(failing):
        def compute(*args, **kwargs):
            calls.append(1)
            if len(calls) in failing:
                raise FutureCancelledError("gram", "lost dependencies")
            return real(*args, **kwargs)
        return compute

    monkeypatch.setattr(dask, "compute", flaky({2}))
    assert rel(tucker(A, 2).to_dense(), X) < 1e-6  # the second pass failed once: started over
    calls.clear()
    monkeypatch.setattr(dask, "compute", flaky({2, 4}))
    with pytest.raises(RuntimeError, match=r"lost its data twice while computing tucker\[st_hosvd\]"):
        tucker(A, 2)
    with pytest.raises(ZeroDivisionError):  # other errors are not retried
        retry_once(lambda: 1 / 0, "dividing")


def test_zarr_hdf5_and_compress_on_dask(client, tmp_path, capsys):
    h5py = pytest.importorskip("h5py")
    X = low_rank((12, 14, 16), (3, 3, 3), 1e-9).astype(np.float32)
    store = tmp_path / "big.zarr"
    zarr.create_array(str(store), shape=X.shape, chunks=(6, 7, 8), dtype="f4")[:] = X
    A = from_zarr(store)
    assert A.chunksize == (6, 7, 8) and np.array_equal(A.compute(), X)
    with h5py.File(tmp_path / "big.h5", "w") as f:
        f.create_dataset("field", data=X, chunks=(4, 14, 16))
    H = from_hdf5(tmp_path / "big.h5", "field")
    assert H.chunksize == (4, 14, 16) and np.array_equal(H.compute(), X)
    with pytest.raises(ValueError, match="no dataset 'nope'"):
        from_hdf5(tmp_path / "big.h5", "nope")
    with pytest.raises(FileNotFoundError):
        from_zarr(tmp_path / "missing.zarr")
    out = tmp_path / "out.npz"
    T = compress_on_dask(store, rank=[3], tol=None, method="st_hosvd", dataset=None,
                         scheduler=client.scheduler.address, output=out, progress=False)
    assert "ranks        (3, 3, 3)" in capsys.readouterr().out
    loaded = tensorkit.formats.TuckerTensor.load(out)
    assert loaded.ranks == (3, 3, 3) and rel(loaded.to_dense(), T.to_dense()) == 0.0
    T5 = compress_on_dask(tmp_path / "big.h5", rank=None, tol=1e-3, method="randomized", dataset=None,
                          scheduler=client.scheduler.address, output=out, progress=False)
    assert T5.ranks == (3, 3, 3)
