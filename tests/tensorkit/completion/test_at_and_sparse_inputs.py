"""CPTensor.at / TuckerTensor.at against the dense tensor (every kernel set), mttkrp and cp with an
ObservedTensor against the COO triple, and the completion plots."""

from __future__ import annotations

import numpy as np
import pytest

import tensorkit
from tensorkit import _kernels
from tensorkit.completion import cp_complete, plot_error_history, plot_predictions
from tensorkit.observed import ObservedTensor
from tensorkit.tenalg import mttkrp


def _cells(shape, n, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, s, n) for s in shape], axis=1)


def _cp(shape, rank, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return tensorkit.CPTensor(rng.standard_normal(rank).astype(dtype),
                              [rng.standard_normal((n, rank)).astype(dtype) for n in shape])


def _tucker(shape, ranks, seed=0):
    rng = np.random.default_rng(seed)
    return tensorkit.TuckerTensor(rng.standard_normal(ranks),
                                  [rng.standard_normal((n, r)) for n, r in zip(shape, ranks, strict=True)])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("shape", [(5, 6), (4, 5, 6), (3, 4, 2, 5)])
def test_at_matches_dense(backend, shape):
    cells = _cells(shape, 50)
    C = _cp(shape, 3)
    np.testing.assert_allclose(C.at(cells, backend=backend), C.to_dense()[tuple(cells.T)], rtol=1e-12)
    T = _tucker(shape, tuple(min(n, r) for n, r in zip(shape, (2, 3, 4, 2), strict=False)))
    np.testing.assert_allclose(T.at(cells, backend=backend), T.to_dense()[tuple(cells.T)], rtol=1e-11,
                               atol=1e-12)


def test_at_large_batches_take_the_parallel_kernels_and_keep_dtypes():
    shape = (40, 30, 20)
    cells = _cells(shape, 20_000, seed=1)
    C = _cp(shape, 64, seed=1)
    np.testing.assert_allclose(C.at(cells), C.to_dense()[tuple(cells.T)], rtol=1e-10, atol=1e-10)
    T = _tucker(shape, (8, 8, 8), seed=1)
    np.testing.assert_allclose(T.at(cells), T.to_dense()[tuple(cells.T)], rtol=1e-10, atol=1e-10)
    assert _cp(shape, 2, dtype=np.float32).at(cells[:5]).dtype == np.float32
    complex_cp = tensorkit.CPTensor([1.0 + 1j], [np.ones((2, 1)), np.full((3, 1), 2j)])
    np.testing.assert_allclose(complex_cp.at([[1, 2]]), complex_cp.to_dense()[1, 2])


def test_at_bad_cells():
    C = _cp((3, 4), 2)
    assert C.at(np.array([2, 3])).shape == (1,)  # one cell as a flat index tuple
    assert C.at(np.zeros((0, 2), dtype=np.int64)).shape == (0,)
    with pytest.raises(ValueError, match=r"mode 1 must lie in \[0, 4\)"):
        C.at([[0, 4]])
    with pytest.raises(ValueError, match=r"mode 0 must lie in \[0, 3\)"):
        C.at([[-1, 0]])
    with pytest.raises(ValueError, match=r"shape \(nnz, 2\)"):
        C.at([[0, 1, 2]])
    with pytest.raises(TypeError, match="integers"):
        _tucker((3, 4), (2, 2)).at([[0.5, 1.0]])


@pytest.mark.cuda_kernel
def test_cuda_values_kernels_match_reference():
    """Runs under NUMBA_ENABLE_CUDASIM=1 on numpy arrays (tiny sizes), or on CuPy arrays on a GPU."""
    from tensorkit._kernels import cuda, reference
    from tensorkit.backend import gpu_available, to_device, to_numpy

    device = "gpu" if gpu_available() else "cpu"
    put = lambda a: to_device(a, device)  # noqa: E731
    shape = (4, 3, 5)
    cells = _cells(shape, 17, seed=2)
    C = _cp(shape, 2, seed=2)
    got = cuda.cp_values(put(cells), put(C.weights), [put(f) for f in C.factors])
    np.testing.assert_allclose(to_numpy(got), reference.cp_values(cells, C.weights, C.factors), rtol=1e-12)
    T = _tucker(shape, (2, 3, 2), seed=2)
    got = cuda.tucker_values(put(cells), put(T.core), [put(f) for f in T.factors])
    np.testing.assert_allclose(to_numpy(got), T.to_dense()[tuple(cells.T)], rtol=1e-12)


def test_values_dispatch_agrees_across_backends():
    shape = (6, 5, 4)
    cells = _cells(shape, 30, seed=3)
    C, T = _cp(shape, 3, seed=3), _tucker(shape, (2, 3, 2), seed=3)
    np.testing.assert_allclose(_kernels.cp_values(cells, C.weights, C.factors, "numba"),
                               _kernels.cp_values(cells, C.weights, C.factors, "numpy"), rtol=1e-12)
    np.testing.assert_allclose(_kernels.tucker_values(cells, T.core, T.factors, "numba"),
                               _kernels.tucker_values(cells, T.core, T.factors, "numpy"), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:CP-ALS stopped by n_iter_max:RuntimeWarning")
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_mttkrp_and_cp_accept_an_observed_tensor(backend):
    shape = (6, 7, 5)
    rng = np.random.default_rng(4)
    X = np.where(rng.random(shape) < 0.4, rng.standard_normal(shape), np.nan)
    obs = ObservedTensor.from_dense(X)
    triple = (obs.indices, obs.values, obs.shape)
    factors = [rng.standard_normal((n, 3)) for n in shape]
    for mode in range(3):
        np.testing.assert_allclose(mttkrp(obs, factors, mode, backend=backend),
                                   mttkrp(triple, factors, mode, backend=backend), rtol=1e-12)
        # the missing cells count as zeros, as in the triple
        np.testing.assert_allclose(mttkrp(obs, factors, mode), mttkrp(np.nan_to_num(X), factors, mode),
                                   rtol=1e-10, atol=1e-12)
    a = tensorkit.cp(obs, 2, n_iter_max=5, random_state=0, backend=backend)
    b = tensorkit.cp(triple, 2, n_iter_max=5, random_state=0, backend=backend)
    np.testing.assert_allclose(a.to_dense(), b.to_dense(), rtol=1e-12, atol=1e-12)


def test_plots_draw_and_write_atomically(tmp_path):
    rng = np.random.default_rng(5)
    X = _cp((10, 9, 8), 2, seed=5).to_dense()
    train, validation, test = ObservedTensor.from_dense(X + 0.01 * rng.standard_normal(X.shape)).split(
        (0.4, 0.1, 0.5), random_state=0)
    model = cp_complete(train, 2, validation=validation, n_iter_max=8, random_state=0)
    fig = plot_error_history(model, tmp_path / "history.png")
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels[:2] == ["train", "validation"]
    fig = plot_predictions(model, test, tmp_path / "pred.svg", max_points=50)
    assert len(fig.axes[0].collections[0].get_offsets()) == 50
    assert (tmp_path / "history.png").stat().st_size > 0 and (tmp_path / "pred.svg").stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.png", "pred.svg"]  # no temporaries
    with pytest.raises(TypeError, match="fit"):
        plot_error_history(object())
    with pytest.raises(TypeError, match="ObservedTensor"):
        plot_predictions(model, X)
    with pytest.raises(FileNotFoundError):
        plot_predictions(model, test, tmp_path / "missing" / "p.png")
