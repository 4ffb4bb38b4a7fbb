"""Navier-Stokes data generator: time of ``physics.pde.navier_stokes2d`` against the same scheme
written as plain numpy/scipy array code.

The issue's target: 100 flows of 64 x 64 to t = 10 in <= 30 s on 2 cores. The scheme (vorticity
form, pseudo-spectral, 2/3 dealiasing, Crank-Nicolson / explicit Euler, CFL step) is the same in
both runs; the "plain" run swaps the fused Numba kernels of :mod:`physics._kernels` for their numpy
references (the broadcasting code the generator used before the kernels), so the ratio is what the
kernels buy. Both runs use ``scipy.fft`` with as many workers as threads. Each configuration prints
the median wall and CPU time over ``--repeats`` interleaved runs and the largest difference between
the two results (roundoff only).

Run: ``python benchmarks/bench_ns_generator.py [--samples 100] [--resolution 64] [--t-final 10]
[--threads 2] [--repeats 3] [--dtype float64] [--quick]``.
"""

from __future__ import annotations

import argparse
import time
from unittest import mock

import numpy as np

from physics.pde import navier_stokes2d
from physics.pde._navier_stokes import _SpectralSolver
from tensorkit.backend import thread_limits


def _run(args, plain: bool):
    """One generator call; ``plain`` runs the numpy reference kernels instead of Numba's."""
    init = _SpectralSolver.__init__

    def plain_init(self, *a, **k):
        init(self, *a, **k)
        self.backend = "numpy"

    with mock.patch.object(_SpectralSolver, "__init__", plain_init if plain else init):
        wall, cpu = time.perf_counter(), time.process_time()
        w, _ = navier_stokes2d(args.samples, args.resolution, t_final=args.t_final, n_snapshots=11,
                               dtype=np.dtype(args.dtype), random_state=0, progress=False)
        return w, time.perf_counter() - wall, time.process_time() - cpu


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--t-final", type=float, default=10.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    p.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    args = p.parse_args(argv)
    if args.quick:
        args.samples, args.resolution, args.t_final, args.repeats = 4, 32, 1.0, 1
    with thread_limits(args.threads):
        navier_stokes2d(2, args.resolution, t_final=0.05, n_snapshots=2, random_state=0, progress=False)
        times, results = {False: [], True: []}, {}
        for _ in range(args.repeats):
            for plain in (False, True):
                w, wall, cpu = _run(args, plain)
                times[plain].append((wall, cpu))
                results[plain] = w
    diff = float(np.abs(results[True] - results[False]).max() / np.abs(results[True]).max())
    print(f"{args.samples} flows, {args.resolution}x{args.resolution}, t = 0..{args.t_final}, {args.dtype}, "
          f"{args.threads} threads, medians of {args.repeats}")
    for plain, label in ((False, "tensorkit (Numba kernels)"), (True, "plain numpy/scipy")):
        wall, cpu = np.median(np.array(times[plain]), axis=0)
        print(f"  {label:<28} wall {wall:7.2f} s   CPU {cpu:7.2f} s")
    ratio = np.median([a[0] for a in times[False]]) / np.median([a[0] for a in times[True]])
    print(f"  wall ratio tensorkit / plain: {ratio:.2f}; max relative difference {diff:.1e}")
    print("  target: 100 flows of 64x64 to t = 10 in <= 30 s on 2 cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
