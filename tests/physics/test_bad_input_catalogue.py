"""Bad inputs and extreme values at the public entry points of ``physics`` operator learning and PDE
data: clear TypeError / ValueError / MemoryError naming the argument, never an obscure error from
inside, a hang or a silent wrong answer; errors and losses true near overflow and underflow."""

import math

import numpy as np
import pytest

from physics import fit_operator
from physics._learning import VorticityVelocity
from physics.pde import (
    darcy,
    fit_darcy,
    load_darcy,
    load_navier_stokes,
    navier_stokes2d,
    navier_stokes_pairs,
    random_vorticity,
    relative_errors,
    save_darcy,
    save_navier_stokes,
    solve_darcy,
)
from tensorkit.io import save_archive
from tensorkit.nn import Conv2d

RNG = np.random.default_rng(0)
QUIET = {"progress": False, "random_state": 0}


def _data(n=8, dtype=np.float64):
    x = RNG.standard_normal((n, 1, 8, 8))
    return x.astype(dtype), (2.0 * x + 0.5).astype(dtype)


def _model(dtype=np.float64, bias=True):
    return Conv2d(1, 1, 1, random_state=0, dtype=dtype, bias=bias)


# ------------------------------------------------------------------------------------ fit_operator
@pytest.mark.parametrize(("dtype", "scale"), [(np.float64, 1e200), (np.float32, 1e30)])
def test_fit_operator_trains_and_scores_data_near_the_float_limits(dtype, scale):
    """The relative loss and metric are scale-free and a bias-free linear model scales with the data:
    the run at scale ``s`` repeats the run at scale one (a NaN loss was blamed on the learning rate)."""
    x, y = _data()
    ref = fit_operator(_model(bias=False), x, y, epochs=2, batch_size=4, validation=(x, y), **QUIET)
    xs, ys = (x * scale).astype(dtype), (y * scale).astype(dtype)
    fit = fit_operator(_model(dtype, bias=False), xs, ys, epochs=2, batch_size=4, validation=(xs, ys),
                       **QUIET)
    rtol = 1e-6 if dtype == np.float64 else 1e-3
    for key in ("train_loss", "val_loss", "val_metric"):
        np.testing.assert_allclose(fit.history[key], ref.history[key], rtol=rtol)


def test_fit_operator_scores_tiny_data_truly():
    """At 1e-200 the sums of squares underflowed: the metric read 0 whatever the prediction."""
    x, y = _data()
    fit = fit_operator(_model(), x * 1e-200, y * 1e-200, epochs=1, validation=(x * 1e-200, y * 1e-200),
                       **QUIET)
    assert math.isfinite(fit.history["train_loss"][0])
    assert fit.history["val_metric"][0] > 0.01


def test_fit_operator_refuses_a_validation_that_is_not_a_pair():
    x, y = _data()
    with pytest.raises(ValueError, match="validation"):
        fit_operator(_model(), x, y, epochs=1, validation=(x, y, y), **QUIET)


@pytest.mark.parametrize("scheduler", [3, lambda optimizer: 3])
def test_fit_operator_scheduler_of_the_wrong_type(scheduler):
    x, y = _data()
    with pytest.raises(TypeError, match="scheduler"):
        fit_operator(_model(), x, y, epochs=1, scheduler=scheduler, **QUIET)


@pytest.mark.parametrize(("batch", "error", "match"), [
    (lambda x, y: (x, y, y), ValueError, "pairs"), (lambda x, y: (x * np.nan, y), ValueError, "non-finite"),
])
def test_fit_operator_checks_what_a_batch_source_yields(batch, error, match):
    """A 3-tuple gave 'too many values to unpack'; NaN data a FloatingPointError blaming the rate."""
    x, y = _data()
    with pytest.raises(error, match=match):
        fit_operator(_model(), lambda epoch, rng: [batch(x, y)], epochs=1, **QUIET)


def test_processor_chain_needs_a_sequence():
    from physics import ProcessorChain

    with pytest.raises(TypeError, match="processors"):
        ProcessorChain(3)


def test_test_error_against_an_all_zero_truth_is_refused():
    """||pred|| / (0 + 1e-8) was returned as a relative error (4e8)."""
    x, y = _data()
    fit = fit_operator(_model(), x, y, epochs=1, **QUIET)
    with pytest.raises(ValueError, match="zero"):
        fit.test_error(x, np.zeros_like(y))


def test_a_diverging_rollout_names_the_step():
    x, y = _data()
    fit = fit_operator(_model(bias=False), x, y, epochs=1, **QUIET)
    fit.model.params["weight"][...] = 1e300  # the second step overflows
    with pytest.raises(FloatingPointError, match="step 2"):
        fit.rollout(x, 3)


def test_predict_and_rollout_refuse_empty_and_non_finite_inputs():
    x, y = _data()
    fit = fit_operator(_model(), x, y, epochs=1, **QUIET)
    for call in (lambda z: fit.predict(z), lambda z: fit.rollout(z, 2)):
        with pytest.raises(ValueError, match="sample"):
            call(x[:0])
        with pytest.raises(ValueError, match="non-finite"):
            call(x * np.nan)


# ------------------------------------------------------------------------------------ VorticityVelocity
def test_vorticity_velocity_checks_fields_and_gradients():
    vv = VorticityVelocity()
    with pytest.raises(ValueError, match="x"):
        vv.embed(np.zeros((2, 1, 0, 8)))
    with pytest.raises(TypeError, match="grad"):
        vv.embed_adjoint([1.0])
    for channels in (1, 2, 4):  # 1 and 2 used to return an empty gradient (2, 0, 8, 8)
        with pytest.raises(ValueError, match="grad"):
            vv.embed_adjoint(np.zeros((2, channels, 8, 8)))
    with pytest.raises(ValueError, match="grad"):
        vv.embed_adjoint(np.zeros((2, 3, 8)))


# ------------------------------------------------------------------------------------ Navier-Stokes
def _ns(**kw):
    return navier_stokes2d(1, 16, **{"t_final": 0.1, "n_snapshots": 2, **QUIET, **kw})


@pytest.mark.parametrize("initial", [
    1e200 * random_vorticity(1, 16, random_state=0),
    (1e30 * random_vorticity(1, 16, random_state=0)).astype(np.float32),
    1e307 * random_vorticity(1, 16, random_state=0),
])
def test_navier_stokes_huge_initial_field_is_a_clear_error(initial):
    """A ZeroDivisionError (the speed overflowed to inf) or an endless loop of 1e201 steps before."""
    with pytest.raises(ValueError, match="initial|steps"):
        _ns(initial=initial, dtype=initial.dtype)


def test_navier_stokes_refuses_runs_of_too_many_steps_instead_of_hanging():
    with pytest.raises(ValueError, match="steps"):
        _ns(t_final=1e12)
    with pytest.raises(ValueError, match="steps"):
        _ns(dt=1e-12)


def test_navier_stokes_viscosity_that_overflows_the_diffusion_factor():
    """1e308 gave 'violates the CFL bound (Courant number nan)', which was not the cause."""
    with pytest.raises(ValueError, match="viscosity"):
        _ns(viscosity=1e308)


@pytest.mark.parametrize(("name", "value", "error"), [
    ("forcing", lambda x, y: np.zeros(5), ValueError),
    ("forcing", lambda x, y: "a", TypeError),
    ("forcing", lambda x, y: None, TypeError),
    ("forcing", lambda x, y: x + 1j * y, TypeError),
    ("forcing", True, TypeError),
    ("initial", lambda x, y: np.zeros((3, 3)), ValueError),
    ("initial", lambda x, y: np.zeros((2, 16, 16)), ValueError),
    ("initial", True, TypeError),
])
def test_navier_stokes_callables_and_arrays_are_checked(name, value, error):
    with pytest.raises(error, match=name):
        _ns(**{name: value})


def test_navier_stokes_refuses_what_cannot_fit_before_allocating():
    with pytest.raises(MemoryError, match="GiB"):
        navier_stokes2d(10**7, 64, **QUIET)
    with pytest.raises(MemoryError, match="GiB"):
        navier_stokes2d(1, 64, n_snapshots=10**8, t_final=1e6, **QUIET)


def test_save_navier_stokes_refuses_what_is_not_a_dataset(tmp_path):
    path = tmp_path / "ns.npz"
    w = np.zeros((1, 2, 8, 8))
    for bad, error in ((np.full_like(w, np.nan), ValueError), (np.full(w.shape, "a"), TypeError),
                       (w.astype(complex), TypeError), (np.zeros((1, 3, 8, 8)), ValueError)):
        with pytest.raises(error, match="w"):
            save_navier_stokes(path, bad, [0.0, 1.0])
    for times in ([1.0, 0.0], [0.0, np.nan], ["a", "b"]):
        with pytest.raises((ValueError, TypeError), match="times"):
            save_navier_stokes(path, w, times)
    assert not path.exists()


def test_load_navier_stokes_refuses_non_numeric_or_non_finite_content(tmp_path):
    for name, w in (("str.npz", np.full((1, 2, 8, 8), "a")), ("nan.npz", np.full((1, 2, 8, 8), np.nan))):
        save_archive(tmp_path / name, "physics.NavierStokesDataset", 1, w=w, times=np.arange(2.0))
        with pytest.raises(ValueError, match="w"):
            load_navier_stokes(tmp_path / name)


# ------------------------------------------------------------------------------------ errors, pairs, Darcy
@pytest.mark.parametrize(("dtype", "big"), [(np.float64, 1e308), (np.float32, 3e38)])
def test_relative_errors_when_the_difference_overflows(dtype, big):
    pred, truth = np.full((1, 1, 4, 4), big, dtype), np.full((1, 1, 4, 4), -big, dtype)
    np.testing.assert_allclose(relative_errors(pred, truth), [[2.0]], rtol=1e-6)


def test_relative_errors_refuses_empty_fields_and_non_numbers():
    with pytest.raises(ValueError, match="empty"):
        relative_errors(np.ones((1, 1, 0, 4)), np.ones((1, 1, 0, 4)))
    with pytest.raises(TypeError, match="pred"):
        relative_errors(np.full((1, 1, 4, 4), "a"), np.ones((1, 1, 4, 4)))


def test_navier_stokes_pairs_checks_the_trajectories():
    with pytest.raises(TypeError, match="w"):
        navier_stokes_pairs(np.full((1, 4, 8, 8), "a"))
    with pytest.raises(ValueError, match="w"):
        navier_stokes_pairs(np.zeros((1, 4, 0, 0)))


@pytest.mark.parametrize(("a", "f", "error", "match"), [
    (np.ones((8, 8)) * (1 + 1j), 1.0, TypeError, "a"),
    (np.full((8, 8), "a"), 1.0, TypeError, "a"),
    (np.ones((8, 8)), np.ones((8, 8)) * 1j, TypeError, "f"),
    (np.ones((8, 8)), np.ones((3, 3)), ValueError, "f"),
])
def test_solve_darcy_refuses_complex_and_misshapen_input(a, f, error, match):
    """A complex coefficient lost its imaginary part silently before."""
    with pytest.raises(error, match=match):
        solve_darcy(a, f)


def test_darcy_refuses_sub_samples_that_cannot_fit_before_allocating():
    with pytest.raises(MemoryError, match="GiB"):
        darcy(1, 64, coefficient="cell", subsamples=10**4, progress=False)


def test_darcy_datasets_are_checked_on_save_and_load(tmp_path):
    ones = np.ones((1, 4, 4))
    for a, error in ((np.full_like(ones, np.nan), ValueError), (np.full(ones.shape, "a"), TypeError),
                     (ones.astype(complex), TypeError)):
        with pytest.raises(error, match="a"):
            save_darcy(tmp_path / "d.npz", a, ones)
    assert not (tmp_path / "d.npz").exists()
    save_archive(tmp_path / "nan.npz", "physics.DarcyDataset", 1, a=ones, u=np.full_like(ones, np.nan))
    with pytest.raises(ValueError, match="u"):
        load_darcy(tmp_path / "nan.npz")


@pytest.mark.parametrize("validation", [lambda a, u: (a,), lambda a, u: a])
def test_fit_darcy_validation_must_be_a_pair(validation):
    """A 1-tuple raised IndexError; an array was read as its first sample."""
    from operators import FNO

    a, u = darcy(4, 8, random_state=0, progress=False)
    model = FNO((4, 4), 1, 1, 4, n_layers=1, random_state=0)
    with pytest.raises(TypeError, match="validation"):
        fit_darcy(model, a, u, epochs=1, validation=validation(a, u), progress=False)
