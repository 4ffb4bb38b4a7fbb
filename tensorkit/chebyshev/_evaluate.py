"""Evaluating a Chebyshev-Tucker function at scattered points (the mesh-free path of
:meth:`ChebTucker.__call__`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..formats import TuckerTensor
from ._transform import chebyshev_vandermonde

__all__ = ["evaluate"]

# Bytes one batch of an evaluation may hold in its largest intermediate.
_BATCH_BYTES = 32 * 2**20


def evaluate(coefficients: TuckerTensor, mapped: Sequence[Any], dtype: Any, xp: Any) -> Any:
    """``f`` at points whose coordinates, mapped to ``[-1, 1]``, are ``mapped[k]`` (``M`` each).

    Per batch of points, ``P_k = T(x_k)^T V_k`` (``M x r_k``, a GEMM) and the core is contracted
    largest rank first: one GEMM ``P_a G_(a)`` of ``M r_1 ... r_d`` flops, then batched
    matrix-vector products over the remaining modes. The batch keeps the largest intermediate
    under 32 MiB.
    """
    d = coefficients.ndim
    degrees = tuple(m - 1 for m in coefficients.shape)
    n = mapped[0].shape[0]
    ranks = coefficients.ranks
    order = sorted(range(d), key=lambda k: -ranks[k])
    first = order[0]
    rest = max(1, math.prod(ranks) // ranks[first])
    per_point = max(rest, max(degrees) + 1, 1) * dtype.itemsize
    batch = max(1, _BATCH_BYTES // per_point)
    core = xp.asarray(xp.moveaxis(coefficients.core, first, 0), dtype=dtype)
    core_mat = xp.reshape(core, (ranks[first], rest))
    tail_modes = [k for k in range(d) if k != first]
    factors = [xp.asarray(v, dtype=dtype) for v in coefficients.factors]
    out = xp.empty(n, dtype=dtype)
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        size = stop - start
        p = [chebyshev_vandermonde(mapped[k][start:stop], factors[k].shape[0], xp=xp).T @ factors[k]
             for k in range(d)]
        acc = p[first] @ core_mat  # (size, rest)
        width = rest
        for k in tail_modes:
            width //= ranks[k]
            acc = xp.matmul(p[k][:, None, :], xp.reshape(acc, (size, ranks[k], width)))[:, 0, :]
        out[start:stop] = acc[:, 0]
    return out
