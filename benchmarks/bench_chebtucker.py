"""Chebyshev-Tucker: ranks and errors by tolerance, from_cp against the full-coefficient route, and
the long-range potential against the Numba direct sum, in one process.

Cases (shared/REFERENCES.md "Hybrid Chebyshev-Tucker format", issue 5):

1. f = 1/sqrt(x^2+y^2+z^2+0.1) on [-1,1]^3: ChebTucker.from_function ranks and errors by tolerance,
   against a plain numpy-SVD HOSVD of the function sampled on a uniform 64^3 grid.
2. Long-range part of 1/r (one charge at the centre of [-1,1]^3) at tol 1e-7, kernels resolving
   r_min = 2/n for n = 256, 1024, 4096 (the authors' grids): ranks and relative max error on the
   middle slice.
3. 500-charge cluster at tol 1e-7: from_cp (reduced HOSVD) against the full-coefficient route
   (values of the CP sum on the whole Chebyshev grid, DCT, HOSVD) at the same degrees, both at the
   adaptive degree and at the authors' m = 129; ranks, error against the direct sum, medians.
4. Long-range potential of N = 10^3 and 10^4 charges at 10^4 .. 10^6 random points: build + evaluation
   against the Numba direct sum of the same long-range kernel. The direct sum is timed on a
   subsample of the points and scaled linearly (a full run would take many minutes); said so.

Everything runs with ``--threads`` BLAS and Numba threads (default 1), fixed through the
environment before numpy starts: on this shared 2-core machine spinning idle pool threads made
identical runs vary 10x. Times are minima over ``--repeat`` runs (after a warm-up; see
``best_of``), wall and CPU; ratios are baseline / tensorkit.

    python benchmarks/bench_chebtucker.py [--quick] [--repeat 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time


def _pin_threads() -> None:
    """Fix the thread pools before numpy/numba start them (``--threads``, default 1).

    Limiting them later (threadpoolctl) leaves idle OpenBLAS and Numba workers spinning, which on
    a loaded machine made identical runs vary 10x in both wall and CPU time.
    """
    threads = "1"
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            threads = sys.argv[i + 1]
        elif arg.startswith("--threads="):
            threads = arg.split("=", 1)[1]
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[name] = threads


_pin_threads()

import numpy as np  # noqa: E402


def best_of(fn, repeat):
    """(wall, CPU) seconds, each the minimum over ``repeat`` runs, and the result.

    With one thread the process CPU time is the compute time; on this shared machine both wall and
    CPU times of identical runs vary by 5-10x with the other sessions' load, so the minimum (the
    least disturbed run) estimates the cost, not the median.
    """
    walls, cpus, out = [], [], None
    for _ in range(max(1, repeat)):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), out


def svd_hosvd_ranks(tensor, tol):
    """Plain numpy-SVD HOSVD ranks with the per-mode rule, and the projection error."""
    norm = np.linalg.norm(tensor)
    factors = []
    for mode in range(3):
        u, s, _ = np.linalg.svd(np.moveaxis(tensor, mode, 0).reshape(tensor.shape[mode], -1),
                                full_matrices=False)
        tails = np.sqrt(np.append(np.cumsum((s**2)[::-1])[::-1], 0.0))
        r = max(1, int(np.nonzero(tails <= tol * norm / math.sqrt(3))[0][0]))
        factors.append(u[:, :r])
    core = np.einsum("abc,ai,bj,ck->ijk", tensor, *factors)
    approx = np.einsum("ijk,ai,bj,ck->abc", core, *factors)
    return tuple(f.shape[1] for f in factors), float(np.linalg.norm(tensor - approx) / norm)


def case_smooth(args):
    from tensorkit.chebyshev import ChebTucker

    def f(x, y, z):
        return 1.0 / np.sqrt(x**2 + y**2 + z**2 + 0.1)

    u = np.linspace(-1, 1, 64)
    grid = f(*np.meshgrid(u, u, u, indexing="ij"))
    print("\n1. 1/sqrt(r^2+0.1) on [-1,1]^3: ChebTucker vs numpy-SVD HOSVD of a uniform 64^3 grid")
    print(f"{'tol':>7} {'ChebTucker ranks':>17} {'SVD ranks':>11} {'degrees':>14} {'grid rel err':>13} "
          f"{'SVD rel err':>12} {'build s':>8}")
    for tol in (1e-3, 1e-4, 1e-6, 1e-8) if args.quick else (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10):
        t, _, g = best_of(lambda tol=tol: ChebTucker.from_function(f, (-1, 1), tol=tol), args.repeat)
        ranks, svd_err = svd_hosvd_ranks(grid, tol)
        err = np.linalg.norm(g.on_grid(u, u, u).to_dense() - grid) / np.linalg.norm(grid)
        print(f"{tol:7.0e} {g.ranks!s:>17} {ranks!s:>11} {g.degrees!s:>14} {err:13.2e} {svd_err:12.2e} "
              f"{t:8.3f}")
    h = ChebTucker.from_function(lambda x, y, z: 1 / (1 + x**2 + y**2 + z**2), (-1, 1), tol=1e-13)
    print(f"integral of 1/(1+r^2) over [-1,1]^3: error {abs(h.integrate() - 4.28685406230184188):.1e}")


def case_single_charge(args):
    from physics.electrostatics import long_range_potential, newton_kernel_terms

    print("\n2. long-range part of 1/r on [-1,1]^3, tol 1e-7 (authors: ranks 9 / 12 / 15)")
    print(f"{'n':>6} {'terms (long)':>13} {'ranks':>14} {'degrees':>16} {'slice rel max err':>18} "
          f"{'build s':>8}")
    x = np.linspace(-1, 1, 257)
    X, Y = np.meshgrid(x, x, indexing="ij")
    slab = np.column_stack([X.ravel(), Y.ravel(), np.zeros(X.size)])
    for n in (256, 1024, 4096):
        terms = newton_kernel_terms(1e-7, 2 / n, 2 * math.sqrt(3))
        long, _ = terms.default_split()
        t, _, V = best_of(lambda long=long: long_range_potential(np.zeros((1, 3)), np.ones(1), domain=(-1, 1),
                                                          tol=1e-7, long_range=long), args.repeat)
        exact = long(np.linalg.norm(slab, axis=1))
        err = np.max(np.abs(V(slab) - exact)) / np.max(np.abs(exact))
        print(f"{n:6d} {f'{len(terms)} ({len(long)})':>13} {V.ranks!s:>14} {V.degrees!s:>16} {err:18.2e} "
              f"{t:8.3f}")


def full_route(weights, factors, domain, tol):
    """The baseline: the CP sum's values on the whole Chebyshev grid, then DCT-I and HOSVD."""
    from tensorkit.chebyshev import ChebTucker
    from tensorkit.formats import CPTensor

    shape = tuple(f.shape[0] for f in factors)
    values = np.zeros(shape)
    block = max(1, 2**25 // (shape[1] * shape[2]))  # bound the Khatri-Rao block to ~256 MB
    for start in range(0, weights.shape[0], block):
        part = slice(start, start + block)
        values += CPTensor(weights[part], [f[:, part] for f in factors]).to_dense()
    return ChebTucker.from_values(values, domain, tol)


def case_from_cp(args):
    from physics.electrostatics import (
        default_domain,
        default_long_range,
        direct_potential,
        long_range_potential,
        random_cluster,
    )
    from tensorkit.chebyshev import ChebTucker, chebyshev_points

    n = 200 if args.quick else 500
    positions, charges = random_cluster(n, random_state=0)
    domain = default_domain(positions)
    long = default_long_range(domain, 1e-7)
    rng = np.random.default_rng(1)
    pts = np.column_stack([rng.uniform(a, b, 2000) for a, b in domain])
    exact = direct_potential(positions, charges, pts, kernel="long_range", long_range=long)
    adaptive = long_range_potential(positions, charges, domain=domain, tol=1e-7, long_range=long)
    print(f"\n3. {n}-charge cluster, tol 1e-7 ({len(long)} long-range terms, CP rank {n * len(long)}): "
          "from_cp (RHOSVD) vs full-coefficient route (authors: ranks (40,40,47), 15-22x)")
    print(f"{'degrees':>16} {'route':>9} {'ranks':>14} {'max abs err':>12} {'max |V|':>8} {'wall s':>8} "
          f"{'CPU s':>8} {'full/cp wall/CPU':>16}")
    weights = (charges[:, None] * long.weights[None, :]).ravel()
    for degrees in (adaptive.degrees, (128, 128, 128)):
        factors = []
        for k in range(3):
            x = chebyshev_points(degrees[k] + 1, domain[k])
            diff = x[:, None, None] - positions[None, :, k, None]
            factors.append(np.exp(-(diff * long.exponents) ** 2).reshape(x.shape[0], -1))
        runs = {"from_cp": [], "full": []}
        routes = {"from_cp": lambda f=factors: ChebTucker.from_cp(weights, f, domain, 1e-7),
                  "full": lambda f=factors: full_route(weights, f, domain, 1e-7)}
        results = {name: route() for name, route in routes.items()}  # warm-up
        for _ in range(args.repeat):  # interleaved
            for name, route in routes.items():
                wall, cpu, results[name] = best_of(route, 1)
                runs[name].append((wall, cpu))
        med = {name: [min(t[i] for t in runs[name]) for i in (0, 1)] for name in runs}
        for name, g in results.items():
            err = np.max(np.abs(g(pts) - exact))
            wall, cpu = med[name]
            full, fast = med["full"], med["from_cp"]
            ratio = f"{full[0] / fast[0]:5.1f}x / {full[1] / fast[1]:5.1f}x" if name == "full" else ""
            print(f"{degrees!s:>16} {name:>9} {g.ranks!s:>14} {err:12.2e} {np.max(np.abs(exact)):8.3f} "
                  f"{wall:8.3f} {cpu:8.3f} {ratio:>16}")


def case_evaluation(args):
    print("\n4. long-range potential at M random points: ChebTucker (build + evaluation) vs the Numba "
          "direct sum of the same kernel")
    print("times: wall/CPU seconds")
    print(f"{'N':>6} {'M':>8} {'ranks':>14} {'build':>11} {'eval':>11} {'direct':>15} "
          f"{'direct/(build+eval)':>17} {'max abs err':>12}")
    sizes = ((1_000, (10_000, 100_000)),) if args.quick else (
        (1_000, (10_000, 100_000, 1_000_000)), (10_000, (10_000, 100_000, 1_000_000)))
    sub = 200 if args.quick else 1_000
    for n, point_counts in sizes:
        evaluation_rows(n, point_counts, sub, args)
    print(f"(direct sum timed on {sub} points and scaled linearly to M)")


def evaluation_rows(n, point_counts, sub, args):
    from physics.electrostatics import (
        default_domain,
        default_long_range,
        direct_potential,
        long_range_potential,
        random_cluster,
    )

    positions, charges = random_cluster(n, random_state=0)
    domain = default_domain(positions)
    long = default_long_range(domain, 1e-7)
    direct_potential(positions[:2], charges[:2], positions[:1] + 0.5, kernel="long_range",
                     long_range=long)  # compile outside the timings
    def build():
        return long_range_potential(positions, charges, domain=domain, tol=1e-7, long_range=long)

    long_range_potential(positions[:50], charges[:50], tol=1e-7)  # warm-up (imports), untimed
    build_wall, build_cpu, V = best_of(build, min(2, args.repeat))
    rng = np.random.default_rng(2)
    for m in point_counts:
        pts = np.column_stack([rng.uniform(a, b, m) for a, b in domain])
        eval_wall, eval_cpu, values = best_of(lambda pts=pts: V(pts), args.repeat)
        sub_wall, sub_cpu, exact = best_of(lambda pts=pts: direct_potential(
            positions, charges, pts[:sub], kernel="long_range", long_range=long), args.repeat)
        direct_wall, direct_cpu = sub_wall * m / sub, sub_cpu * m / sub
        err = np.max(np.abs(values[:sub] - exact))
        print(f"{n:6d} {m:8d} {V.ranks!s:>14} {build_wall:5.1f}/{build_cpu:5.1f} "
              f"{eval_wall:5.1f}/{eval_cpu:5.1f} {direct_wall:7.0f}/{direct_cpu:7.0f} "
              f"{direct_wall / (build_wall + eval_wall):8.1f}x/{direct_cpu / (build_cpu + eval_cpu):6.1f}x "
              f"{err:12.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cases", default="1234", help="which cases to run, e.g. 34")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 1
    from threadpoolctl import threadpool_info

    from tensorkit.backend import thread_limits

    with thread_limits(args.threads):
        blas = sorted({f"{i['internal_api']} {i.get('version', '')} ({i['num_threads']} threads)"
                       for i in threadpool_info()})
        import numba

        print(f"BLAS: {', '.join(blas)}; Numba threads: {numba.get_num_threads()}")
        for case in args.cases:
            {"1": case_smooth, "2": case_single_charge, "3": case_from_cp, "4": case_evaluation}[case](args)


if __name__ == "__main__":
    main()
