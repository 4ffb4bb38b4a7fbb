"""Tensor algebra: unfoldings, mode products, Khatri-Rao products and MTTKRP.

Orderings follow tensorly everywhere, so results interoperate:

- ``unfold(X, n)`` moves axis ``n`` to the front and reshapes in C order, so that column index
  ``j = sum_{k != n} i_k prod_{l > k, l != n} I_l``;
- ``khatri_rao([A_1, ..., A_N])`` has row index ``i_1 I_2 ... I_N + ... + i_N`` (the first matrix
  varies slowest);
- hence for a CP tensor ``unfold(X, n) == A_n @ khatri_rao(factors, skip=n).T``.

All functions work on numpy and CuPy arrays alike (the array namespace of the inputs). Each takes
a keyword-only ``xp``: an algorithm that already holds the namespace of its arrays passes it, so
that the namespace is not inferred again at every mode product. Inputs must be arrays: a list is
refused with a ``TypeError`` (these functions sit in inner loops, where a silent conversion would
copy at every call and hide a list of factors passed where one matrix was meant).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import array_api_compat

from . import _kernels
from ._validation import check_int
from .backend import get_namespace, is_cupy_array, native, resolve_backend
from .observed import ObservedTensor

__all__ = ["fold", "khatri_rao", "kron_rows", "mode_dot", "mttkrp", "multi_mode_dot", "unfold"]


def unfold(tensor: Any, mode: int, *, xp: Any = None) -> Any:
    """Mode-``mode`` unfolding (matricization) ``X_(n)`` of shape ``(I_n, prod_{k != n} I_k)``.

    Parameters
    ----------
    tensor : array
    mode : int (negative counts from the end)
    xp : array namespace, optional
        The namespace of ``tensor`` when the caller already holds it.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.tenalg import unfold
    >>> unfold(np.arange(24).reshape(2, 3, 4), 1).shape
    (3, 8)
    """
    _require_arrays("tensor", tensor)
    if xp is None:
        xp = get_namespace(tensor)
    mode = _mode(mode, tensor.ndim)
    return xp.reshape(xp.moveaxis(tensor, mode, 0), (tensor.shape[mode], -1))


def fold(unfolded: Any, mode: int, shape: Sequence[int], *, xp: Any = None) -> Any:
    """Inverse of :func:`unfold`: rebuild the tensor of ``shape`` from its mode-``mode`` unfolding.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.tenalg import fold, unfold
    >>> X = np.arange(24.0).reshape(2, 3, 4)
    >>> bool(np.array_equal(fold(unfold(X, 2), 2, X.shape), X))
    True
    """
    _require_arrays("unfolded", unfolded)
    if xp is None:
        xp = get_namespace(unfolded)
    shape = tuple(check_int(s, f"shape[{k}]", minimum=0) for k, s in enumerate(shape))
    mode = _mode(mode, len(shape))
    moved = (shape[mode], *shape[:mode], *shape[mode + 1 :])
    if tuple(unfolded.shape) != (shape[mode], math.prod(moved[1:])):
        raise ValueError(
            f"unfolded has shape {tuple(unfolded.shape)}, expected "
            f"{(shape[mode], math.prod(moved[1:]))} for shape={shape}, mode={mode}"
        )
    return xp.moveaxis(xp.reshape(unfolded, moved), 0, mode)


def mode_dot(
    tensor: Any, matrix_or_vector: Any, mode: int, *, transpose: bool = False, xp: Any = None
) -> Any:
    """n-mode product ``X x_n M``: contract axis ``mode`` of ``tensor`` with the columns of ``M``.

    ``(X x_n M)_{i_1..j..i_N} = sum_{i_n} M_{j, i_n} X_{i_1..i_n..i_N}``. A vector removes the
    axis. With ``transpose=True`` the (conjugate) transpose of ``M`` is used, which projects onto
    the span of an orthonormal factor without forming ``M^H``.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.tenalg import mode_dot
    >>> mode_dot(np.ones((2, 3, 4)), np.ones((5, 3)), 1).shape
    (2, 5, 4)
    """
    _require_arrays("tensor", tensor, "matrix_or_vector", matrix_or_vector)
    if xp is None:
        xp = get_namespace(tensor, matrix_or_vector)
    mode = _mode(mode, tensor.ndim)
    m = matrix_or_vector
    if transpose:
        m = xp.conj(m).T if m.ndim == 2 else xp.conj(m)
    if m.ndim == 1:
        if m.shape[0] != tensor.shape[mode]:
            raise ValueError(
                f"vector of length {m.shape[0]} does not match tensor.shape[{mode}]="
                f"{tensor.shape[mode]}"
            )
        return xp.tensordot(tensor, m, axes=([mode], [0]))
    if m.ndim != 2:
        raise ValueError(f"matrix_or_vector must be 1-D or 2-D, got {m.ndim}-D")
    if m.shape[1] != tensor.shape[mode]:
        raise ValueError(
            f"matrix of shape {tuple(m.shape)} does not match tensor.shape[{mode}]="
            f"{tensor.shape[mode]} (its number of columns must equal that size)"
        )
    return xp.moveaxis(xp.tensordot(m, tensor, axes=([1], [mode])), 0, mode)


def multi_mode_dot(
    tensor: Any,
    matrices: Sequence[Any],
    modes: Sequence[int] | None = None,
    *,
    skip: int | None = None,
    transpose: bool = False,
    xp: Any = None,
) -> Any:
    """Chain of mode products ``X x_{m_1} M_1 x_{m_2} M_2 ...``.

    Products that shrink the tensor are applied first (the contraction order does not change the
    result, only its cost). ``skip`` leaves one mode out, as in ALS sweeps.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.tenalg import multi_mode_dot
    >>> multi_mode_dot(np.ones((2, 3, 4)), [np.ones((5, 2)), np.ones((6, 4))], modes=[0, 2]).shape
    (5, 3, 6)
    """
    matrices = list(matrices)
    modes = list(range(len(matrices))) if modes is None else list(modes)
    if len(modes) != len(matrices):
        raise ValueError(f"got {len(matrices)} matrices but {len(modes)} modes: {modes}")
    _require_arrays("tensor", tensor, *_named("matrices", matrices))
    if xp is None:
        xp = get_namespace(tensor, *matrices)
    pairs = [(m, _mode(mode, tensor.ndim, "modes")) for m, mode in zip(matrices, modes, strict=True)]
    if skip is not None:
        skip = _mode(skip, tensor.ndim, "skip")
        pairs = [p for p in pairs if p[1] != skip]

    def shrink(pair):
        m, mode = pair
        out = (m.shape[1] if transpose else m.shape[0]) if m.ndim == 2 else 0
        return out / max(tensor.shape[mode], 1)

    # Vectors remove axes: apply them last, from the highest mode down, so mode numbers hold.
    matrices_first = sorted((p for p in pairs if p[0].ndim == 2), key=shrink)
    vectors_last = sorted((p for p in pairs if p[0].ndim == 1), key=lambda p: -p[1])
    out = tensor
    for m, mode in matrices_first + vectors_last:
        out = mode_dot(out, m, mode, transpose=transpose, xp=xp)
    return out


def khatri_rao(
    matrices: Sequence[Any], *, skip: int | None = None, reverse: bool = False, xp: Any = None
) -> Any:
    """Column-wise Kronecker product of matrices with equal column counts (tensorly's order).

    Row ``(i_1, ..., i_N)`` of the result is ``prod_k A_k[i_k, :]`` with ``i_N`` varying fastest;
    ``reverse=True`` reverses the order of the matrices first.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.tenalg import khatri_rao
    >>> khatri_rao([np.ones((2, 3)), np.ones((4, 3))]).shape
    (8, 3)
    """
    matrices = list(matrices)
    if skip is not None:
        skip = _mode(skip, len(matrices), "skip")
    mats = [m for k, m in enumerate(matrices) if k != skip]
    if not mats:
        raise ValueError("khatri_rao needs at least one matrix")
    _require_arrays(*_named("matrices", matrices))
    if reverse:
        mats = mats[::-1]
    if xp is None:
        xp = get_namespace(*mats)
    rank = mats[0].shape[1] if mats[0].ndim == 2 else None
    for k, m in enumerate(mats):
        if m.ndim != 2 or m.shape[1] != rank:
            raise ValueError(
                f"all matrices need {rank} columns; matrix {k} has shape {tuple(m.shape)}"
            )
    out = mats[0]
    for m in mats[1:]:
        out = xp.reshape(out[:, None, :] * m[None, :, :], (-1, rank))
    return out


def kron_rows(factors: Sequence[Any], indices: Any, skip: int | None = None) -> Any:
    """Row-wise Kronecker products of factor rows gathered at cells (the face-splitting product).

    Row ``e`` is ``kron_k A_k[i_k(e), :]`` over the modes ``k != skip``, in C order (last mode
    fastest, matching a core reshaped row-major), so ``kron_rows(U, idx) @ G.reshape(-1)`` is a
    Tucker model's values at the cells ``idx`` and, with ``skip=n``, the design matrix of mode
    ``n``'s rows in completion.

    Parameters
    ----------
    factors : sequence of arrays (I_k, R_k)
    indices : int array (nnz, order)
    skip : int, optional

    Returns
    -------
    array (nnz, prod of the kept R_k)

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.tenalg import kron_rows
    >>> A, B = np.arange(4.0).reshape(2, 2), np.ones((3, 2))
    >>> kron_rows([A, B], np.array([[1, 2]])).tolist()
    [[2.0, 2.0, 3.0, 3.0]]
    """
    # shape checks only (constant cost: this runs in inner loops of completion); numpy refuses an
    # index outside a factor itself (IndexError, restated as a ValueError)
    if getattr(indices, "ndim", None) != 2 or indices.shape[1] < len(factors):
        raise ValueError(
            f"indices must be an array (nnz, {len(factors)}), got shape {getattr(indices, 'shape', None)}"
        )
    out = None
    for k, factor in enumerate(factors):
        if k == skip:
            continue
        if getattr(factor, "ndim", None) != 2:
            raise ValueError(f"factors[{k}] must be a matrix (I_{k}, R_{k}), got shape "
                             f"{getattr(factor, 'shape', None)}")
        try:
            rows = factor[indices[:, k]]
        except IndexError as exc:
            raise ValueError(f"indices of mode {k} do not fit factors[{k}] of shape "
                             f"{tuple(factor.shape)}: {exc}") from None
        out = rows if out is None else (out[:, :, None] * rows[:, None, :]).reshape(rows.shape[0], -1)
    return out


def mttkrp(
    tensor: Any,
    factors: Sequence[Any],
    mode: int,
    *,
    backend: str | None = None,
    xp: Any = None,
) -> Any:
    """Matricized tensor times Khatri-Rao product, ``X_(n) @ khatri_rao(factors, skip=n)``.

    Parameters
    ----------
    tensor : array, tuple ``(indices, values, shape)`` or ObservedTensor
        A dense tensor, or a sparse tensor in COO form with ``indices`` of shape ``(nnz, order)``
        (a :class:`~tensorkit.ObservedTensor` is the same COO data, its missing cells read as
        zeros).
    factors : sequence of arrays ``(I_k, R)``
        One per mode; ``factors[mode]`` is not read (only its presence is checked).
    mode : int
    backend : {"numpy", "numba", "cupy"} or None
        Kernel set for the sparse case (None: from the inputs' device). Dense input is a chain of
        BLAS contractions and needs no kernel.
    xp : array namespace, optional
        The namespace of the inputs when the caller already holds it (the dense path then skips
        inferring it and checking ``backend`` against the device: the caller did both).

    Returns
    -------
    array of shape ``(I_mode, R)``

    Notes
    -----
    The dense path never forms the Khatri-Rao product: it contracts the other modes one at a
    time, keeping the rank index, so memory stays at the size of the tensor.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.tenalg import mttkrp
    >>> mttkrp(np.ones((2, 3, 4)), [np.ones((2, 5)), np.ones((3, 5)), np.ones((4, 5))], 0)[0, 0]
    np.float64(12.0)
    """
    if isinstance(tensor, ObservedTensor):
        tensor = (tensor.indices, tensor.values, tensor.shape)
    if isinstance(tensor, tuple):
        return _mttkrp_coo(tensor, factors, mode, backend, xp)
    factors = list(factors)
    _require_arrays("tensor", tensor, *_named("factors", factors))
    if xp is None:
        xp = get_namespace(tensor, *factors)
        resolve_backend(backend, tensor, *factors)
    order = tensor.ndim
    if order < 2:
        raise ValueError(f"mttkrp needs a tensor of order >= 2, got shape {tuple(tensor.shape)}")
    mode = _mode(mode, order)
    rank = _factor_rank(factors, tuple(tensor.shape))
    others = [k for k in range(order) if k != mode]
    moved = xp.moveaxis(tensor, mode, 0)  # (I_n, *others)
    last = others[-1]
    out = xp.tensordot(moved, factors[last], axes=([moved.ndim - 1], [0]))  # (I_n, ..., R)
    einsum = native(xp).einsum  # not in the array API: numpy's or CuPy's own
    for k in reversed(others[:-1]):
        out = einsum("...jr,jr->...r", out, factors[k])
    return xp.reshape(out, (tensor.shape[mode], rank))


def _mttkrp_coo(tensor, factors, mode, backend, xp):
    try:
        indices, values, shape = tensor
    except ValueError:
        raise ValueError(
            "a sparse tensor is a tuple (indices, values, shape); got a tuple of "
            f"length {len(tensor)}"
        ) from None
    factors = list(factors)
    _require_arrays("indices", indices, "values", values, *_named("factors", factors))
    if xp is None:
        xp = get_namespace(indices, values, *factors)
    backend = resolve_backend(backend, indices, values, *factors)
    shape = tuple(check_int(s, f"shape[{k}]", minimum=1) for k, s in enumerate(shape))
    order = len(shape)
    if order < 2:
        raise ValueError(f"mttkrp needs a tensor of order >= 2, got shape={shape}")
    mode = _mode(mode, order)
    _factor_rank(factors, shape)
    if indices.ndim != 2 or indices.shape[1] != order:
        raise ValueError(
            f"indices must have shape (nnz, {order}) for shape={shape}, got {tuple(indices.shape)}"
        )
    if values.ndim != 1 or values.shape[0] != indices.shape[0]:
        raise ValueError(
            f"values must have shape ({indices.shape[0]},) to match indices, "
            f"got {tuple(values.shape)}"
        )
    if indices.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers, got dtype {indices.dtype}")
    if indices.shape[0]:
        low = xp.min(indices, axis=0)
        high = xp.max(indices, axis=0)
        for k in range(order):
            if int(low[k]) < 0 or int(high[k]) >= shape[k]:
                raise ValueError(
                    f"indices[:, {k}] spans [{int(low[k])}, {int(high[k])}], outside "
                    f"[0, {shape[k] - 1}] for shape={shape}"
                )
    # compiled kernels read native byte order and float32/float64/complex only: convert here
    indices = _kernel_ready(indices, "indices", integer=True)
    values = _kernel_ready(values, "values")
    factors = [_kernel_ready(f, f"factors[{k}]") for k, f in enumerate(factors)]
    return _kernels.mttkrp_coo(indices, values, factors, mode, shape[mode], backend)


def _kernel_ready(x, name, *, integer=False):
    """``x`` in native byte order, and (unless ``integer``) as float32 or wider: float16 becomes
    float32, integers and bools float64 (Numba has no float16 arithmetic)."""
    if x.dtype.kind not in "biufc":
        raise TypeError(f"{name} must hold numbers, got dtype {x.dtype}")
    if integer:
        if not is_cupy_array(x) and not x.dtype.isnative:
            x = x.astype(x.dtype.newbyteorder("="))
        return x
    kind, itemsize = x.dtype.kind, x.dtype.itemsize
    if kind in "biu":
        return x.astype("float64")
    if kind == "f" and itemsize < 4:
        return x.astype("float32")
    if not is_cupy_array(x) and not x.dtype.isnative:
        return x.astype(x.dtype.newbyteorder("="))
    return x


def _factor_rank(factors, shape):
    """The common column count of ``factors``, which must be ``(I_k, R)`` for each mode of ``shape``."""
    if len(factors) != len(shape):
        raise ValueError(f"need {len(shape)} factors for shape={shape}, got {len(factors)}")
    rank = factors[0].shape[1] if factors[0].ndim == 2 else "R"
    for k, (f, size) in enumerate(zip(factors, shape, strict=True)):
        if f.ndim != 2 or f.shape[0] != size or f.shape[1] != rank:
            raise ValueError(
                f"factors[{k}] must have shape ({size}, {rank}), got {tuple(f.shape)}"
            )
    return rank


def _mode(mode, order, name="mode"):
    """A mode index in ``[-order, order)`` (negative counts from the end), as ``0 <= mode < order``."""
    return check_int(mode, name, minimum=-order, maximum=order - 1) % order


def _named(name, arrays):
    """``(name[0], a_0, name[1], a_1, ...)`` for :func:`_require_arrays`."""
    out = []
    for k, a in enumerate(arrays):
        out += [f"{name}[{k}]", a]
    return out


def _require_arrays(*names_and_arrays):
    """Refuse lists (and anything else that is not an array) with a TypeError naming the argument."""
    for name, x in zip(names_and_arrays[::2], names_and_arrays[1::2], strict=True):
        if not array_api_compat.is_array_api_obj(x):
            raise TypeError(
                f"{name} must be an array (numpy or CuPy), got {type(x).__name__}; "
                "convert it first, e.g. with numpy.asarray"
            )
