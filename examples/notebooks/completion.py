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
# # Tensor completion on the Kinetic tensor
#
# tensorly ships a fluorescence data set, `load_kinetic()`: a $64 \times 12 \times 10 \times 60$
# tensor with 1,754 cells flagged as missing. We drop those, **hide 80%** of the remaining cells at
# random (seed 0), fit on the other 20%, and score on the hidden cells with
#
# $$\mathrm{NRMSE} = \frac{\sqrt{\operatorname{mean}_{e \in \text{hidden}} (\hat x_e - x_e)^2}}
#   {\operatorname{std}_{e \in \text{hidden}}\, x_e}.$$
#
# Models: CP by ALS on the observed cells only (`cp_complete`: per factor row an $R \times R$ ridge
# system from that row's observations), Tucker (`tucker_complete`), the neural model of DAIN
# (`NeuralCompletion`: an MLP over per-mode embeddings) and DAIN's augmentation, whose TracIn
# importances say which entities matter. A tenth of the observed cells is held out for early
# stopping; the hidden cells are never seen. `TENSORKIT_QUICK=1` uses few sweeps and tiny networks.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np
from tensorly.datasets import load_kinetic

from tensorkit.completion import (
    DAIN,
    NeuralCompletion,
    cp_complete,
    nrmse,
    plot_error_history,
    plot_predictions,
    tucker_complete,
)
from tensorkit.observed import ObservedTensor

QUICK = os.environ.get("TENSORKIT_QUICK") == "1"

data = load_kinetic()
X = np.asarray(data["tensor"], dtype=np.float64)
flagged = np.asarray(data["missing_values_position"], dtype=bool)
indices, values = np.argwhere(~flagged), X[~flagged]
hide = np.random.default_rng(0).random(values.shape[0]) < 0.8
observed = ObservedTensor(indices[~hide], values[~hide], X.shape)
hidden = ObservedTensor(indices[hide], values[hide], X.shape)
train, validation = observed.split((0.9, 0.1), random_state=1)
print(f"shape {X.shape}: {observed.nnz} observed cells ({train.nnz} train, {validation.nnz} "
      f"validation), {hidden.nnz} hidden")

# %% [markdown]
# ## CP completion
#
# ALS with early stopping on the validation cells. The default `reg=1e-6` is a *relative* ridge
# (weighted by each row's observation count, on data scaled to unit RMS); much larger values shrink
# Kinetic's small components to zero (see `cp_complete`'s docstring for the numbers).

# %%
results = {}
sweeps = 15 if QUICK else 500
start = time.perf_counter()
cp_model = cp_complete(train, 10, validation=validation, n_iter_max=sweeps, patience=20, stop_tol=0,
                       random_state=0)
results["CP (ALS), rank 10"] = (nrmse(cp_model, hidden), time.perf_counter() - start)
print(f"CP: hidden NRMSE {results['CP (ALS), rank 10'][0]:.4f}, best sweep "
      f"{cp_model.info.extras['best_iteration']} of {cp_model.info.iterations}")
plot_error_history(cp_model, title="CP completion of Kinetic (rank 10)")

# %%
plot_predictions(cp_model, hidden, title="CP, rank 10: hidden cells")

# %% [markdown]
# ## Tucker completion
#
# Factor rows with the core fixed, then the core by least squares over the observed cells (a
# $\prod R_k \times \prod R_k$ system per sweep: moderate ranks).

# %%
start = time.perf_counter()
tucker_model = tucker_complete(train, (3, 3, 3, 3) if QUICK else (4, 4, 4, 4), validation=validation,
                               n_iter_max=4 if QUICK else 100, patience=20, random_state=0)
results["Tucker"] = (nrmse(tucker_model, hidden), time.perf_counter() - start)
print(f"Tucker {tucker_model.ranks}: hidden NRMSE {results['Tucker'][0]:.4f}")

# %% [markdown]
# ## Neural completion and DAIN
#
# DAIN's model concatenates one learned embedding per mode and feeds an MLP (the paper's widths,
# 1024-1024-128, are `NeuralCompletion`'s default; narrower here to keep the CPU time reasonable,
# tiny at quick size). DAIN then scores each training cell by TracIn
# (last-layer gradients of training and validation cells, summed over epochs), turns them into a
# distribution per mode over the entities, draws new cells from those, labels them with the model
# and retrains on the union.

# %%
hidden_widths = (16,) if QUICK else (256, 256, 64)
epochs = 2 if QUICK else 60
batch_size = 4096 if QUICK else 512
start = time.perf_counter()
neural = NeuralCompletion(X.shape, hidden=hidden_widths, random_state=0)
neural.fit(train, validation=validation, epochs=epochs, batch_size=batch_size, lr=1e-3, patience=10)
results["neural"] = (nrmse(neural, hidden), time.perf_counter() - start)

start = time.perf_counter()
dain = DAIN(X.shape, hidden=hidden_widths, random_state=0)
dain.fit(train, validation, epochs=epochs, batch_size=batch_size, lr=1e-3, patience=10)
results["neural + DAIN"] = (nrmse(dain, hidden), time.perf_counter() - start)

print(f"{'model':<20} {'hidden NRMSE':>12} {'time (s)':>9}")
for name, (score, seconds) in results.items():
    print(f"{name:<20} {score:12.4f} {seconds:9.2f}")

# %% [markdown]
# ### Which entities matter
#
# The entity importances of DAIN (per mode, a distribution over the indices, from the influence of
# their cells on the validation loss).

# %%
fig, axes = plt.subplots(1, X.ndim, figsize=(12, 2.8))
for k, (ax, importance) in enumerate(zip(axes, dain.entity_importance, strict=True)):
    ax.bar(np.arange(importance.shape[0]), importance)
    ax.set_title(f"mode {k} ({importance.shape[0]} entities)")
    ax.set_xlabel("index")
axes[0].set_ylabel("importance")
fig.tight_layout()
plt.show()

# %%
plot_error_history(neural, title="neural completion: RMSE per epoch")
