"""``tensorkit demo`` section and the data of the functional Tucker tests and benchmark: the authors'
synthetic product of two functions, and fields given by snapshots (a wave simulation of
``physics.wave``, or exact standing waves here) sampled at random continuous ``(x, y, t)``."""

from __future__ import annotations

import math
import time

import numpy as np

from ..completion import tucker_complete, values_at
from ..observed import ObservedTensor
from ._model import FunctionalTucker
from ._observations import ContinuousObservations


def u1(x):
    """First factor function of the authors' synthetic case: ``sin^2(2 pi x) cos(2 pi x)``."""
    return np.sin(2 * np.pi * x) ** 2 * np.cos(2 * np.pi * x)


def u2(y):
    """Second factor function: ``exp(-2 y) sin(1.5 pi y)``."""
    return np.exp(-2 * y) * np.sin(1.5 * np.pi * y)


def synthetic_case(*, random_state=0) -> tuple[ContinuousObservations, ContinuousObservations]:
    """``y = u1(x) u2(y)`` on 6 random 15 x 15 grids of uniform points in [0, 1] (1,350 entries,
    noise-free), split half / half: ``(train, test)``."""
    rng = np.random.default_rng(random_state)
    grids = [np.stack(np.meshgrid(rng.random(15), rng.random(15), indexing="ij"), -1).reshape(-1, 2)
             for _ in range(6)]
    X = np.concatenate(grids)
    obs = ContinuousObservations(X, u1(X[:, 0]) * u2(X[:, 1]))
    return obs.split((0.5, 0.5), random_state=rng)


def snapshot_observations(u, t_final: float, n_obs: int, *, random_state=0) -> ContinuousObservations:
    """A field given by snapshots ``u`` (n_snapshots, n, n) on the nodes of ``[0, 1]^2`` at
    ``t = 0 .. t_final``, observed at ``n_obs`` random ``(x, y, t)`` (bilinear in space, linear in
    time between snapshots)."""
    from scipy.interpolate import RegularGridInterpolator

    u = np.asarray(u)
    grid = np.linspace(0.0, 1.0, u.shape[1])
    field = RegularGridInterpolator((np.linspace(0.0, t_final, u.shape[0]), grid, grid), u)
    X = np.random.default_rng(random_state).random((n_obs, 3)) * np.array([1.0, 1.0, t_final])
    return ContinuousObservations(X, field(X[:, [2, 0, 1]]))


def standing_waves(resolution: int = 33, n_snapshots: int = 21, t_final: float = 1.0, *, random_state=0):
    """Snapshots (n_snapshots, resolution, resolution) of an exact solution of ``u_tt = Laplace u``
    on the unit square with fixed walls: ``sum a_mn sin(m pi x) sin(n pi y) cos(pi sqrt(m^2 + n^2) t)``
    over ``m, n <= 3`` with random amplitudes."""
    rng = np.random.default_rng(random_state)
    x = np.linspace(0.0, 1.0, resolution)
    t = np.linspace(0.0, t_final, n_snapshots)
    u = np.zeros((n_snapshots, resolution, resolution))
    for m in range(1, 4):
        for n in range(1, 4):
            a = rng.standard_normal() / (m * n)
            u += a * (np.cos(np.pi * math.hypot(m, n) * t)[:, None, None]
                      * np.outer(np.sin(m * np.pi * x), np.sin(n * np.pi * x))[None])
    return u


def binned_tucker_rmse(train: ContinuousObservations, test: ContinuousObservations, rank, bins: int,
                       *, random_state=0) -> float:
    """Test RMSE of :func:`tensorkit.completion.tucker_complete` on the coordinates binned into
    ``bins`` cells per mode (cell value = mean of its training values; a test point takes its cell's
    completed value)."""
    lo, hi = np.asarray(train.lows), np.asarray(train.highs)

    def cells(X):
        return np.clip(((X - lo) / (hi - lo) * bins).astype(np.int64), 0, bins - 1)

    shape = (bins,) * train.n_modes
    obs = ObservedTensor.from_duplicates(cells(train.coords), train.values, shape)
    model = tucker_complete(obs, rank, reg=1e-4, n_iter_max=100, random_state=random_state)
    pred = values_at(model, cells(test.coords))
    return float(np.sqrt(np.mean((pred - test.values) ** 2)))


def run(options) -> None:
    """Print the synthetic case's test RMSE and factor correlations, and on standing waves sampled at
    random (x, y, t) the comparison with binned Tucker completion."""
    train, test = synthetic_case()
    start = time.perf_counter()
    model = FunctionalTucker(1, kernel="matern32", lengthscale=0.1, n_epochs=30, random_state=0).fit(train)
    rmse = float(np.sqrt(np.mean((model.predict(test.coords) - test.values) ** 2)))
    grid = np.linspace(0, 1, 200)
    corr = [abs(np.corrcoef(model.factor_functions(k, grid)[0][:, 0], f(grid))[0, 1])
            for k, f in enumerate((u1, u2))]
    print(f"FunBaT, u1(x) u2(y) on 675 training points: test RMSE {rmse:.4f} (authors 0.004), factor "
          f"correlations {corr[0]:.4f} / {corr[1]:.4f}, {time.perf_counter() - start:.2f} s")
    n_obs = 4000 if options.quick else 40000
    train, test = snapshot_observations(standing_waves(), 1.0, n_obs).split((0.5, 0.5), random_state=0)
    rank = 4
    start = time.perf_counter()
    model = FunctionalTucker(rank, kernel="matern32", lengthscale=0.1, n_epochs=10 if options.quick else 30,
                             random_state=0).fit(train)
    mean, std = model.predict(test.coords, return_std=True)
    rmse = float(np.sqrt(np.mean((mean - test.values) ** 2)))
    cover = float(np.mean(np.abs(mean - test.values) <= 1.96 * std))
    print(f"standing waves at {n_obs} random (x, y, t), Tucker rank {rank}: FunBaT test RMSE {rmse:.4f}, "
          f"95% intervals cover {cover:.1%}, {time.perf_counter() - start:.1f} s")
    best = min((binned_tucker_rmse(train, test, rank, b), b) for b in (8, 16, 32))
    print(f"  binned tucker_complete, best of 8/16/32 bins per mode ({best[1]}): test RMSE {best[0]:.4f}")
