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
# # Wave simulation by finite elements
#
# `physics.wave.wave2d` generates datasets of the 2D wave equation
#
# $$u_{tt} = \nabla \cdot (c^2 \nabla u) + f \ \text{ in } (0, 1)^2,$$
#
# with P1 triangles on a regular grid, a lumped mass matrix $M_L$ and explicit leapfrog
# $M_L (u^{n+1} - 2u^n + u^{n-1}) / \Delta t^2 = -K u^n + F^n$, at 0.9 of the stability bound
# $\Delta t < 2 / \sqrt{\lambda_{\max}(M_L^{-1} K)}$. Sources are Gaussian pulses (the field starts
# from them at rest) or Ricker wavelets at points; walls are fixed ($u = 0$) or absorbing.
# `TENSORKIT_QUICK=1` uses a coarse grid and few samples.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from physics.wave import Submodel, WaveFEM, boundary_trace, wave2d

QUICK = os.environ.get("TENSORKIT_QUICK") == "1"
n_samples, resolution, n_snapshots = (4, 33, 41) if QUICK else (16, 65, 101)
t_final = 1.0

start = time.perf_counter()
u, times = wave2d(n_samples, resolution, n_snapshots=n_snapshots, t_final=t_final,
                  random_state=0, progress=False)
print(f"pulses, fixed walls: u {u.shape} in {time.perf_counter() - start:.2f} s")


def show_snapshots(field, title):
    picks = np.linspace(0, len(times) - 1, 5).astype(int)
    fig, axes = plt.subplots(1, len(picks), figsize=(13, 2.8))
    scale = np.abs(field).max()
    for ax, k in zip(axes, picks, strict=True):
        ax.imshow(field[k].T, origin="lower", extent=(0, 1, 0, 1), cmap="RdBu_r", vmin=-scale,
                  vmax=scale)
        ax.set_title(f"t = {times[k]:.2f}")
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()


show_snapshots(u[0], "Gaussian pulses, fixed walls")

# %% [markdown]
# ## A layered medium with absorbing walls
#
# Ricker point sources in a medium whose speed jumps from 1 to 1.5 at $y = 0.6$; the first-order
# absorbing condition $\partial_n u = -u_t / c$ lets the waves leave the square.

# %%
def layered(x, y):
    return np.where(y < 0.6, 1.0, 1.5)


v, _ = wave2d(n_samples, resolution, n_snapshots=n_snapshots, t_final=t_final, source="ricker",
              speed=layered, boundary="absorbing", random_state=0, progress=False)
show_snapshots(v[0], "Ricker sources, two layers, absorbing walls")

# %% [markdown]
# ## Energy
#
# Undamped leapfrog conserves the discrete energy
# $E^{n+1/2} = \tfrac12 (v^{n+1/2})^T M_L v^{n+1/2} + \tfrac12 (u^{n+1})^T K u^n$,
# $v^{n+1/2} = (u^{n+1} - u^n)/\Delta t$, exactly (to round-off); absorbing walls drain it.
# Snapshots at every step (the step given as `dt`) let us evaluate it with `WaveFEM.energy`.

# %%
energies = {}
for boundary in ("dirichlet", "absorbing"):
    fem = WaveFEM((resolution, resolution), boundary=boundary)
    n_steps = int(np.ceil(t_final / (0.9 * fem.cfl_bound())))
    dt = t_final / n_steps
    w, step_times = wave2d(1, resolution, n_snapshots=n_steps + 1, t_final=t_final, dt=dt,
                           boundary=boundary, random_state=0, progress=False)
    energies[boundary] = fem.energy(w[0, :-1], w[0, 1:], dt)
    drift = np.abs(energies[boundary] / energies[boundary][0] - 1).max()
    print(f"{boundary:>9}: {n_steps} steps, max |E / E_0 - 1| = {drift:.1e}")

fig, ax = plt.subplots(figsize=(5, 3.4))
for boundary, energy in energies.items():
    ax.plot(np.linspace(0, t_final, len(energy)), energy / energy[0], label=boundary)
ax.set_xlabel("t")
ax.set_ylabel("E(t) / E(0)")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## A submodel of a zone of interest
#
# A finite-element model of a smaller zone, driven on its boundary by the trace of the full
# simulation, reproduces the full field inside. Fed the snapshots (not every step), it interpolates
# the trace in time, so the agreement is limited by the snapshot spacing.

# %%
cells = resolution - 1
zone = ((cells // 2 / cells, (cells - cells // 8) / cells), (cells // 4 / cells, 3 * cells // 4 / cells))
sub = Submodel(zone, resolution)
trace = boundary_trace(u, times, zone, resolution)
inside = sub.run(trace, times, initial=sub.sample(u[:, 0]))
reference = sub.sample(u)
error = np.linalg.norm(inside - reference) / np.linalg.norm(reference)
print(f"zone {zone}: {sub.shape} nodes, relative L2 error inside {error:.2e}")

k = len(times) // 2
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
for ax, image, title in zip(axes, [reference[0, k], inside[0, k], inside[0, k] - reference[0, k]],
                            ["full model in the zone", "submodel", "difference"], strict=True):
    im = ax.imshow(image.T, origin="lower", cmap="RdBu_r")
    ax.set_title(f"{title}, t = {times[k]:.2f}", fontsize=9)
    ax.axis("off")
    fig.colorbar(im, ax=ax, shrink=0.8)
fig.tight_layout()
