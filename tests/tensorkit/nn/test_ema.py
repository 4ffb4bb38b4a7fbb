"""Weight averaging (Trainer(ema=...), ExponentialMovingAverage) against a numpy recursion."""

import numpy as np
import pytest

from tensorkit.nn import GELU, SGD, Adam, Conv2d, Linear, LpLoss, Sequential, StepLR, Trainer
from tensorkit.nn._optim import ExponentialMovingAverage


def make_model(seed=0):
    return Sequential(
        Conv2d(2, 6, 3, padding_mode="periodic", random_state=seed),
        GELU(),
        Linear(6, 1, random_state=seed + 1),
    )


def make_data(n=40):
    x = np.random.default_rng(0).standard_normal((n, 2, 5, 5))
    return x, make_model(seed=10)(x)


class RecordingAdam(Adam):
    """Adam that keeps a copy of the parameters after every step (the oracle's input)."""

    def __init__(self, model, **kw):
        super().__init__(model, **kw)
        self.snapshots = []

    def step(self):
        super().step()
        self.snapshots.append({k: v.copy() for k, v in self.model.parameters().items()})


def make_trainer(ema=None, checkpoint=None, optimizer=Adam):
    model = make_model()
    opt = optimizer(model, lr=1e-2)
    return Trainer(model, LpLoss(), opt, batch_size=8, scheduler=StepLR(opt, 3, 0.5),
                   checkpoint=checkpoint, progress=False, random_state=4, ema=ema)


def numpy_average(snapshots, decay):
    """theta_bar_1 = theta_1, theta_bar_t = decay theta_bar_{t-1} + (1 - decay) theta_t."""
    avg = {k: v.copy() for k, v in snapshots[0].items()}
    for snap in snapshots[1:]:
        for k in avg:
            avg[k] = decay * avg[k] + (1 - decay) * snap[k]
    return avg


def test_average_matches_the_recursion_and_restores_the_weights():
    model = make_model()
    ema = ExponentialMovingAverage(model, 0.8)
    rng = np.random.default_rng(1)
    snapshots = []
    for _ in range(5):
        for p in model.parameters().values():
            p[...] = rng.standard_normal(p.shape)
        ema.update()
        snapshots.append({k: v.copy() for k, v in model.parameters().items()})
    expected = numpy_average(snapshots, 0.8)
    with ema.applied():
        for k, v in model.parameters().items():
            np.testing.assert_allclose(v, expected[k], rtol=1e-13, atol=1e-14)
    for k, v in model.parameters().items():
        np.testing.assert_array_equal(v, snapshots[-1][k])
    with pytest.raises(RuntimeError, match="inside"), ema.applied():
        raise RuntimeError("inside")
    for k, v in model.parameters().items():  # restored after an exception too
        np.testing.assert_array_equal(v, snapshots[-1][k])


def test_no_update_yet_means_the_models_own_weights():
    model = make_model()
    before = {k: v.copy() for k, v in model.parameters().items()}
    with ExponentialMovingAverage(model, 0.9).applied():
        for k, v in model.parameters().items():
            np.testing.assert_array_equal(v, before[k])


def test_trainer_scores_the_average_and_trains_as_without_it():
    x, y = make_data()
    plain = make_trainer()
    plain_history = plain.fit(x, y, epochs=4, validation=(x[:8], y[:8]))
    averaged = make_trainer(ema=0.7, optimizer=RecordingAdam)
    history = averaged.fit(x, y, epochs=4, validation=(x[:8], y[:8]))
    # training is unchanged: same losses, same trained weights
    assert history["train_loss"] == plain_history["train_loss"]
    for k, v in plain.model.parameters().items():
        np.testing.assert_array_equal(averaged.model.parameters()[k], v)
    # predictions and validation use the numpy average of the per-step weights
    oracle = make_model()
    oracle.load_state_dict(numpy_average(averaged.optimizer.snapshots, 0.7))
    np.testing.assert_allclose(averaged.predict(x[:8]), oracle(x[:8]), rtol=1e-10, atol=1e-12)
    assert history["val_loss"][-1] == pytest.approx(float(LpLoss()(oracle(x[:8]), y[:8])), rel=1e-10)
    assert history["val_loss"][-1] != plain_history["val_loss"][-1]
    # decay 0: the average is the last weights
    last = make_trainer(ema=0.0)
    assert last.fit(x, y, epochs=4, validation=(x[:8], y[:8]))["val_loss"] == plain_history["val_loss"]


def test_resume_with_an_average_equals_an_uninterrupted_run(tmp_path):
    x, y = make_data()
    full = make_trainer(ema=0.9)
    full_history = full.fit(x, y, epochs=5, validation=(x[:8], y[:8]))
    ckpt = tmp_path / "ckpt.npz"
    make_trainer(ema=0.9, checkpoint=ckpt).fit(x, y, epochs=2, validation=(x[:8], y[:8]))
    resumed = make_trainer(ema=0.9, checkpoint=ckpt)
    history = resumed.fit(x, y, epochs=5, validation=(x[:8], y[:8]), resume=True)
    assert history["val_loss"] == full_history["val_loss"]
    for k, v in full.ema.state_dict().items():
        np.testing.assert_array_equal(resumed.ema.state_dict()[k], v)


def test_checkpoint_and_trainer_must_agree_on_the_average(tmp_path):
    x, y = make_data()
    with_ema, without = tmp_path / "ema.npz", tmp_path / "plain.npz"
    make_trainer(ema=0.9, checkpoint=with_ema).fit(x, y, epochs=1)
    make_trainer(checkpoint=without).fit(x, y, epochs=1)
    for ckpt, ema in ((with_ema, None), (without, 0.9), (with_ema, 0.5)):
        trainer = make_trainer(ema=ema, checkpoint=ckpt)
        before = {k: v.copy() for k, v in trainer.model.parameters().items()}
        with pytest.raises(ValueError, match="ema|decay"):
            trainer.fit(x, y, epochs=2, resume=True)
        assert trainer.epoch == 0
        for k, v in trainer.model.parameters().items():  # nothing changed
            np.testing.assert_array_equal(v, before[k])


def test_bad_input():
    model = make_model()
    with pytest.raises(ValueError, match="decay"):
        ExponentialMovingAverage(model, 1.0)
    with pytest.raises(ValueError, match="decay"):
        ExponentialMovingAverage(model, -0.1)
    with pytest.raises(TypeError, match="decay"):
        ExponentialMovingAverage(model, "0.9")
    with pytest.raises(TypeError, match="decay"):
        ExponentialMovingAverage(model, True)
    with pytest.raises(TypeError, match="Module"):
        ExponentialMovingAverage(object(), 0.9)
    with pytest.raises(ValueError, match="decay"):
        Trainer(model, LpLoss(), SGD(model), batch_size=2, ema=1.5)
    ema = ExponentialMovingAverage(model, 0.9)
    state = ema.state_dict()
    with pytest.raises(ValueError, match="missing"):
        ema.load_state_dict({k: v for k, v in state.items() if k != "n_averaged"})
    bad = dict(state)
    name = next(k for k in state if k.startswith("average/"))
    bad[name] = np.full_like(state[name], np.nan)
    with pytest.raises(ValueError, match="NaN"):
        ema.load_state_dict(bad)
