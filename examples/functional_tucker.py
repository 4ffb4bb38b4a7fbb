"""Functional Bayesian Tucker (FunBaT) on data at continuous coordinates.

1. The authors' synthetic case: y = u1(x) u2(y), u1 = sin^2(2 pi x) cos(2 pi x),
   u2 = exp(-2y) sin(1.5 pi y), at 6 random 15 x 15 grids of uniform points (675 train / 675 test).
   Rank 1, Matern-3/2: test RMSE and the learned factor functions against the truth (plot saved
   as functional_tucker_factors.png).
2. A simulated 2D wave (physics.wave.wave2d) sampled at random (x, y, t): FunBaT against Tucker
   completion of the coordinates binned into a grid, and the coverage of its 95% intervals.

    python examples/functional_tucker.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from matplotlib.figure import Figure
from scipy.interpolate import RegularGridInterpolator

from physics.wave import wave2d
from tensorkit.completion import tucker_complete
from tensorkit.functional import ContinuousObservations, FunctionalTucker
from tensorkit.observed import ObservedTensor


def u1(x):
    return np.sin(2 * np.pi * x) ** 2 * np.cos(2 * np.pi * x)


def u2(y):
    return np.exp(-2 * y) * np.sin(1.5 * np.pi * y)


def synthetic() -> None:
    rng = np.random.default_rng(0)
    X = np.concatenate([np.stack(np.meshgrid(rng.random(15), rng.random(15), indexing="ij"), -1)
                        .reshape(-1, 2) for _ in range(6)])
    train, test = ContinuousObservations(X, u1(X[:, 0]) * u2(X[:, 1])).split((0.5, 0.5), random_state=0)
    start = time.perf_counter()
    model = FunctionalTucker(1, kernel="matern32", lengthscale=0.1, n_epochs=30, random_state=0)
    model.fit(train, validation=test)
    print(f"synthetic u1(x) u2(y): test RMSE {model.info.extras['validation_rmse'][-1]:.4f} "
          f"(authors: 0.004) after {model.info.iterations} epochs, {time.perf_counter() - start:.2f} s")
    grid = np.linspace(0, 1, 200)
    fig = Figure(figsize=(9, 3.5))
    for k, (f, name) in enumerate(((u1, "u1(x)"), (u2, "u2(y)"))):
        mean, var = model.factor_functions(k, grid)
        # a Tucker factor is defined up to scale and sign: match them by least squares for the plot
        scale = (mean[:, 0] @ f(grid)) / (mean[:, 0] @ mean[:, 0])
        ax = fig.add_subplot(1, 2, k + 1)
        ax.plot(grid, f(grid), "k", label="truth")
        ax.plot(grid, scale * mean[:, 0], "C1--", label="posterior mean (rescaled)")
        band = 1.96 * abs(scale) * np.sqrt(var[:, 0])
        ax.fill_between(grid, scale * mean[:, 0] - band, scale * mean[:, 0] + band, color="C1", alpha=0.3)
        ax.set_title(f"{name}: correlation {abs(np.corrcoef(mean[:, 0], f(grid))[0, 1]):.4f}")
        ax.legend()
    fig.savefig("functional_tucker_factors.png", dpi=100)
    print("factor functions plotted in functional_tucker_factors.png")


def wave(quick: bool) -> None:
    n_obs, resolution, n_snapshots, rank = (4000, 17, 11, 3) if quick else (40000, 33, 21, 5)
    u, _ = wave2d(1, resolution, n_snapshots=n_snapshots, t_final=1.0, random_state=0, progress=False)
    grid = np.linspace(0, 1, resolution)
    field = RegularGridInterpolator((np.linspace(0, 1, n_snapshots), grid, grid), u[0])  # (t, x, y)
    X = np.random.default_rng(0).random((n_obs, 3))  # (x, y, t)
    train, test = ContinuousObservations(X, field(X[:, [2, 0, 1]])).split((0.5, 0.5), random_state=0)
    start = time.perf_counter()
    model = FunctionalTucker(rank, lengthscale=0.15, n_epochs=15 if quick else 30, random_state=0).fit(train)
    mean, std = model.predict(test.coords, return_std=True)
    ours = float(np.sqrt(np.mean((mean - test.values) ** 2)))
    cover = float(np.mean(np.abs(mean - test.values) <= 1.96 * std))
    print(f"wave at {n_obs} random (x, y, t), rank {rank}: FunBaT test RMSE {ours:.4f}, 95% intervals "
          f"cover {cover:.1%} of held-out values ({time.perf_counter() - start:.1f} s)")
    for bins in (8, 16, 32):
        def cells(C, bins=bins):
            return np.clip((C * bins).astype(np.int64), 0, bins - 1)

        obs = ObservedTensor.from_duplicates(cells(train.coords), train.values, (bins,) * 3)
        model = tucker_complete(obs, rank, reg=1e-4, n_iter_max=100, random_state=0)
        # scored per test point: the cell value stands for every point in the cell
        values = np.asarray(model.to_dense())[tuple(cells(test.coords).T)]
        binned = float(np.sqrt(np.mean((values - test.values) ** 2)))
        print(f"  tucker_complete on {bins}^3 bins, rank {rank}: test RMSE {binned:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    args = parser.parse_args()
    synthetic()
    wave(args.quick)


if __name__ == "__main__":
    main()
