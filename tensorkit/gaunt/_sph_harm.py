"""Real spherical harmonics in e3nn's convention (y is the polar axis, m = -l..l).

The harmonics are the textbook real spherical harmonics *without* the Condon-Shortley phase,

.. math::

    Y_{l0} = \\bar P_l^0(\\cos\\theta), \\quad
    Y_{l,m} = \\sqrt 2\\, \\bar P_l^{m}(\\cos\\theta) \\cos(m\\varphi), \\quad
    Y_{l,-m} = \\sqrt 2\\, \\bar P_l^{m}(\\cos\\theta) \\sin(m\\varphi) \\quad (m > 0),

written in a frame whose axes are e3nn's axes cycled: the polar axis is e3nn's ``y`` and the azimuth
runs from ``z`` towards ``x``, i.e. ``(X', Y', Z') = (z, x, y)``. So ``Y_{1,-1}, Y_{1,0}, Y_{1,1}``
are proportional to ``x, y, z`` and the degree-1 block of a feature is the plain 3-vector, as in e3nn.
``bar P_l^m`` are the orthonormalized associated Legendre functions,
``bar P_l^m = sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!) P_l^m``.
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat.numpy as host_xp
import numpy as np

from .._validation import as_float_array, check_choice, check_int, device_of
from ..backend import get_namespace
from ._limits import check_sph_harm

__all__ = ["NORMALIZATIONS", "real_sph_harm"]

NORMALIZATIONS = ("integral", "component", "norm")


def real_sph_harm(lmax: int, vectors: Any, *, normalization: str = "integral"):
    """Real spherical harmonics of all degrees ``0..lmax`` at the directions of ``vectors``.

    Parameters
    ----------
    lmax : int
        Largest degree, ``>= 0``.
    vectors : array of shape (..., 3)
        Non-zero finite vectors (numpy or CuPy); they are normalized internally, so only the
        direction matters, at any length from the smallest to the largest float (each vector is
        divided by its largest component before its norm is taken, as LAPACK's ``nrm2`` scales).
    normalization : {"integral", "component", "norm"}
        ``"integral"``: orthonormal on the unit sphere, :math:`\\int Y_{lm} Y_{l'm'} = \\delta\\delta`;
        ``"component"``: :math:`\\sqrt{4\\pi}` times that (each degree block has squared norm
        :math:`2l+1`); ``"norm"``: each degree block has unit norm, :math:`\\sqrt{4\\pi/(2l+1)}`
        times the integral normalization. These are e3nn's definitions.

    Returns
    -------
    array of shape (..., (lmax+1)**2)
        Degrees in order, ``m = -l..l`` inside each degree, same dtype and device as ``vectors``
        (integers are promoted to float64).

    Notes
    -----
    Identical to ``e3nn.o3.spherical_harmonics(range(lmax+1), vectors, normalize=True,
    normalization=...)`` (axes, order and signs); see the module docstring for the relation to the
    textbook z-polar convention. The associated Legendre functions come from the stable three-term
    recurrence of the orthonormalized functions, and ``sin^m(theta) e^{i m phi}`` from powers of
    ``z + i x``, so the poles need no special case.

    Raises
    ------
    ValueError
        For a negative ``lmax``, a last dimension other than 3, zero vectors, an unknown
        normalization or non-finite entries.
    MemoryError
        When the result (``n (lmax+1)^2`` numbers, about three times that while computing) cannot
        fit, before computing anything.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.gaunt import real_sph_harm
    >>> Y = real_sph_harm(1, np.array([0.0, 0.0, 2.0]), normalization="component")
    >>> np.round(Y, 6).tolist()  # degree 1 is sqrt(3) times the unit vector (x, y, z)
    [1.0, 0.0, 0.0, 1.732051]
    """
    lmax = check_int(lmax, "lmax", minimum=0)
    check_choice(normalization, "normalization", NORMALIZATIONS)
    xp = get_namespace(vectors)
    vectors = as_float_array(vectors, "vectors", allow_complex=False, xp=xp)
    if vectors.ndim == 0 or vectors.shape[-1] != 3:
        raise ValueError(f"vectors must have shape (..., 3), got shape {tuple(vectors.shape)}")
    check_sph_harm(lmax, math.prod(vectors.shape[:-1]), vectors.dtype, device_of(xp))
    # Scale by the largest component first: |v|^2 of a finite v can overflow (1e200) or
    # underflow to 0 (1e-200), while v / max|v_i| has a norm in [1, sqrt 3].
    scale = xp.max(xp.abs(vectors), axis=-1, keepdims=True)
    n_zero = int(xp.sum(scale == 0))
    if n_zero:
        raise ValueError(f"vectors contains {n_zero} zero vector(s); their direction is undefined")
    scaled = vectors / scale
    unit = scaled / xp.sqrt(xp.sum(scaled * scaled, axis=-1, keepdims=True))
    # e3nn's (x, y, z) -> textbook frame (X', Y', Z') = (z, x, y): polar axis y, azimuth from z to x.
    out = _real_sph_harm_frame(lmax, unit[..., 2], unit[..., 0], unit[..., 1], xp)
    if normalization != "integral":
        scale = np.sqrt(4 * np.pi) * np.ones((lmax + 1) ** 2)
        if normalization == "norm":
            scale /= np.sqrt(2 * degree_index(lmax) + 1.0)
        out = out * xp.asarray(scale, dtype=out.dtype)
    return out


def degree_index(lmax: int) -> np.ndarray:
    """Degree ``l`` of each of the ``(lmax+1)**2`` coefficients, in order."""
    return np.repeat(np.arange(lmax + 1), 2 * np.arange(lmax + 1) + 1)


def lmax_from_size(x: Any, name: str) -> int:
    """The degree ``L`` of a coefficient array ``x`` of shape (..., (L+1)**2), checked."""
    shape = getattr(x, "shape", None)
    if shape is None:
        shape = np.shape(x)
    if len(shape) == 0:
        raise ValueError(f"{name} must have shape (..., (lmax+1)**2), got a scalar")
    size = int(shape[-1])
    lmax = math.isqrt(size) - 1
    if size == 0 or (lmax + 1) ** 2 != size:
        raise ValueError(
            f"{name} must have last dimension (lmax+1)**2 (1, 4, 9, 16, ...), got shape {tuple(shape)}"
        )
    return lmax


def normalized_legendre(lmax: int, cos_theta: Any, xp: Any) -> dict[tuple[int, int], Any]:
    """The polynomial parts ``q_l^m(cos theta) = bar P_l^m / sin^m(theta)`` for ``0 <= m <= l <= lmax``.

    The recurrence is the standard one for orthonormalized functions (no Condon-Shortley phase);
    dividing out ``sin^m`` keeps everything a polynomial in ``cos theta``, so it also holds on the
    extended circle ``theta in [0, 2 pi)`` where ``sin theta`` changes sign.
    """
    q: dict[tuple[int, int], Any] = {}
    diag = xp.full(cos_theta.shape, 1.0 / math.sqrt(4 * math.pi), dtype=cos_theta.dtype)
    for m in range(lmax + 1):
        if m > 0:
            diag = diag * math.sqrt((2 * m + 1) / (2 * m))
        q[(m, m)] = diag
        if m + 1 <= lmax:
            q[(m + 1, m)] = math.sqrt(2 * m + 3) * cos_theta * diag
        for l in range(m + 2, lmax + 1):
            a = math.sqrt((4 * l * l - 1) / (l * l - m * m))
            b = math.sqrt(((l - 1) ** 2 - m * m) / (4 * (l - 1) ** 2 - 1))
            q[(l, m)] = a * (cos_theta * q[(l - 1, m)] - b * q[(l - 2, m)])
    return q


def legendre_by_order(lmax: int, cos_theta: np.ndarray, sin_theta: np.ndarray) -> np.ndarray:
    """``table[m + lmax, t, l] = bar P_l^{|m|}(theta_t)`` (zero for l < |m|), float64 on the host.

    ``sin_theta`` may be negative (``theta`` on the whole circle, as the Fourier route needs).
    """
    q = normalized_legendre(lmax, cos_theta, host_xp)
    table = np.zeros((2 * lmax + 1, cos_theta.size, lmax + 1))
    for m in range(-lmax, lmax + 1):
        for l in range(abs(m), lmax + 1):
            table[m + lmax, :, l] = q[(l, abs(m))] * sin_theta ** abs(m)
    return table


def gather_index(lmax: int) -> np.ndarray:
    """``idx[m + lmax, l]`` = position of coefficient (l, m) in the flat vector, or the pad slot."""
    pad = (lmax + 1) ** 2
    idx = np.full((2 * lmax + 1, lmax + 1), pad, dtype=np.intp)
    for l in range(lmax + 1):
        for m in range(-l, l + 1):
            idx[m + lmax, l] = l * l + l + m
    return idx


def to_order_degree(x: Any, idx: Any, xp: Any):
    """(*batch, K) -> (2L+1, L+1, B) by the :func:`gather_index` ``idx``, zeros where l < |m|.

    ``B = prod(batch)``; the (order, degree) layout lets one matmul per order apply a Legendre table.
    """
    k = x.shape[-1]
    flat = xp.reshape(x, (-1, k))
    padded = xp.concat([xp.matrix_transpose(flat), xp.zeros((1, flat.shape[0]), dtype=x.dtype)], axis=0)
    # the array's own reshape: a hot path, where array-api-compat's xp.reshape wrapper cost ~2 us
    return xp.take(padded, xp.reshape(idx, (-1,)), axis=0).reshape((*idx.shape, flat.shape[0]))


def _real_sph_harm_frame(lmax: int, x: Any, y: Any, z: Any, xp: Any):
    """Real harmonics of unit vectors given in the textbook frame (z polar, azimuth from x to y)."""
    q = normalized_legendre(lmax, z, xp)
    # cos_m, sin_m hold Re/Im of (x + i y)^m = sin^m(theta) e^{i m phi}.
    cos_m = [xp.ones_like(z)]
    sin_m = [xp.zeros_like(z)]
    for _ in range(lmax):
        c, s = cos_m[-1], sin_m[-1]
        cos_m.append(c * x - s * y)
        sin_m.append(s * x + c * y)
    sqrt2 = math.sqrt(2.0)
    columns = []
    for l in range(lmax + 1):
        for m in range(-l, l + 1):
            if m < 0:
                columns.append(sqrt2 * q[(l, -m)] * sin_m[-m])
            elif m == 0:
                columns.append(q[(l, 0)])
            else:
                columns.append(sqrt2 * q[(l, m)] * cos_m[m])
    return xp.stack(columns, axis=-1)
