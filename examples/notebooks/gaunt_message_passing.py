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
# # Gaunt tensor products in an equivariant message-passing layer
#
# E(3)-equivariant networks carry features as coefficients of real spherical harmonics of degree
# $l \le L$ ($(L+1)^2$ numbers per channel). Multiplying two such features as *functions on the
# sphere* and projecting back gives the Gaunt tensor product,
#
# $$(x_1 \otimes_G x_2)_{l_3 m_3} = \sum_{l_1 m_1 l_2 m_2} G^{l_3 m_3}_{l_1 m_1, l_2 m_2}\,
#   x_{1, l_1 m_1}\, x_{2, l_2 m_2}, \qquad
#   G^{l_3 m_3}_{l_1 m_1, l_2 m_2} = \int_{S^2} Y_{l_1 m_1} Y_{l_2 m_2} Y_{l_3 m_3}\, d\Omega,$$
#
# the parity-even paths of the Clebsch-Gordan tensor product. Computed on an exact sphere grid (or
# by a 2D FFT), it costs $O(L^3)$ instead of the $O(L^6)$ of summing paths.
# `TENSORKIT_QUICK=1` uses small sizes.

# %%
import importlib.util
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from tensorkit.gaunt import (
    equivariant_convolution,
    feature_interaction,
    gaunt_tensor_product,
    many_body_product,
    real_sph_harm,
    wigner_D,
)

QUICK = os.environ.get("TENSORKIT_QUICK") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## One message-passing step
#
# A random point cloud and a radius graph. Messages are each source node's features times the
# spherical harmonics of the edge direction (a Gaunt product), scaled by a learned radial filter
# and summed at the target; then a channel-wise self-interaction and a 3-body product, as in
# MACE-style networks.

# %%
n_nodes, channels, lmax, lmax_filter = (12, 4, 2, 2) if QUICK else (64, 16, 4, 3)
cutoff = 1.2
positions = rng.uniform(-1.0, 1.0, size=(n_nodes, 3))
dist = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
edges = np.stack(np.nonzero((dist < cutoff) & ~np.eye(n_nodes, dtype=bool)))
features = real_sph_harm(lmax, positions - positions.mean(axis=0))[:, None, :] \
    * rng.standard_normal((1, channels, 1))
params = {
    "radial": rng.standard_normal((8, channels, lmax_filter + 1)),
    "interaction": rng.standard_normal((channels, lmax + 1)),
    "body": rng.standard_normal((channels, lmax + 1)),
}
print(f"{n_nodes} nodes, {edges.shape[1]} edges, {channels} channels, L = {lmax}")


def layer(positions, features):
    vectors = positions[edges[1]] - positions[edges[0]]
    length = np.linalg.norm(vectors, axis=-1)
    basis = np.exp(-((length[:, None] - np.linspace(0, cutoff, 8)) ** 2) / 0.1)  # rotation invariant
    radial = np.einsum("eb,bcl->ecl", basis, params["radial"]).astype(features.dtype)
    conv = equivariant_convolution(features, edges, vectors, radial, lmax_filter=lmax_filter,
                                   lmax_out=lmax)
    interaction = feature_interaction(conv, lmax_out=lmax, weights=params["interaction"])
    body3 = many_body_product(conv, 3, lmax_out=lmax, weights=params["body"])
    return {"convolution": conv, "interaction": interaction, "3-body": body3}


# %% [markdown]
# ## Equivariance
#
# Rotating the point cloud by $R$ (and the input features by the Wigner matrices $D(R)$) must
# rotate every output by $D(R)$: $f(Rx, D x_{\rm feat}) = D\, f(x, x_{\rm feat})$. The error is
# at round-off in float64 and in float32.

# %%
q, r = np.linalg.qr(rng.standard_normal((3, 3)))
rotation = q * np.sign(np.diag(r))
rotation *= np.sign(np.linalg.det(rotation))
D = wigner_D(lmax, rotation)
errors = {}
for dtype in (np.float64, np.float32):
    pos, feats = positions.astype(dtype), features.astype(dtype)
    out = layer(pos, feats)
    out_rot = layer(pos @ rotation.T.astype(dtype), feats @ D.T.astype(dtype))
    for stage in out:
        err = np.abs(out_rot[stage] - out[stage] @ D.T.astype(dtype)).max() / np.abs(out[stage]).max()
        errors[(np.dtype(dtype).name, stage)] = float(err)
        print(f"{np.dtype(dtype).name:>8} {stage:>12}: relative equivariance error {err:.1e}")

fig, ax = plt.subplots(figsize=(6, 3.4))
stages = list(out)
for k, name in enumerate(["float64", "float32"]):
    ax.bar(np.arange(len(stages)) + 0.4 * k, [errors[(name, s)] for s in stages], width=0.4, label=name)
ax.set_xticks(np.arange(len(stages)) + 0.2, stages)
ax.set_yscale("log")
ax.set_ylabel(r"$\max|f(Rx) - D f(x)| / \max|f|$")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## Speed against e3nn's tensor-product paths
#
# e3nn's `FullTensorProduct`, restricted to the outputs of spherical-harmonic parity
# $(-1)^{l}$, sums exactly the Gaunt (parity-even) paths, one Clebsch-Gordan contraction per
# path. Same batch, float32, on the CPU; times are the best of a few runs. Skipped when e3nn (and
# PyTorch) are not installed: they are test-only peers, not dependencies.

# %%
levels = [1, 2, 3] if QUICK else [1, 2, 4, 6, 8]
batch = 64 if QUICK else 256


def best_time(fn, repeat=5):
    fn()  # first calls pay for plans, tables and thread pools
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


ours = []
for L in levels:
    x1 = rng.standard_normal((batch, (L + 1) ** 2)).astype(np.float32)
    x2 = rng.standard_normal((batch, (L + 1) ** 2)).astype(np.float32)
    ours.append(best_time(lambda x1=x1, x2=x2, L=L: gaunt_tensor_product(x1, x2, lmax_out=2 * L)))

have_e3nn = importlib.util.find_spec("e3nn") is not None
peer = []
if have_e3nn:
    import torch
    from e3nn import o3

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for L in levels:
        irreps = o3.Irreps([(1, (l, (-1) ** l)) for l in range(L + 1)])
        out_irreps = [(l, (-1) ** l) for l in range(2 * L + 1)]
        tp = o3.FullTensorProduct(irreps, irreps, filter_ir_out=out_irreps)
        t1, t2 = torch.randn(batch, irreps.dim), torch.randn(batch, irreps.dim)
        with torch.no_grad():
            peer.append(best_time(lambda tp=tp, t1=t1, t2=t2: tp(t1, t2)))
else:
    print("e3nn is not installed: only tensorkit's times are shown")

fig, ax = plt.subplots(figsize=(5, 3.6))
ax.semilogy(levels, ours, "o-", label="tensorkit gaunt_tensor_product")
if peer:
    ax.semilogy(levels, peer, "s-", label="e3nn FullTensorProduct (Gaunt paths)")
    for L, a, b in zip(levels, ours, peer, strict=True):
        print(f"L = {L}: e3nn / tensorkit time = {b / a:.1f}")
ax.set_xlabel("input degree L (output 2L)")
ax.set_ylabel("time per batch [s]")
ax.set_title(f"batch {batch}, float32")
ax.legend(fontsize=8)
fig.tight_layout()
