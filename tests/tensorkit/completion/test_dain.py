"""DAIN: TracIn cell importances against a per-cell brute force through the model's own adjoint,
entity distributions, the drawn cells (count, novelty, labels), the pipeline, bad input."""

import numpy as np
import pytest

from tensorkit.completion._dain import DAIN, DAINAugmentation, dain_augment
from tensorkit.completion._neural import NeuralCompletion
from tensorkit.observed import ObservedTensor


def cells(shape=(7, 6, 5), fractions=(0.4, 0.15), seed=0):
    rng = np.random.default_rng(seed)
    factors = [rng.standard_normal((n, 2)) for n in shape]
    X = np.einsum("ir,jr,kr->ijk", *factors) + 0.1 * rng.standard_normal(shape)
    return ObservedTensor.from_dense(X).split(fractions, random_state=seed)


def tiny_model(seed=0):
    return NeuralCompletion((7, 6, 5), embedding_dim=3, hidden=(6, 4), dtype=np.float64, random_state=seed)


def head_gradient(model, index, value):
    """d (x_hat - x)^2 / d w of the output layer for one cell, by the model's backward."""
    model.zero_grad()
    pred = model.forward(index[None, :])
    model.backward(2 * (pred - value))
    return model.head.grads["weight"].ravel().copy()


class BruteForceTracIn:
    def __init__(self, train, valid):
        self.train, self.valid = train, valid
        self.running = np.zeros(train.nnz)
        self.at_best = None

    def __call__(self, model, epoch):
        valid, train = self.valid, self.train
        g_val = sum(head_gradient(model, i, v) for i, v in zip(valid.indices, valid.values, strict=True))
        self.running += [
            head_gradient(model, i, v) @ g_val for i, v in zip(train.indices, train.values, strict=True)
        ]
        if model.best_epoch == epoch:
            self.at_best = self.running.copy()


def test_cell_importance_equals_a_per_cell_brute_force():
    train, valid = cells()
    settings = {"epochs": 15, "batch_size": 8, "lr": 0.03, "patience": 2}
    result = dain_augment(train, valid, model=tiny_model(), random_state=0, **settings)
    assert isinstance(result, DAINAugmentation)

    twin = tiny_model()
    brute = BruteForceTracIn(train, valid)
    twin.fit(train, validation=valid, random_state=np.random.default_rng(0), callback=brute, **settings)
    # several epochs are summed, and the ones after the best are left out
    assert twin.best_epoch == result.model.best_epoch >= 2
    assert result.model.info.iterations > twin.best_epoch + 1
    expected = np.abs(brute.at_best) / np.abs(brute.at_best).max()
    np.testing.assert_allclose(result.cell_importance, expected, rtol=1e-9, atol=1e-12)
    assert result.cell_importance.max() == 1.0 and result.cell_importance.min() >= 0


def test_entity_importance_is_a_distribution_of_summed_cell_importances():
    train, valid = cells(seed=1)
    result = dain_augment(train, valid, model=tiny_model(1), epochs=3, batch_size=16, random_state=1)
    for k, p in enumerate(result.entity_importance):
        assert p.shape == (train.shape[k],)
        assert p.sum() == pytest.approx(1.0, abs=1e-12) and p.min() >= 0
        sums = np.zeros(train.shape[k])
        for index, importance in zip(train.indices[:, k], result.cell_importance, strict=True):
            sums[index] += importance
        np.testing.assert_allclose(p, sums / sums.sum(), rtol=1e-12)


def test_drawn_cells_are_new_distinct_and_labelled_by_the_model():
    train, valid = cells(seed=2)
    result = dain_augment(train, valid, model=tiny_model(2), epochs=3, batch_size=16, random_state=2)
    aug = result.augmented
    assert isinstance(aug, ObservedTensor)
    assert aug.nnz == int(0.5 * train.nnz) == result.extras["requested"] == result.extras["drawn"]
    seen = {tuple(row) for row in np.concatenate([train.indices, valid.indices]).tolist()}
    new = [tuple(row) for row in aug.indices.tolist()]
    assert len(set(new)) == len(new) and not seen & set(new)
    np.testing.assert_allclose(aug.values, result.model.predict(aug.indices), rtol=1e-12)


def test_entities_without_training_cells_are_never_drawn():
    train, valid = cells(seed=3)
    keep = train.indices[:, 0] != 2
    train = ObservedTensor(train.indices[keep], train.values[keep], train.shape)
    result = dain_augment(train, valid, model=tiny_model(3), epochs=2, batch_size=16, random_state=3)
    assert result.entity_importance[0][2] == 0
    assert not np.any(result.augmented.indices[:, 0] == 2)


def test_fewer_cells_when_the_distributions_cannot_supply_enough():
    train, valid = cells(shape=(7, 6, 5), fractions=(0.7, 0.25), seed=4)
    result = dain_augment(train, valid, model=tiny_model(4), epochs=2, batch_size=32, random_state=4)
    free = 7 * 6 * 5 - train.nnz - valid.nnz
    assert result.extras["requested"] > free
    assert result.extras["drawn"] == result.augmented.nnz <= free


def test_pipeline_trains_a_fresh_model_on_the_union():
    train, valid = cells(seed=5)
    dain = DAIN((7, 6, 5), embedding_dim=3, hidden=(6,), dtype=np.float64, random_state=0)
    with pytest.raises(RuntimeError, match="before fit"):
        dain.predict(train.indices)
    dain.fit(train, valid, epochs=3, batch_size=16)
    assert dain.model is not dain.base_model
    assert dain.augmented.nnz == int(0.5 * train.nnz)
    assert len(dain.entity_importance) == 3 and dain.cell_importance.shape == (train.nnz,)
    np.testing.assert_array_equal(dain(valid.indices), dain.model.predict(valid.indices))
    # the final model saw the union: its standardization is that of train + augmented values
    union = np.concatenate([train.values, dain.augmented.values])
    assert dain.model.buffers["target_mean"][0] == pytest.approx(union.mean(), rel=1e-12)


def test_bad_input():
    train, valid = cells(seed=6)
    with pytest.raises(ValueError, match="needs validation cells"):
        dain_augment(train, None, model=tiny_model())
    with pytest.raises(ValueError, match="ratio"):
        dain_augment(train, valid, ratio=0.0, model=tiny_model())
    with pytest.raises(TypeError, match="model must be a NeuralCompletion"):
        dain_augment(train, valid, model="mlp")
    with pytest.raises(TypeError, match="obs must be an ObservedTensor"):
        dain_augment(np.ones((7, 6, 5)), valid)
    wrong = ObservedTensor(np.array([[0, 0]]), np.array([1.0]), (7, 6))
    with pytest.raises(ValueError, match="validation has shape"):
        dain_augment(train, wrong, model=tiny_model())
    with pytest.raises(TypeError, match="hidden"):
        DAIN((7, 6, 5), hidden=4)
