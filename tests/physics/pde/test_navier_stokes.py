"""Navier-Stokes generator: exact solutions, convergence, resolution consistency, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from physics.pde import (
    fno_forcing,
    load_navier_stokes,
    navier_stokes2d,
    random_vorticity,
    save_navier_stokes,
)

N = 16
X = np.arange(N) / N


def test_forced_shear_mode_is_exact():
    """w = g(x + y) makes u . grad w vanish: from rest the FNO forcing gives
    w(t) = f / (8 pi^2 nu) (1 - exp(-8 pi^2 nu t)). For a constant forcing the step
    (1 + a) w1 = (1 - a) w0 + dt f is the trapezoidal rule, so the error is O(dt^2)."""
    nu = 1e-2
    errors = []
    for dt in (2e-2, 1e-2):
        w, t = navier_stokes2d(1, N, viscosity=nu, t_final=1.0, n_snapshots=2, dt=dt,
                               initial=np.zeros((N, N)), progress=False)
        f = fno_forcing(X[:, None], X[None, :])
        exact = f / (8 * np.pi**2 * nu) * (1 - np.exp(-8 * np.pi**2 * nu * t[-1]))
        errors.append(np.abs(w[0, -1] - exact).max() / np.abs(exact).max())
    assert errors[1] < 1e-4
    assert 3.5 < errors[0] / errors[1] < 4.5


def test_taylor_green_decay_is_second_order():
    """sin(2 pi x) sin(2 pi y) is steady for the Euler part and decays as exp(-8 pi^2 nu t);
    Crank-Nicolson is second order in dt."""
    nu = 1e-2
    w0 = np.sin(2 * np.pi * X[:, None]) * np.sin(2 * np.pi * X[None, :])
    errors = []
    for dt in (2e-2, 1e-2):
        w, _ = navier_stokes2d(1, N, viscosity=nu, t_final=1.0, n_snapshots=2, dt=dt, initial=w0,
                               forcing=None, progress=False)
        errors.append(np.abs(w[0, -1] - w0 * np.exp(-8 * np.pi**2 * nu)).max())
    assert errors[1] < 1e-5
    assert 3.5 < errors[0] / errors[1] < 4.5


def test_high_viscosity_decays_as_the_exact_solution():
    """nu = 10: the automatic step keeps dt nu |k|^2 / 2 <= 1 for every mode, so Crank-Nicolson damps
    them all (before, the CFL step alone gave the top mode a factor 394 and flipped the Taylor-Green
    mode's sign: (1 - 3.1) / (1 + 3.1) per step instead of exp(-6.2))."""
    nu = 10.0
    w0 = np.sin(2 * np.pi * X[:, None]) * np.sin(2 * np.pi * X[None, :])
    w, t = navier_stokes2d(1, N, viscosity=nu, t_final=0.02, n_snapshots=3, initial=w0, forcing=None,
                           progress=False)
    for k in (1, 2):
        exact = w0 * np.exp(-8 * np.pi**2 * nu * t[k])
        np.testing.assert_allclose(w[0, k], exact, rtol=0, atol=2e-3 * np.abs(exact).max())  # O(dt^2)
    with pytest.warns(RuntimeWarning, match="flips the sign"):
        navier_stokes2d(1, N, viscosity=nu, t_final=0.02, n_snapshots=2, dt=0.01, initial=w0,
                        forcing=None, progress=False)


def test_random_field_spectrum_and_resolution_consistency():
    w32 = random_vorticity(3, 32, random_state=5)
    w64 = random_vorticity(3, 64, random_state=5)
    assert np.abs(w32.mean(axis=(1, 2))).max() < 1e-12
    # the same draw at two resolutions: the finer field restricted to the modes the coarse grid
    # resolves (|k| < 16) is the coarse field exactly
    spectrum = np.fft.fft2(w64)
    k = np.fft.fftfreq(64, 1 / 64)
    spectrum[:, np.abs(k) >= 16, :] = 0
    spectrum[:, :, np.abs(k) >= 16] = 0
    restricted = np.fft.ifft2(spectrum).real[:, ::2, ::2]
    np.testing.assert_allclose(restricted, w32, atol=1e-12 * np.abs(w32).max())
    # flows agree to discretization error
    a, _ = navier_stokes2d(2, 32, t_final=0.5, n_snapshots=2, random_state=1, progress=False)
    b, _ = navier_stokes2d(2, 64, t_final=0.5, n_snapshots=2, random_state=1, progress=False)
    assert np.abs(b[:, -1, ::2, ::2] - a[:, -1]).max() < 1e-2 * np.abs(a[:, -1]).max()


def test_shapes_times_dtype_and_determinism():
    w, t = navier_stokes2d(2, N, t_final=0.2, n_snapshots=3, dtype=np.float32, random_state=0,
                           progress=False)
    assert w.shape == (2, 3, N, N) and w.dtype == np.float32
    np.testing.assert_allclose(t, [0.0, 0.1, 0.2])
    w2, _ = navier_stokes2d(2, N, t_final=0.2, n_snapshots=3, dtype=np.float32, random_state=0,
                            progress=False)
    np.testing.assert_array_equal(w, w2)
    np.testing.assert_allclose(w[:, 0], random_vorticity(2, N, random_state=0), rtol=1e-5, atol=1e-6)


def test_save_load_roundtrip(tmp_path):
    w, t = navier_stokes2d(1, N, t_final=0.1, n_snapshots=2, random_state=0, progress=False)
    save_navier_stokes(tmp_path / "ns.npz", w, t)
    w2, t2 = load_navier_stokes(tmp_path / "ns.npz")
    np.testing.assert_array_equal(w, w2)
    np.testing.assert_array_equal(t, t2)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": True}, TypeError, "n_samples"),
        ({"resolution": 15}, ValueError, "even"),
        ({"viscosity": 0.0}, ValueError, "viscosity"),
        ({"viscosity": float("nan")}, ValueError, "viscosity"),
        ({"t_final": -1.0}, ValueError, "t_final"),
        ({"n_snapshots": 1}, ValueError, "n_snapshots"),
        ({"dt": 1.0}, ValueError, "CFL"),
        # the message quotes the step asked for, and the shorter one actually taken
        ({"dt": 10.0}, ValueError, r"dt=10 \(the step taken: 0\.1,"),
        ({"dt": 0.0}, ValueError, "dt must be > 0"),
        ({"dt": "0.1"}, TypeError, "dt must be a real number"),
        ({"initial": np.zeros((N, N + 1))}, ValueError, "initial"),
        ({"initial": np.full((N, N), np.nan)}, ValueError, "initial"),
        ({"forcing": "kolmogorov"}, ValueError, "forcing"),
        ({"device": "tpu"}, ValueError, "device"),
        ({"dtype": np.int32}, TypeError, "dtype"),
    ],
)
def test_bad_input(kwargs, error, match):
    args = {"n_samples": 1, "resolution": N, "t_final": 0.1, "n_snapshots": 2, "progress": False,
            "random_state": 0}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        navier_stokes2d(**args)


def test_generator_benchmark_runs_and_its_two_paths_agree(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_ns_generator.py"
    spec = importlib.util.spec_from_file_location("bench_ns_generator", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    difference = float(out.split("max relative difference")[1].split()[0])
    assert difference < 1e-12  # the Numba kernels and the numpy references: roundoff apart
