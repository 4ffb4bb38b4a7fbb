"""``tensorkit demo`` section: a tiny FNO and TFNO learn the Darcy solution operator, and FNO / TFNO /
MG-TFNO / two-level MG-TFNO the one-step map of 2D Navier-Stokes, in seconds."""

from __future__ import annotations

import time

import numpy as np

from operators import FNO, MGTFNO, TFNO, TwoLevelMGTFNO

from .._learning import fit_operator
from ._darcy import darcy
from ._learning import fit_darcy, navier_stokes_pairs, relative_errors
from ._navier_stokes import navier_stokes2d


def run(options) -> None:
    """Train a small FNO and TFNO on generated Darcy data, then FNO / TFNO / MG-TFNO on Navier-Stokes
    vorticity; print errors, sizes and times."""
    _darcy_section(options)
    _navier_stokes_section(options)


def _darcy_section(options) -> None:
    if options.quick:
        n_train, n_test, resolution, epochs, width, modes = 60, 10, 16, 8, 8, 6
    else:
        n_train, n_test, resolution, epochs, width, modes = 300, 30, 24, 15, 16, 8
    start = time.perf_counter()
    a, u = darcy(n_train, resolution, random_state=0, progress=False)
    a_test, u_test = darcy(n_test, resolution, random_state=1, progress=False)
    print(f"Darcy flow {resolution}x{resolution}: {n_train} train / {n_test} test samples "
          f"({time.perf_counter() - start:.1f} s); FNO modes {modes}, width {width}, {epochs} epochs")
    print(f"{'model':>6} {'parameters':>11} {'test rel. L2':>13} {'time [s]':>9}")
    fits = {}
    for name, cls in (("FNO", FNO), ("TFNO", TFNO)):
        model = cls((modes, modes), 1, 1, width, n_layers=3, dtype=np.float32, random_state=0)
        start = time.perf_counter()
        fits[name] = fit = fit_darcy(model, a, u, epochs=epochs, batch_size=10, lr=5e-3,
                                     validation=(a_test, u_test), random_state=0,
                                     progress=options.progress)
        print(f"{name:>6} {model.num_parameters():11d} {fit.history['val_metric'][-1]:13.2%} "
              f"{time.perf_counter() - start:9.1f}")
    path = options.plot_file("fno")
    if path is not None:
        from ._plots import plot_prediction

        plot_prediction(a_test[0], u_test[0], fits["FNO"].predict(a_test[:1])[0], path,
                        title="FNO on Darcy flow (test sample)")
        print(f"saved plot {path}")


def _navier_stokes_section(options) -> None:
    if options.quick:
        flows, test_flows, resolution, t_final, epochs, width, modes = 6, 2, 16, 4, 4, 8, 6
    else:
        flows, test_flows, resolution, t_final, epochs, width, modes = 16, 4, 32, 6, 8, 12, 8
    start = time.perf_counter()
    w, _ = navier_stokes2d(flows + test_flows, resolution, t_final=float(t_final), n_snapshots=t_final + 1,
                           dtype=np.float32, random_state=0, progress=False)
    x, y = navier_stokes_pairs(w[:flows])
    x_test, y_test = navier_stokes_pairs(w[flows:, :2])
    print(f"\nNavier-Stokes {resolution}x{resolution}, viscosity 1e-3: w(t) -> w(t+1) from {flows} flows "
          f"({time.perf_counter() - start:.1f} s); {t_final}-step rollouts on {test_flows} held-out flows")
    print(f"{'model':>10} {'parameters':>11} {'one-step':>9} {'rollout':>9} {'time [s]':>9}")
    kw = {"dtype": np.float32, "random_state": 0}
    padding = 0.125 if resolution < 32 else 0.0625
    models = {"FNO": FNO((modes, modes), 1, 1, width, **kw),
              "TFNO": TFNO((modes, modes), 1, 1, width, rank=0.1, **kw),
              "MG-TFNO": MGTFNO((modes, modes), 1, 1, width, padding_fraction=padding, rank=0.1, **kw),
              # the patches plus a global TFNO on the coarse grid (no processor: it patches inside)
              "MG-TFNO-2L": TwoLevelMGTFNO((modes, modes), 1, 1, width, padding_fraction=padding, rank=0.1,
                                          **kw)}
    for name, model in models.items():
        start = time.perf_counter()
        fit = fit_operator(model, x, y, epochs=epochs, processor=getattr(model, "processor", None),
                           loss="h1", lr=5e-3, batch_size=8, validation=(x_test, y_test), random_state=0,
                           progress=options.progress)
        rollout = relative_errors(fit.rollout(w[flows:, :1], t_final), w[flows:, 1:]).mean(axis=0)
        print(f"{name:>10} {model.num_parameters():11d} {fit.history['val_metric'][-1]:9.2%} "
              f"{rollout[-1]:9.2%} {time.perf_counter() - start:9.1f}")
