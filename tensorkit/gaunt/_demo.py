"""``tensorkit demo`` section: Gaunt tensor product methods, their timings and equivariance error."""

from __future__ import annotations

import time

import numpy as np

from ..io import new_figure, save_figure
from ._product import GauntTensorProduct
from ._wigner import wigner_D

DEGREES_QUICK = (2, 4)
DEGREES = (2, 4, 8, 12, 16)
BATCH = 256


def run(options) -> None:
    """Print, per degree L (lmax_out = 2L, batch 256, float64), the time of each method, the spread
    between methods and the rotation-equivariance error; optionally plot time against L."""
    degrees = DEGREES_QUICK if options.quick else DEGREES
    rng = np.random.default_rng(0)
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    rotation = q * np.sign(np.diag(r)) * np.sign(np.linalg.det(q * np.sign(np.diag(r))))
    methods = ("s2grid", "fourier", "direct")
    print(f"Gaunt tensor product of two degree-L features, batch {BATCH}, float64, lmax_out = 2L")
    print(f"{'L':>3} " + " ".join(f"{m + ' [ms]':>13}" for m in methods)
          + f" {'auto picks':>10} {'max method diff':>16} {'equivariance err':>17}")
    rows = []
    for lmax in degrees:
        k = (lmax + 1) ** 2
        x1 = rng.standard_normal((BATCH, k))
        x2 = rng.standard_normal((BATCH, k))
        times, outs = {}, {}
        for method in methods:
            if method == "direct" and lmax > 8:
                continue  # O(L^5) sparse contraction: seconds at L = 12
            plan = GauntTensorProduct(lmax, lmax, method=method)
            outs[method] = plan(x1, x2)
            reps = 1 if options.quick else 5
            start = time.perf_counter()
            for _ in range(reps):
                plan(x1, x2)
            times[method] = (time.perf_counter() - start) / reps
        ref = outs["s2grid"]
        spread = max(float(np.abs(out - ref).max()) for out in outs.values())
        plan = GauntTensorProduct(lmax, lmax)
        rotated = plan(x1 @ wigner_D(lmax, rotation).T, x2 @ wigner_D(lmax, rotation).T)
        equiv = float(np.abs(rotated - ref @ wigner_D(2 * lmax, rotation).T).max() / np.abs(ref).max())
        cells = " ".join(f"{times[m] * 1e3:13.3f}" if m in times else f"{'-':>13}" for m in methods)
        print(f"{lmax:3d} {cells} {plan.resolved_method():>10} {spread:16.1e} {equiv:17.1e}")
        rows.append((lmax, times))
    path = options.plot_file("gaunt")
    if path is not None:
        _plot_times(rows, methods, path)
        print(f"saved plot {path}")


def _plot_times(rows, methods, path) -> None:
    """Save time per product against L for each method (log-log), atomically."""
    fig = new_figure(figsize=(5, 3.6))
    ax = fig.subplots()
    for method in methods:
        pts = [(lmax, t[method]) for lmax, t in rows if method in t]
        ax.loglog([p[0] for p in pts], [p[1] * 1e3 for p in pts], "o-", label=method)
    ax.set_xlabel("L (inputs), lmax_out = 2L")
    ax.set_ylabel(f"time per batch of {BATCH} [ms]")
    ax.set_title("Gaunt tensor product methods (CPU, float64)", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    save_figure(fig, path)
