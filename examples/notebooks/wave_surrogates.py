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
# # CNN surrogates of the wave equation, compressed a priori
#
# Boukraichi, Akkari, Casenave and Ryckelynck (arXiv 2304.04964) train convolutional networks to
# forecast a finite-element simulation of the 2D wave equation, with every convolution kernel
# replaced *before training* by a low-rank format, and claim the accuracy of ordinary convolutions
# at a fraction of the parameters and memory. This notebook reproduces the comparison on data from
# `physics.wave.wave2d`:
#
# 1. simulate Gaussian pulses in the unit square with fixed walls;
# 2. train the same U-Net forecaster `WaveCNN` (the last $k$ snapshots in, the next one out) with
#    dense, one-way, CP and Tucker convolutions on the same data, budget and seed
#    (`compare_compression`), and roll each out autoregressively;
# 3. the authors' pipeline for a zone of interest: a CNN predicts the zone's boundary trace from the
#    initial field, and a finite-element `Submodel` of the zone fills in the interior.
#
# `TENSORKIT_QUICK=1` runs tiny sizes (seconds, numbers not meaningful); without it the sizes of
# `examples/wave_surrogate.py` (minutes on 2 cores).

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from physics.wave import (
    Submodel,
    WaveCNN,
    boundary_trace,
    compare_boundary_generator,
    compare_compression,
    plot_compression,
    plot_rollout,
    wave2d,
)

QUICK = os.environ.get("TENSORKIT_QUICK") == "1"
if QUICK:
    n, resolution, snapshots, t_final, width, epochs, steps = 12, 16, 12, 0.8, 4, 10, 6
else:
    n, resolution, snapshots, t_final, width, epochs, steps = 32, 32, 31, 1.5, 8, 8, 20

start = time.perf_counter()
u, times = wave2d(n, resolution, n_snapshots=snapshots, t_final=t_final, random_state=0,
                  progress=False)
print(f"u {u.shape} (samples, snapshots, x, y) in {time.perf_counter() - start:.2f} s")

picks = np.linspace(0, snapshots - 1, 5).astype(int)
fig, axes = plt.subplots(1, len(picks), figsize=(13, 2.8))
scale = np.abs(u[0]).max()
for ax, k in zip(axes, picks, strict=True):
    ax.imshow(u[0, k].T, origin="lower", extent=(0, 1, 0, 1), cmap="RdBu_r", vmin=-scale, vmax=scale)
    ax.set_title(f"t = {times[k]:.2f}")
    ax.axis("off")
fig.suptitle("one training sample: Gaussian pulses, fixed walls")
fig.tight_layout()

# %% [markdown]
# ## Four kinds of convolution
#
# Every convolution of `WaveCNN` has a $3 \times 3$ kernel $K \in \mathbb{R}^{C_o \times C_i
# \times 3 \times 3}$, held as
#
# - **dense**: $C_o C_i \cdot 9$ numbers;
# - **one-way**: each $(o, i)$ kernel a rank-$R$ sum of outer products of 1D filters,
#   $K_{oi} = \sum_r a_{oir} b_{oir}^\top$ ($C_o C_i \cdot 2 \cdot 3 R$ numbers: a saving only for
#   $R = 1$);
# - **CP** over channels and space (Lebedev et al. 2015),
#   $K = \sum_r u_r \circ v_r \circ h_r \circ w_r$: a $1\times1$ convolution to $R$ channels,
#   depthwise $3 \times 1$ and $1 \times 3$, a $1 \times 1$ back, $R (C_o + C_i + 6)$ numbers;
# - **Tucker** with channel ranks $\min(R, C)$ and full spatial ranks.
#
# The factors are trained directly; the dense kernel is never formed.

# %%
for conv, rank in (("dense", None), ("oneway", 1), ("cp", 4), ("tucker", 4)):
    kw = {} if rank is None else {"rank": rank}
    model = WaveCNN(4, 1, width=width, depth=2, conv=conv, random_state=0, **kw)
    print(f"{conv:>7}: {model.num_parameters():6d} parameters")

# %% [markdown]
# ## Training them on the same budget
#
# `compare_compression` cuts every window of `history` snapshots and its next snapshot from the
# training simulations, trains one model per kind (same split, initialization seed, epochs, batch
# size and learning rate), and evaluates the one-step error on every test window and an
# autoregressive rollout (`physics.wave.rollout`: predict, append, drop the oldest) of `steps`
# snapshots. The table also reports the peak memory of a training step (`tracemalloc`) and the
# memory of parameters, gradients and Adam moments.

# %%
start = time.perf_counter()
table = compare_compression((u, times), ranks={"oneway": 1, "cp": 4, "tucker": 4}, history=4,
                            width=width, depth=2, epochs=epochs, rollout_steps=steps,
                            random_state=0, progress=False)
print(f"trained 4 models in {time.perf_counter() - start:.1f} s")
print(table.to_text())

# %%
display(plot_compression(table))

# %% [markdown]
# The first test sample: the true snapshots (top row) and each model's rollout.

# %%
display(plot_rollout(table))

# %% [markdown]
# ## A zone of interest: boundary generator and finite-element submodel
#
# `Submodel` is the same P1 solver on a sub-rectangle whose boundary values are prescribed over
# time. Driven by the exact boundary trace of the full simulation (`boundary_trace`), it reproduces
# the field inside the zone up to the time interpolation of the snapshots.

# %%
cells = resolution - 1
zone = ((cells // 4 / cells, (cells - cells // 4) / cells),) * 2
sub = Submodel(zone, resolution)
trace = boundary_trace(u, times, zone, resolution)
inside = sub.run(trace, times, initial=sub.sample(u[:, 0]))
exact = sub.sample(u)
err = np.linalg.norm(inside - exact) / np.linalg.norm(exact)
print(f"zone {zone[0]} x {zone[1]}: {sub.shape} nodes, {sub.n_boundary} on the boundary; "
      f"submodel on the exact trace: relative L2 {err:.2e}")

k = snapshots // 2
fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
vmax = np.abs(exact[0, k]).max()
for ax, field, title in zip(axes, (exact[0, k], inside[0, k], inside[0, k] - exact[0, k]),
                            ("full simulation", "submodel", "difference"), strict=True):
    im = ax.imshow(field.T, origin="lower", extent=(*zone[0], *zone[1]), cmap="RdBu_r",
                   vmin=-vmax, vmax=vmax)
    ax.set_title(f"{title}, t = {times[k]:.2f}")
fig.colorbar(im, ax=axes, fraction=0.02)

# %% [markdown]
# The authors' pipeline replaces the exact trace by a CNN's prediction from the initial field
# alone. `compare_boundary_generator` trains that boundary generator, runs the submodel on its
# trace, and compares the zone's interior with a CNN of the same architecture and parameter count
# trained to predict the interior directly: does putting the physics inside the zone pay?

# %%
start = time.perf_counter()
result = compare_boundary_generator((u, times), zone, conv="cp", rank=8, width=width,
                                    epochs=2 * epochs, random_state=0, progress=False)
print(f"in {time.perf_counter() - start:.1f} s")
print(result.to_text())
