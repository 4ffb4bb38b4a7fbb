"""Gaunt tensor products: tensorkit (s2grid, fourier, direct, auto) against e3nn, on the CPU.

Peers: e3nn's ``o3.FullTensorProduct`` (all paths, also the parity-odd ones, so more work) and an
``o3.TensorProduct`` restricted to the Gaunt (parity-even) paths, each path scaled so that it computes
exactly the Gaunt product (the documented normalization change: path weight ``sum(G * wigner_3j)``).
Configurations: batch 256 x 1 channel and batch 32 x 32 channels (channel-wise; e3nn sees the
1024 single-channel products as one batch), float64 and float32, lmax_out = 2L. Prints median times,
ratios (e3nn Gaunt-path time / tensorkit time) and max abs differences, the plan build times and
the L^3 check from L = 8 to 16 (from medians and from the fastest runs, which are steadier on a
loaded machine). Peer and tensorkit run interleaved in one process.

    python benchmarks/bench_gaunt.py [--quick] [--ls 1 2 4 6 8 10 12] [--reps 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info

from tensorkit.backend import thread_limits
from tensorkit.gaunt import GauntTensorProduct, gaunt_coefficients

CONFIGS = ((256, 1), (32, 32))
TK_METHODS = ("s2grid", "fourier", "direct", "auto")


def e3nn_peers(lmax: int):
    """e3nn's FullTensorProduct and the Gaunt-path TensorProduct (float64) with its path weights."""
    import torch
    from e3nn import o3

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # e3nn computes its 3j symbols in the default dtype
    try:
        irreps = o3.Irreps.spherical_harmonics(lmax)
        irreps_out = o3.Irreps.spherical_harmonics(2 * lmax)
        instructions, weights = [], []
        for l1 in range(lmax + 1):
            for l2 in range(lmax + 1):
                for l3 in range(abs(l1 - l2), l1 + l2 + 1, 2):
                    instructions.append((l1, l2, l3, "uuu", True))
                    w3j = o3.wigner_3j(l1, l2, l3).numpy()
                    weights.append(float(np.sum(gaunt_coefficients(l1, l2, l3) * w3j)))
        gaunt = o3.TensorProduct(irreps, irreps, irreps_out, instructions, irrep_normalization="none",
                                 path_normalization="none", internal_weights=False, shared_weights=True)
        full = o3.FullTensorProduct(irreps, irreps)
    finally:
        torch.set_default_dtype(previous)
    return full, gaunt, torch.tensor(weights, dtype=torch.float64)


def interleaved_medians(contenders: dict, reps: int) -> dict:
    """Median time of each ``name -> (fn, args)``, timed round-robin so load spikes hit all alike."""
    for fn, args in contenders.values():
        fn(*args)
    times: dict = {name: [] for name in contenders}
    for _ in range(reps):
        for name, (fn, args) in contenders.items():
            start = time.perf_counter()
            fn(*args)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, {
        name: min(t) for name, t in times.items()}


def run(ls, tk_only_ls, dtypes, reps, threads, configs=CONFIGS) -> None:
    import torch

    torch.set_num_threads(threads)
    blas = sorted({f"{i['internal_api']} ({i.get('threading_layer', '?')})" for i in threadpool_info()})
    print(f"threads: {threads} (torch and BLAS), BLAS: {', '.join(blas)}, torch {torch.__version__}")
    print(f"median of {reps} interleaved repetitions; ratio = e3nn Gaunt-path time / tensorkit time; "
          "vs e3nn = max |tensorkit - e3nn Gaunt| (abs, and relative to max |e3nn|); "
          "methods = max |difference between tensorkit methods|")
    rng = np.random.default_rng(0)
    tk_times: dict[tuple, float] = {}
    header = (f"{'L':>3} {'batch':>7} {'dtype':>7} {'e3nn full':>10} {'e3nn gaunt':>10} "
              + " ".join(f"{m:>17}" for m in TK_METHODS) + f" {'vs e3nn':>8} {'rel':>8} {'methods':>8}")
    print(header)
    for lmax in list(ls) + list(tk_only_ls):
        with_peer = lmax in ls
        if with_peer:
            start = time.perf_counter()
            full, gaunt, path_w = e3nn_peers(lmax)
            build_e3nn = time.perf_counter() - start
        plans = {}
        for method in TK_METHODS:
            start = time.perf_counter()
            plan = GauntTensorProduct(lmax, lmax, method=method)
            k = (lmax + 1) ** 2
            probe = np.zeros((1, k))
            if method != "direct" or lmax <= 10:
                plan(probe, probe)  # builds the tables
                plans[method] = (plan, time.perf_counter() - start)
        for dtype in dtypes:
            tdtype = torch.float64 if dtype == np.float64 else torch.float32
            if with_peer:
                full.to(tdtype)
                gaunt.to(tdtype)
            for batch, channels in configs:
                k = (lmax + 1) ** 2
                x1 = rng.standard_normal((batch, channels, k)).astype(dtype)
                x2 = rng.standard_normal((batch, channels, k)).astype(dtype)
                contenders = {}
                if with_peer:
                    t1 = torch.from_numpy(x1.reshape(-1, k))
                    t2 = torch.from_numpy(x2.reshape(-1, k))
                    w = path_w.to(tdtype)
                    contenders["full"] = (full, (t1, t2))
                    contenders["gaunt"] = (gaunt, (t1, t2, w))
                for method, (plan, _) in plans.items():
                    if method != "direct" or lmax <= 8:
                        contenders[method] = (plan, (x1, x2))
                with torch.no_grad():
                    medians, minima = interleaved_medians(contenders, reps)
                    ref = gaunt(t1, t2, w).numpy().reshape(batch, channels, -1) if with_peer else None
                cells = [f"{medians[n] * 1e3:8.2f}ms" if n in medians else f"{'-':>10}"
                         for n in ("full", "gaunt")]
                diff, outs = 0.0, []
                for method in TK_METHODS:
                    if method not in medians:
                        cells.append(f"{'-':>17}")
                        continue
                    t = medians[method]
                    tk_times[(lmax, batch, dtype, method)] = (t, minima[method])
                    outs.append(plans[method][0](x1, x2))
                    if with_peer:
                        diff = max(diff, float(np.abs(outs[-1] - ref).max()))
                        cells.append(f"{t * 1e3:7.3f}ms {medians['gaunt'] / t:6.1f}x")
                    else:
                        cells.append(f"{t * 1e3:7.3f}ms {'':>7}")
                spread = max(float(np.abs(o - outs[0]).max()) for o in outs)
                diff_cell = (f"{diff:8.1e} {diff / np.abs(ref).max():8.1e}" if with_peer
                             else f"{'-':>8} {'-':>8}") + f" {spread:8.1e}"
                print(f"{lmax:3d} {batch:4d}x{channels:<2d} {np.dtype(dtype).name:>7} {' '.join(cells)} "
                      f"{diff_cell}", flush=True)
        builds = ", ".join(f"{m} {plans[m][1] * 1e3:.1f} ms" for m in plans)
        peer = f"; e3nn modules {build_e3nn:.1f} s" if with_peer else ""
        print(f"    plan build L={lmax}: {builds}{peer}", flush=True)
    for dtype in dtypes:
        for method in ("s2grid", "fourier", "auto"):
            a = tk_times.get((8, 256, dtype, method))
            b = tk_times.get((16, 256, dtype, method))
            if a and b:
                print(f"L^3 check ({np.dtype(dtype).name}, {method}, batch 256): t(16)/t(8) = "
                      f"{b[0] / a[0]:.2f} from medians, {b[1] / a[1]:.2f} from fastest runs "
                      "(L^3 growth would be 8.0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="L = 1, 2, 4 and few repetitions")
    parser.add_argument("--ls", type=int, nargs="*", default=[1, 2, 4, 6, 8, 10, 12])
    parser.add_argument("--tk-only", type=int, nargs="*", default=[16],
                        help="degrees timed for tensorkit alone")
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--configs", nargs="+", default=[f"{b}x{c}" for b, c in CONFIGS],
                        help="BATCHxCHANNELS, e.g. 256x1 32x32")
    args = parser.parse_args()
    ls, tk_only, reps = args.ls, args.tk_only, args.reps
    if args.quick:
        ls, tk_only, reps = [1, 2, 4], [], 3
    with thread_limits(args.threads):
        configs = [tuple(int(v) for v in c.split("x")) for c in args.configs]
        run(ls, tk_only, [np.dtype(d).type for d in args.dtypes], reps, args.threads, configs)


if __name__ == "__main__":
    main()
