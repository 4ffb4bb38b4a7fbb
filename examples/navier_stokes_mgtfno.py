"""Learn the one-step map of 2D Navier-Stokes with FNO, TFNO and MG-TFNO, then roll it out.

A walk-through of issue 13's pieces:

1. ``physics.pde.navier_stokes2d`` simulates vorticity on the unit torus (viscosity 1e-3, the FNO
   paper's forcing and random initial fields); pairs w(t) -> w(t + 1) are cut from the trajectories.
2. ``operators.FNO`` (dense spectral weights), ``operators.TFNO`` (CP per layer, rank 0.07: about 11x
   fewer parameters; CP beat Tucker at equal size in benchmarks/bench_navier_stokes.py) and
   ``operators.MGTFNO`` (ONE CP tensor over all layers, trained on 2 x 2 patches padded by 1/8 of the
   side, with a coarse context channel: ``model.processor`` is the patching) are trained with the
   same recipe, ``physics.fit_operator`` (relative H1 loss, Adam with weight decay, the learning rate
   annealed to zero over the run by a cosine schedule).
   The forcing depends on the position, so each model must know where a point lies: FNO and TFNO
   see whole fields with their [0, 1] grid appended; MG-TFNO sees patches, whose own grid cannot
   tell them apart, so ``positional_embedding="periodic"`` appends sin / cos of the GLOBAL
   coordinates to the whole fields ahead of the patching, and every patch carries them.
   ``operators.TwoLevelMGTFNO`` ("MG-TFNO-2L") completes MG-TFNO's patches with one global TFNO on the
   coarse grid (the size of one patch), whose Fourier basis is the true period: it moves the
   domain-sized structures that a patch window cannot (benchmarks/bench_navier_stokes.py).
3. Each model is rolled out autoregressively on held-out flows (``fit.rollout``) and the figures
   are written: vorticity truth / prediction / error, error vs epochs, error vs parameters.

    python examples/navier_stokes_mgtfno.py            # 64 x 64, 40 flows, minutes on 2 cores
    python examples/navier_stokes_mgtfno.py --quick    # seconds (also TENSORKIT_QUICK=1)
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from operators import (
    FNO,
    MGTFNO,
    TFNO,
    TwoLevelMGTFNO,
    plot_error_vs_parameters,
    plot_fields,
    plot_learning_curves,
)
from physics import fit_operator
from physics.pde import navier_stokes2d


def pairs(w):
    """Every (w(t), w(t + 1)) of every flow, as (n, 1, R, R) arrays."""
    n, t, r, _ = w.shape
    return w[:, :-1].reshape(n * (t - 1), 1, r, r), w[:, 1:].reshape(n * (t - 1), 1, r, r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--outdir", type=Path, default=Path("."))
    args = parser.parse_args()
    quick = args.quick or os.environ.get("TENSORKIT_QUICK") == "1"
    if quick:
        flows, test_flows, resolution, t_final, epochs, width, modes = 6, 2, 16, 4, 3, 8, 6
    else:
        flows, test_flows, resolution, t_final, epochs, width, modes = 40, 8, 64, 10, 20, 20, 12

    start = time.perf_counter()
    w, times = navier_stokes2d(flows + test_flows, resolution, viscosity=1e-3, t_final=float(t_final),
                               n_snapshots=t_final + 1, dtype=np.float32, random_state=0, progress=not quick)
    w_train, w_test = w[:flows], w[flows:]
    x, y = pairs(w_train)
    x_test, y_test = pairs(w_test[:, :2])
    print(f"{flows + test_flows} flows of {resolution}x{resolution} to t = {t_final} in "
          f"{time.perf_counter() - start:.1f} s: {x.shape[0]} training pairs, {test_flows} test flows")

    kw = {"dtype": np.float32, "random_state": 0}
    models = {
        "FNO": FNO((modes, modes), 1, 1, width, **kw),
        "TFNO": TFNO((modes, modes), 1, 1, width, factorization="cp", rank=0.07, **kw),
        "MG-TFNO": MGTFNO((modes, modes), 1, 1, width, levels=1, padding_fraction=0.125,
                          factorization="cp", rank=0.07, positional_embedding="periodic", **kw),
        # patches inside its forward (no processor): the coarse TFNO sees the whole field
        "MG-TFNO-2L": TwoLevelMGTFNO((modes, modes), 1, 1, width, levels=1, padding_fraction=0.125,
                                     factorization="cp", rank=0.07, **kw),
    }
    histories, sizes, rollouts = {}, {}, {}
    print(f"{'model':>10} {'parameters':>11} {'one-step':>9} {'rollout':>9} {'time [s]':>9}")
    for name, model in models.items():
        processor = getattr(model, "processor", None)  # MG-TFNO: embed the coordinates, then patch
        start = time.perf_counter()
        fit = fit_operator(model, x, y, epochs=epochs, processor=processor, loss="h1", lr=3e-3,
                           scheduler="cosine", batch_size=10, validation=(x_test, y_test), random_state=0,
                           progress=not quick)
        roll = fit.rollout(w_test[:, :1], t_final)
        truth = w_test[:, 1:]
        err = np.sqrt(((roll - truth) ** 2).sum(axis=(-2, -1)) / (truth**2).sum(axis=(-2, -1)))
        histories[name] = fit.history["val_metric"]
        sizes[name] = (model.num_parameters(), histories[name][-1])
        rollouts[name] = roll
        print(f"{name:>10} {model.num_parameters():11d} {histories[name][-1]:9.2%} {err[:, -1].mean():9.2%} "
              f"{time.perf_counter() - start:9.1f}")

    args.outdir.mkdir(parents=True, exist_ok=True)
    rows = [0, t_final // 2 - 1, t_final - 1]
    plot_fields(w_test[0, 1:][rows], rollouts["MG-TFNO"][0][rows], args.outdir / "ns_vorticity.png",
                labels=[f"t = {times[r + 1]:g}" for r in rows], title="MG-TFNO rollout on a held-out flow")
    plot_learning_curves(histories, args.outdir / "ns_error_vs_epochs.png", ylabel="one-step relative L2")
    plot_error_vs_parameters(sizes, args.outdir / "ns_error_vs_parameters.png", ylabel="one-step relative L2")
    print(f"figures: {', '.join(p.name for p in sorted(args.outdir.glob('ns_*.png')))}")


if __name__ == "__main__":
    main()
