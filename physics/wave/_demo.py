"""``tensorkit demo`` section: wave-equation data by finite elements, and a submodel of a zone."""

from __future__ import annotations

import time

import numpy as np

from ._fem import WaveFEM
from ._simulate import wave2d
from ._submodel import Submodel, boundary_trace

ZONE = ((0.5, 0.875), (0.25, 0.75))


def run(options) -> None:
    """Time the dataset generation, check energy conservation, and drive a submodel by a trace."""
    n_samples, resolution, n_snapshots = (10, 33, 41) if options.quick else (100, 65, 101)
    t_final = 1.0
    start = time.perf_counter()
    u, times = wave2d(n_samples, resolution, n_snapshots=n_snapshots, t_final=t_final,
                      random_state=0, progress=options.progress)
    print(f"Wave equation, P1 finite elements, {resolution}x{resolution} nodes: {n_samples} samples x "
          f"{n_snapshots} snapshots to t = {t_final} in {time.perf_counter() - start:.2f} s")
    fem = WaveFEM((resolution, resolution))
    dt = 0.9 * fem.cfl_bound()
    for boundary in ("dirichlet", "absorbing"):
        fem = WaveFEM((resolution, resolution), boundary=boundary)
        steps, _ = wave2d(2, resolution, n_snapshots=101, t_final=100 * dt, dt=dt, boundary=boundary,
                          random_state=0, progress=False)
        energy = fem.energy(steps[:, :-1], steps[:, 1:], dt)
        print(f"  {boundary:>9} walls: discrete energy after 100 steps / initial = "
              f"{float(np.max(energy[:, -1] / energy[:, 0])):.15f}")
    sub = Submodel(ZONE, resolution)
    start = time.perf_counter()
    inside = sub.run(boundary_trace(u, times, ZONE, resolution), times, initial=sub.sample(u[:, 0]))
    reference = sub.sample(u)
    error = np.linalg.norm(inside - reference) / np.linalg.norm(reference)
    print(f"  submodel on {ZONE} ({sub.shape[0]}x{sub.shape[1]} nodes) driven by the boundary trace "
          f"of the snapshots: relative L2 error {error:.2e} inside ({time.perf_counter() - start:.2f} s)")
