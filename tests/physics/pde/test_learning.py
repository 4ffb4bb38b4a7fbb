"""Operator learning on Darcy data: a short training run must cut the loss by a set factor."""

from __future__ import annotations

import numpy as np

from operators import FNO
from physics.pde import darcy, fit_darcy, relative_l2


def test_short_training_run_reduces_the_loss():
    a, u = darcy(40, 16, random_state=0, progress=False)
    a_test, u_test = darcy(10, 16, random_state=1, progress=False)
    model = FNO((6, 6), 1, 1, 8, n_layers=2, dtype=np.float32, random_state=0)
    fit = fit_darcy(model, a, u, epochs=20, batch_size=10, lr=1e-2, validation=(a_test, u_test),
                    random_state=0)
    history = fit.history
    assert history["train_loss"][-1] < history["train_loss"][0] / 3
    assert history["val_metric"][-1] < 0.2
    # the metric is the relative L2 error of the de-normalized prediction
    assert abs(fit.test_error(a_test, u_test) - history["val_metric"][-1]) < 1e-5
    # and it evaluates at another resolution (same fields at 31 nodes)
    a_fine, u_fine = darcy(10, 31, random_state=1, progress=False)
    assert relative_l2(fit.predict(a_fine), u_fine) < 0.5


def test_relative_l2():
    t = np.ones((2, 3, 3))
    assert abs(relative_l2(1.1 * t, t) - 0.1) < 1e-12
    u = np.zeros((2, 3, 3))
    u[0] = 1.0
    u[1] = 2.0
    # sample 0 is exact, sample 1 is off by half its norm: mean 0.25
    assert abs(relative_l2(np.stack([u[0], 3.0 * np.ones((3, 3))]), u) - 0.25) < 1e-12
