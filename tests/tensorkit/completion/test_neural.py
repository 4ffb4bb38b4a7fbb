"""NeuralCompletion: learns a planted low-rank tensor, early stopping keeps the best weights, the
adjoint agrees with finite differences, checkpoints round-trip, bad input is refused."""

import numpy as np
import pytest

from tensorkit.completion._neural import NeuralCompletion
from tensorkit.nn import Module, gradcheck
from tensorkit.observed import ObservedTensor


def planted(shape=(20, 20, 20), fractions=(0.5, 0.1, 0.4), seed=0):
    rng = np.random.default_rng(seed)
    factors = [rng.standard_normal((n, 1)) + 1 for n in shape]
    X = np.einsum("ir,jr,kr->ijk", *factors)
    return X, ObservedTensor.from_dense(X).split(fractions, random_state=seed)


def rmse(model, obs):
    return float(np.sqrt(np.mean((model(obs.indices) - obs.values) ** 2)))


def test_learns_a_planted_low_rank_tensor():
    X, (train, valid, test) = planted()
    model = NeuralCompletion(X.shape, embedding_dim=8, hidden=(32, 32), random_state=0)
    model.fit(train, validation=valid, epochs=30, batch_size=64, lr=1e-2, patience=5, random_state=0)
    assert rmse(model, test) < 0.15 * test.values.std()
    info = model.info
    assert info.method == "neural" and info.iterations == len(info.extras["train_rmse"])
    assert info.history == info.extras["val_rmse"]
    assert info.rel_error == pytest.approx(min(info.history))


def test_early_stopping_restores_the_best_weights():
    X, (train, valid, _) = planted((8, 7, 6), (0.5, 0.2, 0.3), seed=1)
    model = NeuralCompletion(X.shape, embedding_dim=4, hidden=(16,), dtype=np.float64, random_state=0)
    snapshots = []
    # a large learning rate makes the validation error bounce, so the last epoch is not the best
    model.fit(
        train, validation=valid, epochs=25, batch_size=8, lr=0.05, patience=3, random_state=0,
        callback=lambda m, epoch: snapshots.append(m.state_dict()),
    )
    history = model.info.extras["val_rmse"]
    best = int(np.argmin(history))
    assert model.best_epoch == best == model.info.extras["best_epoch"]
    assert len(history) == len(snapshots)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, snapshots[best][name])
    assert rmse(model, valid) == pytest.approx(history[best], rel=1e-12)
    assert best < len(history) - 1
    assert model.info.converged  # stopped by patience, not by the epoch cap
    assert len(history) == best + 1 + 3


def test_without_validation_all_epochs_run_and_the_last_weights_stay():
    X, (train, _, _) = planted((6, 5, 4), (0.6, 0.2, 0.2))
    model = NeuralCompletion(X.shape, hidden=(8,), random_state=0)
    model.fit(train, epochs=4, batch_size=16)
    assert model.info.iterations == 4 and model.best_epoch == 3 and model.info.rel_error is None
    assert model.info.history == model.info.extras["train_rmse"]


class _Scaled(Module):
    """``model(indices) * x`` for a float input ``x``, so gradcheck can drive the model's adjoint."""

    def __init__(self, model, indices):
        super().__init__()
        self.model = self.add_module("model", model)
        self.indices = indices

    def forward(self, x):
        self._x, self._y = x, self.model.forward(self.indices)
        return self._y * x

    def backward(self, g):
        self.model.backward(g * self._x)
        return g * self._y


def test_adjoint_matches_finite_differences():
    model = NeuralCompletion((5, 4, 3), embedding_dim=3, hidden=(6, 4), dtype=np.float64, random_state=0)
    model.buffers["target_mean"][...] = 0.3
    model.buffers["target_scale"][...] = 1.7
    indices = np.array([[0, 1, 2], [4, 3, 0], [0, 1, 1], [2, 2, 2]])
    x = np.random.default_rng(2).standard_normal(4)
    assert gradcheck(_Scaled(model, indices), x, max_entries=40)


def test_default_architecture_is_dains():
    model = NeuralCompletion((64, 12, 10, 60), random_state=0)
    assert model.embedding_dim == 37
    assert model.hidden == (1024, 1024, 128) and model.dtype == np.float32
    assert model.body[0].in_features == 148


def test_save_and_load_round_trip(tmp_path):
    X, (train, _, test) = planted((6, 5, 4), (0.6, 0.2, 0.2))
    model = NeuralCompletion(X.shape, hidden=(8,), random_state=0).fit(train, epochs=2, batch_size=16)
    model.save(tmp_path / "model.npz")
    other = NeuralCompletion(X.shape, hidden=(8,), random_state=5).load(tmp_path / "model.npz")
    np.testing.assert_array_equal(other(test.indices), model(test.indices))
    with pytest.raises(ValueError, match="another architecture"):
        NeuralCompletion(X.shape, hidden=(9,)).load(tmp_path / "model.npz")


@pytest.mark.parametrize(
    ("indices", "error", "match"),
    [
        (np.array([[0.0, 1.0, 2.0]]), TypeError, "must hold integers"),
        (np.array([[True, False, True]]), TypeError, "must hold integers"),
        ([[0, 1, 2]], TypeError, "integer array of shape"),
        (np.array([[0, 1]]), ValueError, r"shape \(n, 3\) for a tensor of order 3"),
        (np.array([0, 1, 2]), ValueError, r"shape \(n, 3\)"),
        (np.array([[0, 5, 2]]), ValueError, r"indices\[:, 1\] must lie in \[0, 5\) \(mode 1"),
        (np.array([[-1, 0, 0]]), ValueError, r"indices\[:, 0\] must lie in \[0, 6\)"),
    ],
)
def test_bad_indices(indices, error, match):
    model = NeuralCompletion((6, 5, 4), hidden=(4,), random_state=0)
    with pytest.raises(error, match=match):
        model.predict(indices)


def test_bad_construction_and_training_input():
    with pytest.raises(TypeError, match="shape"):
        NeuralCompletion(5)
    with pytest.raises(ValueError, match=r"shape\[1\]"):
        NeuralCompletion((3, 0))
    with pytest.raises(TypeError, match="hidden"):
        NeuralCompletion((3, 4), hidden=8)
    with pytest.raises(ValueError, match="embedding_dim"):
        NeuralCompletion((3, 4), embedding_dim=0)
    model = NeuralCompletion((6, 5, 4), hidden=(4,), random_state=0)
    other = ObservedTensor(np.array([[0, 0]]), np.array([1.0]), (6, 5))
    with pytest.raises(ValueError, match=r"obs has shape \(6, 5\), the model was built for \(6, 5, 4\)"):
        model.fit(other)
    with pytest.raises(TypeError, match="obs must be an ObservedTensor"):
        model.fit(np.ones((6, 5, 4)))
    good = ObservedTensor(np.array([[0, 0, 0]]), np.array([1.0]), (6, 5, 4))
    with pytest.raises(ValueError, match="epochs"):
        model.fit(good, epochs=0)
    with pytest.raises(ValueError, match="lr"):
        model.fit(good, lr=0.0)
