"""Simulate the 2D wave equation by finite elements, save a dataset, and run a zone submodel.

Generates random Gaussian pulses under Dirichlet walls and Ricker point sources in a two-layer
medium with absorbing walls (``physics.wave.wave2d``: P1 triangles, lumped-mass leapfrog at 0.9 of
the CFL bound), writes the first set to ``wave_pulses.npz``, then drives a finite-element submodel
of a zone of interest by the boundary trace of the full simulation and compares the fields inside.

    python examples/wave_simulation.py            # 100 samples, 64x64, 100 snapshots
    python examples/wave_simulation.py --quick    # seconds (also TENSORKIT_QUICK=1)
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from physics.wave import Submodel, boundary_trace, load_wave, save_wave, wave2d


def layered(x, y):
    """Speed 1 below y = 0.6, 1.5 above: a two-layer medium."""
    return np.where(y < 0.6, 1.0, 1.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--outdir", type=Path, default=Path("."))
    args = parser.parse_args()
    quick = args.quick or os.environ.get("TENSORKIT_QUICK") == "1"
    n_samples, resolution, n_snapshots = (8, 33, 41) if quick else (100, 64, 100)
    t_final = 1.0

    start = time.perf_counter()
    u, times = wave2d(n_samples, resolution, n_snapshots=n_snapshots, t_final=t_final,
                      random_state=0, progress=not quick)
    print(f"pulses, Dirichlet walls: u {u.shape} in {time.perf_counter() - start:.2f} s, "
          f"max |u| {np.abs(u).max():.2f} at t=0, {np.abs(u[:, -1]).max():.2f} at t={t_final}")
    path = args.outdir / "wave_pulses.npz"
    save_wave(path, u, times)
    print(f"saved {path} ({path.stat().st_size / 1e6:.1f} MB); reloads equal: "
          f"{np.array_equal(load_wave(path)[0], u)}")

    start = time.perf_counter()
    v, _ = wave2d(n_samples, resolution, n_snapshots=n_snapshots, t_final=t_final, source="ricker",
                  speed=layered, boundary="absorbing", random_state=0, progress=not quick)
    print(f"Ricker sources, two layers, absorbing walls: {time.perf_counter() - start:.2f} s, "
          f"max |u| {np.abs(v).max():.2f}")

    # a zone of interest whose corners are grid nodes (multiples of 1/(resolution - 1))
    cells = resolution - 1
    zone = ((cells // 2 / cells, (cells - cells // 8) / cells), (cells // 4 / cells, 3 * cells // 4 / cells))
    sub = Submodel(zone, resolution)
    trace = boundary_trace(u, times, zone, resolution)
    start = time.perf_counter()
    inside = sub.run(trace, times, initial=sub.sample(u[:, 0]))
    reference = sub.sample(u)
    error = np.linalg.norm(inside - reference) / np.linalg.norm(reference)
    print(f"submodel on x in [{zone[0][0]:.3f}, {zone[0][1]:.3f}], y in [{zone[1][0]:.3f}, "
          f"{zone[1][1]:.3f}] ({sub.shape[0]}x{sub.shape[1]} nodes, {sub.n_boundary} boundary values "
          f"per snapshot): relative L2 error inside {error:.2e} ({time.perf_counter() - start:.2f} s)")


if __name__ == "__main__":
    main()
