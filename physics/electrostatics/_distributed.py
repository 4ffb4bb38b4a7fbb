"""Potentials of millions of charges on a dask cluster.

The long-range potential is a sum over charges, so it splits by charge: each task compresses the
CP sum of one block of charges (:func:`long_range_potential` with the kernel and box of the whole
system, ten times tighter tolerance), and the blocks' Chebyshev-Tucker tensors are added in a
tree, each addition rounded (:meth:`ChebTucker.__add__`), then rounded to ``tol``. The direct sum
splits both ways: one task per (block of points, block of charges), summed over charge blocks.

Requires ``tensorkit[dask]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkit.chebyshev import ChebTucker, check_domain
from tensorkit.extend import check_int, check_real

from ._kernel import GaussianSum
from ._potential import (
    _check_distinct,
    default_domain,
    default_long_range,
    direct_potential,
    long_range_potential,
)

__all__ = ["distributed_direct_potential", "distributed_long_range_potential"]

# Per-block tolerance relative to tol: block errors add up over the tree of sums.
_BLOCK_TOL = 0.1


def distributed_long_range_potential(positions: Any, charges: Any, *, client: Any = None,
                                     chunk: int = 50_000, domain: Any = None, tol: float = 1e-7,
                                     long_range: GaussianSum | None = None, degree: int | None = None,
                                     max_degree: int = 512) -> ChebTucker:
    """:func:`long_range_potential` of ``N`` charges, ``chunk`` charges per task on the cluster.

    Parameters
    ----------
    positions, charges : numpy arrays (N, 3), (N,)
    client : distributed.Client, optional
        Default: the current client, or a new local cluster sized to the machine.
    chunk : int
        Charges per task.
    domain, tol, long_range, degree, max_degree
        As in :func:`long_range_potential` (defaults from the whole system).
    """
    from tensorkit.distributed import cluster_client

    positions, charges = _check_system(positions, charges)
    chunk = check_int(chunk, "chunk", minimum=1)
    tol = check_real(tol, "tol", minimum=0.0, maximum=1.0, strict_minimum=True, strict_maximum=True)
    domain = default_domain(positions) if domain is None else check_domain(domain, 3)
    if long_range is None:
        long_range = default_long_range(domain, tol)
    elif not isinstance(long_range, GaussianSum):
        raise TypeError(f"long_range must be a GaussianSum, got {type(long_range).__name__}")
    with cluster_client(_current(client)) as c:
        futures = [c.submit(_block_potential, positions[s:s + chunk], charges[s:s + chunk], domain,
                            _BLOCK_TOL * tol, long_range, degree, max_degree, pure=False)
                   for s in range(0, positions.shape[0], chunk)]
        while len(futures) > 1:
            futures = [c.submit(_add, *futures[i:i + 4], pure=False) for i in range(0, len(futures), 4)]
        total = futures[0].result()
    return total.round(tol)


def distributed_direct_potential(positions: Any, charges: Any, points: Any, *, client: Any = None,
                                 chunk: int = 50_000, point_chunk: int = 10_000, kernel: str = "coulomb",
                                 long_range: GaussianSum | None = None,
                                 backend: str | None = None) -> np.ndarray:
    """:func:`direct_potential` with one task per (``point_chunk`` points, ``chunk`` charges),
    summed over the charge blocks in a tree; returns a numpy array ``(M,)``."""
    from tensorkit.distributed import cluster_client

    positions, charges = _check_system(positions, charges)
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points must have shape (M, 3), got {tuple(points.shape)}")
    chunk = check_int(chunk, "chunk", minimum=1)
    point_chunk = check_int(point_chunk, "point_chunk", minimum=1)
    with cluster_client(_current(client)) as c:
        columns = []
        for p in range(0, points.shape[0], point_chunk):
            pts = c.scatter(points[p:p + point_chunk])
            parts = [c.submit(direct_potential, positions[s:s + chunk], charges[s:s + chunk], pts,
                              kernel=kernel, long_range=long_range, backend=backend, pure=False)
                     for s in range(0, positions.shape[0], chunk)]
            while len(parts) > 1:
                parts = [c.submit(_add, *parts[i:i + 8], pure=False) for i in range(0, len(parts), 8)]
            columns.append(parts[0])
        return np.concatenate(c.gather(columns))


def _check_system(positions, charges):
    positions = np.asarray(positions, dtype=np.float64)
    charges = np.asarray(charges, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 3 or positions.shape[0] < 1:
        raise ValueError(f"positions must have shape (N, 3) with N >= 1, got {tuple(positions.shape)}")
    if charges.shape != (positions.shape[0],):
        raise ValueError(f"charges must have shape ({positions.shape[0]},) to match positions, got "
                         f"{tuple(charges.shape)}")
    # blocks check only their own charges: check all pairs once here
    _check_distinct(positions)
    return positions, charges


def _current(client):
    """``client``, else the current client if there is one (None: a new local cluster)."""
    if client is not None:
        return client
    try:
        from distributed import get_client

        return get_client()
    except ValueError:
        return None


def _block_potential(positions, charges, domain, tol, long_range, degree, max_degree):
    return long_range_potential(positions, charges, domain=domain, tol=tol, long_range=long_range,
                                degree=degree, max_degree=max_degree)


def _add(*parts):
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total
