"""The public extension surface: what upper layers (``operators``, ``physics``) and third-party code
use to build on tensorkit the way its own subpackages do.

Nothing here is new machinery; it is the one place where the core publishes its array helpers,
argument checks, progress bars, result record and kernel dispatch, so that no package outside
``tensorkit`` imports a private (``_name``) module (ruff's banned-api rule enforces it).

Arrays and devices
    :func:`get_namespace` (``xp``: the array-api-compat namespace of the inputs), :func:`native`
    (numpy or CuPy behind ``xp``, for calls only they have), :func:`scipy_for` (scipy or
    cupyx.scipy), :func:`array_module`, :func:`is_cupy_array`, :func:`is_numpy_namespace`,
    :func:`to_numpy`, :func:`to_device`, :func:`real_dtype_for`, :func:`complex_dtype_for`,
    :func:`check_random_state`, :func:`standard_normal`, :func:`resolve_backend`,
    :func:`thread_limits`, :func:`frobenius_norm`.
Validation (the error policy of :mod:`tensorkit._validation`)
    :func:`check_int`, :func:`check_real`, :func:`check_tol`, :func:`check_stop_tol`,
    :func:`check_bool`, :func:`check_choice`, :func:`check_dtype`, :func:`per_axis`, :func:`as_float_array`,
    :func:`check_dense_tensor`, :func:`check_allocation`, :func:`device_of`.
Long work and results
    :func:`progress_bar` (tqdm, off by default in library calls), :class:`Info`.
Kernels
    :func:`kernel_implementation`: a package's own ``_kernels/{reference,cpu,cuda}.py`` behind one
    dispatch function per kernel, exactly as ``tensorkit._kernels`` is laid out.

Examples
--------
A kernels package of an upper layer (``physics/_kernels/__init__.py``)::

    from tensorkit.extend import kernel_implementation

    def pair_potential(positions, charges, points, weights, exponents, backend):
        impl = kernel_implementation(__name__, "pair_potential", backend)
        return impl(positions, charges, points, weights, exponents)

>>> import numpy as np
>>> from tensorkit.extend import get_namespace, native, check_int
>>> native(get_namespace(np.zeros(3))) is np
True
"""

from __future__ import annotations

from ._info import Info
from ._progress import progress_bar
from ._validation import (
    FLOAT_DTYPES,
    as_float_array,
    check_allocation,
    check_bool,
    check_choice,
    check_dense_tensor,
    check_dtype,
    check_int,
    check_real,
    check_stop_tol,
    check_tol,
    device_of,
    per_axis,
)
from .backend import (
    BACKENDS,
    array_module,
    check_random_state,
    complex_dtype_for,
    frobenius_norm,
    get_namespace,
    gpu_available,
    is_cupy_array,
    is_numpy_namespace,
    kernel_implementation,
    native,
    real_dtype_for,
    resolve_backend,
    scipy_for,
    standard_normal,
    thread_limits,
    to_device,
    to_numpy,
)

__all__ = [
    "BACKENDS",
    "FLOAT_DTYPES",
    "Info",
    "array_module",
    "as_float_array",
    "check_allocation",
    "check_bool",
    "check_choice",
    "check_dense_tensor",
    "check_dtype",
    "check_int",
    "check_random_state",
    "check_real",
    "check_stop_tol",
    "check_tol",
    "complex_dtype_for",
    "device_of",
    "frobenius_norm",
    "get_namespace",
    "gpu_available",
    "is_cupy_array",
    "is_numpy_namespace",
    "kernel_implementation",
    "native",
    "per_axis",
    "progress_bar",
    "real_dtype_for",
    "resolve_backend",
    "scipy_for",
    "standard_normal",
    "thread_limits",
    "to_device",
    "to_numpy",
]
