"""Operator learning on Darcy data: a short training run must cut the loss by a set factor."""

from __future__ import annotations

import numpy as np
import pytest

from operators import FNO
from physics import fit_operator
from physics.pde import darcy, fit_darcy
from tensorkit.nn import Adam, Conv2d, LpLoss, MSELoss, Normalizer, NormalizingProcessor, Trainer


def test_short_training_run_reduces_the_loss():
    a, u = darcy(40, 16, random_state=0, progress=False)
    a_test, u_test = darcy(10, 16, random_state=1, progress=False)
    model = FNO((6, 6), 1, 1, 8, n_layers=2, dtype=np.float32, random_state=0)
    fit = fit_darcy(model, a, u, epochs=20, batch_size=10, lr=1e-2, validation=(a_test, u_test),
                    random_state=0, progress=False)
    history = fit.history
    assert history["train_loss"][-1] < history["train_loss"][0] / 3
    assert history["val_metric"][-1] < 0.2
    assert fit.info.iterations == 20 and fit.info.history == history["val_loss"]
    # the metric is the relative L2 error of the de-normalized prediction
    assert abs(fit.test_error(a_test, u_test) - history["val_metric"][-1]) < 1e-5
    pred = fit.predict(a_test)
    errors = np.linalg.norm((pred - u_test).reshape(10, -1), axis=1)
    norms = errors / np.linalg.norm(u_test.reshape(10, -1), axis=1)
    assert abs(np.mean(norms) - history["val_metric"][-1]) < 1e-5
    # and it evaluates at another resolution (same fields at 31 nodes)
    a_fine, u_fine = darcy(10, 31, random_state=1, progress=False)
    assert fit.test_error(a_fine, u_fine) < 0.5


def test_fit_darcy_is_fit_operator_with_a_normalizing_processor():
    # the wrapper's training numbers are those of the generic helper with the same recipe, and of
    # a plain Trainer on data normalized once up front (the processor encodes per batch)
    a, u = darcy(20, 12, random_state=0, progress=False)
    x, y = a[:, None], u[:, None]

    def model():
        return FNO((4, 4), 1, 1, 6, n_layers=2, dtype=np.float64, random_state=0)

    darcy_fit = fit_darcy(model(), a, u, epochs=3, batch_size=5, lr=1e-2, random_state=0, progress=False)
    proc = NormalizingProcessor(Normalizer(), Normalizer()).fit(x, y)
    generic = fit_operator(model(), x, y, epochs=3, processor=proc, batch_size=5, lr=1e-2,
                           random_state=0, progress=False)
    assert generic.history["train_loss"] == darcy_fit.history["train_loss"]
    m = model()
    plain = Trainer(m, LpLoss(d=2), Adam(m, lr=1e-2, weight_decay=1e-4), batch_size=5, progress=False,
                    random_state=0).fit(proc.x_normalizer.encode(x), proc.y_normalizer.encode(y), 3)
    assert plain["train_loss"] == darcy_fit.history["train_loss"]


def test_fit_operator_options_and_resume(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 1, 6, 6))
    y = 3.0 * x - 1.0

    def run(epochs, **kwargs):
        model = Conv2d(1, 1, 1, random_state=0)
        return fit_operator(model, x, y, epochs=epochs, loss=MSELoss(), batch_size=8, scheduler=None,
                            optimizer=lambda m: Adam(m, lr=0.05), validation=(x[:8], y[:8]),
                            random_state=1, progress=False, **kwargs)

    full = run(6)
    assert full.history["lr"] == [0.05] * 6
    ckpt = tmp_path / "fit.npz"
    run(2, checkpoint=ckpt)
    resumed = run(6, checkpoint=ckpt, resume=True)
    assert resumed.history["train_loss"] == full.history["train_loss"]
    assert resumed.history["val_metric"] == full.history["val_metric"]
    more = resumed.train(8)
    assert len(more["train_loss"]) == 8 and resumed.info.iterations == 8
    assert resumed.test_error(x, y) == pytest.approx(resumed.history["val_metric"][-1], rel=0.5)


def test_fit_operator_from_a_batch_source():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 1, 6, 6))
    batches = [(x[k:k + 4], 2.0 * x[k:k + 4]) for k in range(0, 16, 4)]
    fit = fit_operator(Conv2d(1, 1, 1, random_state=0), batches, epochs=3, lr=0.05, weight_decay=0.0,
                       validation=batches[:1], random_state=0, progress=False)
    assert len(fit.history["train_loss"]) == 3 and np.isfinite(fit.history["val_metric"]).all()


def test_fit_operator_bad_input():
    model = Conv2d(1, 1, 1, random_state=0)
    x = np.ones((4, 1, 3, 3))
    with pytest.raises(ValueError, match="give them to your optimizer"):
        fit_operator(model, x, x, epochs=1, optimizer=Adam(model), lr=0.1, progress=False)
    with pytest.raises(ValueError, match="loss"):
        fit_operator(model, x, x, epochs=1, loss="mse", progress=False)
    with pytest.raises(TypeError, match="loss"):
        fit_operator(model, x, x, epochs=1, loss=2.0, progress=False)
    with pytest.raises(TypeError, match="postprocess_adjoint"):
        fit_operator(model, x, x, epochs=1, processor=[object()], progress=False)
    with pytest.raises(ValueError, match="epochs"):
        fit_operator(model, x, x, epochs=-1, progress=False)
    with pytest.raises(TypeError, match="model"):
        fit_operator("fno", x, x, epochs=1)
    with pytest.raises(ValueError, match=r"a_train must have shape \(n, R, R\)"):
        fit_darcy(model, x, x, epochs=1)


def test_relative_errors_against_numpy_at_any_scale_and_bad_input():
    from physics.pde import relative_errors

    rng = np.random.default_rng(0)
    truth = rng.standard_normal((3, 2, 5, 5))
    pred = truth + 0.1 * rng.standard_normal(truth.shape)
    ref = (np.linalg.norm((pred - truth).reshape(3, 2, -1), axis=-1)
           / np.linalg.norm(truth.reshape(3, 2, -1), axis=-1))
    for scale in (1.0, 1e300, 1e-300):  # squares would overflow or underflow
        np.testing.assert_allclose(relative_errors(pred * scale, truth * scale), ref, rtol=1e-14)
    with pytest.raises(ValueError, match="one shape"):
        relative_errors(pred, truth[..., :4])
    zero = truth.copy()
    zero[1, 0] = 0.0
    with pytest.raises(ValueError, match="1 all-zero field"):
        relative_errors(pred, zero)
