"""physics.wave: the finite-element wave simulator against exact discrete and continuous solutions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from physics.wave import (
    Submodel,
    WaveFEM,
    boundary_trace,
    draw_sources,
    load_wave,
    ricker,
    save_wave,
    wave2d,
)


def quiet(*args, **kwargs):
    return wave2d(*args, progress=False, **kwargs)


def every_step(resolution, n_steps, dt=None, **kwargs):
    """A simulation saving every step (``dt`` divides ``t_final`` exactly)."""
    if dt is None:
        dt = 0.9 * WaveFEM((resolution, resolution), speed=kwargs.get("speed", 1.0),
                           boundary=kwargs.get("boundary", "dirichlet")).cfl_bound()
    u, times = quiet(kwargs.pop("n_samples", 2), resolution, n_snapshots=n_steps + 1,
                     t_final=n_steps * dt, dt=dt, **kwargs)
    return u, times, dt


# -- the finite-element matrices ---------------------------------------------------------------


def test_matrices_are_the_p1_ones():
    fem = WaveFEM((9, 9))
    h = 1 / 8
    # interior rows of the P1 stiffness on right triangles: the 5-point Laplacian stencil
    row = fem.stiffness[4 * 9 + 4].toarray().reshape(9, 9)
    assert row[4, 4] == pytest.approx(4.0)
    assert row[3, 4] == row[5, 4] == row[4, 3] == row[4, 5] == pytest.approx(-1.0)
    assert np.allclose(fem.stiffness @ np.ones(81), 0.0, atol=1e-12)  # constants in the kernel
    assert fem.mass.sum() == pytest.approx(1.0)  # lumped mass integrates 1 over the square
    assert fem.mass[4 * 9 + 4] == pytest.approx(h * h)
    absorbing = WaveFEM((9, 9), speed=2.0, boundary="absorbing")
    assert absorbing.damping.sum() == pytest.approx(2.0 * 4.0)  # c times the perimeter
    assert not absorbing.fixed.any() and fem.fixed.sum() == 32
    # with Dirichlet nodes removed it is the 5-point Laplacian, whose spectrum is known
    assert fem.max_eigenvalue() == pytest.approx(8 * np.sin(7 * np.pi / 16) ** 2 / h**2, rel=1e-12)
    assert fem.cfl_bound() == pytest.approx(2 / np.sqrt(fem.max_eigenvalue()))


def test_speed_forms_agree():
    constant = WaveFEM((9, 9), speed=2.0).stiffness
    assert abs(WaveFEM((9, 9), speed=np.full((9, 9), 2.0)).stiffness - constant).max() < 1e-12
    assert abs(WaveFEM((9, 9), speed=lambda x, y: 2.0 + 0 * x).stiffness - constant).max() < 1e-12
    assert abs(WaveFEM((9, 9)).stiffness * 4.0 - constant).max() < 1e-12


# -- exact checks ------------------------------------------------------------------------------


def test_standing_mode_converges_at_second_order():
    m, n, t_final = 1, 2, 0.5
    omega = np.pi * np.hypot(m, n)
    errors = []
    for resolution in (17, 33, 65):
        u, times = quiet(1, resolution, n_snapshots=3, t_final=t_final,
                         initial=lambda x, y: np.sin(m * np.pi * x) * np.sin(n * np.pi * y))
        fem = WaveFEM((resolution, resolution))
        exact = np.sin(m * np.pi * fem.x) * np.sin(n * np.pi * fem.y) * np.cos(omega * times[-1])
        errors.append(np.sqrt(np.sum(fem.mass * (u[0, -1] - exact).ravel() ** 2)))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert orders.min() >= 1.8, orders


def test_leapfrog_from_an_eigenvector_follows_cos_n_theta():
    resolution, n_steps = 9, 40
    fem = WaveFEM((resolution, resolution))
    free = ~fem.fixed
    lam, vectors = scipy.linalg.eigh(fem.stiffness[free][:, free].toarray(), np.diag(fem.mass[free]))
    for index in (0, 5, len(lam) - 1):
        phi = np.zeros(fem.n_nodes)
        phi[free] = vectors[:, index] / np.abs(vectors[:, index]).max()
        dt = 0.5 * fem.cfl_bound()
        u, _, _ = every_step(resolution, n_steps, dt=dt, n_samples=1, initial=phi.reshape(9, 9))
        theta = np.arccos(1.0 - dt * dt * lam[index] / 2.0)
        expected = np.cos(theta * np.arange(n_steps + 1))[:, None] * phi[None, :]
        assert np.abs(u[0].reshape(n_steps + 1, -1) - expected).max() < 1e-12


def test_energy_is_conserved_with_dirichlet_and_decays_with_absorbing():
    fem = WaveFEM((33, 33))
    u, _, dt = every_step(33, 150, random_state=1)
    energy = fem.energy(u[:, :-1], u[:, 1:], dt)
    assert np.all(energy > 0)
    assert np.abs(energy / energy[:, :1] - 1.0).max() < 1e-12

    fem = WaveFEM((33, 33), boundary="absorbing")
    u, _, dt = every_step(33, 150, boundary="absorbing", random_state=1)
    energy = fem.energy(u[:, :-1], u[:, 1:], dt)
    assert np.all(np.diff(energy, axis=1) <= 1e-13 * energy[:, :1])
    assert np.all(energy[:, -1] < 1e-3 * energy[:, 0])


def test_speed_rescales_time_exactly():
    """``c = 2`` with half the step is ``c = 1`` at twice the time, to round-off."""
    dt = 0.9 * WaveFEM((17, 17)).cfl_bound()
    slow, _, _ = every_step(17, 30, dt=dt, random_state=0)
    fast, _, _ = every_step(17, 30, dt=dt / 2, speed=2.0, random_state=0)
    assert np.abs(fast - slow).max() < 1e-12


def test_layered_medium_and_sources():
    layered = lambda x, y: np.where(y < 0.5, 1.0, 2.0)  # noqa: E731
    assert WaveFEM((17, 17), speed=layered).cfl_bound() < 0.6 * WaveFEM((17, 17)).cfl_bound()
    u, _ = quiet(2, 17, n_snapshots=4, t_final=0.6, speed=layered, source="ricker",
                 boundary="absorbing", random_state=0)
    assert np.all(np.isfinite(u)) and np.abs(u[:, -1]).max() > 0.0
    assert np.all(u[:, 0] == 0.0)  # Ricker sources start from rest


def test_point_sources_superpose():
    a, b = (0.3, 0.4, 3.0, 1.0), (0.62, 0.71, 2.5, -0.5)
    both, _ = quiet(1, 17, n_snapshots=4, t_final=0.6, source="ricker", sources=[a, b])
    first, _ = quiet(1, 17, n_snapshots=4, t_final=0.6, source="ricker", sources=[a])
    second, _ = quiet(1, 17, n_snapshots=4, t_final=0.6, source="ricker", sources=[b])
    assert np.abs(both - first - second).max() < 1e-12 * np.abs(both).max()
    assert float(ricker(1.2 / 3.0, 3.0)) == pytest.approx(1.0)


def test_ricker_formula_and_bad_input():
    t, f = np.linspace(0.0, 1.0, 7), np.array([[2.0], [3.5]])
    arg = (np.pi * f * (t - 1.2 / f)) ** 2
    np.testing.assert_allclose(ricker(t, f), (1 - 2 * arg) * np.exp(-arg), rtol=1e-15)
    with pytest.raises(ValueError, match="frequency must be > 0"):
        ricker(t, -1.0)
    with pytest.raises(ValueError, match="frequency must be > 0"):
        ricker(t, np.array([1.0, 0.0])[:, None])
    with pytest.raises(ValueError, match="non-finite"):
        ricker([0.1, np.nan], 3.0)
    with pytest.raises(TypeError, match="t must hold numbers"):
        ricker("a", 3.0)


def test_pulses_given_and_drawn():
    u, _ = quiet(1, 17, n_snapshots=2, t_final=0.1, sources=[(0.5, 0.5, 0.1, 2.0)])
    fem = WaveFEM((17, 17))
    pulse = 2.0 * np.exp(-((fem.x - 0.5) ** 2 + (fem.y - 0.5) ** 2) / (2 * 0.1**2))
    pulse[fem.fixed.reshape(17, 17)] = 0.0
    assert np.array_equal(u[0, 0], pulse)
    drawn = draw_sources(50, random_state=0)
    assert all(1 <= len(s) <= 3 for s in drawn)
    widths = np.array([w for s in drawn for (_, _, w, _) in s])
    assert widths.min() >= 4 / 63 and widths.max() <= 6 / 63


def test_same_random_state_same_fields_at_any_resolution():
    assert draw_sources(5, random_state=3) == draw_sources(5, random_state=3)
    kwargs = {"n_snapshots": 5, "t_final": 0.4, "random_state": 3}
    coarse, _ = quiet(3, 33, **kwargs)
    fine, _ = quiet(3, 65, **kwargs)
    again, _ = quiet(3, 33, **kwargs)
    other, _ = quiet(3, 33, **{**kwargs, "random_state": 4})
    assert np.array_equal(coarse, again)
    common = fine[..., ::2, ::2]
    assert np.linalg.norm(coarse - common) < 0.05 * np.linalg.norm(common)
    assert np.linalg.norm(other - coarse) > 0.5 * np.linalg.norm(coarse)


def test_float32_follows_float64():
    u64, _ = quiet(2, 17, n_snapshots=3, t_final=0.5, random_state=0)
    u32, _ = quiet(2, 17, n_snapshots=3, t_final=0.5, random_state=0, dtype=np.float32)
    assert u32.dtype == np.float32
    assert np.abs(u32 - u64).max() < 1e-5 * np.abs(u64).max()


def test_snapshot_times_end_exactly_at_t_final():
    fem = WaveFEM((17, 17))
    u, times = quiet(1, 17, n_snapshots=7, t_final=0.7, dt=0.5 * fem.cfl_bound(), random_state=0)
    assert times[0] == 0.0 and times[-1] == 0.7 and len(times) == 7 == u.shape[1]


# -- the submodel ------------------------------------------------------------------------------

ZONE = ((0.25, 0.75), (0.5, 1.0))


def test_submodel_with_the_exact_trace_reproduces_the_full_solution():
    u, times, dt = every_step(33, 60, random_state=0)
    sub = Submodel(ZONE, 33)
    trace = boundary_trace(u, times, ZONE, 33)
    assert trace.shape == (2, 61, sub.n_boundary) == (2, 61, 4 * 16)
    inside = sub.run(trace, times, initial=sub.sample(u[:, 0]), dt=dt)
    reference = sub.sample(u)
    assert np.array_equal(reference, u[:, :, 8:25, 16:33])  # zone nodes are full-grid nodes
    assert np.abs(inside - reference).max() < 1e-12 * np.abs(reference).max()
    # snapshots every second step: the trace is interpolated in time by cubic splines
    inside = sub.run(trace[:, ::2], times[::2], initial=sub.sample(u[:, 0]), dt=dt)
    assert np.abs(inside - reference[:, ::2]).max() < 5e-3 * np.abs(reference).max()


def test_submodel_on_a_finer_mesh_converges_to_the_fine_solution():
    kwargs = {"n_snapshots": 9, "t_final": 0.4, "random_state": 0}
    coarse, times = quiet(1, 33, **kwargs)
    fine, _ = quiet(1, 65, **kwargs)
    sub = Submodel(ZONE, 65)
    inside = sub.run(boundary_trace(fine, times, ZONE, 65), times, initial=sub.sample(fine[:, 0]))
    assert np.linalg.norm(inside - sub.sample(fine)) < 0.02 * np.linalg.norm(sub.sample(fine))
    from_coarse = sub.run(boundary_trace(coarse, times, ZONE, 65), times,
                          initial=sub.sample(coarse[:, 0]))
    assert np.linalg.norm(from_coarse - sub.sample(fine)) < 0.05 * np.linalg.norm(sub.sample(fine))


# -- data files and the device -----------------------------------------------------------------


def test_dataset_round_trip(tmp_path):
    u, times = quiet(2, 9, n_snapshots=3, t_final=0.2, random_state=0)
    save_wave(tmp_path / "wave.npz", u, times)
    u2, times2 = load_wave(tmp_path / "wave.npz")
    assert np.array_equal(u, u2) and np.array_equal(times, times2)
    np.savez(tmp_path / "other.npz", u=u)
    with pytest.raises(ValueError, match="format"):
        load_wave(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="times"):
        save_wave(tmp_path / "bad.npz", u, times[:2])
    assert not (tmp_path / "bad.npz").exists()


def test_device_parity(device):
    u_cpu, _ = quiet(2, 9, n_snapshots=3, t_final=0.3, source="ricker", random_state=0)
    u_dev, _ = quiet(2, 9, n_snapshots=3, t_final=0.3, source="ricker", random_state=0,
                     device=device.name)
    assert np.allclose(device.get(u_dev), u_cpu, rtol=1e-10, atol=1e-12)


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dt": 0.1}, ValueError, "dt=0.1 violates the CFL condition.*2 / sqrt"),
        ({"dt": -0.01}, ValueError, "dt must be > 0"),
        ({"sources": [(1.2, 0.5, 0.1)]}, ValueError, r"sources\[0\] x must be < 1"),
        ({"sources": [(0.5, 0.0, 0.1)]}, ValueError, r"sources\[0\] y must be > 0"),
        ({"sources": [(0.5, 0.5, 0.0)]}, ValueError, "width must be > 0"),
        ({"sources": [[(0.5, 0.5, 0.1)]] * 3}, ValueError, "3 per-sample lists for n_samples=2"),
        ({"sources": [(0.5, 0.5)]}, TypeError, "sources"),
        ({"speed": 0.0}, ValueError, "speed must be > 0"),
        ({"speed": lambda x, y: 1.0 - 2.0 * x}, ValueError, "speed must be positive everywhere"),
        ({"speed": np.zeros((9, 9))}, ValueError, "speed must be positive everywhere"),
        ({"speed": np.ones((8, 8))}, ValueError, "speed must be .* shape"),
        ({"initial": np.ones((8, 8))}, ValueError, "initial must be"),
        ({"initial": np.ones((9, 9)), "sources": [(0.5, 0.5, 0.1)]}, ValueError, "either initial"),
        ({"source": "point"}, ValueError, "source must be one of"),
        ({"boundary": "periodic"}, ValueError, "boundary must be one of"),
        ({"dtype": np.int32}, TypeError, "dtype"),
        ({"device": "tpu"}, ValueError, "device must be one of"),
        ({"n_snapshots": 1}, ValueError, "n_snapshots must be >= 2"),
        ({"t_final": 0.0}, ValueError, "t_final must be > 0"),
    ],
)
def test_bad_simulation_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        wave2d(2, 9, **{"n_snapshots": 3, "t_final": 0.2, "progress": False, **kwargs})


def test_bad_counts():
    with pytest.raises(TypeError, match="n_samples must be an int, got True"):
        wave2d(True, 9, n_snapshots=3, t_final=0.2)
    with pytest.raises(ValueError, match="resolution must be >= 3"):
        wave2d(1, 2, n_snapshots=3, t_final=0.2)


@pytest.mark.parametrize(
    ("zone", "error", "match"),
    [
        (((0.5, 1.25), (0.0, 0.5)), ValueError, "inside the unit square"),
        (((0.5, 0.25), (0.0, 0.5)), ValueError, "inside the unit square"),
        (((0.3, 0.7), (0.0, 0.5)), ValueError, "does not align"),
        (((0.5, 0.5625), (0.0, 0.5)), ValueError, "at least 3"),
        ((0.5, 0.75), TypeError, "zone must be"),
    ],
)
def test_bad_zone(zone, error, match):
    with pytest.raises(error, match=match):
        Submodel(zone, 17)
    u = np.zeros((1, 2, 17, 17))
    with pytest.raises(error, match=match):
        boundary_trace(u, [0.0, 0.1], zone, 17)


def test_bad_trace():
    sub = Submodel(ZONE, 17)
    with pytest.raises(ValueError, match="trace must have shape"):
        sub.run(np.zeros((1, 3, 5)), [0.0, 0.1, 0.2])
    with pytest.raises(ValueError, match="equally spaced"):
        sub.run(np.zeros((1, 3, sub.n_boundary)), [0.0, 0.1, 0.3])
    with pytest.raises(ValueError, match="times must have shape"):
        sub.run(np.zeros((1, 3, sub.n_boundary)), [0.0, 0.1])
