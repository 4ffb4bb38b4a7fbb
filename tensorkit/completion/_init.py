"""Initial factors for completion: leading singular vectors of the zero-filled unfoldings, or random.

Computed on the host with scipy (the unfoldings are sparse matrices; ARPACK for large modes) and
moved to the device of the data: it runs once, before any sweep.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from .._validation import device_of
from ..backend import check_random_state, to_device, to_numpy

# Modes up to this size get the exact leading eigenvectors of the dense Gram matrix M M^T; larger
# ones use ARPACK on the sparse unfolding.
_DENSE_GRAM_MAX = 2000


def check_init(init: Any, kind: type, xp: Any) -> None:
    """A given start is a ``kind`` with finite arrays (a NaN start returns NaN); anything but a
    name or a ``kind`` is a TypeError (an array reached the name check's ambiguous ``in``)."""
    if not isinstance(init, kind):
        if not isinstance(init, str):
            raise TypeError(f"init must be 'svd', 'random' or a {kind.__name__}, got {type(init).__name__}")
        return
    arrays = [init.core] if hasattr(init, "core") else [init.weights]
    if not all(bool(xp.all(xp.isfinite(xp.asarray(a)))) for a in [*arrays, *init.factors]):
        raise ValueError(f"init has non-finite (NaN or Inf) entries: {init!r}")


def svd_factors(indices, values, shape, ranks, rng) -> list[np.ndarray]:
    """Per mode, the leading left singular vectors of the mode-``k`` unfolding with missing cells
    as zeros (HOSVD of the zero-filled tensor), padded with random columns when the rank exceeds
    the mode size or the unfolding is too wide to index."""
    indices, values = to_numpy(indices), to_numpy(values)
    out = []
    for k, (n, r) in enumerate(zip(shape, ranks, strict=True)):
        others = [j for j in range(len(shape)) if j != k]
        width = math.prod(shape[j] for j in others)
        keep = min(r, n)
        U = np.empty((n, 0))
        if width < 2**62 and keep > 0:
            cols = np.ravel_multi_index(tuple(indices[:, j] for j in others), [shape[j] for j in others]) \
                if others else np.zeros(indices.shape[0], dtype=np.int64)
            M = scipy.sparse.csr_matrix((values, (indices[:, k], cols)), shape=(n, max(width, 1)))
            if n <= _DENSE_GRAM_MAX or keep >= min(M.shape) - 1:
                G = (M @ M.T).toarray()
                _, vecs = np.linalg.eigh(G)
                U = vecs[:, ::-1][:, :keep]
            else:
                v0 = rng.standard_normal(min(M.shape))
                U, _, _ = scipy.sparse.linalg.svds(M, k=keep, v0=v0)
        if U.shape[1] < r:
            U = np.hstack([U, rng.standard_normal((n, r - U.shape[1])) / math.sqrt(n)])
        out.append(U)
    return out


def random_factors(shape, ranks, rng) -> list[np.ndarray]:
    """Standard normal factors, columns scaled to unit expected norm."""
    return [rng.standard_normal((n, r)) / math.sqrt(n) for n, r in zip(shape, ranks, strict=True)]


def initial_factors(init, problem, ranks, random_state):
    """``init`` ("svd" or "random") as host factors moved to the device and dtype of the data."""
    rng = check_random_state(random_state)
    obs = problem.obs
    if init == "svd":
        factors = svd_factors(obs.indices, problem.y, obs.shape, ranks, rng)
    else:
        factors = random_factors(obs.shape, ranks, rng)
    return [to_device(f.astype(obs.dtype), device_of(problem.xp)) for f in factors]
