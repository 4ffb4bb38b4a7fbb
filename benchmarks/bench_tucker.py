"""Tucker: tensorkit against tensorly and pyttb on the same data, in one process.

Cases (shared/REFERENCES.md, issue "Foundation"):

1. Indian Pines (145 x 145 x 200, bundled with tensorly) at ranks (10,10,10) and (30,30,30):
   tensorkit st_hosvd / hosvd / hooi / randomized, tensorly ``tucker`` (HOOI), pyttb ``hosvd``
   (ST-HOSVD via Gram matrices) and ``tucker_als``.
2. f = 1/sqrt(x^2+y^2+z^2+0.1) on 128^3 over [-1,1]^3 at tolerances 1e-3 ... 1e-12: tensorkit
   ST-HOSVD and pyttb ``hosvd``; ranks, achieved error (is the tolerance met?) and time.

Times are medians over ``--repeat`` runs (peers interleaved with tensorkit); ratios are peer / tensorkit.
tensorly's rank-30 HOOI takes tens of seconds: it runs ``--peer-repeat`` times (default 1).

    python benchmarks/bench_tucker.py [--repeat 5] [--peer-repeat 1] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import statistics
import time
import warnings

import numpy as np


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def rel_err(X, dense):
    return float(np.linalg.norm(X - dense) / np.linalg.norm(X))


def bench_fixed_rank(X, ranks, args) -> None:
    import pyttb
    import tensorly as tl
    from tensorly.decomposition import tucker as tl_tucker

    import tensorkit

    ttb_X = pyttb.tensor(X)
    rows = {}
    for method in ("st_hosvd", "hosvd", "hooi", "randomized"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            t, T = timed(lambda m=method: tensorkit.tucker(X, rank=ranks, method=m, random_state=0),
                         args.repeat)
        rows[f"tensorkit {method}"] = (rel_err(X, T.to_dense()), t)
    with contextlib.redirect_stdout(io.StringIO()):  # pyttb prints progress
        t, ttb_T = timed(lambda: pyttb.hosvd(ttb_X, tol=1e-12, ranks=list(ranks), verbosity=0),
                         args.repeat)
        rows["pyttb hosvd"] = (rel_err(X, ttb_T.full().data), t)
        t, out = timed(lambda: pyttb.tucker_als(ttb_X, list(ranks), init="nvecs", printitn=0,
                                                stoptol=1e-8), args.peer_repeat)
        rows["pyttb tucker_als"] = (rel_err(X, out[0].full().data), t)
    t, (core, factors) = timed(lambda: tl_tucker(X, rank=list(ranks)), args.peer_repeat)
    rows["tensorly tucker (defaults)"] = (rel_err(X, tl.tucker_to_tensor((core, factors))), t)
    t, (core, factors) = timed(lambda: tl_tucker(X, rank=list(ranks), tol=1e-8), args.peer_repeat)
    rows["tensorly tucker (tol 1e-8)"] = (rel_err(X, tl.tucker_to_tensor((core, factors))), t)
    base = rows["tensorkit st_hosvd"][1]
    for label, (err, t) in rows.items():
        print(f"{ranks!s:>14} {label:>26} {err:11.4e} {t:9.3f} {t / base:16.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--peer-repeat", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="subsampled data, for a smoke run")
    args = parser.parse_args()

    import pyttb
    import tensorly as tl
    from threadpoolctl import threadpool_info

    import tensorkit
    from tensorkit.decomposition._demo import indian_pines

    blas = {(i["internal_api"], i.get("num_threads")) for i in threadpool_info()}
    print(f"tensorkit {tensorkit.__version__}, tensorly {tl.__version__}, pyttb {pyttb.__version__}")
    print(f"BLAS/threads: {sorted(blas)}")

    X, name = indian_pines(quick=args.quick)
    ranks_list = [(10, 10, 10), (30, 30, 30)]
    print(f"\n== {name} {X.shape}: relative error and median time ==")
    print(f"{'rank':>14} {'method':>26} {'rel. error':>11} {'time [s]':>9} {'peer/tk st_hosvd':>17}")
    for ranks in ranks_list:
        bench_fixed_rank(X, ranks, args)
    orders = list(itertools.permutations(range(3)))
    errors = [tensorkit.tucker(X, rank=30, mode_order=o).info.rel_error for o in orders]
    print(f"ST-HOSVD rank 30 over all {len(orders)} mode orders: error {min(errors):.4e} .. "
          f"{max(errors):.4e}")

    print("\n== f = 1/sqrt(x^2+y^2+z^2+0.1) on 128^3: ranks by tolerance ==")
    n = 48 if args.quick else 128
    x = np.linspace(-1, 1, n)
    F = 1 / np.sqrt(x[:, None, None] ** 2 + x[None, :, None] ** 2 + x[None, None, :] ** 2 + 0.1)
    ttb_F = pyttb.tensor(F)
    print(f"{'tol':>7} | {'tensorkit ranks':>16} {'error':>9} {'met':>4} {'time':>7} | "
          f"{'pyttb ranks':>13} {'error':>9} {'met':>4} {'time':>7} | {'pyttb/tk':>8}")
    for tol in (1e-3, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12):
        t_tk, T = timed(lambda tol=tol: tensorkit.tucker(F, tol=tol), args.repeat)
        e_tk = rel_err(F, T.to_dense())
        t_pt, P = timed(lambda tol=tol: pyttb.hosvd(ttb_F, tol=tol, verbosity=0), args.repeat)
        e_pt = rel_err(F, P.full().data)
        p_ranks = tuple(int(s) for s in P.core.shape)
        print(f"{tol:7.0e} | {T.ranks!s:>16} {e_tk:9.2e} {'yes' if e_tk <= tol else 'NO':>4} "
              f"{t_tk:7.3f} | {p_ranks!s:>13} {e_pt:9.2e} {'yes' if e_pt <= tol else 'NO':>4} "
              f"{t_pt:7.3f} | {t_pt / t_tk:7.2f}x")


if __name__ == "__main__":
    main()
