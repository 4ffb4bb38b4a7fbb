"""FunctionalTucker: the authors' synthetic target, a wave field against binned Tucker completion,
calibration, the CP case, backends, chunking and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from physics.wave import wave2d
from tensorkit.functional import ContinuousObservations, FunctionalTucker
from tensorkit.functional._demo import binned_tucker_rmse, snapshot_observations, synthetic_case, u1, u2


def rmse(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_case(random_state=0)


@pytest.fixture(scope="module")
def synthetic_model(synthetic):
    train, test = synthetic
    return FunctionalTucker(1, kernel="matern32", lengthscale=0.1, n_epochs=30,
                            random_state=0).fit(train, test)


def test_synthetic_target(synthetic, synthetic_model):
    """The authors' case (675 / 675, noise-free, rank 1, Matern-3/2): test RMSE <= 0.004 (their log:
    0.004) and the factor functions track u1, u2 up to scale and sign."""
    _, test = synthetic
    assert rmse(synthetic_model.predict(test.coords), test.values) <= 0.004
    grid = np.linspace(0, 1, 101)
    for k, f in enumerate((u1, u2)):
        mean, var = synthetic_model.factor_functions(k, grid)
        assert mean.shape == var.shape == (101, 1)
        assert np.all(var >= 0)
        assert abs(np.corrcoef(mean[:, 0], f(grid))[0, 1]) >= 0.99


def test_info_records_history(synthetic_model):
    info = synthetic_model.info
    assert info.method == "funbat-tucker" and info.iterations == 30
    assert len(info.history) == 30 and len(info.extras["validation_rmse"]) == 30
    assert len(info.extras["evidence"]) == 30 and np.all(np.isfinite(info.extras["evidence"]))
    assert info.extras["validation_rmse"][-1] < 0.1 * info.extras["validation_rmse"][0]
    assert info.rel_error == info.history[-1]


def test_cp_core_matches_tucker_at_rank_one(synthetic, synthetic_model):
    train, test = synthetic
    cp = FunctionalTucker(1, kernel="matern32", lengthscale=0.1, n_epochs=30, core="cp",
                          random_state=0).fit(train)
    assert cp.info.method == "funbat-cp"
    np.testing.assert_allclose(cp.predict(test.coords), synthetic_model.predict(test.coords), atol=1e-9)


def test_backends_agree_and_chunking_does_not_matter(monkeypatch):
    rng = np.random.default_rng(3)
    X = rng.random((300, 3))
    obs = ContinuousObservations(X, np.sin(3 * X[:, 0]) * np.cos(2 * X[:, 1]) + X[:, 2])
    kw = dict(kernel="matern12", lengthscale=0.4, n_epochs=4, random_state=1)
    a = FunctionalTucker((2, 2, 3), backend="numpy", **kw).fit(obs).predict(X[:20])
    b = FunctionalTucker((2, 2, 3), backend="numba", **kw).fit(obs).predict(X[:20])
    monkeypatch.setattr("tensorkit.functional._model._CHUNK", 37)
    c = FunctionalTucker((2, 2, 3), **kw).fit(obs).predict(X[:20])
    np.testing.assert_allclose(a, b, atol=1e-10)
    np.testing.assert_allclose(b, c, atol=1e-10)


def test_wave_field_beats_binned_tucker_and_is_calibrated():
    """A simulated wave at 4,000 random (x, y, t), half held out: lower RMSE than Tucker completion
    on the best of three binnings at equal rank, and 95% intervals covering 90-98%."""
    u, _ = wave2d(1, 17, n_snapshots=11, t_final=1.0, random_state=0, progress=False)
    train, test = snapshot_observations(u[0], 1.0, 4000).split((0.5, 0.5), random_state=0)
    model = FunctionalTucker(3, lengthscale=0.15, n_epochs=15, random_state=0).fit(train)
    mean, std = model.predict(test.coords, return_std=True)
    ours = rmse(mean, test.values)
    binned = min(binned_tucker_rmse(train, test, 3, b) for b in (6, 10, 16))
    assert ours < binned
    assert 0.90 <= np.mean(np.abs(mean - test.values) <= 1.96 * std) <= 0.98


def test_prediction_outside_the_training_range_reverts_to_the_prior():
    rng = np.random.default_rng(0)
    X = rng.random((200, 2))
    obs = ContinuousObservations(X, np.cos(3 * X[:, 0]) * (1 + X[:, 1]))
    model = FunctionalTucker(1, lengthscale=0.2, n_epochs=10, random_state=0).fit(obs)
    _, near = model.predict([[0.5, 0.5]], return_std=True)
    _, far = model.predict([[50.0, 0.5]], return_std=True)
    mean_far = model.factor_functions(0, [-50.0, 50.0])[0]
    assert far[0] > 5 * near[0]
    np.testing.assert_allclose(mean_far, 0.0, atol=1e-8)


def test_observations_normalize_and_split():
    obs = ContinuousObservations(np.array([[2.0, 1.0], [4.0, 1.0], [3.0, 3.0], [2.0, 3.0]]),
                                 [1.0, 2.0, 3.0, 4.0])
    assert obs.lows == (2.0, 1.0) and obs.highs == (4.0, 3.0)
    np.testing.assert_allclose(obs.unique[0], [0.0, 5.0, 10.0])
    np.testing.assert_array_equal(obs.inverse[:, 0], [0, 2, 1, 0])
    rng = np.random.default_rng(0)
    big = ContinuousObservations(rng.random((100, 2)), rng.random(100))
    a, b = big.split((0.7, 0.3), random_state=0)
    assert (a.n_obs, b.n_obs) == (70, 30)
    assert "ContinuousObservations(n_obs=100" in repr(big)


@pytest.mark.parametrize(("coords", "values", "match"), [
    ([[0.0, np.nan], [1.0, 2.0]], [1.0, 2.0], "coords contains 1 non-finite"),
    ([[0.0, 1.0], [1.0, 2.0]], [1.0, np.inf], "values contains 1 non-finite"),
    ([[0.0, 1.0], [1.0, 1.0]], [1.0, 2.0], "mode 1 has a single distinct coordinate"),
    ([[0.0, 1.0], [1.0, 2.0]], [1.0, 2.0, 3.0], "coords must have shape"),
    ([], [], "non-empty"),
])
def test_bad_observations(coords, values, match):
    with pytest.raises(ValueError, match=match):
        ContinuousObservations(coords, values)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    (dict(lengthscale=0.0), ValueError, r"lengthscale\[0\] must be > 0"),
    (dict(lengthscale=(1.0, -1.0)), ValueError, r"lengthscale\[1\] must be > 0"),
    (dict(variance=0.0), ValueError, "variance must be > 0"),
    (dict(variance=True), TypeError, "variance must be a real number"),
    (dict(kernel="rbf"), ValueError, "kernel must be one of"),
    (dict(core="tt"), ValueError, "core must be one of"),
    (dict(damping=(0.5, 0.0, 1.0)), ValueError, r"damping\[1\] must be > 0"),
    (dict(noise_prior=(1.0, -1.0)), ValueError, r"noise_prior\[1\] must be > 0"),
    (dict(n_epochs=0), ValueError, "n_epochs must be >= 1"),
])
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        FunctionalTucker(1, **kwargs)


def test_bad_fit_and_predict_calls():
    rng = np.random.default_rng(0)
    obs = ContinuousObservations(rng.random((50, 2)), rng.random(50))
    with pytest.raises(ValueError, match=r"lengthscale\[2\]"):
        FunctionalTucker(1, lengthscale=(1.0, 1.0, 0.0)).fit(obs)
    with pytest.raises(ValueError, match="needs 2 entries"):
        FunctionalTucker(1, lengthscale=(1.0, 1.0, 1.0)).fit(obs)
    with pytest.raises(TypeError, match="ContinuousObservations"):
        FunctionalTucker(1).fit(rng.random((5, 2)))
    with pytest.raises(RuntimeError, match="not fitted"):
        FunctionalTucker(1).predict([[0.0, 0.0]])
    model = FunctionalTucker(1, n_epochs=1, random_state=0).fit(obs)
    with pytest.raises(ValueError, match=r"coords must have shape \(M, 2\)"):
        model.predict(rng.random((4, 3)))
    with pytest.raises(ValueError, match="coords contains 1 non-finite"):
        model.predict([[0.0, np.nan]])
    with pytest.raises(ValueError, match="mode must be <= 1"):
        model.factor_functions(2, [0.0])
