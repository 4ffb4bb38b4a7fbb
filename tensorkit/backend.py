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
import importlib
import math
import numbers
from collections.abc import Iterator
from typing import Any

import array_api_compat
import numpy as np

__all__ = [
    "BACKENDS",
    "array_module",
    "available_backends",
    "check_random_state",
    "complex_dtype_for",
    "frobenius_norm",
    "get_namespace",
    "gpu_available",
    "is_cupy_array",
    "is_numpy_namespace",
    "kernel_implementation",
    "native",
    "real_dtype_for",
    "resolve_backend",
    "scipy_for",
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


def native(xp: Any):
    """``numpy`` or ``cupy`` behind an array-api-compat namespace ``xp``: for calls that exist only
    in numpy or CuPy (``out=``, ``einsum`` paths, ``ascontiguousarray``).

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.backend import get_namespace, native
    >>> native(get_namespace(np.ones(2))) is np
    True
    """
    if array_api_compat.is_cupy_namespace(xp):
        import cupy

        return cupy
    return np


def scipy_for(xp: Any):
    """``scipy`` or ``cupyx.scipy`` for the namespace ``xp`` (as scipy's own ``scipy_namespace_for``):
    use ``scipy_for(xp).fft``, ``.linalg``, ``.sparse``, ``.special`` (import the submodule first).

    Examples
    --------
    >>> import numpy as np, scipy
    >>> from tensorkit.backend import get_namespace, scipy_for
    >>> scipy_for(get_namespace(np.ones(2))) is scipy
    True
    """
    if array_api_compat.is_cupy_namespace(xp):
        import cupyx.scipy

        return cupyx.scipy
    import scipy

    return scipy


def is_numpy_namespace(xp: Any) -> bool:
    """True for numpy itself and array-api-compat's numpy namespace (never test ``xp is np``)."""
    return xp is np or array_api_compat.is_numpy_namespace(xp)


def real_dtype_for(dtype: Any) -> np.dtype:
    """float32/float64 for a float or complex dtype (complex64 -> float32)."""
    return np.dtype(np.finfo(np.dtype(dtype)).dtype)


def complex_dtype_for(dtype: Any) -> np.dtype:
    """complex64/complex128 matching a float or complex dtype."""
    return np.result_type(real_dtype_for(dtype), np.complex64)


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


KERNEL_MODULES = {"numpy": "reference", "numba": "cpu", "cupy": "cuda"}


def kernel_implementation(package: str, name: str, backend: str):
    """The kernel ``name`` of kernel set ``backend`` in a ``_kernels`` package laid out as the core's.

    A kernels package (``tensorkit._kernels``, ``physics._kernels``, ...) holds ``reference.py``
    (plain numpy), ``cpu.py`` (Numba) and ``cuda.py`` (numba.cuda / CuPy) with the same function
    names; its dispatch functions call this with a resolved backend name. The module is imported
    on first use, so numba.cuda loads only when the GPU or the simulator is asked for.

    Examples
    --------
    >>> from tensorkit.backend import kernel_implementation
    >>> kernel_implementation("tensorkit._kernels", "fwht", "numpy").__module__
    'tensorkit._kernels.reference'
    """
    try:
        module = KERNEL_MODULES[backend]
    except KeyError:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}") from None
    return getattr(importlib.import_module(f"{package}.{module}"), name)


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
            f"got {random_state!r} ({type(random_state).__name__})"
        )
    if random_state < 0:
        raise ValueError(f"random_state must be non-negative, got {random_state}")
    return int(random_state)


def frobenius_norm(x: Any) -> float:
    """``||x||_F`` as a Python float, without overflow or underflow for any finite ``x``.

    The fast path is the array library's own BLAS-backed norm (array-api-compat's ``vector_norm``
    is an order of magnitude slower on large numpy arrays); its squares overflow above about
    ``1e154`` and underflow below ``1e-154`` in float64, so when the result is not finite or that
    small, ``x`` is rescaled by a power of two of its largest entry first (as LAPACK's ``nrm2``).

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.backend import frobenius_norm
    >>> [frobenius_norm(np.array([3.0, 4.0]) * c) / c for c in (1e-200, 1.0, 1e200)]
    [5.0, 5.0, 5.0]
    """
    nxp = array_module(x)
    # order="K" flattens in memory order: no copy for C- or Fortran-ordered arrays
    flat = nxp.asarray(x).ravel(order="K")
    with np.errstate(over="ignore", under="ignore"):
        value = float(nxp.linalg.norm(flat))
    tiny = math.sqrt(float(np.finfo(real_dtype_for(flat.dtype)).tiny))
    if math.isfinite(value) and value >= tiny:
        return value
    largest = float(nxp.max(nxp.abs(flat))) if flat.size else 0.0
    if largest == 0.0 or not math.isfinite(largest):
        return largest  # an exact zero, or inf/nan entries
    # Scale by 2^-e (exact; in steps, since 2^-e itself overflows for subnormal data) so the
    # largest entry lies in [0.5, 1), then undo it on the (then well-scaled) norm.
    exponent = math.frexp(largest)[1]
    scaled, left = flat, -exponent
    limit = np.finfo(real_dtype_for(flat.dtype)).maxexp - 2
    while left:
        step = max(-limit, min(limit, left))
        scaled = scaled * flat.dtype.type(math.ldexp(1.0, step))
        left -= step
    try:
        return math.ldexp(float(nxp.linalg.norm(scaled)), exponent)
    except OverflowError:  # the norm itself exceeds the float range
        return float("inf")


@contextlib.contextmanager
def thread_limits(n_threads: int) -> Iterator[None]:
    """Limit BLAS and Numba threads inside the block (benchmarks, dask workers).

    Examples
    --------
    >>> from tensorkit.backend import thread_limits
    >>> with thread_limits(1):
    ...     pass
    """
    from ._validation import check_int

    n_threads = check_int(n_threads, "n_threads", minimum=1)
    import numba
    from threadpoolctl import threadpool_limits

    previous = numba.get_num_threads()
    numba.set_num_threads(min(int(n_threads), numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=int(n_threads)):
            yield
    finally:
        numba.set_num_threads(previous)
