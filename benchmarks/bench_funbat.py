"""Functional Bayesian Tucker (FunBaT) against what people do instead, and one epoch at scale.

1. The authors' synthetic case (u1(x) u2(y), 6 random 15 x 15 grids, 675 / 675, noise-free), rank 1,
   Matern-3/2: test RMSE (authors' log: 0.004) and the correlation of the factor functions with the
   truth.
2. A 2D wave field (physics.wave.wave2d, 33 x 33 nodes, 21 snapshots on [0, 1]) sampled at 10^5
   random (x, y, t) (bilinear in space, linear in time), half held out: FunBaT at Tucker rank 5
   against tucker_complete on the coordinates binned into 8^3 ... 96^3 cells at the same
   rank, and an exact GP regression with a product Matern-3/2 kernel (hyperparameters by maximum
   marginal likelihood, scipy) on 2,000 of the training points; the coverage of FunBaT's 95%
   predictive intervals on the held-out values.
3. Scale: one epoch at 10^6 observations, K = 3, rank 5 (Tucker and CP), with 1,000 distinct
   coordinates per mode and (--continuous) with all coordinates distinct, on two threads: wall and
   CPU time, and the peak of Python-tracked memory (numpy allocations) during the epoch.

    python benchmarks/bench_funbat.py [--quick] [--continuous] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import scipy.linalg
import scipy.optimize

from physics.wave import wave2d
from tensorkit.backend import thread_limits
from tensorkit.functional import ContinuousObservations, FunctionalTucker
from tensorkit.functional._demo import binned_tucker_rmse, snapshot_observations, synthetic_case, u1, u2


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def synthetic() -> None:
    train, test = synthetic_case(random_state=0)
    model, wall, cpu = timed(lambda: FunctionalTucker(1, kernel="matern32", lengthscale=0.1, n_epochs=50,
                                                      random_state=0).fit(train))
    grid = np.linspace(0, 1, 400)
    corr = [abs(np.corrcoef(model.factor_functions(k, grid)[0][:, 0], f(grid))[0, 1])
            for k, f in enumerate((u1, u2))]
    score = rmse(model.predict(test.coords), test.values)
    print(f"[synthetic] rank 1, Matern-3/2, 675 / 675: test RMSE {score:.4f} (authors 0.004)"
          f"; corr(u1) {corr[0]:.5f}, corr(u2) {corr[1]:.5f}; {wall:.2f} s ({cpu:.2f} s CPU)")


def product_matern32(A, B, lengthscales):
    K = np.ones((A.shape[0], B.shape[0]))
    for k, ls in enumerate(lengthscales):
        x = np.sqrt(3.0) * np.abs(A[:, k, None] - B[None, :, k]) / ls
        K *= (1 + x) * np.exp(-x)
    return K


def exact_gp(train, test, n_points: int, rng) -> tuple[float, float]:
    """Exact GP regression on ``n_points`` training points, hyperparameters (three lengthscales,
    variance, noise) maximizing the marginal likelihood of 500 of them: (test RMSE, 95% coverage)."""
    idx = rng.choice(train.n_obs, size=min(n_points, train.n_obs), replace=False)
    X, y = train.coords[idx], train.values[idx]
    mu = y.mean()
    yc = y - mu

    def factor(theta, m):
        ls, var, noise = np.exp(theta[:3]), np.exp(theta[3]), np.exp(theta[4])
        K = var * product_matern32(X[:m], X[:m], ls) + (noise + 1e-8) * np.eye(m)
        return scipy.linalg.cho_factor(K, lower=True)

    def nll(theta):
        try:
            c = factor(theta, 500)
        except np.linalg.LinAlgError:
            return 1e10
        return 0.5 * yc[:500] @ scipy.linalg.cho_solve(c, yc[:500]) + np.log(np.diag(c[0])).sum()

    theta0 = np.log([0.2, 0.2, 0.2, yc.var(), 1e-3 * yc.var()])
    theta = scipy.optimize.minimize(nll, theta0, method="L-BFGS-B", options={"maxiter": 40}).x
    c = factor(theta, X.shape[0])
    ls, var, noise = np.exp(theta[:3]), np.exp(theta[3]), np.exp(theta[4])
    Ks = var * product_matern32(test.coords, X, ls)
    mean = Ks @ scipy.linalg.cho_solve(c, yc) + mu
    v = scipy.linalg.cho_solve(c, Ks.T)
    std = np.sqrt(np.maximum(var - np.einsum("ij,ji->i", Ks, v), 0) + noise)
    return rmse(mean, test.values), float(np.mean(np.abs(mean - test.values) <= 1.96 * std))


def wave(n_obs: int, rank: int, n_epochs: int, gp_points: int) -> None:
    u, _ = wave2d(1, 33, n_snapshots=21, t_final=1.0, random_state=0, progress=False)
    train, test = snapshot_observations(u[0], 1.0, n_obs).split((0.5, 0.5), random_state=0)
    print(f"[wave] {n_obs} random (x, y, t), half held out (std of held-out values {test.values.std():.4f})")
    model, wall, cpu = timed(lambda: FunctionalTucker(rank, lengthscale=0.1, n_epochs=n_epochs,
                                                      random_state=0).fit(train))
    mean, std = model.predict(test.coords, return_std=True)
    cover = float(np.mean(np.abs(mean - test.values) <= 1.96 * std))
    print(f"  FunBaT rank {rank}, Matern-3/2, {n_epochs} epochs: test RMSE {rmse(mean, test.values):.4f}, "
          f"95% intervals cover {cover:.1%}; {wall:.1f} s ({cpu:.1f} s CPU)")
    for bins in (8, 16, 32, 64, 96):
        score, wall, cpu = timed(lambda bins=bins: binned_tucker_rmse(train, test, rank, bins))
        print(f"  tucker_complete on {bins}^3 bins, rank {rank}: test RMSE {score:.4f}; {wall:.1f} s")
    (score, cover), wall, _ = timed(lambda: exact_gp(train, test, gp_points, np.random.default_rng(0)))
    print(f"  exact GP (product Matern-3/2, ML hyperparameters) on {gp_points} training points: "
          f"test RMSE {score:.4f}, 95% coverage {cover:.1%}; {wall:.1f} s")


def scale(n_obs: int, continuous: bool) -> None:
    rng = np.random.default_rng(0)
    X = rng.random((n_obs, 3)) if continuous else rng.integers(0, 1000, (n_obs, 3)) / 1000.0
    y = np.sin(3 * X[:, 0]) * np.cos(2 * X[:, 1]) * (1 + X[:, 2]) + 0.01 * rng.standard_normal(n_obs)
    obs = ContinuousObservations(X, y)
    distinct = obs.unique[0].shape[0]
    for core in ("tucker", "cp"):
        model = FunctionalTucker(5, lengthscale=0.3, n_epochs=1, core=core, random_state=0)
        tracemalloc.start()
        _, wall, cpu = timed(lambda model=model: model.fit(obs))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"[scale] one epoch, {n_obs} observations, K = 3, rank 5 {core}, {distinct} distinct "
              f"coordinates per mode: {wall:.2f} s wall, {cpu:.2f} s CPU, peak {peak / 2**20:.0f} MiB "
              f"(data {X.nbytes / 2**20:.0f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--continuous", action="store_true",
                        help="also time the epoch with all 10^6 coordinates distinct (several GB)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-obs", type=int, default=10**5, help="wave observations (train + test)")
    args = parser.parse_args()
    with thread_limits(args.threads):
        synthetic()
        if args.quick:
            wave(4000, 3, 10, 500)
            scale(10**5, continuous=False)
        else:
            wave(args.n_obs, 5, 15, 2000)
            scale(10**6, continuous=False)
            if args.continuous:
                scale(10**6, continuous=True)


if __name__ == "__main__":
    main()
