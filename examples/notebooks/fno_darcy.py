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
# # FNO and TFNO on Darcy flow
#
# Learn the solution operator $a \mapsto u$ of Darcy flow on the unit square,
#
# $$-\nabla \cdot (a(x) \nabla u(x)) = 1, \qquad u = 0 \text{ on the boundary},$$
#
# from pairs of random piecewise-constant coefficients $a$ and pressures $u$
# (`physics.pde.darcy`). A Fourier neural operator lifts $a$ to a few channels, applies layers
# $v \mapsto \sigma(\mathcal{F}^{-1}(W \cdot \mathcal{F} v) + \dots)$ that act on the lowest Fourier
# modes, and projects back. A TFNO holds the spectral weights $W$ as a Tucker tensor, with far
# fewer parameters. Both train on numpy arrays with hand-written adjoints (`tensorkit.nn`); no
# PyTorch. `TENSORKIT_QUICK=1` trains tiny models for a few epochs.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from operators import FNO, TFNO
from physics.pde import darcy, fit_darcy

QUICK = os.environ.get("TENSORKIT_QUICK") == "1"
if QUICK:
    n_train, n_test, res, epochs, width, modes, layers = 60, 10, 16, 6, 8, 6, 2
else:
    n_train, n_test, res, epochs, width, modes, layers = 1000, 100, 32, 40, 32, 12, 4

start = time.perf_counter()
a, u = darcy(n_train, res, random_state=0, progress=False)
a_test, u_test = darcy(n_test, res, random_state=1, progress=False)
# the same test coefficients (same random_state) solved on a grid twice as fine
a_fine, u_fine = darcy(n_test, 2 * res, random_state=1, progress=False)
print(f"Darcy {res}x{res}: {n_train} train / {n_test} test in {time.perf_counter() - start:.1f} s")

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
for ax, image, title in zip(axes, [a[0], u[0]], ["coefficient a", "pressure u"], strict=True):
    im = ax.imshow(image, origin="lower", cmap="viridis")
    ax.set_title(title)
    ax.axis("off")
    fig.colorbar(im, ax=ax, shrink=0.8)
fig.tight_layout()

# %% [markdown]
# ## Training
#
# `fit_darcy` normalizes inputs and outputs, trains with Adam and a step decay on the relative
# $L^2$ loss, and records the training loss and the test error per epoch.

# %%
fits = {}
for name, cls in (("FNO", FNO), ("TFNO", TFNO)):
    model = cls((modes, modes), 1, 1, width, n_layers=layers, dtype=np.float32, random_state=0)
    fits[name] = fit_darcy(model, a, u, epochs=epochs, validation=(a_test, u_test),
                           lr=5e-3 if QUICK else 1e-3, batch_size=10 if QUICK else 20,
                           random_state=0, progress=False)
    print(f"{name:>5}: {model.num_parameters():7d} parameters, test relative L2 "
          f"{fits[name].history['val_metric'][-1]:.2%}")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.4))
for name, fit in fits.items():
    ax0.semilogy(fit.history["train_loss"], label=name)
    ax1.semilogy(fit.history["val_metric"], label=name)
ax0.set_title("training loss")
ax1.set_title("test relative L2 error")
for ax in (ax0, ax1):
    ax.set_xlabel("epoch")
    ax.legend()
fig.tight_layout()

# %% [markdown]
# ## Predictions

# %%
pred = fits["FNO"].predict(a_test[:1])[0]
fig, axes = plt.subplots(1, 3, figsize=(11, 3.3))
for ax, image, title in zip(axes, [u_test[0], pred, pred - u_test[0]], ["truth", "FNO", "error"],
                            strict=True):
    im = ax.imshow(image, origin="lower", cmap="viridis" if title != "error" else "RdBu_r")
    ax.set_title(title)
    ax.axis("off")
    fig.colorbar(im, ax=ax, shrink=0.8)
fig.tight_layout()

# %% [markdown]
# ## Zero-shot super-resolution
#
# The spectral layers act on Fourier modes, not on grid points, so a model trained at
# $n \times n$ evaluates at $2n \times 2n$ without retraining. The error is measured on the same
# test coefficients solved on the finer grid.

# %%
for name, fit in fits.items():
    print(f"{name:>5}: test error at {res}x{res} {fit.test_error(a_test, u_test):.2%}, "
          f"zero-shot at {2 * res}x{2 * res} {fit.test_error(a_fine, u_fine):.2%}")
fine = fits["FNO"].predict(a_fine[:1])[0]
fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
for ax, image, title in zip(axes, [u_fine[0], fine], [f"truth {2 * res}x{2 * res}", "FNO, zero-shot"],
                            strict=True):
    im = ax.imshow(image, origin="lower", cmap="viridis")
    ax.set_title(title)
    ax.axis("off")
    fig.colorbar(im, ax=ax, shrink=0.8)
fig.tight_layout()
