"""Argument checks of the Chebyshev layer: intervals and boxes, devices, scattered points, axes.

Generic checks (ints, tolerances, dtypes, memory) come from :mod:`tensorkit._validation`; what is
here knows about functions on a box: a domain is a pair ``(a, b)`` or one pair per axis, points
are ``(M, d)`` coordinates inside it, and axes index its variables.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .._validation import as_float_array, check_choice, check_int
from ..backend import get_namespace, to_device

__all__ = [
    "check_axes",
    "check_coefficients",
    "check_domain",
    "check_interval",
    "check_points",
    "namespace_for_device",
    "to_reference",
]

DEVICES = (None, "cpu", "gpu")


def check_domain(domain: Any, ndim: int | None) -> tuple[tuple[float, float], ...]:
    """Validate a box: a pair ``(a, b)`` (a cube of ``ndim`` axes, 3 when None) or a pair per axis.

    Examples
    --------
    >>> from tensorkit.chebyshev import check_domain
    >>> check_domain((0, 1), 2)
    ((0.0, 1.0), (0.0, 1.0))
    >>> check_domain([(0, 1), (-1, 2)], None)
    ((0.0, 1.0), (-1.0, 2.0))
    """
    try:
        items = list(domain)
    except TypeError:
        raise ValueError(f"domain must be a pair (a, b) or a sequence of pairs, got {domain!r}") from None
    if len(items) == 2 and all(isinstance(v, numbers.Real) for v in items):
        box = (check_interval(items, "domain"),) * (3 if ndim is None else ndim)
    else:
        box = tuple(check_interval(item, f"domain[{k}]") for k, item in enumerate(items))
    if not box:
        raise ValueError("domain must have at least one axis")
    if ndim is not None and len(box) != ndim:
        raise ValueError(f"domain has {len(box)} axes but {ndim} are needed")
    return box


def check_coefficients(coefficients: Any) -> Any:
    """A Tucker tensor of Chebyshev coefficients with a row per mode and finite entries (a NaN or
    Inf coefficient makes every value NaN or Inf)."""
    for k, m in enumerate(coefficients.shape):
        if m < 1:
            raise ValueError(f"factors[{k}] must have at least one coefficient row, got shape "
                             f"{tuple(coefficients.factors[k].shape)}")
    xp = get_namespace(coefficients.core)
    for name, a in [("core", coefficients.core)] + [(f"factors[{k}]", f) for k, f in
                                                     enumerate(coefficients.factors)]:
        if not bool(xp.all(xp.isfinite(a))):
            raise ValueError(f"{name} has non-finite (NaN or Inf) coefficients")
    return coefficients


def check_interval(interval: Any, name: str) -> tuple[float, float]:
    """A finite interval ``(a, b)`` with ``a < b``, or ValueError naming ``name`` (TypeError for a
    bool bound: ``True`` is not the number 1)."""
    try:
        bounds = list(interval)
    except TypeError:
        raise ValueError(f"{name} must be a pair (a, b) of numbers, got {interval!r}") from None
    if any(isinstance(v, (bool, np.bool_)) for v in bounds):
        raise TypeError(f"{name} must be a pair (a, b) of numbers, got {interval!r} (a bool bound)")
    try:
        a, b = (float(v) for v in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (a, b) of numbers, got {interval!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"{name} must be finite, got {(a, b)}")
    if not a < b:
        raise ValueError(f"{name} must satisfy a < b (neither degenerate nor inverted), got {(a, b)}")
    return a, b


def namespace_for_device(device: str | None) -> Any:
    """The array-api-compat namespace of ``device`` (None is the CPU).

    Raises ``ValueError`` for an unknown name and ``RuntimeError`` for ``"gpu"`` without a usable
    CUDA device.
    """
    check_choice(device, "device", DEVICES)
    return get_namespace(to_device(np.empty(0), device or "cpu"))


def check_points(points: Any, d: int, xp: Any) -> Any:
    """Scattered points of a function of ``d`` variables: a finite real ``(M, d)`` array on the
    device of ``xp`` (a list becomes an array there)."""
    if not hasattr(points, "shape"):
        points = xp.asarray(np.asarray(points))
    get_namespace(points, xp.empty(0))  # TypeError when points and format sit on different devices
    points = as_float_array(points, "points", allow_complex=False, xp=xp)
    if points.ndim != 2 or points.shape[1] != d:
        raise ValueError(f"points must have shape (M, {d}), got {tuple(points.shape)}")
    return points


def check_axes(axes: Any, ndim: int) -> list[int]:
    """Distinct axes of a function of ``ndim`` variables (all when None), negatives wrapped."""
    if axes is None:
        return list(range(ndim))
    if isinstance(axes, (numbers.Integral, np.integer)) and not isinstance(axes, bool):
        axes = [axes]
    out = []
    for a in axes:
        a = check_int(a, "axis")
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a!r} is out of range for a function of {ndim} variables")
        out.append(a % ndim)
    if len(set(out)) != len(out) or not out:
        raise ValueError(f"axes must be distinct and non-empty, got {axes!r}")
    return out


def to_reference(x: Any, interval: tuple[float, float], k: int, *, extrapolate: bool, name: str,
                 xp: Any) -> Any:
    """Map coordinates along axis ``k`` from ``interval`` to ``[-1, 1]``; points outside raise
    ``ValueError`` unless ``extrapolate`` (a few ulps of slack absorb the rounding of the map)."""
    a, b = interval
    t = (2 * x - (a + b)) / (b - a)
    if extrapolate:
        return t
    slack = 100 * float(np.finfo(t.dtype).eps)
    outside = xp.abs(t) > 1 + slack
    if bool(xp.any(outside)):
        count = int(xp.sum(outside))
        first = float(x[xp.argmax(outside)])
        raise ValueError(
            f"{name}: {count} coordinate(s) along axis {k} lie outside the domain [{a}, {b}] "
            f"(e.g. {first}); pass extrapolate=True to evaluate the polynomial there"
        )
    return xp.clip(t, -1, 1)
