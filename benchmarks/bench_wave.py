"""Wave simulator: time to make the surrogate datasets of ``physics.wave.wave2d``, then the CNN
surrogates with convolutions compressed a priori (``compare_compression``) and the boundary
generator (``compare_boundary_generator``).

The issue's target: 100 samples at 64 x 64 with 100 snapshots in <= 10 s on 2 cores. Prints, per
configuration (source, boundary, dtype): the setup (scikit-fem assembly and the Lanczos CFL
bound), the number of steps, wall and CPU time of the whole call, and the cost per time step
(one sparse-times-dense product over all samples plus the update).

Run: ``python benchmarks/bench_wave.py [--samples 100] [--resolution 64] [--snapshots 100]
[--t-final 2] [--repeats 2] [--threads 2]``. The first call of a process also pays for touching the
fresh output memory (327 MB in float64 at the default size); later repeats reuse it, so both the
first and the best time are printed.

The surrogate part (skip it with ``--no-surrogate``) trains a WaveCNN forecaster per convolution
kind on the same data, budget and seed (default: 32 pulse simulations at 32 x 32 with 31 snapshots
to t = 1.5, width 8, depth 2, 20 epochs: minutes on 2 cores; ``--full``: 80 simulations at
64 x 64, 51 snapshots, width 16, 30 epochs) and prints the table (parameters, peak training memory
by ``tracemalloc``, parameter/gradient/Adam memory, time per epoch, one-step and 20-step rollout
errors), then the boundary generator (4 times as many simulations over half the time, three times
the forecasting epochs) against the direct interior CNN. ``--plots DIR`` saves the figures.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from physics.wave import (
    WaveFEM,
    choose_step,
    compare_boundary_generator,
    compare_compression,
    plot_compression,
    plot_rollout,
    wave2d,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--snapshots", type=int, default=100)
    parser.add_argument("--t-final", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--no-surrogate", dest="surrogate", action="store_false",
                        help="data generation only")
    parser.add_argument("--full", action="store_true", help="surrogates at the larger size")
    parser.add_argument("--plots", type=Path, default=None, help="directory for the surrogate figures")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.resolution, args.snapshots, args.repeats = 4, 16, 10, 1
    generation(args)
    if args.surrogate:
        with threadpool_limits(args.threads):
            surrogates(args)


def generation(args) -> None:
    """Time ``wave2d`` per configuration."""
    shape = (args.resolution, args.resolution)
    start = time.perf_counter()
    fem = WaveFEM(shape)
    assembly = time.perf_counter() - start
    start = time.perf_counter()
    bound = fem.cfl_bound()
    eigen = time.perf_counter() - start
    dt, per_snapshot = choose_step(fem, args.t_final / (args.snapshots - 1), None)
    n_steps = per_snapshot * (args.snapshots - 1)
    print(f"{args.samples} samples, {args.resolution}x{args.resolution}, {args.snapshots} snapshots to "
          f"t = {args.t_final}: setup {assembly * 1e3:.0f} ms assembly + {eigen * 1e3:.0f} ms CFL bound "
          f"(dt = {dt:.4g} = {dt / bound:.2f} x 2/sqrt(lambda_max)), {n_steps} steps")
    print(f"{'source':>7} {'boundary':>10} {'dtype':>8} {'first s':>8} {'best s':>7} {'CPU s':>6} "
          f"{'ms/step':>8} {'GB':>5}")
    with threadpool_limits(args.threads):
        for source, boundary, dtype in (("pulse", "dirichlet", np.float64),
                                        ("ricker", "dirichlet", np.float64),
                                        ("pulse", "absorbing", np.float64),
                                        ("pulse", "dirichlet", np.float32)):
            walls, cpus = [], []
            for _ in range(args.repeats):
                wall, cpu = time.perf_counter(), time.process_time()
                u, _ = wave2d(args.samples, args.resolution, n_snapshots=args.snapshots,
                              t_final=args.t_final, source=source, boundary=boundary, dtype=dtype,
                              random_state=0, progress=False)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
            best = min(walls)
            print(f"{source:>7} {boundary:>10} {np.dtype(dtype).name:>8} {walls[0]:8.2f} {best:7.2f} "
                  f"{min(cpus):6.2f} {best / n_steps * 1e3:8.2f} {u.nbytes / 1e9:5.2f}")
            del u


def surrogates(args) -> None:
    """Dense against compressed convolutions, and the boundary generator."""
    if args.quick:
        size = {"n": 8, "res": 16, "snapshots": 12, "t_final": 0.6, "width": 4, "epochs": 2, "steps": 6}
    elif args.full:
        size = {"n": 80, "res": 64, "snapshots": 51, "t_final": 2.0, "width": 16, "epochs": 30, "steps": 20}
    else:
        size = {"n": 32, "res": 32, "snapshots": 31, "t_final": 1.5, "width": 8, "epochs": 20, "steps": 20}
    u, times = wave2d(size["n"], size["res"], n_snapshots=size["snapshots"], t_final=size["t_final"],
                      random_state=0, progress=False)
    ranks = {"oneway": 1, "cp": [4, 8], "tucker": 4}
    table = compare_compression((u, times), ranks=ranks, history=4, width=size["width"], depth=2,
                                epochs=size["epochs"], batch_size=16, lr=3e-3,
                                rollout_steps=size["steps"], random_state=0, progress=False)
    print(f"\nforecasting surrogates ({size['n']} simulations {size['res']}x{size['res']}, "
          f"{size['snapshots']} snapshots to t = {size['t_final']}; peak MB: tracemalloc over one "
          "training step)")
    print(table.to_text())
    # the generator sees one input per simulation (not windows): more simulations, shorter times
    u, times = wave2d(4 * size["n"], size["res"], n_snapshots=size["snapshots"] // 2 + 1,
                      t_final=size["t_final"] / 2, random_state=1, progress=False)
    cells = size["res"] - 1
    zone = ((cells // 4 / cells, 1 - cells // 4 / cells),) * 2
    for conv in ("dense", "cp"):
        result = compare_boundary_generator((u, times), zone, conv=conv, rank=8, width=size["width"],
                                            epochs=3 * size["epochs"], random_state=0)
        print(f"\nboundary generator ({conv} convolutions), zone {zone[0]} x {zone[1]}")
        print(result.to_text())
    if args.plots is not None:
        plot_compression(table, args.plots / "wave_compression.png")
        plot_rollout(table, args.plots / "wave_rollout.png")
        print(f"wrote {args.plots / 'wave_compression.png'} and {args.plots / 'wave_rollout.png'}")


if __name__ == "__main__":
    main()
