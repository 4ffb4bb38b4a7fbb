"""Array namespaces, devices, backend names, dtypes and randomness.

The data decides the device: an algorithm is written once against the namespace of its inputs
(``xp = get_namespace(*arrays)``), numpy arrays run on the CPU and CuPy arrays on the GPU, and results
stay where the inputs were. There is no global "current backend".

Backend names pick the *kernel set* for the few hot loops that BLAS, FFT and ufuncs cannot express:

``"numpy"``
    plain-numpy reference kernels (slow and obviously right; the oracle in tests);
``"numba"``
    Numba-compiled CPU kernels (the default for numpy arrays);
``"cupy"``
    GPU kernels for CuPy arrays (CuPy built-ins and ``numba.cuda``).
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator
from typing import Any

import array_api_compat
import numpy as np

__all__ = [
    "BACKENDS",
    "array_module",
    "available_backends",
    "check_allocation",
    "check_random_state",
    "frobenius_norm",
    "get_namespace",
    "gpu_available",
    "is_cupy_array",
    "native_namespace",
    "real_dtype_for",
    "resolve_backend",
    "standard_normal",
    "thread_limits",
    "to_device",
    "to_numpy",
]

BACKENDS = ("numpy", "numba", "cupy")


def gpu_available() -> bool:
    """Return True when CuPy is installed *and* a CUDA device can be used.

    Whether ``import cupy`` works says nothing about a device, so the device itself is asked.
    """
    try:
        import cupy
    except Exception:
        return False
    try:
        return bool(cupy.cuda.is_available())
    except Exception:
        return False


def available_backends() -> list[str]:
    """Names of the kernel sets usable on this machine, in order of preference for numpy input.

    Examples
    --------
    >>> import tensorkit
    >>> "numba" in tensorkit.available_backends()
    True
    """
    names = ["numba", "numpy"]
    if gpu_available():
        names.append("cupy")
    return names


def is_cupy_array(x: Any) -> bool:
    """True when ``x`` is a CuPy array (checked without importing CuPy)."""
    return array_api_compat.is_cupy_array(x)


def array_module(x: Any):
    """``numpy`` or ``cupy`` (the module itself, for ``out=``, ``einsum``, ``fft`` and native
    signatures) for the array ``x``."""
    if is_cupy_array(x):
        import cupy

        return cupy
    return np


def native_namespace(xp: Any):
    """``numpy`` or ``cupy`` behind an array-api-compat namespace ``xp``."""
    if array_api_compat.is_cupy_namespace(xp):
        import cupy

        return cupy
    return np


def real_dtype_for(dtype: Any) -> np.dtype:
    """float32/float64 for a float or complex dtype (complex64 -> float32)."""
    return np.dtype(np.finfo(np.dtype(dtype)).dtype)


def standard_normal(rng: Any, shape: tuple[int, ...], dtype: Any, xp: Any):
    """Standard normal draws of ``dtype`` (complex: independent real and imaginary parts) on the
    device of namespace ``xp``; drawn in the matching real precision, never upcast."""
    real = real_dtype_for(dtype)
    out = xp.asarray(rng.standard_normal(shape, dtype=real))
    if np.dtype(dtype).kind == "c":
        out = out + 1j * xp.asarray(rng.standard_normal(shape, dtype=real))
    return out


def get_namespace(*arrays: Any):
    """The array-API namespace shared by ``arrays`` (numpy or CuPy, through array-api-compat).

    Python scalars and ``None`` are ignored. Mixing numpy and CuPy arrays raises ``TypeError``:
    move one side with :func:`to_device` first.
    """
    real = [a for a in arrays if a is not None and not isinstance(a, (numbers.Number, str))]
    if not real:
        return array_api_compat.array_namespace(np.empty(0))
    kinds = {"cupy" if is_cupy_array(a) else "numpy" for a in real}
    if len(kinds) > 1:
        raise TypeError(
            "inputs mix numpy and CuPy arrays; move them to one device first with "
            "tensorkit.to_device(x, 'gpu') or tensorkit.to_numpy(x)"
        )
    real = [a if array_api_compat.is_array_api_obj(a) else np.asarray(a) for a in real]
    return array_api_compat.array_namespace(*real)


def resolve_backend(backend: str | None, *arrays: Any) -> str:
    """Kernel set to use for ``arrays``: ``backend`` checked against their device, or inferred.

    Parameters
    ----------
    backend : {"numpy", "numba", "cupy"} or None
        ``None`` picks ``"cupy"`` for CuPy arrays and ``"numba"`` for numpy arrays.
    *arrays
        The inputs whose device decides.

    Raises
    ------
    ValueError
        For an unknown name, or a name that does not match the inputs' device.
    """
    get_namespace(*arrays)  # raises on a numpy/CuPy mix
    on_gpu = any(is_cupy_array(a) for a in arrays)
    if backend is None:
        return "cupy" if on_gpu else "numba"
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None, got {backend!r}")
    if backend == "cupy" and not on_gpu:
        raise ValueError(
            "backend='cupy' needs CuPy arrays; move the inputs with tensorkit.to_device(x, 'gpu')"
        )
    if backend != "cupy" and on_gpu:
        raise ValueError(
            f"backend={backend!r} runs on the CPU but the inputs are CuPy arrays; use "
            "backend='cupy' or move them with tensorkit.to_numpy(x)"
        )
    return backend


def to_numpy(x: Any) -> np.ndarray:
    """Return ``x`` as a numpy array (copying from the GPU when ``x`` is a CuPy array)."""
    if is_cupy_array(x):
        return x.get()
    return np.asarray(x)


def to_device(x: Any, device: str) -> Any:
    """Move an array to ``device`` (``"cpu"`` or ``"gpu"``).

    Raises
    ------
    ValueError
        For another device name.
    RuntimeError
        When ``"gpu"`` is asked for and no CUDA device is usable.
    """
    if device == "cpu":
        return to_numpy(x)
    if device == "gpu":
        if not gpu_available():
            raise RuntimeError("no CUDA device is available (cupy.cuda.is_available() is False)")
        import cupy

        return cupy.asarray(x)
    raise ValueError(f"device must be 'cpu' or 'gpu', got {device!r}")


def check_random_state(random_state: Any, xp: Any = None):
    """A random generator on the device of namespace ``xp`` (numpy when None).

    Parameters
    ----------
    random_state : int, numpy.random.Generator, cupy.random.Generator or None
        An int seeds a fresh generator; a generator is used as is; None draws fresh entropy.
    xp : namespace, optional
        Where the draws should land. For CuPy a ``cupy.random.Generator`` is returned.
    """
    on_gpu = xp is not None and array_api_compat.is_cupy_namespace(xp)
    if on_gpu:
        import cupy

        if isinstance(random_state, cupy.random.Generator):
            return random_state
        if isinstance(random_state, np.random.Generator):
            seed = int(random_state.integers(0, 2**63 - 1))
            return cupy.random.default_rng(seed)
        return cupy.random.default_rng(_check_seed(random_state))
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(_check_seed(random_state))


def _check_seed(random_state: Any) -> int | None:
    if random_state is None:
        return None
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(
        random_state, (numbers.Integral, np.integer)
    ):
        raise TypeError(
            "random_state must be an int, a numpy.random.Generator or None, "
            f"got {type(random_state).__name__}"
        )
    if random_state < 0:
        raise ValueError(f"random_state must be non-negative, got {random_state}")
    return int(random_state)


def as_float_array(x: Any, name: str, *, allow_complex: bool = True, xp: Any = None):
    """Validate an array argument once at a public entry point.

    Integer and boolean arrays are promoted to float64; float32, float64 (and complex, when
    allowed) keep their dtype. Non-finite entries raise ``ValueError`` naming ``name``.
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
    if not bool(xp.all(xp.isfinite(x))):
        n_bad = int(xp.sum(~xp.isfinite(x)))
        raise ValueError(f"{name} contains {n_bad} non-finite (NaN or Inf) entries")
    return x


def frobenius_norm(x: Any) -> float:
    """``||x||_F`` as a Python float, through the array library's own BLAS-backed norm.

    (array-api-compat's ``vector_norm`` is an order of magnitude slower on large numpy arrays.)
    """
    # order="K" flattens in memory order: no copy for C- or Fortran-ordered arrays
    if is_cupy_array(x):
        import cupy

        return float(cupy.linalg.norm(x.ravel(order="K")))
    return float(np.linalg.norm(np.asarray(x).ravel(order="K")))


def check_allocation(shape: tuple[int, ...], dtype: Any, what: str, *, alternative: str = "") -> None:
    """Refuse, before allocating, an array that cannot fit in this machine's memory.

    Raises
    ------
    MemoryError
        Naming ``what``, its size in GiB, the memory available and ``alternative``.
    """
    n_bytes = np.dtype(dtype).itemsize
    for s in shape:
        n_bytes *= int(s)
    available = _physical_memory()
    if available is not None and n_bytes > available:
        hint = f"; {alternative}" if alternative else ""
        raise MemoryError(
            f"{what} of shape {tuple(int(s) for s in shape)} needs {n_bytes / 2**30:.1f} GiB but "
            f"this machine has {available / 2**30:.1f} GiB{hint}"
        )


def _physical_memory() -> int | None:
    try:
        import os

        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


@contextlib.contextmanager
def thread_limits(n_threads: int) -> Iterator[None]:
    """Limit BLAS and Numba threads inside the block (benchmarks, dask workers).

    Examples
    --------
    >>> from tensorkit.backend import thread_limits
    >>> with thread_limits(1):
    ...     pass
    """
    if not isinstance(n_threads, numbers.Integral) or n_threads < 1:
        raise ValueError(f"n_threads must be a positive int, got {n_threads!r}")
    import numba
    from threadpoolctl import threadpool_limits

    previous = numba.get_num_threads()
    numba.set_num_threads(min(int(n_threads), numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=int(n_threads)):
            yield
    finally:
        numba.set_num_threads(previous)
