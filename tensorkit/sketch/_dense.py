"""Dense sketches: Gaussian, subsampled randomized Hadamard (SRHT) and DCT (SRDCT).

Every entry of a dense ``S`` is (almost surely) nonzero, which the l-infinity guarantee of
sketch-and-solve needs (Song et al., 2023).
"""

from __future__ import annotations

import importlib
import math

from .. import _kernels
from .._validation import check_allocation, device_of
from ..backend import is_numpy_namespace, scipy_for
from ._base import SketchOperator

__all__ = ["SRDCT", "SRHT", "GaussianSketch"]

# Dense Gaussian sketches are drawn and applied in column slabs of S of about this many entries.
_SLAB_ENTRIES = 1 << 22
_SMALLER = ("use a smaller sketch_size (4 d to 100 d rows suffice), or a factored sketch: "
            "sparse_then_gaussian(...) or a CountSketch, which never form S")


class GaussianSketch(SketchOperator):
    """Dense Gaussian sketch, ``S_ij ~ N(0, 1/m)``.

    ``S A`` costs ``2 m n d`` flops; ``S`` is drawn in column slabs so that it is never held whole.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.sketch import GaussianSketch
    >>> S = GaussianSketch(8, random_state=0)
    >>> S.apply(np.ones((100, 3))).shape
    (8, 3)
    """

    kind = "gaussian"
    dense = True
    splittable = True

    def _apply(self, A, xp, backend, key):
        n = A.shape[0]
        m = self.sketch_size
        rng = self._generator(xp, key)
        scale = 1.0 / math.sqrt(m)
        slab = max(1, _SLAB_ENTRIES // m)
        # The result and one slab of S (float64 draws plus their cast) are held at once.
        check_allocation((m, A.shape[1] + 2 * min(n, slab)), A.dtype, "the Gaussian sketch S A",
                         alternative=_SMALLER, device=device_of(xp))
        out = xp.zeros((m, A.shape[1]), dtype=A.dtype)
        if n <= slab:
            G = self._cached(xp, key, lambda: rng.standard_normal((m, n)))
            out += G.astype(A.dtype, copy=False) @ A
        else:
            for start in range(0, n, slab):
                stop = min(n, start + slab)
                G = rng.standard_normal((m, stop - start)).astype(A.dtype, copy=False)
                out += G @ A[start:stop]
        out *= scale
        return out


class SRHT(SketchOperator):
    """Subsampled randomized Hadamard transform, ``S = sqrt(1/m) P H D``.

    ``D`` flips the signs of the rows, ``H`` is the unnormalized Walsh-Hadamard matrix of size
    ``N = 2^ceil(log2 n)`` (rows zero-padded), ``P`` keeps ``m <= N`` rows chosen without
    replacement. ``S A`` costs ``N log2(N) d`` additions through a fast Walsh-Hadamard kernel.
    Dense: keeps the l-infinity guarantee. Not splittable by row blocks.
    """

    kind = "srht"
    dense = True

    def _apply(self, A, xp, backend, key):
        n, d = A.shape
        N = 1 << max(0, (n - 1).bit_length())
        m = self.sketch_size
        if m > N:
            raise ValueError(f"SRHT sketch_size={m} exceeds the padded row count {N} of A")
        check_allocation((N, d), A.dtype, "the padded SRHT transform", alternative=_SMALLER,
                         device=device_of(xp), count=2)
        rng = self._generator(xp, key)
        signs = (rng.integers(0, 2, size=n) * 2 - 1).astype(A.dtype)
        keep = _random_subset(rng, N, m, xp)
        X = xp.zeros((N, d), dtype=A.dtype)
        X[:n] = A * signs[:, None]
        X = _kernels.fwht(X, backend)
        return X[keep] * A.dtype.type(1.0 / math.sqrt(m))


class SRDCT(SketchOperator):
    """Subsampled randomized DCT, ``S = sqrt(n/m) P C D`` with ``C`` the orthonormal DCT-II.

    ``S A`` costs ``O(n log n d)`` through scipy.fft (cupyx.scipy.fft on the GPU). Dense: keeps
    the l-infinity guarantee. Not splittable by row blocks.
    """

    kind = "srdct"
    dense = True

    def _apply(self, A, xp, backend, key):
        n = A.shape[0]
        m = self.sketch_size
        if m > n:
            raise ValueError(f"SRDCT sketch_size={m} exceeds the row count {n} of A")
        rng = self._generator(xp, key)
        signs = (rng.integers(0, 2, size=n) * 2 - 1).astype(A.dtype)
        keep = _random_subset(rng, n, m, xp)
        fft = importlib.import_module(f"{scipy_for(xp).__name__}.fft")
        X = fft.dct(A * signs[:, None], type=2, norm="ortho", axis=0)
        return X[keep] * A.dtype.type(math.sqrt(n / m))


def _random_subset(rng, n, m, xp):
    """``m`` distinct indices out of ``range(n)`` in random order (CuPy's Generator has no
    ``permutation``: sort random keys there)."""
    if is_numpy_namespace(xp):
        return rng.permutation(n)[:m]
    return xp.argsort(rng.random(n))[:m]
