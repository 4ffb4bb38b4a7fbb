"""One equivariant message-passing step with Gaunt tensor products, checked for rotation equivariance.

A small random point cloud, a radius graph, and features of degree <= L per node and channel:

1. messages: each source node's features times the spherical harmonics of the edge direction,
   scaled by a radial filter (Gaussian radial basis x random weights) per edge, channel and degree,
   summed at the target (``equivariant_convolution``);
2. a channel-wise self-interaction of the result (``feature_interaction``, weights per channel and
   degree) and a 3-body product (``many_body_product``), as in MACE-style networks.

Rotating the point cloud by R must rotate every output by the Wigner D matrices of R. The script
prints the equivariance error of each stage in float64 and float32 and the time of the step.

    python examples/gaunt_message_passing.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tensorkit.gaunt import (
    equivariant_convolution,
    feature_interaction,
    many_body_product,
    real_sph_harm,
    wigner_D,
)


def radius_graph(positions: np.ndarray, cutoff: float) -> np.ndarray:
    """All ordered pairs (source, target), source != target, closer than ``cutoff``: shape (2, E)."""
    dist = np.linalg.norm(positions[:, None, :] - positions[None, :, :], axis=-1)
    src, dst = np.nonzero((dist < cutoff) & ~np.eye(len(positions), dtype=bool))
    return np.stack([src, dst])


def message_passing_step(positions, features, edges, params, *, lmax, lmax_filter):
    """Convolution, self-interaction and 3-body product; returns the three stage outputs."""
    vectors = positions[edges[1]] - positions[edges[0]]
    length = np.linalg.norm(vectors, axis=-1)
    centers = np.linspace(0.0, params["cutoff"], params["radial"].shape[0])
    basis = np.exp(-((length[:, None] - centers) ** 2) / 0.1)  # (E, n_basis), rotation invariant
    radial = np.einsum("eb,bcl->ecl", basis, params["radial"]).astype(features.dtype)
    conv = equivariant_convolution(features, edges, vectors, radial, lmax_filter=lmax_filter,
                                   lmax_out=lmax)
    interaction = feature_interaction(conv, lmax_out=lmax, weights=params["interaction"])
    body3 = many_body_product(conv, 3, lmax_out=lmax, weights=params["body"])
    return conv, interaction, body3


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny point cloud (seconds)")
    args = parser.parse_args()
    n_nodes, channels, lmax, lmax_filter = (12, 4, 2, 2) if args.quick else (64, 16, 4, 3)
    rng = np.random.default_rng(0)
    positions = rng.uniform(-1.0, 1.0, size=(n_nodes, 3))
    edges = radius_graph(positions, cutoff=1.2)
    print(f"point cloud: {n_nodes} nodes, {edges.shape[1]} edges, {channels} channels, "
          f"L = {lmax}, filter L = {lmax_filter}")
    # initial features: channel-mixed harmonics of the node's position relative to the centroid
    rel = positions - positions.mean(axis=0)
    features0 = real_sph_harm(lmax, rel)[:, None, :] * rng.standard_normal((1, channels, 1))
    params = {
        "cutoff": 1.2,
        "radial": rng.standard_normal((8, channels, lmax_filter + 1)),
        "interaction": rng.standard_normal((channels, lmax + 1)),
        "body": rng.standard_normal((channels, lmax + 1)),
    }
    rotation = random_rotation(rng)
    d = wigner_D(lmax, rotation)
    print(f"{'dtype':>8} {'stage':>12} {'max |f(Rx) - D f(x)|':>22} {'relative':>10}")
    for dtype in (np.float64, np.float32):
        pos = positions.astype(dtype)
        feats = features0.astype(dtype)
        start = time.perf_counter()
        outs = message_passing_step(pos, feats, edges, params, lmax=lmax, lmax_filter=lmax_filter)
        elapsed = time.perf_counter() - start
        pos_r = pos @ rotation.T.astype(dtype)
        feats_r = feats @ d.T.astype(dtype)
        outs_r = message_passing_step(pos_r, feats_r, edges, params, lmax=lmax, lmax_filter=lmax_filter)
        for name, out, out_r in zip(("convolution", "interaction", "3-body"), outs, outs_r, strict=True):
            err = float(np.abs(out_r - out @ d.T.astype(dtype)).max())
            print(f"{np.dtype(dtype).name:>8} {name:>12} {err:22.2e} {err / np.abs(out).max():10.2e}")
        print(f"{np.dtype(dtype).name:>8} {'step time':>12} {elapsed * 1e3:19.1f} ms")


if __name__ == "__main__":
    main()
