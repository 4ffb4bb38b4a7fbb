"""Navier-Stokes operator learning: pairs from trajectories, H1 / L2 recipes, processor chains,
autoregressive rollouts, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from operators import FNO, MGTFNO, MultigridPatching2D, PeriodicCoordinates
from physics import ProcessorChain, fit_operator
from physics.pde import fit_darcy, navier_stokes2d, navier_stokes_pairs, relative_errors
from tensorkit.nn import H1Loss, LpLoss, Normalizer, NormalizingProcessor


@pytest.fixture(scope="module")
def flows():
    w, _ = navier_stokes2d(6, 16, t_final=3.0, n_snapshots=4, random_state=0, progress=False)
    return w


def test_pairs(flows):
    x, y = navier_stokes_pairs(flows)
    assert x.shape == (18, 1, 16, 16) and y.shape == (18, 1, 16, 16)
    np.testing.assert_array_equal(x[4, 0], flows[1, 1])
    np.testing.assert_array_equal(y[4, 0], flows[1, 2])
    x, y = navier_stokes_pairs(flows, n_in=2, n_out=2)
    assert x.shape == (0 + 6, 2, 16, 16) and y.shape == (6, 2, 16, 16)
    np.testing.assert_array_equal(y[1], flows[1, 2:4])
    with pytest.raises(ValueError, match="cannot give"):
        navier_stokes_pairs(flows, n_in=3, n_out=2)
    with pytest.raises(ValueError, match="periodic grid"):
        navier_stokes_pairs(flows[..., :15])
    with pytest.raises(ValueError, match="periodic grid"):
        navier_stokes_pairs(flows[0])


@pytest.mark.parametrize("loss", ["l2", "h1"])
def test_one_step_training_and_rollout(flows, loss):
    x, y = navier_stokes_pairs(flows[:4])
    x_test, y_test = navier_stokes_pairs(flows[4:])
    model = FNO((6, 6), 1, 1, 8, n_layers=2, dtype=np.float32, random_state=0)
    fit = fit_operator(model, x, y, epochs=8, loss=loss, batch_size=4, lr=5e-3,
                       validation=(x_test, y_test), random_state=0, progress=False)
    expected = LpLoss if loss == "l2" else H1Loss
    assert isinstance(fit.trainer.loss_fn, expected)
    errors = fit.history["val_metric"]
    assert errors[-1] < errors[0]
    # rollout: step k is the model applied k times to the first snapshot
    roll = fit.rollout(flows[4:, :1], 3)
    assert roll.shape == (2, 3, 16, 16)
    two = fit.predict(fit.predict(flows[4:, :1]))
    np.testing.assert_allclose(roll[:, 1:2], two, rtol=1e-5, atol=1e-6)
    err = relative_errors(roll, flows[4:, 1:])
    assert err.shape == (2, 3) and np.all(np.isfinite(err))
    np.testing.assert_allclose(err[:, 0].mean(), fit.test_error(x_test[::3], y_test[::3]), rtol=1e-5)
    with pytest.raises(ValueError, match="n_steps"):
        fit.rollout(flows[4:, :1], 0)


def test_processor_chain_normalizes_then_patches(flows):
    x, y = navier_stokes_pairs(flows[:4])
    model = MGTFNO((6, 6), 1, 1, 6, n_layers=1, levels=1, padding_fraction=0.125, rank=0.5,
                   positional_embedding=None, random_state=0)
    norm = NormalizingProcessor(Normalizer(), Normalizer()).fit(x, y)
    fit = fit_operator(model, x, y, epochs=2, processor=[norm, model.processor], batch_size=6,
                       random_state=0, progress=False)
    chain = fit.processor
    assert isinstance(chain, ProcessorChain) and chain.processors[1] is model.processor
    pred = fit.predict(x[:2])
    expected = norm.y_normalizer.decode(model.predict_fields(norm.x_normalizer.encode(x[:2])))
    np.testing.assert_allclose(pred, expected, rtol=1e-10, atol=1e-12)
    state = chain.state_dict()
    assert state and all(k.startswith("0/") for k in state)
    chain.load_state_dict(state)
    with pytest.raises(ValueError, match="keeps none"):
        ProcessorChain([MultigridPatching2D(1, 0.0)]).load_state_dict({"0/mean": np.zeros(1)})
    with pytest.raises(ValueError, match="divisible"):
        fit.predict(x[:1, :, :14, :14])


def test_cosine_schedule_anneals_over_the_run(flows):
    """scheduler="cosine": lr_e = lr_0 (1 + cos(pi e / E)) / 2 at the start of epoch e of E."""
    x, y = navier_stokes_pairs(flows[:2])
    model = FNO((4, 4), 1, 1, 4, n_layers=1, random_state=0)
    fit = fit_operator(model, x, y, epochs=4, lr=1e-3, scheduler="cosine", batch_size=6, random_state=0,
                       progress=False)
    expected = 1e-3 * (1 + np.cos(np.pi * np.arange(4) / 4)) / 2
    np.testing.assert_allclose(fit.history["lr"], expected, rtol=1e-12)
    # fit_darcy builds its trainer with 0 epochs, then trains: the annealing spans the epochs to come
    darcy = fit_darcy(FNO((4, 4), 1, 1, 4, n_layers=1, random_state=0), x[:, 0], y[:, 0], epochs=4, lr=1e-3,
                      scheduler="cosine", batch_size=6, random_state=0, progress=False)
    np.testing.assert_allclose(darcy.history["lr"], expected, rtol=1e-12)
    with pytest.raises(ValueError, match="scheduler"):
        fit_operator(model, x, y, epochs=1, scheduler="linear", progress=False)


def test_periodic_embedding_as_a_processor_and_ahead_of_the_patching(flows):
    """The same embedding through the trainer for a whole-field FNO (processor) and for MG-TFNO (inside
    its patching processor); rollouts feed back the raw fields."""
    x, y = navier_stokes_pairs(flows[:3])
    emb = PeriodicCoordinates()
    fno = FNO((4, 4), 1 + emb.channels(2), 1, 4, n_layers=1, positional_embedding=None, random_state=0)
    fit = fit_operator(fno, x, y, epochs=1, processor=emb, batch_size=6, random_state=0, progress=False)
    np.testing.assert_allclose(fit.predict(x[:2]), fno(emb.embed(x[:2])), rtol=1e-12)
    assert fit.rollout(flows[4:, :1], 2).shape == (2, 2, 16, 16)
    mg = MGTFNO((4, 4), 1, 1, 4, n_layers=1, levels=1, padding_fraction=0.125,
                positional_embedding="periodic", random_state=0)
    fit = fit_operator(mg, x, y, epochs=1, processor=mg.processor, batch_size=6, random_state=0,
                       progress=False)
    np.testing.assert_allclose(fit.predict(x[:2]), mg.predict_fields(x[:2]), rtol=1e-12)
    plain = MultigridPatching2D(1, 0.125)
    expected = plain.unpatch(mg(plain.patch(emb.embed(x[:2]))[0]))
    np.testing.assert_allclose(fit.predict(x[:2]), expected, rtol=1e-12)
    assert fit.rollout(flows[4:, :1], 2).shape == (2, 2, 16, 16)
