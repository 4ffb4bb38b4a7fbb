"""``tensorkit demo`` section: long-range potentials of a charge lattice and a biomolecule-like
cluster in Chebyshev-Tucker format, against the direct sum."""

from __future__ import annotations

import time

import numpy as np

from ._plot import plot_potential_slice
from ._potential import default_long_range, direct_potential, long_range_potential
from ._systems import lattice, random_cluster

TOL = 1e-7


def run(options) -> None:
    """Print ranks, degrees, errors against the direct sum and timings; optionally plot a slice."""
    quick = options.quick
    systems = [
        ("lattice 6x6x2" if quick else "lattice 24x24x4", lattice((6, 6, 2) if quick else (24, 24, 4))),
        ("cluster", random_cluster(60 if quick else 500, random_state=0)),
    ]
    n_points = 1_000 if quick else 100_000
    print(f"Long-range Coulomb potential, ChebTucker.from_cp at tol {TOL:g}; {n_points} random points")
    print(f"{'system':>16} {'N':>6} {'ranks':>14} {'degrees':>15} {'build s':>8} {'eval s':>7} "
          f"{'direct s':>9} {'max err':>9} {'max |V|':>8}")
    for name, (positions, charges) in systems:
        start = time.perf_counter()
        potential = long_range_potential(positions, charges, tol=TOL)
        build = time.perf_counter() - start
        kernel = default_long_range(potential.domain, TOL)
        rng = np.random.default_rng(1)
        points = np.column_stack([rng.uniform(a, b, n_points) for a, b in potential.domain])
        start = time.perf_counter()
        values = potential(points)
        evaluate = time.perf_counter() - start
        sample = points[: min(n_points, 2_000)]
        start = time.perf_counter()
        exact = direct_potential(positions, charges, sample, kernel="long_range", long_range=kernel)
        direct = (time.perf_counter() - start) * n_points / sample.shape[0]
        error = float(np.max(np.abs(values[: sample.shape[0]] - exact)))
        print(f"{name + ' ':>16} {len(charges):6d} {potential.ranks!s:>14} {potential.degrees!s:>15} "
              f"{build:8.2f} {evaluate:7.2f} {direct:9.2f} {error:9.2e} {np.max(np.abs(exact)):8.3f}")
    print("(direct-sum time measured on 2000 points and scaled to all of them)")
    path = options.plot_file("electrostatics")
    if path is not None:
        plot_potential_slice(potential, path, positions=positions,
                             title=f"long-range potential of {len(charges)} charges, slice z = 0")
        print(f"saved plot {path}")
