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
# # Sketched least squares
#
# For a tall $A \in \mathbb{R}^{n \times d}$, `tensorkit.sketch.lstsq` solves
# $\min_x \|Ax - b\|_2$ two ways:
#
# - `sketch_precondition` (default): a sketch $SA$ ($m \ll n$ rows) gives a preconditioner $R$
#   from $SA = QR$, and preconditioned CG on the normal equations reaches the LAPACK answer;
# - `sketch_solve`: solve the sketched problem $\min_x \|S(Ax - b)\|$ directly, much faster.
#
# For sketch-and-solve with a dense (Gaussian or SRHT) sketch of $m$ rows there is an
# **entrywise** guarantee: the effective error
#
# $$\varepsilon_{\rm eff} = \frac{\sqrt{d}\,\|x - x^\star\|_\infty}{\|Ax^\star - b\|\,\|A^+\|}
#   \lesssim 3\sqrt{d \ln(2d) / m}.$$
#
# A *coherent* matrix (a few rows carrying whole columns) breaks it for a sparse sketch
# (CountSketch), which can miss those rows. `TENSORKIT_QUICK=1` uses small problems.

# %%
import math
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from tensorkit.sketch import linf_error, lstsq

QUICK = os.environ.get("TENSORKIT_QUICK") == "1"


def coherent_problem(n, d, rng):
    """Gaussian rows, plus d spike rows each carrying one column; b = A x + noise."""
    A = rng.standard_normal((n, d))
    spikes = rng.choice(n, size=d, replace=False)
    A[spikes] = 0.0
    A[spikes, np.arange(d)] = 1e3
    b = A @ rng.standard_normal(d) + rng.standard_normal(n)
    return A, b


rng = np.random.default_rng(0)
d = 40 if QUICK else 100
for method in ("sketch_solve", "sketch_precondition"):  # compile the Numba kernels once
    A0, b0 = coherent_problem(50 * d, d, rng)
    lstsq(A0, b0, method=method, random_state=0)

# %% [markdown]
# ## Speed against `numpy.linalg.lstsq`
#
# Times for growing $n$ at fixed $d$ (each the best of a few runs), with the residual of each
# answer relative to LAPACK's.

# %%
sizes = [5_000, 10_000, 20_000] if QUICK else [25_000, 50_000, 100_000, 200_000]
repeat = 2 if QUICK else 3


def best_time(fn):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


timings = {"numpy.linalg.lstsq": [], "sketch_precondition": [], "sketch_solve": []}
for n in sizes:
    A, b = coherent_problem(n, d, rng)
    t_np, x_np = best_time(lambda A=A, b=b: np.linalg.lstsq(A, b, rcond=None)[0])
    r_np = np.linalg.norm(A @ x_np - b)
    timings["numpy.linalg.lstsq"].append(t_np)
    for method in ("sketch_precondition", "sketch_solve"):
        t, res = best_time(lambda A=A, b=b, method=method: lstsq(A, b, method=method, random_state=1))
        timings[method].append(t)
        print(f"n = {n:>7}, {method:>20}: {t_np / t:5.1f}x numpy's speed, "
              f"residual excess {res.residual_norm / r_np - 1:.1e}")

fig, ax = plt.subplots(figsize=(5, 3.6))
for label, values in timings.items():
    ax.loglog(sizes, values, "o-", label=label)
ax.set_xlabel("rows n")
ax.set_ylabel("time [s]")
ax.set_title(f"least squares, d = {d}")
ax.grid(True, which="both", alpha=0.3)
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## The l-infinity guarantee on a coherent matrix
#
# Sketch-and-solve with $m = 4d$ rows: Gaussian and SRHT sketches and the composed
# sparse-then-Gaussian sketch stay under the bound; CountSketch alone does not.

# %%
n = sizes[-1]
A, b = coherent_problem(n, d, rng)
x_star = np.linalg.lstsq(A, b, rcond=None)[0]
m = 4 * d
bound = 3 * math.sqrt(d * math.log(2 * d) / m)
labels, values = [], []
for sketch in ("gaussian", "srht", "auto", "countsketch"):
    res = lstsq(A, b, method="sketch_solve", sketch=sketch, sketch_size=m, random_state=2)
    labels.append(res.sketch)
    values.append(linf_error(A, b, res.x, x_star=x_star))
    print(f"{res.sketch:>24}: eps_eff = {values[-1]:.2f} (bound {bound:.2f})")

fig, ax = plt.subplots(figsize=(5, 3.4))
ax.bar(labels, values, color=["C0" if v <= bound else "C3" for v in values])
ax.axhline(bound, color="k", ls="--", lw=1, label=r"$3\sqrt{d\ln(2d)/m}$")
ax.set_yscale("log")
ax.set_ylabel(r"$\varepsilon_{\rm eff}$")
ax.set_title(f"coherent {n} x {d}, m = 4d")
ax.tick_params(axis="x", labelsize=8)
ax.legend()
fig.tight_layout()
