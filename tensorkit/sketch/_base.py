"""Sketching operators: random ``S`` of shape ``(m, n)`` applied to tall matrices without forming ``S``.

Every operator fixes its randomness by ``(random_state, n)``: it stores one integer seed and
draws ``S`` afresh from ``SeedSequence(seed, spawn_key=(n,))`` each time, so ``S.apply(A)`` and
``S.apply(b)`` use the same ``S`` (in every dtype: draws are made in float64 and cast), and an
operator is a few bytes to pickle. All operators satisfy ``E[S^T S] = I``.

Row-block splitting (for dask): a sketch whose columns are independent (Gaussian, CountSketch,
sparse sign) can be applied block by block, ``S A = sum_i S_i A_i``, with ``S_i`` seeded by
``(seed, block index)`` (:meth:`SketchOperator.apply_block`). Fast transforms (SRHT, SRDCT) mix
all rows and cannot be split.

The operators live by kind: dense (:mod:`._dense`), sparse (:mod:`._sparse`), composed
(:mod:`._composed`) and Kronecker-structured (:mod:`._kronecker`); this module holds their base
class and the array check they share.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_allocation, check_int
from ..backend import check_random_state, get_namespace, resolve_backend
from .planning import seed_from, working_dtype

__all__ = ["SketchOperator"]

# Spawn-key tags: a whole-matrix draw and a row-block draw must never share a stream.
WHOLE, BLOCK = 0, 1


class SketchOperator:
    """Base class: a random linear map ``S`` from ``R^n`` to ``R^m`` (``m = sketch_size``).

    Parameters
    ----------
    sketch_size : int
        Number of rows ``m`` of ``S``.
    random_state : int, numpy.random.Generator or None
        Fixes ``S`` for every ``n``: an int is used as the seed, a generator gives one draw.

    Attributes
    ----------
    kind : str
        Lowercase name accepted by ``lstsq(sketch=...)``.
    dense : bool
        Whether every entry of ``S`` is (almost surely) nonzero, which the l-infinity guarantee of
        sketch-and-solve needs (Song et al., 2023).
    splittable : bool
        Whether ``S A`` can be summed over row blocks (:meth:`apply_block`).
    """

    kind = "sketch"
    dense = False
    splittable = False

    def __init__(self, sketch_size: int, *, random_state: Any = None) -> None:
        self.sketch_size = check_int(sketch_size, "sketch_size", minimum=1)
        self.seed = seed_from(random_state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sketch_size={self.sketch_size}, seed={self.seed})"

    @property
    def name(self) -> str:
        """The name reported as ``LstsqResult.sketch``: :attr:`kind` (``"first+second"`` when
        composed)."""
        return self.kind

    def apply(self, A: Any, *, backend: str | None = None) -> Any:
        """Return ``S @ A`` for ``A`` of shape ``(n, d)`` or ``(n,)``, without forming ``S``.

        Parameters
        ----------
        A : numpy or CuPy array, real
        backend : {"numpy", "numba", "cupy"} or None
            Kernel set for the fast transforms and sparse scatters (inferred from ``A``).
        """
        A2, vector, xp = as_matrix(A, "A")
        out = self._apply(A2, xp, resolve_backend(backend, A2), (WHOLE, A2.shape[0]))
        return out[:, 0] if vector else out

    def apply_block(self, A_block: Any, block_index: int, *, backend: str | None = None) -> Any:
        """``S_i @ A_i`` for row block ``i``, with ``S_i`` seeded by ``(seed, block_index)``.

        Summing over the blocks of a matrix gives a sketch of the same kind of the whole matrix,
        independent of the order in which blocks are processed.
        """
        if not self.splittable:
            raise ValueError(
                f"{type(self).__name__} mixes all rows and cannot be applied by row blocks; use "
                "'gaussian', 'countsketch', 'sparse_sign' or a CountSketch composed with a Gaussian"
            )
        A2, vector, xp = as_matrix(A_block, "A_block")
        index = check_int(block_index, "block_index", minimum=0)
        out = self._apply(A2, xp, resolve_backend(backend, A2), (BLOCK, index, A2.shape[0]))
        return out[:, 0] if vector else out

    def to_dense(self, n: int, *, dtype: Any = np.float64) -> np.ndarray:
        """The explicit ``(m, n)`` matrix ``S`` (for tests and small problems)."""
        n = check_int(n, "n", minimum=1)
        check_allocation((max(n, self.sketch_size), n), dtype, "the explicit sketch matrix",
                         alternative="apply the operator (S.apply(A)) instead of forming S")
        return self.apply(np.eye(n, dtype=dtype), backend="numpy")

    def _apply(self, A, xp, backend, key):
        """``S @ A`` for a checked 2-D ``A`` of namespace ``xp``; ``key`` names the draw."""
        raise NotImplementedError

    def _cached(self, xp, key, draw):
        """The last draw for ``key``, redrawn only when ``key`` changes: ``S.apply(A)`` then
        ``S.apply(b)`` (what every solver does) generates the randomness once."""
        tag = (xp.__name__, key)
        cache = self.__dict__.get("_last_draw")
        if cache is None or cache[0] != tag:
            cache = (tag, draw())
            self._last_draw = cache
        return cache[1]

    def __getstate__(self):
        # The cached draw can be large and is cheap to redo: do not ship it to dask workers.
        state = dict(self.__dict__)
        state.pop("_last_draw", None)
        return state

    def _generator(self, xp, key):
        """The random generator for one draw of ``S``, on the device of namespace ``xp``."""
        state = np.random.SeedSequence(self.seed, spawn_key=key).generate_state(2, np.uint64)
        return check_random_state(int(state[0]) >> 1, xp)


def as_matrix(A: Any, name: str, *, xp: Any = None):
    """``A`` as a 2-D real floating array, whether it was a vector, and its namespace ``xp``.

    Integers and booleans are promoted to float64 and float16 to float32
    (:func:`~tensorkit.sketch.planning.working_dtype`). Finiteness is not checked here: a sketch of
    non-finite data is non-finite, and the callers that need a message check their (small) sketch
    instead of paying a pass over ``A``.
    """
    if not hasattr(A, "dtype") or not hasattr(A, "ndim"):
        try:
            A = np.asarray(A)
        except Exception as exc:
            raise TypeError(f"{name} must be an array of numbers, got {type(A).__name__} that "
                            f"numpy cannot convert ({exc})") from exc
        if A.dtype == object:
            raise TypeError(f"{name} must be an array of numbers, got {type(A).__name__} of objects")
    if xp is None:
        xp = get_namespace(A)
    dtype = working_dtype(A.dtype, name)
    if A.dtype != dtype:
        A = xp.asarray(A, dtype=dtype)
    if A.ndim == 1:
        return A[:, None], True, xp
    if A.ndim != 2:
        raise ValueError(f"{name} must be a vector or a matrix, got shape {tuple(A.shape)}")
    if A.shape[0] == 0:
        raise ValueError(f"{name} has no rows, shape {tuple(A.shape)}")
    return A, False, xp
