# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Functional Bayesian Tucker: tensors over continuous coordinates
#
# Measurements taken at real coordinates (latitude, longitude, time; $x, y, t$ of a simulation)
# are not cells of a grid. `tensorkit.functional.FunctionalTucker` (FunBaT, Fang et al., ICLR
# 2024) keeps a Tucker core and replaces each mode's factor matrix by functions of the coordinate:
#
# $$y \approx G \times_1 u_1(x_1)^\top \times_2 \cdots \times_K u_K(x_K)^\top,$$
#
# with a Gaussian-process prior (Matern-1/2 or 3/2) on every function. The priors are linear SDEs,
# so each mode's posterior comes from a Kalman filter and smoother over its sorted distinct
# coordinates, fed by expectation-propagation messages summed per coordinate. Predictions at new
# coordinates come with standard deviations. `TENSORKIT_QUICK=1` uses small sizes.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np
from scipy.interpolate import RegularGridInterpolator

from physics.wave import wave2d
from tensorkit.functional import ContinuousObservations, FunctionalTucker

QUICK = os.environ.get("TENSORKIT_QUICK") == "1"

# %% [markdown]
# ## The authors' synthetic case
#
# $y = u_1(x) u_2(y)$ with $u_1(x) = \sin^2(2\pi x)\cos(2\pi x)$ and $u_2(y) = e^{-2y}\sin(1.5\pi y)$
# on six random $15 \times 15$ grids of uniform points: 1,350 noise-free values, half for training.

# %%
def u1(x):
    return np.sin(2 * np.pi * x) ** 2 * np.cos(2 * np.pi * x)


def u2(y):
    return np.exp(-2 * y) * np.sin(1.5 * np.pi * y)


rng = np.random.default_rng(0)
X = np.concatenate([np.stack(np.meshgrid(rng.random(15), rng.random(15), indexing="ij"), -1).reshape(-1, 2)
                    for _ in range(6)])
train, test = ContinuousObservations(X, u1(X[:, 0]) * u2(X[:, 1])).split((0.5, 0.5), random_state=0)
print(train)

start = time.perf_counter()
model = FunctionalTucker(1, kernel="matern32", lengthscale=0.1, n_epochs=30, random_state=0)
model.fit(train, validation=test)
print(f"test RMSE {model.info.extras['validation_rmse'][-1]:.4f} (the authors log 0.004), "
      f"{time.perf_counter() - start:.2f} s")

# %% [markdown]
# The learned functions, rescaled to the truth (a Tucker factor is defined up to scale and sign),
# with 95% posterior bands, and the validation RMSE per epoch.

# %%
grid = np.linspace(0, 1, 200)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
for k, (f, name) in enumerate(((u1, "$u_1(x)$"), (u2, "$u_2(y)$"))):
    mean, var = model.factor_functions(k, grid)
    scale = (mean[:, 0] @ f(grid)) / (mean[:, 0] @ mean[:, 0])
    band = 1.96 * abs(scale) * np.sqrt(var[:, 0])
    axes[k].plot(grid, f(grid), "k", label="truth")
    axes[k].plot(grid, scale * mean[:, 0], "C1--", label="posterior mean")
    axes[k].fill_between(grid, scale * mean[:, 0] - band, scale * mean[:, 0] + band, color="C1", alpha=0.3)
    axes[k].set_title(name)
    axes[k].legend()
axes[2].semilogy(model.info.extras["validation_rmse"])
axes[2].set_xlabel("epoch")
axes[2].set_title("validation RMSE")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## A wave field at random $(x, y, t)$
#
# A pulse of the 2D wave equation simulated by `physics.wave.wave2d`, sampled at random points
# (interpolated bilinearly in space and linearly in time between snapshots). Half the points train
# the model; it then predicts the whole field at a time between the snapshots, with uncertainty.

# %%
n_obs, resolution, n_snapshots, rank = (4000, 17, 11, 3) if QUICK else (40000, 33, 21, 5)
u, _ = wave2d(1, resolution, n_snapshots=n_snapshots, t_final=1.0, random_state=0, progress=False)
nodes = np.linspace(0, 1, resolution)
field = RegularGridInterpolator((np.linspace(0, 1, n_snapshots), nodes, nodes), u[0])
P = np.random.default_rng(0).random((n_obs, 3))
train, test = ContinuousObservations(P, field(P[:, [2, 0, 1]])).split((0.5, 0.5), random_state=0)
model = FunctionalTucker(rank, lengthscale=0.15, n_epochs=15 if QUICK else 30, random_state=0).fit(train)
mean, std = model.predict(test.coords, return_std=True)
print(f"test RMSE {np.sqrt(np.mean((mean - test.values) ** 2)):.4f}; 95% intervals cover "
      f"{np.mean(np.abs(mean - test.values) <= 1.96 * std):.1%} of held-out values")

# %%
t_query = 0.53
xx, yy = np.meshgrid(np.linspace(0, 1, 60), np.linspace(0, 1, 60), indexing="ij")
Q = np.stack([xx.ravel(), yy.ravel(), np.full(xx.size, t_query)], axis=1)
pred, pred_std = model.predict(Q, return_std=True)
truth = field(Q[:, [2, 0, 1]])
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for ax, img, title in zip(axes, (truth, pred, pred_std),
                          ("interpolated simulation", "FunBaT mean", "FunBaT std"), strict=True):
    im = ax.imshow(img.reshape(xx.shape).T, origin="lower", extent=(0, 1, 0, 1))
    ax.set_title(f"{title}, t = {t_query}")
    fig.colorbar(im, ax=ax)
plt.tight_layout()
plt.show()
