"""``tensorkit demo`` section: a tiny FNO and TFNO learn the Darcy solution operator in seconds."""

from __future__ import annotations

import time

import numpy as np

from operators import FNO, TFNO

from ._darcy import darcy
from ._learning import fit_darcy


def run(options) -> None:
    """Train a small FNO and TFNO on generated Darcy data; print errors, sizes and times."""
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
