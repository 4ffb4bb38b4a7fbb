"""Trainer: loss goes down, checkpoint/resume equals an uninterrupted run, NaN handling, bad input."""

import numpy as np
import pytest

from tensorkit.nn import (
    GELU,
    Adam,
    Conv2d,
    Linear,
    LpLoss,
    MSELoss,
    Sequential,
    StepLR,
    Trainer,
    plot_history,
)


def make_model(dtype=np.float64, seed=0):
    return Sequential(
        Conv2d(2, 8, 3, padding_mode="periodic", random_state=seed, dtype=dtype),
        GELU(dtype=dtype),
        Linear(8, 1, random_state=seed + 1, dtype=dtype),
    )


def make_data(n=48, dtype=np.float64):
    """Inputs and the outputs of a teacher network of the trained architecture (realizable)."""
    x = np.random.default_rng(0).standard_normal((n, 2, 6, 6)).astype(dtype)
    return x, make_model(dtype, seed=10)(x)


def make_trainer(checkpoint=None, dtype=np.float64, lr=1e-2, step_size=4):
    model = make_model(dtype)
    opt = Adam(model, lr=lr)
    return Trainer(model, LpLoss(), opt, batch_size=10, scheduler=StepLR(opt, step_size, 0.5),
                   checkpoint=checkpoint, progress=False, random_state=3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_drives_the_loss_down(dtype):
    x, y = make_data(dtype=dtype)
    trainer = make_trainer(dtype=dtype, lr=2e-2, step_size=15)
    history = trainer.fit(x[:40], y[:40], epochs=30, validation=(x[40:], y[40:]),
                          metric=lambda p, t: float(np.mean(np.abs(p - t))))
    assert history["train_loss"][-1] < 0.1 * history["train_loss"][0]
    assert history["val_loss"][-1] < 0.15 * history["val_loss"][0]
    assert len(history["val_metric"]) == 30 and np.isfinite(history["val_metric"]).all()
    assert history["lr"][14:16] == pytest.approx([2e-2, 1e-2])
    assert trainer.model.parameters()["0.weight"].dtype == dtype


def test_resume_equals_uninterrupted_run(tmp_path):
    x, y = make_data()
    full = make_trainer()
    full_history = full.fit(x, y, epochs=6, validation=(x[:8], y[:8]))

    ckpt = tmp_path / "ckpt.npz"
    first = make_trainer(checkpoint=ckpt)
    first.fit(x, y, epochs=3, validation=(x[:8], y[:8]))
    resumed = make_trainer(checkpoint=ckpt)  # fresh objects, as in a new process
    history = resumed.fit(x, y, epochs=6, validation=(x[:8], y[:8]), resume=True)
    assert history["train_loss"] == full_history["train_loss"]
    assert history["val_loss"] == full_history["val_loss"]
    assert history["lr"] == full_history["lr"]
    for k, v in full.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[k], v)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_nan_stops_with_epoch_and_step_and_keeps_checkpoint(tmp_path):
    x, y = make_data()
    ckpt = tmp_path / "ckpt.npz"
    trainer = make_trainer(checkpoint=ckpt)
    trainer.fit(x, y, epochs=2)
    saved = dict(np.load(ckpt))
    x_bad = x.copy()
    x_bad[25] = np.inf  # lands in some minibatch of epoch 3
    with pytest.raises(FloatingPointError, match=r"epoch 3, step \d+.*checkpoint.*from epoch 2"):
        trainer.fit(x_bad, y, epochs=4)
    after = dict(np.load(ckpt))
    assert set(after) == set(saved)
    for k in saved:
        np.testing.assert_array_equal(after[k], saved[k])


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    x, y = make_data()
    ckpt = tmp_path / "ckpt.npz"
    make_trainer(checkpoint=ckpt).fit(x, y, epochs=1)
    model = Sequential(Conv2d(2, 4, 3, random_state=0), GELU(), Linear(4, 1, random_state=1))
    trainer = Trainer(model, LpLoss(), Adam(model), batch_size=10, checkpoint=ckpt, progress=False)
    before = model.state_dict()
    with pytest.raises(ValueError, match="another architecture"):
        trainer.fit(x, y, epochs=2, resume=True)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_plot_history(tmp_path):
    pytest.importorskip("matplotlib")
    x, y = make_data(n=20)
    trainer = make_trainer()
    trainer.fit(x, y, epochs=2, validation=(x, y), metric=lambda p, t: 0.5)
    trainer.plot(tmp_path / "loss.png")
    assert (tmp_path / "loss.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="no epochs"):
        plot_history({"train_loss": []}, tmp_path / "empty.png")


def test_progress_bar_and_thread_limit():
    x, y = make_data(n=20)
    trainer = make_trainer()
    trainer.progress = True
    trainer.n_threads = 1
    assert len(trainer.fit(x, y, epochs=1)["train_loss"]) == 1
    with pytest.raises(ValueError, match="n_threads"):
        Trainer(trainer.model, MSELoss(), trainer.optimizer, batch_size=4, n_threads=0)


def test_bad_input(tmp_path):
    x, y = make_data(n=20)
    trainer = make_trainer()
    with pytest.raises(ValueError, match="20 samples but y has 19"):
        trainer.fit(x, y[:19], epochs=1)
    with pytest.raises(ValueError, match="batch_size"):
        Trainer(trainer.model, MSELoss(), trainer.optimizer, batch_size=0)
    with pytest.raises(ValueError, match="built on this model"):
        Trainer(Linear(2, 2), MSELoss(), trainer.optimizer, batch_size=4)
    with pytest.raises(ValueError, match="epochs"):
        trainer.fit(x, y, epochs=-1)
    with pytest.raises(ValueError, match="resume=True needs a checkpoint"):
        trainer.fit(x, y, epochs=1, resume=True)
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 2, H, W\)"):
        trainer.fit(x[:, :1], y, epochs=1)


@pytest.mark.gpu
def test_training_on_the_gpu_matches_the_cpu():
    from tensorkit.backend import gpu_available, to_device, to_numpy

    if not gpu_available():
        pytest.skip("no CUDA device")
    x, y = make_data(n=20)
    cpu = make_trainer()
    cpu_history = cpu.fit(x, y, epochs=2)
    model = make_model().to("gpu")
    opt = Adam(model, lr=1e-2)
    gpu = Trainer(model, LpLoss(), opt, batch_size=10, scheduler=StepLR(opt, 4, 0.5), progress=False,
                  random_state=3)
    gpu_history = gpu.fit(to_device(x, "gpu"), to_device(y, "gpu"), epochs=2)
    np.testing.assert_allclose(gpu_history["train_loss"], cpu_history["train_loss"], rtol=1e-8)
    for k, v in cpu.model.parameters().items():
        np.testing.assert_allclose(to_numpy(model.parameters()[k]), v, rtol=1e-8, atol=1e-12)
