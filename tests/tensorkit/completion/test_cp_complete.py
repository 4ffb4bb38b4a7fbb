"""cp_complete: planted recovery (ALS and WOPT), early stopping, metrics, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import tensorkit
from tensorkit.completion import cp_complete, mae, nrmse, rmse, values_at
from tensorkit.observed import ObservedTensor


def _planted(shape=(30, 30, 30), rank=3, fraction=0.2, seed=0, noise=0.0):
    rng = np.random.default_rng(seed)
    truth = tensorkit.CPTensor(np.ones(rank), [rng.standard_normal((n, rank)) for n in shape])
    X = truth.to_dense()
    X = X + noise * rng.standard_normal(X.shape)
    train, rest = ObservedTensor.from_dense(X).split((fraction, 1 - fraction), random_state=seed)
    return truth, train, rest


@pytest.mark.parametrize("method", ["als", "wopt"])
def test_planted_rank3_recovered(method):
    truth, train, _ = _planted()
    model = cp_complete(train, 3, method=method, reg=0.0, n_iter_max=500, stop_tol=1e-10,
                        random_state=0)
    dense = truth.to_dense()
    rel = np.linalg.norm(model.to_dense() - dense) / np.linalg.norm(dense)
    assert rel < 1e-6, (method, rel, model.info.iterations)
    assert model.info.method == method
    assert model.info.history[-1] <= model.info.history[0]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_als_train_history_is_the_rmse_of_each_sweep(noise, backend):
    """The train RMSE is taken from the last mode's solve, not by evaluating the model: it must
    equal the model's RMSE on the training cells, for noisy fits and for nearly exact ones."""
    _, train, _ = _planted(shape=(12, 10, 8), fraction=0.5, noise=noise)
    for n in (1, 4):
        model = cp_complete(train, 3, reg=1e-6, n_iter_max=n, stop_tol=0, random_state=0, backend=backend)
        assert model.info.history[-1] == pytest.approx(rmse(model, train), rel=1e-9, abs=1e-14)


def test_backends_agree_and_init_from_a_model():
    _, train, _ = _planted(shape=(12, 10, 8), fraction=0.3)
    a = cp_complete(train, 3, reg=1e-3, n_iter_max=5, stop_tol=0, backend="numpy", random_state=1)
    b = cp_complete(train, 3, reg=1e-3, n_iter_max=5, stop_tol=0, backend="numba", random_state=1)
    np.testing.assert_allclose(b.to_dense(), a.to_dense(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(b.info.history, a.info.history, rtol=1e-8)
    c = cp_complete(train, 3, reg=1e-3, init=a, n_iter_max=1, stop_tol=0)
    assert c.info.history[0] <= a.info.history[-1] * (1 + 1e-9)


def test_early_stopping_returns_the_best_sweep():
    _, train, rest = _planted(shape=(15, 12, 10), fraction=0.15, noise=0.5, seed=3)
    validation, _test = rest.split((0.2, 0.8), random_state=0)
    model = cp_complete(train, 8, reg=0.0 + 1e-4, validation=validation, n_iter_max=300,
                        patience=5, stop_tol=0, random_state=0)
    extras = model.info.extras
    history = extras["validation_history"]
    assert extras["stopped_early"] and model.info.iterations < 300
    assert extras["best_iteration"] == int(np.argmin(history)) + 1
    assert model.info.iterations == extras["best_iteration"] + 5
    assert rmse(model, validation) == pytest.approx(min(history), rel=1e-10)


def test_metrics_match_dense_computation():
    _truth, train, rest = _planted(shape=(6, 7, 8), fraction=0.5)
    model = cp_complete(train, 2, n_iter_max=3, random_state=0)
    dense = model.to_dense()
    predicted = dense[tuple(rest.indices.T)]
    np.testing.assert_allclose(values_at(model, rest.indices), predicted, rtol=1e-12)
    residual = predicted - rest.values
    assert rmse(model, rest) == pytest.approx(np.sqrt(np.mean(residual**2)))
    assert mae(model, rest) == pytest.approx(np.mean(np.abs(residual)))
    assert nrmse(model, rest) == pytest.approx(np.sqrt(np.mean(residual**2)) / np.std(rest.values))
    assert rmse(lambda idx: dense[tuple(idx.T)], rest) == pytest.approx(rmse(model, rest))
    tucker = tensorkit.TuckerTensor(np.ones((1, 1, 1)), [np.ones((n, 1)) for n in (6, 7, 8)])
    assert rmse(tucker, rest) == pytest.approx(np.sqrt(np.mean((1 - rest.values) ** 2)))
    with pytest.raises(TypeError, match="model"):
        rmse("model", rest)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rank": True}, TypeError, "rank must be an int"),
        ({"rank": 0}, ValueError, "rank must be >= 1"),
        ({"method": "em"}, ValueError, "method"),
        ({"reg": -1.0}, ValueError, "reg"),
        ({"init": "hosvd"}, ValueError, "init"),
        ({"n_iter_max": 0}, ValueError, "n_iter_max"),
        ({"validation": np.ones(3)}, TypeError, "validation"),
        ({"rank": 8, "reg": 0.0}, ValueError, r"reg=0, rank 8 .* rows of mode"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    _, train, _ = _planted(shape=(6, 7, 8), fraction=0.2)
    kwargs = {"rank": 2, **kwargs}
    with pytest.raises(error, match=match):
        cp_complete(train, **kwargs)


def test_bad_obs():
    with pytest.raises(TypeError, match="ObservedTensor"):
        cp_complete(np.ones((3, 3)), 1)
    obs = ObservedTensor(np.zeros((0, 2), dtype=np.int64), np.zeros(0), (2, 2))
    with pytest.raises(ValueError, match="no observed cells"):
        cp_complete(obs, 1)
    _, train, _ = _planted(shape=(6, 7, 8), fraction=0.2)
    other = ObservedTensor([[0, 0]], [1.0], (6, 7))
    with pytest.raises(ValueError, match="validation has shape"):
        cp_complete(train, 2, validation=other)


def test_regularization_keeps_underdetermined_rows_solvable():
    _, train, _ = _planted(shape=(6, 7, 8), fraction=0.2)
    model = cp_complete(train, 8, reg=1e-2, n_iter_max=5, random_state=0)
    assert np.all(np.isfinite(model.to_dense()))
