"""Tensor completion against the libraries people use instead, and the ALS sweep at scale.

1. Kinetic (tensorly): flagged cells excluded, 80% of the rest hidden (seed 0), rank 10, NRMSE on
   the hidden cells and wall time, one thread: tensorly ``parafac(mask=...)`` (EM refilling),
   tensortools ``mcp_als`` (if installed), pyttb ``gcp_opt`` (mask as a pyttb tensor), and
   ``cp_complete`` (ALS, WOPT; then rank and reg chosen by its own validation on observed cells).
2. Scale: one ALS sweep of a random rank-16 problem on a 10^4 x 10^4 x 10^2 tensor with 10^5,
   10^6 (and with --full 10^7) observed cells, on 1 and 2 threads: wall and CPU time of the setup
   and of one sweep (train RMSE included).

    python benchmarks/bench_completion.py [--quick] [--full] [--skip-peers] [--skip-kinetic]
                                          [--threads 1 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tensorkit.backend import thread_limits
from tensorkit.completion import cp_complete, nrmse
from tensorkit.completion._demo import kinetic_split
from tensorkit.observed import ObservedTensor


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def peers(train, test, rank, n_iter):
    X = np.zeros(train.shape)
    X[tuple(train.indices.T)] = train.values
    mask = np.zeros(train.shape, dtype=bool)
    mask[tuple(train.indices.T)] = True
    cells = tuple(test.indices.T)
    std = float(np.std(test.values))

    def score(dense):
        return float(np.sqrt(np.mean((dense[cells] - test.values) ** 2))) / std

    import tensorly as tl
    from tensorly.decomposition import parafac

    out, wall, _ = timed(lambda: parafac(X, rank, mask=mask, init="random", n_iter_max=n_iter,
                                         random_state=0, tol=1e-8))
    yield "tensorly parafac(mask)", score(tl.cp_to_tensor(out)), wall
    try:
        import tensortools
    except ImportError:
        print("  (tensortools not installed: pip install tensortools)")
    else:
        out, wall, _ = timed(lambda: tensortools.mcp_als(X, rank, mask, max_iter=n_iter,
                                                         random_state=0, verbose=False))
        yield "tensortools mcp_als", score(out.factors.full()), wall
    import pyttb

    out, wall, _ = timed(lambda: _gcp(pyttb, X, rank, mask, n_iter))
    yield "pyttb gcp_opt", score(out), wall


def _gcp(pyttb, X, rank, mask, n_iter):
    from pyttb.gcp.fg_setup import Objectives
    from pyttb.gcp.optimizers import LBFGSB

    model, _, _ = pyttb.gcp_opt(pyttb.tensor(X), rank, objective=Objectives.GAUSSIAN,
                                optimizer=LBFGSB(maxiter=n_iter), mask=pyttb.tensor(mask.astype(float)),
                                printitn=0)
    return model.full().double()


def kinetic(quick, skip_peers):
    train, test = kinetic_split()
    rank, sweeps = (5, 20) if quick else (10, 300)
    print(f"Kinetic: {train.nnz} observed, {test.nnz} hidden, rank {rank}, one thread")
    print(f"{'method':>32} {'NRMSE':>8} {'time [s]':>9}")
    with thread_limits(1):
        if not skip_peers:
            for name, score, wall in peers(train, test, rank, 100 if quick else 1000):
                print(f"{name:>32} {score:8.4f} {wall:9.2f}")
        for method, reg, n in (("als", 1e-7, 100), ("als", 1e-7, sweeps), ("wopt", 1e-7, sweeps)):
            n = min(n, sweeps)
            model, wall, _ = timed(lambda m=method, r=reg, n=n: cp_complete(
                train, rank, method=m, reg=r, n_iter_max=n, stop_tol=0, random_state=0))
            print(f"{f'cp_complete {method} {n} it':>32} {nrmse(model, test):8.4f} {wall:9.2f}")
        fit, val = train.split((0.9, 0.1), random_state=1)
        grid = [(5, 1e-6)] if quick else [(r, g) for r in (10, 12, 15, 20) for g in (1e-6, 1e-5, 1e-4)]
        start = time.perf_counter()
        r, g, n = _select(fit, val, grid, 3 * sweeps)
        model = cp_complete(train, r, reg=g, n_iter_max=n, stop_tol=0, random_state=0)
        print(f"{f'cp_complete selected r={r} reg={g:g}':>32} {nrmse(model, test):8.4f} "
              f"{time.perf_counter() - start:9.2f}")


def _select(fit, val, grid, n_iter_max):
    scores = []
    for r, g in grid:
        m = cp_complete(fit, r, reg=g, validation=val, n_iter_max=n_iter_max, patience=30, stop_tol=0,
                        random_state=0)
        scores.append((m.info.extras["validation_rmse"], r, g, m.info.extras["best_iteration"]))
    return min(scores)[1:]


def scale(full, threads):
    """Setup (the per-mode row layouts, once per call) apart from the sweeps: one sweep costs the
    difference between up to 4 sweeps and 1, over the number of extra sweeps. Wall and process CPU
    time: CPU / wall is the number of cores busy (on a shared machine, less than the threads
    requested)."""
    shape, rank = (10**4, 10**4, 10**2), 16
    rng = np.random.default_rng(0)
    print(f"\nOne ALS sweep, rank {rank}, shape {shape}; wall / CPU seconds")
    print(f"{'nnz':>12} {'threads':>7} {'setup':>13} {'per sweep':>13}")
    for nnz in (10**5, 10**6, *((10**7,) if full else ())):
        cells = np.unique(rng.integers(0, int(np.prod(shape)), int(nnz * 1.001)))[:nnz]
        obs = ObservedTensor(np.stack(np.unravel_index(cells, shape), axis=1),
                             rng.standard_normal(cells.shape[0]), shape)
        init = cp_complete(obs, rank, n_iter_max=1, init="random", random_state=0)
        for n_threads in threads:
            with thread_limits(n_threads):
                one, wall1, cpu1 = timed(lambda o=obs, i=init: cp_complete(o, rank, init=i, n_iter_max=1,
                                                                             stop_tol=0))
                more, wall4, cpu4 = timed(lambda o=obs, i=init: cp_complete(o, rank, init=i, n_iter_max=4,
                                                                              stop_tol=0))
            # stop_tol=0 still stops when the train RMSE rises: count the sweeps actually run
            n = more.info.iterations - one.info.iterations
            sweep, sweep_cpu = (wall4 - wall1) / n, (cpu4 - cpu1) / n
            print(f"{obs.nnz:>12,} {n_threads:>7} {wall1 - sweep:6.3f} /{cpu1 - sweep_cpu:6.3f} "
                  f"{sweep:6.3f} /{sweep_cpu:6.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--full", action="store_true", help="include 10^7 observations")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--skip-kinetic", action="store_true", help="only the scale section")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="thread counts of the scale section (default 1 2)")
    args = parser.parse_args()
    if not args.skip_kinetic:
        kinetic(args.quick, args.skip_peers)
    scale(args.full, args.threads)


if __name__ == "__main__":
    main()
