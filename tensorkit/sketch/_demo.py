"""``tensorkit demo`` section: exact and sketched least squares against LAPACK (time and error)."""

from __future__ import annotations

import math
import time

import numpy as np

from ._lstsq import linf_error, lstsq


def run(options) -> None:
    """Print time, ratio to numpy.linalg.lstsq, residual excess and eps_eff per method."""
    n, d = (20_000, 40) if options.quick else (200_000, 100)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, d))
    spikes = rng.choice(n, size=d // 4, replace=False)
    A[spikes] = 0.0
    A[spikes, np.arange(spikes.size)] = 100.0 * math.sqrt(n)
    b = A @ rng.standard_normal(d) + rng.standard_normal(n)
    lstsq(A[: 50 * d], b[: 50 * d], method="sketch_precondition", random_state=0)  # JIT warm-up
    start = time.perf_counter()
    x_star = np.linalg.lstsq(A, b, rcond=None)[0]
    t_lapack = time.perf_counter() - start
    r_star = np.linalg.norm(A @ x_star - b)
    m = 4 * d
    print(f"A: {n} x {d} Gaussian with {spikes.size} spike rows carrying whole columns (coherent)")
    print(f"l-inf bound for sketch_solve at m = 4d: 3 sqrt(d ln(2d)/m) = "
          f"{3 * math.sqrt(d * math.log(2 * d) / m):.2f}")
    print(f"{'method':>36} {'time [s]':>9} {'speed-up':>9} {'resid. excess':>14} {'eps_eff':>8}")
    print(f"{'numpy.linalg.lstsq':>36} {t_lapack:9.3f} {1.0:9.2f} {0.0:14.1e} {0.0:8.2f}")
    for method, sketch in (("sketch_precondition", "auto"), ("sketch_solve", "auto"),
                           ("sketch_solve", "countsketch")):
        start = time.perf_counter()
        res = lstsq(A, b, method=method, sketch=sketch, sketch_size=m if method == "sketch_solve" else None,
                    random_state=1)
        elapsed = time.perf_counter() - start
        eps = linf_error(A, b, res.x, x_star=x_star)
        label = f"{method}[{res.sketch}]" if method == "sketch_solve" else method
        print(f"{label:>36} {elapsed:9.3f} {t_lapack / elapsed:9.2f} "
              f"{res.residual_norm / r_star - 1:14.1e} {eps:8.2f}")
