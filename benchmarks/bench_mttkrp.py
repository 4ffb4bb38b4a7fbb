"""Sparse COO MTTKRP: Numba kernel against the plain-numpy reference (``np.add.at`` scatter).

    python benchmarks/bench_mttkrp.py [--nnz 1000000] [--rank 16] [--repeat 5]

The first Numba call compiles (or loads from the on-disk cache, ``cache=True``); its time is shown
separately and excluded from the median.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nnz", type=int, default=1_000_000)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from tensorkit import _kernels

    rng = np.random.default_rng(0)
    shape = (2000, 3000, 4000)
    indices = np.stack([rng.integers(0, n, args.nnz) for n in shape], axis=1)
    values = rng.standard_normal(args.nnz)
    factors = [rng.standard_normal((n, args.rank)) for n in shape]

    start = time.perf_counter()
    _kernels.mttkrp_coo(indices, values, factors, 0, shape[0], "numba")
    first = time.perf_counter() - start
    print(f"COO tensor {shape}, nnz={args.nnz}, rank={args.rank}; first numba call {first:.3f} s")
    print(f"{'mode':>4} {'reference [s]':>14} {'numba [s]':>10} {'speedup':>8} {'max rel diff':>13}")
    for mode in range(3):
        ref_t, fast_t = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            ref = _kernels.mttkrp_coo(indices, values, factors, mode, shape[mode], "numpy")
            ref_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            fast = _kernels.mttkrp_coo(indices, values, factors, mode, shape[mode], "numba")
            fast_t.append(time.perf_counter() - t)
        diff = np.max(np.abs(fast - ref)) / np.max(np.abs(ref))
        r, f = statistics.median(ref_t), statistics.median(fast_t)
        print(f"{mode:>4} {r:14.4f} {f:10.4f} {r / f:7.1f}x {diff:13.2e}")


if __name__ == "__main__":
    main()
