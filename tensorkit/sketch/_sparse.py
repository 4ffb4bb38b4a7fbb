"""Sparse sketches: CountSketch and the sparse sign sketch (OSNAP), one pass over ``A`` each.

Sparse sketches are subspace embeddings (good preconditioners) but carry no l-infinity guarantee
on coherent matrices: two heavy rows hashed to the same bucket stay merged.
"""

from __future__ import annotations

import math
from typing import Any

from .. import _kernels
from .._validation import check_int
from ._base import SketchOperator

__all__ = ["CountSketch", "SparseSign"]


class CountSketch(SketchOperator):
    """CountSketch (Clarkson-Woodruff): each row of ``A`` is added with a random sign to one of
    ``m`` buckets. ``S A`` costs one pass over ``A``. Sparse: no l-infinity guarantee.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.sketch import CountSketch
    >>> S = CountSketch(5, random_state=0).to_dense(12)
    >>> np.count_nonzero(S, axis=0).tolist() == [1] * 12
    True
    """

    kind = "countsketch"
    splittable = True
    nnz_per_column = 1

    def _hashes(self, n, xp, key):
        """Target rows ``(n, s)`` (one per block of ``m / s`` rows) and scaled signs ``(n, s)``."""
        rng = self._generator(xp, key)
        s = self.nnz_per_column
        m = self.sketch_size
        bounds = [j * m // s for j in range(s + 1)]
        rows = xp.empty((n, s), dtype=xp.int64)
        for j in range(s):
            rows[:, j] = rng.integers(bounds[j], bounds[j + 1], size=n)
        signs = rng.integers(0, 2, size=(n, s)).astype(xp.float64) * 2.0 - 1.0
        return rows, signs / math.sqrt(s)

    def _apply(self, A, xp, backend, key):
        rows, signs = self._cached(xp, key, lambda: self._hashes(A.shape[0], xp, key))
        return _kernels.sparse_sketch(A, rows, signs.astype(A.dtype), self.sketch_size, backend)


class SparseSign(CountSketch):
    """Sparse sign sketch (OSNAP, block construction): each column of ``S`` has ``nnz_per_column``
    entries ``+-1/sqrt(s)``, one in each of ``s`` blocks of ``m / s`` rows.

    A better subspace embedding than CountSketch for a few passes' worth of flops; still sparse,
    so no l-infinity guarantee on coherent matrices.
    """

    kind = "sparse_sign"

    def __init__(self, sketch_size: int, *, nnz_per_column: int = 8, random_state: Any = None):
        super().__init__(sketch_size, random_state=random_state)
        s = check_int(nnz_per_column, "nnz_per_column", minimum=1)
        if s > self.sketch_size:
            raise ValueError(
                f"nnz_per_column={s} exceeds sketch_size={self.sketch_size}; each column of S "
                "needs its nonzeros in distinct rows"
            )
        self.nnz_per_column = s
