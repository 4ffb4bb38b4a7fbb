"""Wave-simulator data generation: time to make the surrogate datasets of ``physics.wave.wave2d``.

The issue's target: 100 samples at 64 x 64 with 100 snapshots in <= 10 s on 2 cores. Prints, per
configuration (source, boundary, dtype): the setup (scikit-fem assembly and the Lanczos CFL
bound), the number of steps, wall and CPU time of the whole call, and the cost per time step
(one sparse-times-dense product over all samples plus the update).

Run: ``python benchmarks/bench_wave.py [--samples 100] [--resolution 64] [--snapshots 100]
[--t-final 2] [--repeats 2] [--threads 2]``. The first call of a process also pays for touching the
fresh output memory (327 MB in float64 at the default size); later repeats reuse it, so both the
first and the best time are printed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from physics.wave import WaveFEM, choose_step, wave2d


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--snapshots", type=int, default=100)
    parser.add_argument("--t-final", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.resolution, args.snapshots, args.repeats = 4, 16, 10, 1
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


if __name__ == "__main__":
    main()
