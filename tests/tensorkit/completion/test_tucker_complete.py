"""tucker_complete: planted recovery and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import tensorkit
from tensorkit.completion import rmse, tucker_complete
from tensorkit.observed import ObservedTensor


def _planted(shape=(20, 20, 20), ranks=(3, 3, 3), fraction=0.2, seed=0):
    rng = np.random.default_rng(seed)
    truth = tensorkit.TuckerTensor(rng.standard_normal(ranks),
                                   [rng.standard_normal((n, r)) for n, r in zip(shape, ranks, strict=True)])
    train, rest = ObservedTensor.from_dense(truth.to_dense()).split((fraction, 1 - fraction),
                                                                    random_state=seed)
    return truth, train, rest


def test_planted_tucker_recovered():
    truth, train, rest = _planted()
    model = tucker_complete(train, (3, 3, 3), reg=0.0, n_iter_max=300, stop_tol=1e-10, random_state=0)
    dense = truth.to_dense()
    rel = np.linalg.norm(model.to_dense() - dense) / np.linalg.norm(dense)
    assert rel < 1e-6, (rel, model.info.iterations)
    assert rmse(model, rest) < 1e-6 * np.std(rest.values)
    assert model.ranks == (3, 3, 3)


def test_backends_agree_and_validation():
    _, train, rest = _planted(shape=(10, 9, 8), ranks=(2, 3, 2), fraction=0.4)
    a = tucker_complete(train, (2, 3, 2), n_iter_max=4, stop_tol=0, backend="numpy", random_state=0)
    b = tucker_complete(train, (2, 3, 2), n_iter_max=4, stop_tol=0, backend="numba", random_state=0)
    np.testing.assert_allclose(b.to_dense(), a.to_dense(), rtol=1e-8, atol=1e-10)
    c = tucker_complete(train, (2, 3, 2), validation=rest, n_iter_max=4, random_state=0)
    assert len(c.info.extras["validation_history"]) == c.info.iterations


@pytest.mark.parametrize(
    ("rank", "kwargs", "error", "match"),
    [
        (True, {}, TypeError, "bool"),
        ((2, 0, 2), {}, ValueError, r"rank\[1\] must be >= 1"),
        ((2, 2), {}, ValueError, "one per axis"),
        ((11, 2, 2), {}, ValueError, "exceeds the size"),
        ((3, 3, 3), {"init": "x"}, ValueError, "init"),
    ],
)
def test_bad_arguments(rank, kwargs, error, match):
    _, train, _ = _planted(shape=(10, 9, 8), fraction=0.4)
    with pytest.raises(error, match=match):
        tucker_complete(train, rank, **kwargs)


def test_underdetermined_without_regularization():
    _, train, _ = _planted(shape=(10, 9, 8), fraction=0.02, seed=1)
    with pytest.raises(ValueError, match="reg=0"):
        tucker_complete(train, (3, 3, 3), reg=0.0)
    model = tucker_complete(train, (3, 3, 3), reg=1e-2, n_iter_max=3, random_state=0)
    assert np.all(np.isfinite(model.to_dense()))
