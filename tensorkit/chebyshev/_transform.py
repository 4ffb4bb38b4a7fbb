"""Chebyshev points of the second kind and the values <-> coefficients transforms (DCT-I).

On ``m`` points ``x_j = -cos(j pi / n)``, ``n = m - 1``, ``j = 0..n`` (ascending), the interpolant
``p(x) = sum_k c_k T_k(x)`` of values ``v_j`` has coefficients

.. math:: c_k = \\frac{(-1)^k}{n} \\gamma_k \\Big[v_0 + (-1)^k v_n + 2\\sum_{j=1}^{n-1} v_j
          \\cos\\frac{\\pi j k}{n}\\Big], \\qquad \\gamma_0 = \\gamma_n = 1/2,\\ \\gamma_k = 1,

the type-I discrete cosine transform of the values (the factor ``(-1)^k`` because the points run
from -1 to 1). Both directions cost ``O(m log m)`` per fibre.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_allocation, check_int, device_of
from ..backend import get_namespace, is_numpy_namespace, scipy_for
from ._checks import check_interval, namespace_for_device

__all__ = [
    "chebyshev_points",
    "chebyshev_vandermonde",
    "coefficients_to_values",
    "values_to_coefficients",
]


def chebyshev_points(m: int, domain: Sequence[float] = (-1.0, 1.0), *, device: str | None = None) -> Any:
    """The ``m`` Chebyshev points of the second kind on ``domain = (a, b)``, ascending (float64).

    ``x_j = (a + b)/2 - (b - a)/2 cos(j pi / (m - 1))``, ``j = 0..m-1``; the single point of
    ``m = 1`` is the midpoint.

    Parameters
    ----------
    m : int >= 1
    domain : pair ``(a, b)`` with ``a < b``
    device : {None, "cpu", "gpu"}
        Where the points are returned (None is the CPU); ``"gpu"`` without a CUDA device raises
        ``RuntimeError``.

    Examples
    --------
    >>> from tensorkit.chebyshev import chebyshev_points
    >>> chebyshev_points(3).tolist()
    [-1.0, 0.0, 1.0]
    """
    m = check_int(m, "m", minimum=1)
    a, b = check_interval(domain, "domain")
    xp = namespace_for_device(device)
    # j, the sines and the result on the host (and the copy on the device)
    check_allocation((m,), np.float64, f"chebyshev_points(m={m})", count=3,
                     alternative="use fewer points, or build functions with ChebTucker, which adapts "
                     "the degree per axis")
    if device_of(xp) == "gpu":
        check_allocation((m,), np.float64, f"chebyshev_points(m={m}) on the GPU", device="gpu")
    if m == 1:
        return xp.asarray([0.5 * (a + b)], dtype=xp.float64)
    # sin form: symmetric about the midpoint and exactly 0 there (cos(pi/2) is not).
    j = np.arange(m, dtype=np.float64)
    n = m - 1
    s = np.sin(np.pi * (2.0 * j - n) / (2.0 * n))
    return xp.asarray(0.5 * (a + b) + 0.5 * (b - a) * s)


def values_to_coefficients(values: Any, axes: int | Sequence[int] | None = None) -> Any:
    """Chebyshev coefficients of the interpolant of ``values`` sampled at Chebyshev points.

    Parameters
    ----------
    values : array (numpy or CuPy), real or complex
        Samples at :func:`chebyshev_points` along each axis in ``axes``.
    axes : int, sequence of int or None
        Axes to transform (all by default).

    Returns
    -------
    array of the same shape and dtype: ``c[k]`` multiplies ``T_k`` along each transformed axis.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.chebyshev import chebyshev_points, values_to_coefficients
    >>> x = chebyshev_points(5)
    >>> (np.round(values_to_coefficients(2 * x**2 - 1), 12) + 0.0).tolist()  # T_2 (+ 0.0: no -0.0)
    [0.0, 0.0, 1.0, 0.0, 0.0]
    """
    return _transform(values, axes, forward=True)


def coefficients_to_values(coefficients: Any, axes: int | Sequence[int] | None = None) -> Any:
    """Values at the Chebyshev points of the series with ``coefficients`` (inverse transform)."""
    return _transform(coefficients, axes, forward=False)


def chebyshev_vandermonde(x: Any, m: int, *, xp: Any = None) -> Any:
    """``T_k(x_i)`` for ``k < m`` as an ``(m, len(x))`` array, rows by the three-term recurrence.

    Rows (not columns) are contiguous, so building it streams through memory and ``T.T @ V`` is a
    plain GEMM. The recurrence is also right outside ``[-1, 1]`` (extrapolation), where
    ``cos(k arccos x)`` is not. The result has the dtype and device of ``x``; ``xp`` (its
    array-api-compat namespace) saves inferring it again when the caller already holds it.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.chebyshev import chebyshev_vandermonde
    >>> chebyshev_vandermonde(np.array([0.5]), 3).ravel().tolist()  # T_0, T_1, T_2 at 0.5
    [1.0, 0.5, -0.5]
    """
    m = check_int(m, "m", minimum=1)
    if xp is None:
        xp = get_namespace(x)
    if getattr(x, "ndim", None) != 1:
        shape = getattr(x, "shape", None)
        raise ValueError(f"x must be a 1-D array, got {type(x).__name__} of shape {shape}")
    # sized as float64 (complex: twice): any array-API dtype, never an underestimate
    check_allocation((m, x.shape[0]), np.float64, f"chebyshev_vandermonde(m={m})", device=device_of(xp),
                     count=2 if xp.isdtype(x.dtype, "complex floating") else 1,
                     alternative="evaluate in batches of points or use a lower degree")
    out = xp.empty((m, x.shape[0]), dtype=x.dtype)
    out[0, ...] = 1
    if m > 1:
        out[1, ...] = x
    two_x = 2 * x
    for k in range(2, m):
        out[k, ...] = two_x * out[k - 1, ...] - out[k - 2, ...]
    return out


def _transform(x, axes, *, forward):
    name = "values" if forward else "coefficients"
    xp = get_namespace(x)
    if not hasattr(x, "ndim"):
        try:
            x = xp.asarray(x)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}") from exc
    try:
        numeric = xp.isdtype(x.dtype, ("bool", "numeric"))
    except (TypeError, ValueError):  # string or object dtypes are no array-API dtype at all
        numeric = False
    if not numeric:
        raise TypeError(f"{name} must hold numbers, got dtype {x.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one axis")
    if axes is None:
        axes = tuple(range(x.ndim))
    elif isinstance(axes, (int, np.integer)) and not isinstance(axes, (bool, np.bool_)):
        axes = (axes,)
    try:
        axes = tuple(axes)
    except TypeError:
        raise TypeError(f"axes must be an int or a sequence of ints, got {axes!r}") from None
    axes = tuple(check_int(a, "axes entry") for a in axes)
    if any(not -x.ndim <= a < x.ndim for a in axes):
        raise ValueError(f"axes {axes} are out of range for an array with {x.ndim} axes")
    axes = tuple(a % x.ndim for a in axes)
    if len(set(axes)) != len(axes):  # transforming an axis twice is not the asked transform
        raise ValueError(f"axes must not repeat an axis, got {axes}")
    for axis in axes:
        if x.shape[axis] == 0:
            raise ValueError(f"{name} has no samples along axis {axis}: shape {tuple(x.shape)}")
    if xp.isdtype(x.dtype, ("bool", "integral")):
        x = xp.asarray(x, dtype=xp.float64)
    # The sums of the DCT reach m |x|_max per axis: near the top of the dtype they overflow where
    # the true coefficients (or values) do not, so such data is transformed at an exact power-of-two
    # scale and scaled back (linearity; inf then only where the true result overflows).
    peak = float(xp.max(xp.abs(x))) if math.prod(x.shape) else 0.0
    shift = math.frexp(peak)[1] - 1 if math.isfinite(peak) and peak > math.sqrt(xp.finfo(x.dtype).max) else 0
    out = x * math.ldexp(1.0, -shift) if shift else x
    for axis in axes:
        out = _dct1_along(out, axis, forward=forward, xp=xp)
    return out * math.ldexp(1.0, shift) if shift else out


def _dct1_along(x, axis, *, forward, xp):
    m = x.shape[axis]
    if m == 1:
        return x
    n = m - 1
    shape = [1] * x.ndim
    shape[axis] = m
    # (-1)^k: the points ascend, the DCT's cosine nodes descend (T_k(-x) = (-1)^k T_k(x)).
    sign = np.where(np.arange(m) % 2 == 0, 1.0, -1.0)
    ends = np.ones(m)
    ends[0] = ends[-1] = 0.5
    if forward:
        y = _dct1(x, axis, xp)
        scale = sign * ends / n
        return y * xp.asarray(scale.reshape(shape), dtype=xp.finfo(x.dtype).dtype)
    # Inverse: v_j = sum_k c_k cos(pi j k / n) = DCT-I of (c_0, c_1/2, ..., c_{n-1}/2, c_n).
    half = np.full(m, 0.5)
    half[0] = half[-1] = 1.0
    # finfo(...).dtype is the real precision of a real or complex dtype, in any namespace
    scaled = x * xp.asarray((sign * half).reshape(shape), dtype=xp.finfo(x.dtype).dtype)
    return _dct1(scaled, axis, xp)


def _dct1(x, axis, xp):
    """Unnormalised DCT-I along ``axis`` (scipy's convention), on the device of ``x``."""
    if is_numpy_namespace(xp):
        import scipy.fft  # noqa: F401  (loads the submodule that scipy_for(xp).fft names)

        return scipy_for(xp).fft.dct(x, type=1, axis=axis)
    # cupyx.scipy.fft.dct implements types 2 and 3 only: the GPU takes the FFT route.
    return dct1_by_fft(x, axis, xp)


def dct1_by_fft(x: Any, axis: int, xp: Any) -> Any:
    """DCT-I through a real FFT of the even extension ``(x_0..x_n, x_{n-1}..x_1)``.

    Used on the GPU and tested against scipy on the CPU. Complex input is transformed as its real
    and imaginary parts (the transform is real).
    """
    if xp.isdtype(x.dtype, "complex floating"):
        return dct1_by_fft(xp.real(x), axis, xp) + 1j * dct1_by_fft(xp.imag(x), axis, xp)
    m = x.shape[axis]
    moved = xp.moveaxis(x, axis, -1)
    ext = xp.concat([moved, xp.flip(moved[..., 1 : m - 1], axis=-1)], axis=-1)
    y = xp.real(xp.fft.rfft(ext, axis=-1))
    return xp.moveaxis(xp.asarray(y, dtype=x.dtype), -1, axis)
