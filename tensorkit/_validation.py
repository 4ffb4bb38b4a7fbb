"""The one set of argument checks, and the error policy every public entry point follows.

Policy
------
- Wrong type -> ``TypeError``; wrong value -> ``ValueError``; a result that cannot fit in host or
  GPU memory -> ``MemoryError``, raised *before* allocating.
- Messages name the argument and show the offending value: ``"rank must be >= 1, got 0"``.
- ``bool`` is never accepted where an int or a real number is expected (``True`` is not ``1``).
- Checks never use ``assert`` (it vanishes under ``python -O``).

Upper layers (``operators``, ``physics``) reach these through :mod:`tensorkit.extend`.

Examples
--------
>>> from tensorkit.extend import check_int, check_tol
>>> check_int(3, "rank", minimum=1)
3
>>> check_tol(1e-6)
1e-06
>>> check_int(True, "rank")
Traceback (most recent call last):
    ...
TypeError: rank must be an int, got True (bool)
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .backend import get_namespace, is_cupy_array

__all__ = [
    "FLOAT_DTYPES",
    "as_float_array",
    "check_allocation",
    "check_bool",
    "check_choice",
    "check_dense_tensor",
    "check_dtype",
    "check_int",
    "check_real",
    "check_stop_tol",
    "check_tol",
    "device_of",
    "per_axis",
]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_int(
    value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` as a Python int, within ``[minimum, maximum]`` when given.

    Raises
    ------
    TypeError
        For a bool, a float (even ``3.0``) or anything that is not an integer.
    ValueError
        Below ``minimum`` or above ``maximum``.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, got {value!r} (bool)")
    if not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_real(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    strict_maximum: bool = False,
    allow_inf: bool = False,
) -> float:
    """``value`` as a finite Python float (``inf`` only with ``allow_inf``), within bounds.

    ``strict_minimum`` / ``strict_maximum`` make the bounds open (``> minimum``, ``< maximum``).

    Raises
    ------
    TypeError
        For a bool, a complex number or a non-number.
    ValueError
        For NaN, an infinity (unless allowed) or a value out of bounds.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, got {value!r} (bool)")
    if not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value <= minimum if strict_minimum else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict_minimum else '>='} {minimum}, got {value}")
    if maximum is not None and (value >= maximum if strict_maximum else value > maximum):
        raise ValueError(f"{name} must be {'<' if strict_maximum else '<='} {maximum}, got {value}")
    return value


def check_tol(tol: Any, name: str = "tol") -> float:
    """An accuracy target: a relative error in the open interval ``(0, 1)``."""
    return check_real(tol, name, minimum=0.0, maximum=1.0, strict_minimum=True, strict_maximum=True)


def check_stop_tol(stop_tol: Any, name: str = "stop_tol") -> float:
    """An iteration stop: a non-negative finite number (0 runs until ``n_iter_max``)."""
    return check_real(stop_tol, name, minimum=0.0)


def check_bool(value: Any, name: str) -> bool:
    """``value`` as a Python bool; only ``bool`` / ``numpy.bool_`` (a truthy ``"no"`` or ``1`` is refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """``value`` when it is one of ``choices`` (compared with ``==``; strings are case-sensitive)."""
    try:
        ok = value in choices
    except (TypeError, ValueError):  # unhashable, incomparable or array values (ambiguous truth)
        ok = False
    if not ok or (isinstance(value, (bool, np.bool_)) and not any(c is value for c in choices)):
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_dtype(dtype: Any, name: str = "dtype", *, allowed: Sequence[Any] = FLOAT_DTYPES) -> np.dtype:
    """``dtype`` as a numpy dtype among ``allowed`` (float32 and float64 by default).

    Raises
    ------
    TypeError
        When ``dtype`` is not a dtype at all, or not one of ``allowed``.
    """
    allowed = tuple(np.dtype(a) for a in allowed)
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name} must be one of {[str(a) for a in allowed]}, got {dtype!r}") from exc
    if dt not in allowed:
        raise TypeError(f"{name} must be one of {[str(a) for a in allowed]}, got {dt}")
    return dt


def per_axis(
    value: Any, n: int, name: str, check: Callable[[Any, str], Any] | None = None
) -> tuple[Any, ...]:
    """One entry per axis: a scalar is repeated ``n`` times, a sequence must have length ``n``.

    Each entry goes through ``check(entry, f"{name}[{k}]")`` when given.

    Examples
    --------
    >>> from tensorkit.extend import per_axis, check_int
    >>> per_axis(3, 2, "kernel_size", lambda v, n: check_int(v, n, minimum=1))
    (3, 3)
    """
    if isinstance(value, (str, bytes)) or (not isinstance(value, Sequence) and not isinstance(
        value, np.ndarray
    )):
        values = (value,) * n
    else:
        values = tuple(value.tolist() if isinstance(value, np.ndarray) else value)
        if len(values) != n:
            raise ValueError(f"{name} needs {n} entries (one per axis), got {len(values)}: {value!r}")
    if check is None:
        return values
    return tuple(check(v, f"{name}[{k}]") for k, v in enumerate(values))


def as_float_array(
    x: Any, name: str, *, allow_complex: bool = True, check_finite: bool = True, xp: Any = None
):
    """Validate an array argument once at a public entry point.

    Integer and boolean arrays are promoted to float64; float32, float64 (and complex, when
    allowed) keep their dtype; float16 becomes float32; big-endian data is converted to native
    byte order (compiled kernels read native order only). Lists and scalars become numpy arrays.
    ``check_finite=False`` skips the scan for NaN and Inf (for callers that scan the data anyway).

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.extend import as_float_array
    >>> as_float_array(np.ones(2, dtype=">f2"), "x").dtype
    dtype('float32')

    Raises
    ------
    TypeError
        For something that is not an array of numbers, or complex data where only real is allowed.
    ValueError
        For non-finite entries (the count is given), unless ``check_finite`` is False.
    """
    if xp is None:
        xp = get_namespace(x)
    if not hasattr(x, "dtype"):
        try:
            x = np.asarray(x)
        except Exception as exc:
            raise TypeError(f"{name} must be an array, got {type(x).__name__}") from exc
    kind = x.dtype.kind
    if kind in "biu":
        x = xp.asarray(x, dtype=xp.float64)
    elif kind == "c":
        if not allow_complex:
            raise TypeError(f"{name} must be real, got dtype {x.dtype}")
    elif kind != "f":
        raise TypeError(f"{name} must hold numbers, got dtype {x.dtype}")
    elif x.dtype.itemsize < 4:
        x = xp.asarray(x, dtype=xp.float32)
    if not is_cupy_array(x) and not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    if check_finite:
        check_all_finite(x, name, xp=xp)
    return x


def check_all_finite(x: Any, name: str, *, xp: Any = None) -> None:
    """Raise ValueError naming ``name`` and the count when ``x`` holds NaN or Inf (one scan when
    all entries are finite)."""
    if xp is None:
        xp = get_namespace(x)
    if not bool(xp.all(xp.isfinite(x))):
        n_bad = int(xp.sum(~xp.isfinite(x)))
        raise ValueError(f"{name} contains {n_bad} non-finite (NaN or Inf) entries")


def check_dense_tensor(
    tensor: Any, name: str = "tensor", *, min_ndim: int = 1, allow_complex: bool = True
) -> tuple[Any, Any]:
    """A dense tensor argument: numbers, finite, at least ``min_ndim`` modes, none of them empty.

    Returns
    -------
    tensor : array (promoted as :func:`as_float_array` does)
    xp : its array-api-compat namespace
    """
    xp = get_namespace(tensor)
    tensor = as_float_array(tensor, name, allow_complex=allow_complex, xp=xp)
    xp = get_namespace(tensor)
    if tensor.ndim < min_ndim:
        raise ValueError(f"{name} must have order >= {min_ndim}, got shape {tuple(tensor.shape)}")
    if any(s == 0 for s in tensor.shape):
        raise ValueError(f"{name} has an empty mode: shape {tuple(tensor.shape)}")
    return tensor, xp


def check_allocation(
    shape: Sequence[int],
    dtype: Any,
    what: str,
    *,
    alternative: str = "",
    device: str = "cpu",
    count: int = 1,
) -> None:
    """Refuse, before allocating, ``count`` arrays of ``shape`` that cannot fit in memory.

    Parameters
    ----------
    shape, dtype
        Of the array about to be allocated.
    what : str
        Named in the message ("the dense tensor", "the Gaussian sketch").
    alternative : str
        The factored or chunked alternative to suggest.
    device : {"cpu", "gpu"}
        Host RAM, or the free memory of the current CUDA device.
    count : int
        How many such arrays the operation holds at once.

    Raises
    ------
    MemoryError
        Naming ``what``, its size in GiB, the memory available and ``alternative``; also for a
        shape whose size does not fit a 64-bit index (whatever the memory).
    TypeError, ValueError
        For a dimension that is not an int, or a negative one.

    Examples
    --------
    >>> from tensorkit.extend import check_allocation
    >>> check_allocation((10**6, 10**6), "float64", "the dense tensor")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    MemoryError: the dense tensor of shape (1000000, 1000000) needs 7450.6 GiB but ...
    """
    dims = tuple(check_int(s, f"{what}: shape[{k}]", minimum=0) for k, s in enumerate(shape))
    count = check_int(count, "count", minimum=0)
    n_bytes = np.dtype(dtype).itemsize * count
    for s in dims:
        n_bytes *= s  # Python ints: the product cannot overflow, however large
    if math.prod(dims) > np.iinfo(np.int64).max:
        raise MemoryError(
            f"{what} of shape {dims} has {math.prod(dims):.3g} entries, more than a 64-bit index can "
            f"address{'; ' + alternative if alternative else ''}"
        )
    available = _gpu_memory() if device == "gpu" else _physical_memory()
    if available is not None and n_bytes > available:
        hint = f"; {alternative}" if alternative else ""
        where = "the GPU has" if device == "gpu" else "this machine has"
        raise MemoryError(
            f"{what} of shape {dims} needs {n_bytes / 2**30:.1f} GiB but "
            f"{where} {available / 2**30:.1f} GiB{hint}"
        )


def device_of(xp: Any) -> str:
    """``"gpu"`` for the CuPy namespace, else ``"cpu"`` (for :func:`check_allocation`)."""
    import array_api_compat

    return "gpu" if array_api_compat.is_cupy_namespace(xp) else "cpu"


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gpu_memory() -> int | None:
    try:
        import cupy

        free, _total = cupy.cuda.Device().mem_info
        return int(free) + int(cupy.get_default_memory_pool().free_bytes())
    except Exception:
        return None
