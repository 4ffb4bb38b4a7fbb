"""Long-range electrostatic potential of many charges in Chebyshev-Tucker format.

The Coulomb kernel 1/r is written as a sum of Gaussians (sinc quadrature) and split at an explicit
number of terms into a long-range part (smooth) and a short-range part (local). The long-range
potential of N charges is a sum of N x K separable terms; ``ChebTucker.from_cp`` compresses it by a
reduced HOSVD without ever forming the 3D grid, and the result evaluates anywhere at a cost
independent of N.

For a crystal-like lattice and a biomolecule-like cluster the script prints the Tucker ranks and
degrees, the error against the direct sum of the same long-range kernel, the timings (the direct
sum timed on a subsample and scaled), and saves a plot of a slice of the cluster's potential.

    python examples/long_range_potential.py [--quick] [--plot long_range_potential.png]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from physics.electrostatics import (
    direct_potential,
    lattice,
    long_range_potential,
    newton_kernel_terms,
    plot_potential_slice,
    random_cluster,
)

TOL = 1e-7


def study(name, positions, charges, *, n_points, n_direct):
    """Build, evaluate and check the long-range potential of one system; return it."""
    lo, hi = positions.min(axis=0), positions.max(axis=0)
    pad = 0.15 * np.max(hi - lo)
    domain = [(float(a - pad), float(b + pad)) for a, b in zip(lo, hi, strict=True)]
    diameter = float(np.linalg.norm([b - a for a, b in domain]))
    # The kernel and its split are explicit, and the same object goes to the direct sum.
    terms = newton_kernel_terms(TOL, r_min=diameter / 1024, r_max=diameter)
    long_range, short_range = terms.default_split()
    start = time.perf_counter()
    potential = long_range_potential(positions, charges, domain=domain, tol=TOL, long_range=long_range)
    build = time.perf_counter() - start
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(a, b, n_points) for a, b in domain])
    start = time.perf_counter()
    values = potential(points)
    evaluate = time.perf_counter() - start
    start = time.perf_counter()
    exact = direct_potential(positions, charges, points[:n_direct], kernel="long_range",
                             long_range=long_range)
    direct = (time.perf_counter() - start) * n_points / n_direct
    error = np.max(np.abs(values[:n_direct] - exact))
    print(f"{name}: {len(charges)} charges, kernel {len(terms)} Gaussians "
          f"({len(long_range)} long-range, {len(short_range)} short-range)")
    print(f"  ranks {potential.ranks}, degrees {potential.degrees}, {potential.nbytes / 1024:.0f} KiB")
    print(f"  max error {error:.2e} against the direct sum (max |V| {np.max(np.abs(exact)):.3f})")
    print(f"  build {build:.2f} s + evaluation at {n_points} points {evaluate:.2f} s; direct sum "
          f"{direct:.2f} s (timed on {n_direct} points, scaled)")
    return potential


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small systems (seconds)")
    parser.add_argument("--plot", default="long_range_potential.png", help="image of a slice")
    args = parser.parse_args()
    n_points = 2_000 if args.quick else 200_000
    n_direct = 500 if args.quick else 2_000
    shape = (6, 6, 2) if args.quick else (24, 24, 4)
    pos, q = lattice(shape, spacing=2.82)
    study(f"rock-salt lattice {shape}", pos, q, n_points=n_points, n_direct=n_direct)
    cluster = random_cluster(60 if args.quick else 500, random_state=0)
    potential = study("biomolecule-like cluster", *cluster, n_points=n_points, n_direct=n_direct)
    path = plot_potential_slice(potential, args.plot, positions=cluster.positions,
                                title=f"long-range potential of {len(cluster)} charges, z = centre")
    print(f"saved {path}")


if __name__ == "__main__":
    main()
