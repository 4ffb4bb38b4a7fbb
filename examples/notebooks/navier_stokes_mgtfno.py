# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Navier-Stokes with FNO, TFNO and MG-TFNO
#
# The vorticity $w$ of a 2D incompressible flow on the unit torus obeys
#
# $$\partial_t w + u \cdot \nabla w = \nu \Delta w + f, \qquad \nabla \cdot u = 0, \qquad
# w = \nabla \times u,$$
#
# here with viscosity $\nu = 10^{-3}$ and the FNO paper's forcing
# $f = 0.1 (\sin 2\pi(x + y) + \cos 2\pi(x + y))$. `physics.pde.navier_stokes2d` solves it
# pseudo-spectrally (Crank-Nicolson diffusion, 2/3 dealiasing) from random initial fields. We learn
# the one-step map $w(t) \mapsto w(t + 1)$ with four neural operators trained by the same recipe
# (`physics.fit_operator`: relative H1 loss, Adam with weight decay, the rate annealed to zero over
# the run by a cosine schedule):
#
# - **FNO** (Li et al., ICLR 2021): dense spectral weights per layer;
# - **TFNO**: each layer's spectral weight a factorized (here CP) tensor;
# - **MG-TFNO** (Kossaifi et al., TMLR 2024): ONE factorized tensor over the spectral weights of all
#   layers (`operators.JointSpectralWeight`), trained on $2 \times 2$ circularly padded patches
#   with a subsampled context window as an extra channel (`operators.MultigridPatching2D`, the
#   model's `processor`);
# - **MG-TFNO-2L** (`operators.TwoLevelMGTFNO`): the same patches completed by ONE global TFNO on the
#   coarse grid (the size of one patch), as domain decomposition completes local solves with a
#   coarse space. Its Fourier basis is the true period, so it moves the domain-sized structures
#   that a patch window, treated as periodic by the Fourier layers, cannot.
#
# The forcing depends on the position, so a model must know where each point lies. FNO and TFNO
# see whole fields with their $[0, 1]$ grid appended. An MG-TFNO patch's own grid cannot tell the
# patches apart: `positional_embedding="periodic"` appends $\sin 2\pi x, \cos 2\pi x, \sin 2\pi y,
# \cos 2\pi y$ of the GLOBAL coordinates to the whole fields ahead of the patching
# (`operators.PeriodicCoordinates`), so every patch and its context carry them.
#
# Then each model is rolled out autoregressively on held-out flows. `TENSORKIT_QUICK=1` uses tiny
# sizes (seconds; the errors are not meaningful); without it, 64 x 64 and minutes on 2 cores.

# %%
import os
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

from operators import (
    FNO,
    MGTFNO,
    TFNO,
    TwoLevelMGTFNO,
    plot_error_vs_parameters,
    plot_fields,
    plot_learning_curves,
)
from physics import fit_operator
from physics.pde import navier_stokes2d

QUICK = os.environ.get("TENSORKIT_QUICK") == "1"
if QUICK:
    flows, test_flows, resolution, t_final, epochs, width, modes = 8, 2, 32, 5, 6, 12, 8
else:
    flows, test_flows, resolution, t_final, epochs, width, modes = 40, 8, 64, 10, 20, 20, 12

start = time.perf_counter()
w, times = navier_stokes2d(flows + test_flows, resolution, viscosity=1e-3, t_final=float(t_final),
                           n_snapshots=t_final + 1, dtype=np.float32, random_state=0, progress=False)
w_train, w_test = w[:flows], w[flows:]
print(f"{flows + test_flows} flows, w {w.shape} (flows, times, x, y), t = {times[0]:g}..{times[-1]:g}, "
      f"in {time.perf_counter() - start:.1f} s")

fig, axes = plt.subplots(1, 4, figsize=(13, 3))
for ax, k in zip(axes, np.linspace(0, t_final, 4).astype(int), strict=True):
    ax.imshow(w_train[0, k].T, origin="lower", extent=(0, 1, 0, 1), cmap="RdBu_r")
    ax.set_title(f"vorticity, t = {times[k]:g}")
    ax.axis("off")
fig.tight_layout()

# %% [markdown]
# ## Training pairs and four models
#
# Every consecutive pair $(w(t), w(t+1))$ of every training flow is a sample. The models share
# modes, width and depth; TFNO and MG-TFNO factorize the spectral weights in CP form with 7% of the
# dense parameters (`factorization="cp", rank=0.07`: on the benchmark CP beat Tucker at equal size).
# The MG-TFNO sees patches of half the side (a 4x smaller domain) padded by 1/8 of the side; the
# two-level model adds a TFNO on the whole field restricted to a grid of the same size, and patches
# inside its forward pass (it takes whole fields, so it needs no processor).

# %%
def pairs(v):
    """Every (w(t), w(t + 1)) of every flow, as (n, 1, R, R) arrays."""
    n, t, r, _ = v.shape
    return v[:, :-1].reshape(n * (t - 1), 1, r, r), v[:, 1:].reshape(n * (t - 1), 1, r, r)


x, y = pairs(w_train)
x_test, y_test = pairs(w_test[:, :2])
kw = {"dtype": np.float32, "random_state": 0}
models = {
    "FNO": FNO((modes, modes), 1, 1, width, **kw),
    "TFNO": TFNO((modes, modes), 1, 1, width, factorization="cp", rank=0.07, **kw),
    "MG-TFNO": MGTFNO((modes, modes), 1, 1, width, levels=1, padding_fraction=0.125, factorization="cp",
                      rank=0.07, positional_embedding="periodic", **kw),
    "MG-TFNO-2L": TwoLevelMGTFNO((modes, modes), 1, 1, width, levels=1, padding_fraction=0.125,
                                 factorization="cp", rank=0.07, **kw),
}
print(f"{x.shape[0]} training pairs")
for name, model in models.items():
    print(f"{name:>10}: {model.num_parameters():8d} parameters")
patches, _ = models["MG-TFNO"].processor.patch(x[:1])
print(f"MG-TFNO input: one {x.shape[1:]} field -> patches {patches.shape} (patch, channels, x, y): "
      f"(1 vorticity + 4 coordinates) x (the patch + its coarse context)")

# %%
fits, histories, sizes = {}, {}, {}
for name, model in models.items():
    processor = getattr(model, "processor", None)  # MG-TFNO: embed the coordinates, then patch
    start = time.perf_counter()
    fits[name] = fit_operator(model, x, y, epochs=epochs, processor=processor, loss="h1", lr=3e-3,
                              scheduler="cosine", batch_size=10, validation=(x_test, y_test), random_state=0,
                              progress=False)
    histories[name] = fits[name].history["val_metric"]
    sizes[name] = (model.num_parameters(), histories[name][-1])
    print(f"{name:>10}: one-step test error {histories[name][-1]:7.2%} after {epochs} epochs, "
          f"{time.perf_counter() - start:.1f} s")

figures = Path(tempfile.mkdtemp())
plot_learning_curves(histories, figures / "epochs.png", ylabel="one-step relative L2")
plot_error_vs_parameters(sizes, figures / "parameters.png", ylabel="one-step relative L2")
display(Image(figures / "epochs.png"), Image(figures / "parameters.png"))

# %% [markdown]
# ## Rollout on held-out flows
#
# Starting from $w(0)$ of each test flow, each model's prediction is fed back as its next input
# (`OperatorFit.rollout`, through the MG-TFNO's patching). Errors compound: the relative L2 error
# against the simulation grows with the step.

# %%
truth = w_test[:, 1:]
rollouts = {}
fig, ax = plt.subplots(figsize=(6, 4))
for name, fit in fits.items():
    rollouts[name] = fit.rollout(w_test[:, :1], t_final)
    err = np.sqrt(((rollouts[name] - truth) ** 2).sum(axis=(-2, -1)) / (truth**2).sum(axis=(-2, -1)))
    ax.plot(times[1:], err.mean(axis=0), marker="o", label=name)
ax.set(xlabel="t", ylabel="relative L2 error (mean over test flows)", yscale="log",
       title="autoregressive rollout")
ax.legend()

# %%
rows = [0, t_final // 2 - 1, t_final - 1]
plot_fields(truth[0][rows], rollouts["MG-TFNO"][0][rows], figures / "vorticity.png",
            labels=[f"t = {times[r + 1]:g}" for r in rows], title="MG-TFNO rollout on a held-out flow")
display(Image(figures / "vorticity.png"))

# %% [markdown]
# On the benchmark's protocol (`benchmarks/bench_navier_stokes.py --full`: 2000 pairs from 200
# flows, 50 held-out flows, width 20, modes 12, periodic coordinates for all, L2 loss, Adam 1e-2
# annealed over 20 epochs, CP rank 0.07, padding 0.125), the one-step errors were FNO 1.60% (274k
# parameters), TFNO 1.44% (24.6k, 11.1x fewer), MG-TFNO 3.21% (24.7k) and the two-level MG-TFNO
# 1.44% at TFNO's size (25.0k, widths 14 + 14) or 1.26% at widths 20 + 20 (49.8k); after a
# 20-step rollout 1.5%, 2.0%, 5.1%, 2.0% and 1.6%. The patch windows alone cannot move the
# domain-sized structures that hold most of the energy; the global coarse TFNO can. Without global
# coordinates a patch does not know where it lies, and the position-dependent forcing doubles the
# MG-TFNO's error (16% against 7.5% in a smaller run).
