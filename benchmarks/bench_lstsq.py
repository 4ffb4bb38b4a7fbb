"""Tall least squares: tensorkit.sketch.lstsq against LAPACK (numpy, scipy gelsd/gelsy) and LSQR.

Matrices: Gaussian, coherent (a few spike rows carrying whole columns) and ill-conditioned
(condition number 1e8, ``G diag(logspace(0, -8, d)) V^T``), with ``b = A x + noise``.
numpy.linalg.lstsq and the tensorkit methods run interleaved in one process; times are medians.

Columns: time [s], ratio (numpy time / method time: > 1 is faster than numpy), relative residual
excess ``||A x - b|| / ||A x_np - b|| - 1`` against numpy's answer, and for sketch-and-solve at
d <= 100 the l-infinity diagnostic eps_eff next to the bound ``3 sqrt(d ln(2d) / m)``.

Column ``fwd/ceps``: ``||x - x_np|| / (cond(A) eps ||x_np||)`` (d <= 100 only), the forward
difference from LAPACK's ``x`` in units of its forward accuracy.

Targets: sketch_precondition (default ``tol``, SPIR to LAPACK's accuracy) ratio >= 3 at
200000 x 100 and >= 2 at 100000 x 1000, with LAPACK's digits; sketch_solve (m = 4 d) ratio >= 5 at
200000 x 100 with eps_eff <= bound.

    nice -n 10 python benchmarks/bench_lstsq.py            # full sizes (minutes)
    nice -n 10 python benchmarks/bench_lstsq.py --threads 1 --no-peers   # single-threaded BLAS
    python benchmarks/bench_lstsq.py --quick               # small sizes (seconds)
    python benchmarks/bench_lstsq.py --threads 1 --cpu-time --no-peers   # CPU seconds: a busy machine
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import scipy.linalg
import scipy.sparse.linalg
from threadpoolctl import threadpool_info, threadpool_limits

from tensorkit.sketch import lstsq

FULL_SHAPES = ((200_000, 100), (200_000, 500), (100_000, 1000))
QUICK_SHAPES = ((20_000, 50), (20_000, 200))


def make_matrix(kind, n, d, rng):
    A = rng.standard_normal((n, d))
    if kind == "coherent":
        spikes = rng.choice(n, size=min(d, 20), replace=False)
        A[spikes] = 0.0
        A[spikes, np.arange(spikes.size)] = 1e3 * math.sqrt(n)
    elif kind == "ill(1e8)":
        V = np.linalg.qr(rng.standard_normal((d, d)))[0]
        A = (A * np.logspace(0, -8, d)) @ V.T
    b = A @ rng.standard_normal(d) + 0.1 * np.linalg.norm(A, axis=1).mean() * rng.standard_normal(n)
    return np.ascontiguousarray(A), b


_CLOCK = time.perf_counter


def timed(fn):
    start = _CLOCK()
    out = fn()
    return _CLOCK() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shapes", nargs="*", default=None, metavar="NxD")
    parser.add_argument("--kinds", nargs="*", default=["gaussian", "coherent", "ill(1e8)"])
    parser.add_argument("--no-peers", action="store_true", help="skip scipy gelsd/gelsy/lsqr")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time in process CPU seconds (steadier than wall time on a shared machine; "
                             "meaningful with --threads 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit BLAS threads for every method (1: stable ratios on a shared machine)")
    args = parser.parse_args()
    if args.threads is not None:
        threadpool_limits(limits=args.threads)
    shapes = QUICK_SHAPES if args.quick else FULL_SHAPES
    if args.shapes:
        shapes = [tuple(int(v) for v in s.lower().split("x")) for s in args.shapes]
    repeats = 1 if args.quick else args.repeats
    global _CLOCK
    _CLOCK = time.process_time if args.cpu_time else time.perf_counter
    for info in threadpool_info():
        print(f"BLAS: {info.get('internal_api')} {info.get('version')} threads={info.get('num_threads')} "
              f"arch={info.get('architecture')}")
    rng = np.random.default_rng(0)
    warm_A, warm_b = make_matrix("gaussian", 4000, 20, rng)
    for method in ("sketch_solve", "sketch_precondition"):
        lstsq(warm_A, warm_b, method=method, random_state=0)  # compile the Numba kernels
    print(f"{'shape':>14} {'matrix':>9} {'method':>22} {'time':>8} {'ratio':>6} {'excess':>10} "
          f"{'fwd/ceps':>9} {'eps_eff':>8} {'bound':>6} {'its':>4}")
    for n, d in shapes:
        for kind in args.kinds:
            A, b = make_matrix(kind, n, d, rng)
            run_case(A, b, kind, repeats, peers=not args.no_peers)
            del A, b


def run_case(A, b, kind, repeats, *, peers):
    n, d = A.shape
    m_solve = 4 * d
    methods = {
        "numpy.linalg.lstsq": lambda: (np.linalg.lstsq(A, b, rcond=None)[0], 0),
        "tk sketch_precondition": lambda: _tk(A, b, "sketch_precondition"),
        "tk sketch_solve m=4d": lambda: _tk(A, b, "sketch_solve"),
    }
    times = {k: [] for k in methods}
    answers = {}
    for _ in range(repeats):
        for name, fn in methods.items():
            t, out = timed(fn)
            times[name].append(t)
            answers[name] = out
    if peers:
        for name, fn in {
            "scipy gelsd": lambda: (scipy.linalg.lstsq(A, b, lapack_driver="gelsd")[0], 0),
            "scipy gelsy": lambda: (scipy.linalg.lstsq(A, b, lapack_driver="gelsy")[0], 0),
            "scipy lsqr(200 its)": lambda: _lsqr(A, b),
        }.items():
            t, out = timed(fn)
            times[name] = [t]
            answers[name] = out
    x_np = answers["numpy.linalg.lstsq"][0]
    r_np = np.linalg.norm(A @ x_np - b)
    t_np = float(np.median(times["numpy.linalg.lstsq"]))
    sigma_min = cond = None
    if d <= 100:
        sv = scipy.linalg.svdvals(np.linalg.qr(A, mode="r"))
        sigma_min, cond = float(sv[-1]), float(sv[0] / sv[-1])
    for name, (x, its) in answers.items():
        t = float(np.median(times[name]))
        excess = np.linalg.norm(A @ x - b) / r_np - 1.0
        eps_txt = bound_txt = fwd_txt = ""
        if cond is not None:
            fwd = np.linalg.norm(x - x_np) / (cond * np.finfo(float).eps * np.linalg.norm(x_np))
            fwd_txt = f"{fwd:9.2g}"
        if name.startswith("tk sketch_solve") and sigma_min is not None:
            eps = math.sqrt(d) * np.max(np.abs(x - x_np)) * sigma_min / r_np
            eps_txt = f"{eps:8.2f}"
            bound_txt = f"{3 * math.sqrt(d * math.log(2 * d) / m_solve):6.2f}"
        print(f"{n:>7}x{d:<6} {kind:>9} {name:>22} {t:8.3f} {t_np / t:6.2f} {excess:10.1e} "
              f"{fwd_txt:>9} {eps_txt:>8} {bound_txt:>6} {its:>4}", flush=True)


def _tk(A, b, method):
    res = lstsq(A, b, method=method, random_state=1)
    return res.x, res.info.iterations


def _lsqr(A, b):
    out = scipy.sparse.linalg.lsqr(A, b, atol=1e-14, btol=1e-14, iter_lim=200)
    return out[0], int(out[2])


if __name__ == "__main__":
    main()
