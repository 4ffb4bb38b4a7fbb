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
    Normalizer,
    NormalizingProcessor,
    Processor,
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
    # a diverged model (finite data: non-finite data is refused before training)
    next(iter(trainer.model.parameters().values()))[...] = np.inf
    with pytest.raises(FloatingPointError, match=r"epoch 3, step \d+.*checkpoint.*from epoch 2"):
        trainer.fit(x, y, epochs=4)
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


# ----------------------------------------------------------------------------- processors
class ScaleAndAffine(Processor):
    """Inputs times 2 (not differentiated); prediction -> c * pred + b before the loss."""

    def __init__(self, c, b, adjoint=True):
        super().__init__()
        self.c, self.b, self.adjoint = c, b, adjoint

    def preprocess(self, x, y):
        return 2.0 * x, y

    def postprocess(self, pred, y):
        return self.c * pred + self.b, y

    def postprocess_adjoint(self, grad):
        return self.c * grad if self.adjoint else grad


class CountingNoise(Processor):
    """Stateful augmentation: noise drawn from (seed, batches seen), the count kept in state_dict."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def preprocess(self, x, y):
        if self.training:
            self.count += 1
            x = x + 0.01 * np.random.default_rng(self.count).standard_normal(x.shape)
        return x, y

    def state_dict(self):
        return {"count": np.asarray(self.count)}

    def load_state_dict(self, state):
        self.count = int(state["count"])


def _processed_loss(trainer, x, y):
    xb, yb = trainer.processor.preprocess(x, y)
    pred, yb = trainer.processor.postprocess(trainer.model.forward(xb), yb)
    return trainer.loss_fn.forward(pred, yb)


@pytest.mark.parametrize("adjoint", [True, False])
def test_processor_adjoint_gives_finite_difference_gradients(adjoint):
    x, y = make_data(n=6)
    c = np.linspace(0.5, 2.0, 36).reshape(6, 6)
    model = make_model()
    trainer = Trainer(model, MSELoss(), Adam(model), batch_size=6, progress=False,
                      processor=ScaleAndAffine(c, 0.3, adjoint=adjoint))
    trainer.compute_gradients(x, y)
    grads = {k: v.copy() for k, v in model.gradients().items()}
    eps, worst = 1e-6, 0.0
    for name, param in model.parameters().items():
        for index in list(np.ndindex(param.shape))[:: max(1, param.size // 5)]:
            keep = param[index]
            param[index] = keep + eps
            up = _processed_loss(trainer, x, y)
            param[index] = keep - eps
            down = _processed_loss(trainer, x, y)
            param[index] = keep
            fd = (up - down) / (2 * eps)
            worst = max(worst, abs(fd - grads[name][index]) / (abs(fd) + 1e-6))
    if adjoint:
        assert worst < 1e-5
    else:  # the wrong (identity) adjoint is caught by the same check
        assert worst > 1e-2


def test_identity_processor_and_batch_sources_are_bit_identical():
    x, y = make_data()
    plain = make_trainer()
    reference = plain.fit(x, y, epochs=3, validation=(x[:8], y[:8]),
                          metric=lambda p, t: float(np.abs(p - t).sum()))
    model = make_model()
    opt = Adam(model, lr=1e-2)
    with_processor = Trainer(model, LpLoss(), opt, batch_size=10, scheduler=StepLR(opt, 4, 0.5),
                             processor=Processor(), progress=False, random_state=3)
    history = with_processor.fit(x, y, epochs=3, validation=(x[:8], y[:8]),
                                 metric=lambda p, t: float(np.abs(p - t).sum()))
    for key in ("train_loss", "val_loss", "val_metric", "lr"):
        assert history[key] == reference[key]

    def batches(epoch, rng):  # the same shuffling as the array path, as a source
        order = rng.permutation(x.shape[0])
        for start in range(0, x.shape[0], 10):
            yield x[order[start:start + 10]], y[order[start:start + 10]]

    sourced = make_trainer()
    history = sourced.fit(batches, epochs=3, validation=[(x[:8], y[:8])],
                          metric=lambda p, t: float(np.abs(p - t).sum()))
    for key in ("train_loss", "val_loss", "val_metric", "lr"):
        assert history[key] == reference[key]
    for k, v in plain.model.state_dict().items():
        np.testing.assert_array_equal(with_processor.model.state_dict()[k], v)
        np.testing.assert_array_equal(sourced.model.state_dict()[k], v)


def test_resume_with_processor_state_is_exact(tmp_path):
    x, y = make_data()

    def trainer(checkpoint=None):
        t = make_trainer(checkpoint=checkpoint)
        t.processor = CountingNoise()
        return t

    full = trainer()
    full_history = full.fit(x, y, epochs=5, validation=(x[:8], y[:8]))
    ckpt = tmp_path / "ckpt.npz"
    trainer(ckpt).fit(x, y, epochs=2, validation=(x[:8], y[:8]))
    assert int(np.load(ckpt)["proc/count"]) == 10
    resumed = trainer(ckpt)
    history = resumed.fit(x, y, epochs=5, validation=(x[:8], y[:8]), resume=True)
    for key in ("train_loss", "val_loss", "lr"):
        assert history[key] == full_history[key]
    assert resumed.processor.count == full.processor.count == 25
    for k, v in full.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[k], v)
    stateless = make_trainer(checkpoint=ckpt)
    stateless.processor = ScaleAndAffine(1.0, 0.0)
    with pytest.raises(ValueError, match="holds no state"):
        stateless.fit(x, y, epochs=6, resume=True)


def test_normalizing_processor_trains_on_normalized_data_and_reports_physical_units(tmp_path):
    x, y = make_data()
    y = 50.0 + 10.0 * y
    proc = NormalizingProcessor(Normalizer(), Normalizer()).fit(x, y)
    model = make_model()
    ckpt = tmp_path / "ckpt.npz"
    trainer = Trainer(model, MSELoss(), Adam(model, lr=1e-2), batch_size=10, processor=proc,
                      checkpoint=ckpt, progress=False, random_state=0)
    trainer.fit(x, y, epochs=2)
    # training loss: MSE of normalized targets; evaluation: de-normalized prediction against y
    pred = trainer.predict(x)
    encoded = model.forward(proc.x_normalizer.encode(x))
    np.testing.assert_allclose(pred, proc.y_normalizer.decode(encoded), rtol=1e-12)
    value, score = trainer.evaluate(x, y, metric=lambda p, t: float(np.mean(p - t)))
    per_batch = [np.mean((pred[s:s + 10] - y[s:s + 10]) ** 2) for s in range(0, 48, 10)]
    assert value == pytest.approx(float(np.mean(per_batch)), rel=1e-12)
    assert score == pytest.approx(float(np.mean(pred - y)), rel=1e-12)
    # eval-mode adjoint of the decoding is the scaling by std + eps
    proc.eval()
    g = np.random.default_rng(0).standard_normal(pred.shape)
    scale = proc.y_normalizer.buffers["std"][0] + proc.y_normalizer.eps
    np.testing.assert_allclose(proc.postprocess_adjoint(g), g * scale)
    proc.train()
    # the statistics travel with the checkpoint into a fresh, unfitted processor
    fresh_model = make_model()
    fresh = Trainer(fresh_model, MSELoss(), Adam(fresh_model, lr=1e-2), batch_size=10,
                    processor=NormalizingProcessor(Normalizer(), Normalizer()), checkpoint=ckpt,
                    progress=False)
    fresh.load_checkpoint(ckpt)
    np.testing.assert_array_equal(fresh.predict(x), pred)


def test_info_record_and_progress_default():
    x, y = make_data(n=20)
    trainer = make_trainer()
    trainer.fit(x, y, epochs=2)
    info = trainer.info
    assert info.method == "trainer" and info.iterations == 2 and info.converged
    assert info.history == trainer.history["train_loss"] and info.extras["monitored"] == "train_loss"
    trainer.fit(x, y, epochs=3, validation=(x, y))
    info = trainer.info
    assert info.extras["monitored"] == "val_loss" and info.rel_error == trainer.history["val_loss"][-1]
    assert info.extras["history"] == trainer.history
    model = make_model()
    assert Trainer(model, MSELoss(), Adam(model), batch_size=4).progress


def test_bad_processor_and_sources():
    x, y = make_data(n=20)
    trainer = make_trainer()
    with pytest.raises(TypeError, match="postprocess_adjoint"):
        Trainer(trainer.model, MSELoss(), trainer.optimizer, batch_size=4, processor=object())
    with pytest.raises(TypeError, match=r"callable batches\(epoch, rng\)"):
        trainer.fit(42, epochs=1)
    with pytest.raises(TypeError, match="y is required"):
        trainer.fit(x, epochs=1)
    with pytest.raises(TypeError, match="needs epochs"):
        trainer.fit(x, y)
    with pytest.raises(ValueError, match="no batch in epoch 2"):
        trainer.fit(iter([(x, y)]), epochs=2)
    with pytest.raises(TypeError, match="epochs must be an int"):
        trainer.fit(x, y, epochs=2.0)


def test_non_finite_data_is_named_before_training():
    """NaN or Inf in the data is reported as such (not as a NaN loss blamed on the learning rate)."""
    from tensorkit.nn import SGD, Linear, MSELoss, Trainer

    model = Linear(2, 1, random_state=0)
    trainer = Trainer(model, MSELoss(), SGD(model, lr=0.1), batch_size=2, progress=False)
    x, y = np.ones((4, 2)), np.ones((4, 1))
    bad = y.copy()
    bad[2, 0] = np.nan
    with pytest.raises(ValueError, match="y contains 1 non-finite"):
        trainer.fit(x, bad, 1)
    with pytest.raises(ValueError, match="validation x contains 2 non-finite"):
        trainer.fit(x, y, 1, validation=(np.full((1, 2), np.inf), y[:1]))
    with pytest.raises(TypeError, match="x must be a numpy or CuPy array .with y., or a batch source"):
        trainer.fit(x.tolist(), y, 1)
