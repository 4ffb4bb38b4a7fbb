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
# # Chebyshev-Tucker functions and long-range potentials
#
# A `ChebTucker` holds a function of three variables on a box as a Tucker tensor of Chebyshev
# coefficients,
#
# $$f(x, y, z) \approx \sum_{a,b,c} G_{abc}\, u_a(x)\, v_b(y)\, w_c(z), \qquad
#   u_a(x) = \sum_{k \le m_1} U_{ka}\, T_k(x), \ \dots$$
#
# so it evaluates anywhere, integrates and differentiates exactly, and costs memory by its ranks,
# not by a grid. `ChebTucker.from_function(f, domain, tol=...)` samples $f$ on a Chebyshev grid,
# raises the degrees until the coefficients decay below `tol`, and truncates the ranks by a
# tolerance-driven HOSVD. `TENSORKIT_QUICK=1` uses small sizes.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from physics.electrostatics import (
    direct_potential,
    long_range_potential,
    newton_kernel_terms,
    random_cluster,
)
from tensorkit.chebyshev import ChebTucker

QUICK = os.environ.get("TENSORKIT_QUICK") == "1"


def f(x, y, z):
    return 1 / np.sqrt(x**2 + y**2 + z**2 + 0.1)


# %% [markdown]
# ## Ranks and degrees against the tolerance

# %%
tolerances = [1e-2, 1e-4, 1e-6, 1e-8] if QUICK else [1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12]
rng = np.random.default_rng(0)
points = rng.uniform(-1, 1, size=(2_000, 3))
exact = f(*points.T)
rows = []
for tol in tolerances:
    F = ChebTucker.from_function(f, (-1, 1), tol=tol)
    error = np.max(np.abs(F(points) - exact)) / np.max(np.abs(exact))
    rows.append((tol, F.ranks, F.degrees, error, F.nbytes))
    print(f"tol {tol:7.0e}: ranks {F.ranks}, degrees {F.degrees}, "
          f"max rel. error {error:.1e}, {F.nbytes / 1024:.0f} KiB")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.5))
ax0.semilogx([r[0] for r in rows], [r[1][0] for r in rows], "o-", label="rank")
ax0.semilogx([r[0] for r in rows], [r[2][0] for r in rows], "s-", label="degree")
ax0.invert_xaxis()
ax0.set_xlabel("tolerance")
ax0.legend()
ax0.set_title("first mode (the function is symmetric)")
ax1.loglog([r[0] for r in rows], [r[3] for r in rows], "o-", label="max rel. error")
ax1.loglog([r[0] for r in rows], [r[0] for r in rows], "k--", lw=0.8, label="tolerance")
ax1.invert_xaxis()
ax1.set_xlabel("tolerance")
ax1.legend()
fig.tight_layout()

# %% [markdown]
# ## Calculus on the format
#
# The integral over the box and the Laplacian come from the coefficients, exactly. `on_grid`
# returns the values on a tensor grid as a `TuckerTensor` (cheap to build and to store); a slice of
# $f$ and of $\Delta f$ on the plane $z = 0$:

# %%
F = ChebTucker.from_function(f, (-1, 1), tol=1e-8)
print(f"integral over [-1, 1]^3: {F.integrate():.10f}")
x = np.linspace(-1, 1, 101)
values = F.on_grid(x, x, np.array([0.0])).to_dense()[:, :, 0]
laplacian = F.laplacian().on_grid(x, x, np.array([0.0])).to_dense()[:, :, 0]
fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
for ax, image, title in zip(axes, [values, laplacian], ["f(x, y, 0)", "Laplacian of f at z = 0"],
                            strict=True):
    im = ax.imshow(image.T, origin="lower", extent=(-1, 1, -1, 1), cmap="magma")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8)
fig.tight_layout()

# %% [markdown]
# ## The long-range potential of many charges
#
# The Coulomb kernel $1/r$ is a sum of Gaussians (sinc quadrature of
# $1/r = \frac{2}{\sqrt\pi}\int_0^\infty e^{-r^2 t^2}\,dt$), split into a smooth long-range part and
# a local short-range part. The long-range potential of $N$ charges is then a sum of $N K$
# separable terms, which `ChebTucker.from_cp` compresses by a reduced HOSVD without ever forming
# the 3D grid (`physics.electrostatics.long_range_potential`). Its evaluation cost does not grow
# with $N$.

# %%
n_charges = 200 if QUICK else 2_000
tol = 1e-6 if QUICK else 1e-7
positions, charges = random_cluster(n_charges, random_state=0)
lo, hi = positions.min(axis=0), positions.max(axis=0)
pad = 0.15 * np.max(hi - lo)
domain = [(float(a - pad), float(b + pad)) for a, b in zip(lo, hi, strict=True)]
diameter = float(np.linalg.norm([b - a for a, b in domain]))
terms = newton_kernel_terms(tol, r_min=diameter / 1024, r_max=diameter)
long_range, short_range = terms.default_split()
start = time.perf_counter()
V = long_range_potential(positions, charges, domain=domain, tol=tol, long_range=long_range)
print(f"{n_charges} charges: ranks {V.ranks}, degrees {V.degrees}, built in "
      f"{time.perf_counter() - start:.2f} s ({len(long_range)} of {len(terms)} Gaussians long-range)")
probe = np.column_stack([rng.uniform(a, b, 300) for a, b in domain])
reference = direct_potential(positions, charges, probe, kernel="long_range", long_range=long_range)
print(f"max error against the direct sum: {np.max(np.abs(V(probe) - reference)):.2e} "
      f"(max |V| {np.max(np.abs(reference)):.2f})")

# %%
xs = np.linspace(*domain[0], 121)
ys = np.linspace(*domain[1], 121)
zc = np.array([0.5 * (domain[2][0] + domain[2][1])])
image = V.on_grid(xs, ys, zc).to_dense()[:, :, 0]
fig, ax = plt.subplots(figsize=(5.2, 4.2))
im = ax.imshow(image.T, origin="lower", extent=(*domain[0], *domain[1]), cmap="RdBu_r")
near = np.abs(positions[:, 2] - zc[0]) < 0.05 * diameter
ax.scatter(positions[near, 0], positions[near, 1], c=np.sign(charges[near]), cmap="RdBu_r", s=6,
           edgecolors="k", linewidths=0.3)
ax.set_title("long-range potential, middle z-slice")
fig.colorbar(im, ax=ax, shrink=0.8)
fig.tight_layout()

# %% [markdown]
# ## Ranks against the tolerance for the potential

# %%
pot_tols = [1e-3, 1e-4, 1e-5, 1e-6] if QUICK else [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8]
ranks = []
for t in pot_tols:
    kernel = newton_kernel_terms(t, r_min=diameter / 1024, r_max=diameter).default_split()[0]
    ranks.append(long_range_potential(positions, charges, domain=domain, tol=t, long_range=kernel).ranks)
fig, ax = plt.subplots(figsize=(5, 3.4))
for mode in range(3):
    ax.semilogx(pot_tols, [r[mode] for r in ranks], "o-", label=f"mode {mode + 1}")
ax.invert_xaxis()
ax.set_xlabel("tolerance")
ax.set_ylabel("Tucker rank")
ax.legend()
fig.tight_layout()
