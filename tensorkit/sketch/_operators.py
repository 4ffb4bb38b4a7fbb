"""Sketching operators: random ``S`` of shape ``(m, n)`` applied to tall matrices without forming ``S``.

Every operator fixes its randomness by ``(random_state, n)``: it stores one integer seed and
draws ``S`` afresh from ``SeedSequence(seed, spawn_key=(n,))`` each time, so ``S.apply(A)`` and
``S.apply(b)`` use the same ``S`` (in every dtype: draws are made in float64 and cast), and an
operator is a few bytes to pickle. All operators satisfy ``E[S^T S] = I``.

Row-block splitting (for dask): a sketch whose columns are independent (Gaussian, CountSketch,
sparse sign) can be applied block by block, ``S A = sum_i S_i A_i``, with ``S_i`` seeded by
``(seed, block index)`` (:meth:`SketchOperator.apply_block`). Fast transforms (SRHT, SRDCT) mix
all rows and cannot be split.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _kernels
from ..backend import (
    array_module,
    check_random_state,
    get_namespace,
    is_cupy_array,
    native,
    resolve_backend,
)

__all__ = [
    "SRDCT",
    "SRHT",
    "ComposedSketch",
    "CountSketch",
    "GaussianSketch",
    "KroneckerSketch",
    "SketchOperator",
    "SparseSign",
    "make_sketch",
]

# Spawn-key tags: a whole-matrix draw and a row-block draw must never share a stream.
_WHOLE, _BLOCK = 0, 1
# Dense Gaussian sketches are drawn and applied in column slabs of S of about this many entries.
_SLAB_ENTRIES = 1 << 22


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
        self.sketch_size = _check_positive_int(sketch_size, "sketch_size")
        self.seed = _seed_from(random_state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sketch_size={self.sketch_size}, seed={self.seed})"

    def apply(self, A: Any, *, backend: str | None = None) -> Any:
        """Return ``S @ A`` for ``A`` of shape ``(n, d)`` or ``(n,)``, without forming ``S``.

        Parameters
        ----------
        A : numpy or CuPy array, real
        backend : {"numpy", "numba", "cupy"} or None
            Kernel set for the fast transforms and sparse scatters (inferred from ``A``).
        """
        A2, vector = _as_2d(A, "A")
        out = self._apply(A2, resolve_backend(backend, A2), (_WHOLE, A2.shape[0]))
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
        A2, vector = _as_2d(A_block, "A_block")
        index = _check_nonnegative_int(block_index, "block_index")
        out = self._apply(A2, resolve_backend(backend, A2), (_BLOCK, index, A2.shape[0]))
        return out[:, 0] if vector else out

    def to_dense(self, n: int, *, dtype: Any = np.float64) -> np.ndarray:
        """The explicit ``(m, n)`` matrix ``S`` (for tests and small problems)."""
        n = _check_positive_int(n, "n")
        return self.apply(np.eye(n, dtype=dtype), backend="numpy")

    def _apply(self, A, backend, key):
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
        seed = int(state[0]) >> 1
        return check_random_state(seed, native(xp))


class GaussianSketch(SketchOperator):
    """Dense Gaussian sketch, ``S_ij ~ N(0, 1/m)``.

    ``S A`` costs ``2 m n d`` flops; ``S`` is drawn in column slabs so that it is never held whole.
    """

    kind = "gaussian"
    dense = True
    splittable = True

    def _apply(self, A, backend, key):
        xp = array_module(A)
        n = A.shape[0]
        m = self.sketch_size
        rng = self._generator(xp, key)
        scale = 1.0 / math.sqrt(m)
        out = xp.zeros((m, A.shape[1]), dtype=A.dtype)
        slab = max(1, _SLAB_ENTRIES // m)
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


class CountSketch(SketchOperator):
    """CountSketch (Clarkson-Woodruff): each row of ``A`` is added with a random sign to one of
    ``m`` buckets. ``S A`` costs one pass over ``A``. Sparse: no l-infinity guarantee."""

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

    def _apply(self, A, backend, key):
        xp = array_module(A)
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
        s = _check_positive_int(nnz_per_column, "nnz_per_column")
        if s > self.sketch_size:
            raise ValueError(
                f"nnz_per_column={s} exceeds sketch_size={self.sketch_size}; each column of S "
                "needs its nonzeros in distinct rows"
            )
        self.nnz_per_column = s


class SRHT(SketchOperator):
    """Subsampled randomized Hadamard transform, ``S = sqrt(1/m) P H D``.

    ``D`` flips the signs of the rows, ``H`` is the unnormalized Walsh-Hadamard matrix of size
    ``N = 2^ceil(log2 n)`` (rows zero-padded), ``P`` keeps ``m <= N`` rows chosen without
    replacement. ``S A`` costs ``N log2(N) d`` additions through a fast Walsh-Hadamard kernel.
    Dense: keeps the l-infinity guarantee. Not splittable by row blocks.
    """

    kind = "srht"
    dense = True

    def _apply(self, A, backend, key):
        xp = array_module(A)
        n, d = A.shape
        N = 1 << max(0, (n - 1).bit_length())
        m = self.sketch_size
        if m > N:
            raise ValueError(f"SRHT sketch_size={m} exceeds the padded row count {N} of A")
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

    def _apply(self, A, backend, key):
        xp = array_module(A)
        n = A.shape[0]
        m = self.sketch_size
        if m > n:
            raise ValueError(f"SRDCT sketch_size={m} exceeds the row count {n} of A")
        rng = self._generator(xp, key)
        signs = (rng.integers(0, 2, size=n) * 2 - 1).astype(A.dtype)
        keep = _random_subset(rng, n, m, xp)
        if is_cupy_array(A):
            from cupyx.scipy.fft import dct
        else:
            from scipy.fft import dct
        X = dct(A * signs[:, None], type=2, norm="ortho", axis=0)
        return X[keep] * A.dtype.type(math.sqrt(n / m))


class ComposedSketch(SketchOperator):
    """``S = S_2 S_1``: a sparse sketch to an intermediate size followed by a dense one.

    ``S_1`` (one pass over ``A``, e.g. CountSketch to ``m_1 >> d`` rows) does the heavy lifting
    at the cost of reading ``A``; ``S_2`` (dense, ``m x m_1``) restores the mixing that the
    l-infinity guarantee needs, at ``2 m m_1 d`` flops independent of ``n``. Splittable when
    ``S_1`` is: blocks are sketched by ``S_1``, summed, and ``S_2`` is applied once.
    """

    kind = "composed"

    def __init__(self, first: SketchOperator, second: SketchOperator) -> None:
        for name, op in (("first", first), ("second", second)):
            if not isinstance(op, SketchOperator) or isinstance(op, KroneckerSketch):
                raise TypeError(f"{name} must be a row sketching operator, got {op!r}")
        self.first = first
        self.second = second
        self.sketch_size = second.sketch_size
        self.seed = first.seed
        self.dense = second.dense
        self.splittable = first.splittable

    def __repr__(self) -> str:
        return f"ComposedSketch({self.first!r}, {self.second!r})"

    def _apply(self, A, backend, key):
        Y = self.first._apply(A, backend, key)
        return self.finish(Y, backend=backend)

    def apply_block(self, A_block: Any, block_index: int, *, backend: str | None = None) -> Any:
        """``S_1,i @ A_i`` for row block ``i``: sum these over blocks, then call :meth:`finish`."""
        return self.first.apply_block(A_block, block_index, backend=backend)

    def finish(self, Y: Any, *, backend: str | None = None) -> Any:
        """Apply ``S_2`` to the summed first-stage sketch ``Y = S_1 A``."""
        Y2, vector = _as_2d(Y, "Y")
        out = self.second._apply(Y2, resolve_backend(backend, Y2), (_WHOLE, Y2.shape[0]))
        return out[:, 0] if vector else out


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
    """

    kind = "kronecker"
    dense = True
    splittable = False

    def __init__(self, sketch_size: int, shapes: Sequence[int], *, random_state: Any = None):
        self.sketch_size = _check_positive_int(sketch_size, "sketch_size")
        if isinstance(shapes, numbers.Integral) or len(shapes) == 0:
            raise ValueError(f"shapes must be a non-empty sequence of ints, got {shapes!r}")
        self.shapes = tuple(_check_positive_int(s, "shapes") for s in shapes)
        self.seed = _seed_from(random_state)

    def __repr__(self) -> str:
        return f"KroneckerSketch(sketch_size={self.sketch_size}, shapes={self.shapes}, seed={self.seed})"

    def factor_sketches(self, xp: Any = np) -> list[Any]:
        """The Gaussian matrices ``G_k`` of shape ``(m, I_k)`` on the device of namespace ``xp``."""
        xp = native(xp)
        mats = []
        for k, size in enumerate(self.shapes):
            state = np.random.SeedSequence(self.seed, spawn_key=(k, *self.shapes))
            rng = check_random_state(int(state.generate_state(1, np.uint64)[0]) >> 1, xp)
            mats.append(rng.standard_normal((self.sketch_size, size)))
        return mats

    def apply_khatri_rao(self, factors: Sequence[Any]) -> Any:
        """``S @ khatri_rao(factors)`` without forming the Khatri-Rao product.

        Parameters
        ----------
        factors : sequence of arrays ``(I_k, R)``, ``I_k = shapes[k]``
        """
        if len(factors) != len(self.shapes):
            raise ValueError(f"expected {len(self.shapes)} factors for shapes {self.shapes}, "
                             f"got {len(factors)}")
        xp = native(get_namespace(*factors))
        mats = []
        for k, (f, size) in enumerate(zip(factors, self.shapes, strict=True)):
            f2, _ = _as_2d(f, f"factors[{k}]")
            if f2.shape[0] != size:
                raise ValueError(f"factors[{k}] has {f2.shape[0]} rows, shapes[{k}] is {size}")
            mats.append(f2)
        rank = mats[0].shape[1]
        if any(f.shape[1] != rank for f in mats):
            raise ValueError(f"factors need equal column counts, got {[f.shape[1] for f in mats]}")
        dtype = xp.result_type(*mats)
        out = None
        for G, f in zip(self.factor_sketches(xp), mats, strict=True):
            Gf = G.astype(dtype) @ f
            out = Gf if out is None else out * Gf
        return out / math.sqrt(self.sketch_size)

    def apply(self, A: Any) -> Any:
        """``S @ A`` for ``A`` of shape ``(prod(shapes), d)`` or ``(prod(shapes),)``.

        Contracts one tensor mode at a time while keeping the sketch-row index, so the largest
        intermediate has ``m * prod(shapes[1:]) * d`` entries.
        """
        A2, vector = _as_2d(A, "A")
        xp = array_module(A2)
        total = math.prod(self.shapes)
        if A2.shape[0] != total:
            raise ValueError(f"A has {A2.shape[0]} rows; shapes {self.shapes} need {total}")
        d = A2.shape[1]
        mats = [G.astype(A2.dtype) for G in self.factor_sketches(xp)]
        rest = total // self.shapes[0]
        Y = mats[0] @ xp.reshape(A2, (self.shapes[0], rest * d))
        for G, size in zip(mats[1:], self.shapes[1:], strict=True):
            rest //= size
            Y = xp.reshape(Y, (self.sketch_size, size, rest * d))
            Y = xp.einsum("rj,rjc->rc", G, Y)
        out = Y / math.sqrt(self.sketch_size)
        return out[:, 0] if vector else out


_SKETCHES = {
    "gaussian": GaussianSketch,
    "srht": SRHT,
    "srdct": SRDCT,
    "countsketch": CountSketch,
    "sparse_sign": SparseSign,
}


def make_sketch(kind: str, sketch_size: int, *, random_state: Any = None) -> SketchOperator:
    """Build an operator from its lowercase name (``"gaussian"``, ``"srht"``, ``"srdct"``,
    ``"countsketch"``, ``"sparse_sign"``)."""
    if kind not in _SKETCHES:
        raise ValueError(f"sketch must be one of {sorted(_SKETCHES)}, 'auto' or an operator, "
                         f"got {kind!r}")
    return _SKETCHES[kind](sketch_size, random_state=random_state)


def sparse_then_gaussian(first_size: int, sketch_size: int, seed: int) -> ComposedSketch:
    """Sparse sign sketch (4 nonzeros per column) to ``first_size`` rows, then a Gaussian to
    ``sketch_size`` rows, both seeded from one seed.

    Four nonzeros rather than CountSketch's one: with a single nonzero, two heavy rows that land in
    the same bucket are merged for good, and the l-infinity error of the coordinates they carry
    breaks the bound whatever the Gaussian stage does (measured: eps_eff up to 7 against a bound
    of 3 at ``first_size = 40 d``); with four, each heavy row survives in three other rows.
    """
    second_seed = int(np.random.SeedSequence(seed, spawn_key=(2,)).generate_state(1, np.uint64)[0]) >> 1
    return ComposedSketch(SparseSign(first_size, nnz_per_column=4, random_state=seed),
                          GaussianSketch(sketch_size, random_state=second_seed))


# --- validation helpers -----------------------------------------------------------------------


def _seed_from(random_state: Any) -> int:
    """One non-negative int seed: the int itself, or one draw from a generator / fresh entropy."""
    if isinstance(random_state, (numbers.Integral, np.integer)) and not isinstance(
        random_state, (bool, np.bool_)
    ):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}")
        return int(random_state)
    rng = check_random_state(random_state)
    return int(rng.integers(0, 2**63 - 1))


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be positive, got {value}")
    return int(value)


def _check_nonnegative_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return int(value)


def _as_2d(A: Any, name: str):
    """``A`` as a 2-D real floating array (ints promoted to float64) and whether it was a vector.

    Finiteness is not checked here: a sketch of non-finite data is non-finite, and the callers
    that need a message check their (small) sketch instead of paying a pass over ``A``.
    """
    if not hasattr(A, "dtype") or not hasattr(A, "ndim"):
        try:
            A = np.asarray(A)
        except Exception as exc:
            raise TypeError(f"{name} must be an array, got {type(A).__name__}") from exc
    kind = A.dtype.kind
    if kind in "biu":
        A = array_module(A).asarray(A, dtype=np.float64)
    elif kind == "c":
        raise TypeError(f"{name} must be real, got dtype {A.dtype}")
    elif kind != "f":
        raise TypeError(f"{name} must hold numbers, got dtype {A.dtype}")
    elif A.dtype.itemsize < 4:
        A = A.astype(np.float32)
    if A.ndim == 1:
        return A[:, None], True
    if A.ndim != 2:
        raise ValueError(f"{name} must be a vector or a matrix, got shape {tuple(A.shape)}")
    if A.shape[0] == 0:
        raise ValueError(f"{name} has no rows, shape {tuple(A.shape)}")
    return A, False


def _random_subset(rng, n, m, xp):
    """``m`` distinct indices out of ``range(n)`` in random order (CuPy's Generator has no
    ``permutation``: sort random keys there)."""
    if xp is np:
        return rng.permutation(n)[:m]
    return xp.argsort(rng.random(n))[:m]
