"""Tucker compression walk-through.

1. A smooth function of three variables: choose ranks by tolerance and check the guarantee
   ``||X - X_hat|| <= tol ||X||`` holds, down to 1e-12.
2. A real data set (Indian Pines hyperspectral image, bundled with tensorly): compare HOSVD,
   ST-HOSVD, HOOI and randomized at a fixed rank.
3. Save the compressed tensor, load it back, and (optionally) plot error against compression.

    python examples/tucker_compression.py [--quick] [--plot tucker.png]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import tensorkit
from tensorkit.decomposition._demo import indian_pines, plot_error_vs_compression


def smooth_function(n: int) -> np.ndarray:
    """f(x, y, z) = 1 / sqrt(x^2 + y^2 + z^2 + 0.1) sampled on an n^3 grid over [-1, 1]^3."""
    x = np.linspace(-1, 1, n)
    return 1 / np.sqrt(x[:, None, None] ** 2 + x[None, :, None] ** 2 + x[None, None, :] ** 2 + 0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--plot", type=Path, default=None, help="save error vs compression")
    args = parser.parse_args()

    n = 40 if args.quick else 128
    F = smooth_function(n)
    print(f"1) f = 1/sqrt(r^2 + 0.1) on {n}^3: ranks chosen by tolerance (ST-HOSVD)")
    print(f"{'tol':>8} {'ranks':>14} {'rel. error':>11} {'met':>4} {'compression':>12}")
    rows = []
    for tol in (1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12):
        T = tensorkit.tucker(F, tol=tol)
        err = np.linalg.norm(F - T.to_dense()) / np.linalg.norm(F)
        rows.append((tol, T.ranks, err, T.compression_ratio, 0.0))
        print(f"{tol:8.0e} {T.ranks!s:>14} {err:11.2e} {'yes' if err <= tol else 'NO':>4} "
              f"{T.compression_ratio:11.0f}x")

    X, name = indian_pines(quick=args.quick)
    rank = 10 if args.quick else 30
    print(f"\n2) {name} {X.shape} at rank ({rank},{rank},{rank})")
    for method in ("hosvd", "st_hosvd", "hooi", "randomized"):
        start = time.perf_counter()
        T = tensorkit.tucker(X, rank=rank, method=method, random_state=0)
        elapsed = time.perf_counter() - start
        extra = f", {T.info.iterations} sweeps" if method == "hooi" else ""
        print(f"{method:>11}: rel. error {T.info.rel_error:.4e} in {elapsed:.3f} s{extra}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pines.npz"
        T.save(path)
        back = tensorkit.TuckerTensor.load(path)
        same = np.allclose(back.to_dense(), T.to_dense())
        print(f"\n3) saved {path.stat().st_size / 1e6:.2f} MB instead of {X.nbytes / 1e6:.1f} MB "
              f"({T.compression_ratio:.0f}x); reloaded identical: {same}")
    if args.plot is not None:
        plot_error_vs_compression(rows, args.plot, title="1/sqrt(r^2+0.1): error vs compression")
        print(f"saved plot {args.plot}")


if __name__ == "__main__":
    main()
