"""A dense sketch with Kronecker-structured rows, for tensor-product row indices (CP-ALS, TT)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_allocation, check_choice, check_int, device_of
from ..backend import check_random_state, get_namespace, native
from ._base import as_matrix
from .planning import seed_from

__all__ = ["KroneckerSketch"]

_SMALLER = ("use a smaller sketch_size (a few times the rank suffices), or sketch the factors "
            "one at a time (apply_khatri_rao never forms the Kronecker rows)")


class KroneckerSketch:
    """Dense sketch with Kronecker-structured rows, for vectors and matrices with a tensor-product
    row index ``(i_1, ..., i_N)`` (``i_N`` fastest, like :func:`tensorkit.tenalg.khatri_rao`).

    Row ``r`` of ``S`` is ``g_r^(1) kron ... kron g_r^(N) / sqrt(m)`` with independent standard
    Gaussian ``g_r^(k)`` of length ``shapes[k]``, so ``E[S^T S] = I`` and, for a Khatri-Rao product,
    ``S (A_1 kr ... kr A_N) = (G_1 A_1) * ... * (G_N A_N) / sqrt(m)`` (elementwise), which costs
    ``2 m sum_k I_k R`` flops instead of forming the ``prod_k I_k``-row product.

    Parameters
    ----------
    sketch_size : int
    shapes : sequence of int
        Row counts ``I_1, ..., I_N`` of the factors.
    random_state : int, numpy.random.Generator or None

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.sketch import KroneckerSketch
    >>> from tensorkit.tenalg import khatri_rao
    >>> factors = [np.ones((3, 2)), np.arange(8.0).reshape(4, 2)]
    >>> op = KroneckerSketch(6, (3, 4), random_state=0)
    >>> bool(np.allclose(op.apply_khatri_rao(factors), op.apply(khatri_rao(factors))))
    True
    """

    kind = "kronecker"
    dense = True
    splittable = False

    def __init__(self, sketch_size: int, shapes: Sequence[int], *, random_state: Any = None):
        self.sketch_size = check_int(sketch_size, "sketch_size", minimum=1)
        if isinstance(shapes, numbers.Integral) or len(shapes) == 0:
            raise ValueError(f"shapes must be a non-empty sequence of ints, got {shapes!r}")
        self.shapes = tuple(check_int(s, f"shapes[{k}]", minimum=1) for k, s in enumerate(shapes))
        self.seed = seed_from(random_state)
        # Every use draws the factor sketches G_k (m x I_k, float64): refuse now what cannot fit.
        check_allocation((self.sketch_size, sum(self.shapes)), np.float64,
                         "the factor sketches of KroneckerSketch", alternative=_SMALLER)

    def __repr__(self) -> str:
        return f"KroneckerSketch(sketch_size={self.sketch_size}, shapes={self.shapes}, seed={self.seed})"

    def factor_sketches(self, *, device: str | None = None) -> list[Any]:
        """The Gaussian matrices ``G_k`` of shape ``(m, I_k)`` (float64), on ``device``.

        Parameters
        ----------
        device : {None, "cpu", "gpu"}
            None and ``"cpu"`` give numpy arrays, ``"gpu"`` CuPy arrays (the same draws).
        """
        check_choice(device, "device", (None, "cpu", "gpu"))
        if device == "gpu":
            import cupy

            return self._factor_sketches(get_namespace(cupy.empty(0)))
        return self._factor_sketches(get_namespace(np.empty(0)))

    def apply_khatri_rao(self, factors: Sequence[Any]) -> Any:
        """``S @ khatri_rao(factors)`` without forming the Khatri-Rao product.

        Parameters
        ----------
        factors : sequence of arrays ``(I_k, R)``, ``I_k = shapes[k]``
        """
        if len(factors) != len(self.shapes):
            raise ValueError(f"expected {len(self.shapes)} factors for shapes {self.shapes}, "
                             f"got {len(factors)}")
        xp = get_namespace(*factors)
        mats = []
        for k, (f, size) in enumerate(zip(factors, self.shapes, strict=True)):
            f2, _, _ = as_matrix(f, f"factors[{k}]", xp=xp)
            if f2.shape[0] != size:
                raise ValueError(f"factors[{k}] has {f2.shape[0]} rows, shapes[{k}] is {size}")
            mats.append(f2)
        rank = mats[0].shape[1]
        if any(f.shape[1] != rank for f in mats):
            raise ValueError(f"factors need equal column counts, got {[f.shape[1] for f in mats]}")
        dtype = xp.result_type(*mats)
        out = None
        for G, f in zip(self._factor_sketches(xp), mats, strict=True):
            Gf = G.astype(dtype) @ f
            out = Gf if out is None else out * Gf
        return out / math.sqrt(self.sketch_size)

    def apply(self, A: Any) -> Any:
        """``S @ A`` for ``A`` of shape ``(prod(shapes), d)`` or ``(prod(shapes),)``.

        Contracts one tensor mode at a time while keeping the sketch-row index, so the largest
        intermediate has ``m * prod(shapes[1:]) * d`` entries.
        """
        A2, vector, xp = as_matrix(A, "A")
        total = math.prod(self.shapes)
        if A2.shape[0] != total:
            raise ValueError(f"A has {A2.shape[0]} rows; shapes {self.shapes} need {total}")
        d = A2.shape[1]
        if len(self.shapes) > 1:
            check_allocation((self.sketch_size, total // self.shapes[0], d), A2.dtype,
                             "the first intermediate of KroneckerSketch.apply", alternative=_SMALLER,
                             device=device_of(xp))
        mats = [G.astype(A2.dtype) for G in self._factor_sketches(xp)]
        rest = total // self.shapes[0]
        Y = mats[0] @ xp.reshape(A2, (self.shapes[0], rest * d))
        for G, size in zip(mats[1:], self.shapes[1:], strict=True):
            rest //= size
            Y = xp.reshape(Y, (self.sketch_size, size, rest * d))
            # A batched matrix-vector product per sketch row; einsum is numpy/CuPy-only.
            Y = native(xp).einsum("rj,rjc->rc", G, Y)
        out = Y / math.sqrt(self.sketch_size)
        return out[:, 0] if vector else out

    def _factor_sketches(self, xp) -> list[Any]:
        mats = []
        for k, size in enumerate(self.shapes):
            state = np.random.SeedSequence(self.seed, spawn_key=(k, *self.shapes))
            rng = check_random_state(int(state.generate_state(1, np.uint64)[0]) >> 1, xp)
            mats.append(rng.standard_normal((self.sketch_size, size)))
        return mats
