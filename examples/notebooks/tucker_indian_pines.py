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
# # Compressing Indian Pines with Tucker
#
# The Indian Pines hyperspectral image (145 x 145 pixels, 200 spectral bands, bundled with
# tensorly) is a 3-way tensor $\mathcal{X}$. A Tucker decomposition writes it as a small core
# $\mathcal{G}$ multiplied along each mode by a matrix with orthonormal columns,
#
# $$\mathcal{X} \approx \hat{\mathcal{X}} = \mathcal{G} \times_1 U_1 \times_2 U_2 \times_3 U_3 .$$
#
# With `tol=`, `tensorkit.tucker` chooses the ranks itself: ST-HOSVD truncates each mode where
# the discarded singular values satisfy
# $\sqrt{\sum_{i > r} \sigma_i^2} \le \mathrm{tol}\,\|\mathcal{X}\| / \sqrt{N}$, which guarantees
# $\|\mathcal{X} - \hat{\mathcal{X}}\| \le \mathrm{tol}\,\|\mathcal{X}\|$.
#
# `TENSORKIT_QUICK=1` (as in CI) subsamples the image so that the notebook runs in seconds.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np
from tensorly.datasets import load_indian_pines

import tensorkit

QUICK = os.environ.get("TENSORKIT_QUICK") == "1"
X = np.asarray(load_indian_pines()["tensor"], dtype=np.float64)
if QUICK:
    X = X[::3, ::3, ::4].copy()
print("tensor shape", X.shape, f"({X.nbytes / 1e6:.1f} MB)")

# %%
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.5))
ax0.imshow(X[:, :, X.shape[2] // 2], cmap="viridis")
ax0.set_title(f"band {X.shape[2] // 2}")
ax0.axis("off")
for i, j in [(10, 10), (X.shape[0] // 2, X.shape[1] // 2), (X.shape[0] - 5, 5)]:
    ax1.plot(X[i, j], label=f"pixel ({i}, {j})")
ax1.set_xlabel("band")
ax1.set_ylabel("reflectance")
ax1.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## Rank by tolerance
#
# Each tolerance gives the smallest ranks that meet it; the achieved error is reported in
# `T.info.rel_error` and checked here against the dense reconstruction.

# %%
tolerances = [0.1, 0.05, 0.03, 0.02, 0.01] if QUICK else [0.1, 0.05, 0.03, 0.02, 0.01, 0.005]
rows = []
print(f"{'tol':>6} {'ranks':>16} {'rel. error':>11} {'compression':>12} {'time [s]':>9}")
for tol in tolerances:
    start = time.perf_counter()
    T = tensorkit.tucker(X, tol=tol)
    elapsed = time.perf_counter() - start
    error = np.linalg.norm(X - T.to_dense()) / np.linalg.norm(X)
    assert error <= tol
    rows.append((tol, T.ranks, error, T.compression_ratio))
    print(f"{tol:6.3f} {T.ranks!s:>16} {error:11.3e} {T.compression_ratio:11.1f}x {elapsed:9.3f}")

# %%
fig, ax = plt.subplots(figsize=(5, 3.6))
ax.loglog([r[3] for r in rows], [r[2] for r in rows], "o-", label="achieved error")
ax.loglog([r[3] for r in rows], [r[0] for r in rows], "k--", lw=0.8, label="tolerance")
for _tol, ranks, err, ratio in rows:
    ax.annotate(str(ranks), (ratio, err), textcoords="offset points", xytext=(4, 4), fontsize=7)
ax.set_xlabel("compression ratio")
ax.set_ylabel("relative error")
ax.set_title("ST-HOSVD on Indian Pines")
ax.grid(True, which="both", alpha=0.3)
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## Error against compression at fixed ranks, by method
#
# HOSVD truncates every mode of the original tensor, ST-HOSVD truncates sequentially (cheaper),
# HOOI refines the factors by alternating sweeps, and the randomized method sketches each unfolding.

# %%
ranks = [4, 8, 12] if QUICK else [5, 10, 20, 30, 40]
methods = ["hosvd", "st_hosvd", "hooi", "randomized"]
fig, ax = plt.subplots(figsize=(5, 3.6))
for method in methods:
    errors, ratios = [], []
    for r in ranks:
        T = tensorkit.tucker(X, rank=r, method=method, random_state=0)
        errors.append(T.info.rel_error)
        ratios.append(T.compression_ratio)
    ax.loglog(ratios, errors, "o-", label=method)
ax.set_xlabel("compression ratio")
ax.set_ylabel("relative error")
ax.grid(True, which="both", alpha=0.3)
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## What the compression keeps
#
# One band of the image next to its reconstruction at the loosest tolerance: the spatial
# structure survives a large compression.

# %%
T = tensorkit.tucker(X, tol=tolerances[0])
band = X.shape[2] // 2
fig, axes = plt.subplots(1, 3, figsize=(10, 3.3))
approx = T.to_dense()
for ax, image, title in zip(axes, [X[:, :, band], approx[:, :, band], X[:, :, band] - approx[:, :, band]],
                            ["original", f"Tucker {T.ranks}, {T.compression_ratio:.0f}x", "difference"],
                            strict=True):
    im = ax.imshow(image, cmap="viridis")
    ax.set_title(title)
    ax.axis("off")
    fig.colorbar(im, ax=ax, shrink=0.8)
fig.tight_layout()
