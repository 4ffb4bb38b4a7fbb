"""Wave-equation datasets: ``u_tt = div(c^2 grad u) + f`` on the unit square by P1 finite elements."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from tensorkit.extend import (
    as_float_array,
    check_choice,
    check_dtype,
    check_int,
    check_random_state,
    check_real,
    get_namespace,
    scipy_for,
    to_device,
)

from ._fem import BOUNDARIES, WaveFEM, probe_matrix
from ._leapfrog import leapfrog

__all__ = ["SOURCES", "choose_step", "draw_sources", "ricker", "wave2d"]

SOURCES = ("pulse", "ricker")
# Random source parameters, all physical (independent of the grid): Gaussian pulse standard
# deviations from 4 to 6 cells of the 64 x 64 grid, centres far enough from the walls that the
# pulse is below 1e-2 there; Ricker peak frequencies whose shortest significant wavelength
# (1 / (2.5 f) at speed 1) still spans 6 cells at 64 x 64.
PULSE_WIDTH = (4.0 / 63.0, 6.0 / 63.0)
PULSE_CENTRE = (0.3, 0.7)
PULSE_AMPLITUDE = (0.5, 1.0)
RICKER_FREQUENCY = (2.0, 4.0)
RICKER_POSITION = (0.2, 0.8)
# A unit point load gives a peak field of ~0.6 at 64 x 64 (log-singular at the source, so it grows
# slowly with the resolution); this scale brings the data to O(1).
RICKER_AMPLITUDE = 2.0
MAX_SOURCES = 3


def wave2d(
    n_samples: int,
    resolution: int,
    *,
    n_snapshots: int,
    t_final: float,
    dt: float | None = None,
    speed: Any = 1.0,
    source: str = "pulse",
    sources: Sequence | None = None,
    initial: Any = None,
    boundary: str = "dirichlet",
    dtype: Any = np.float64,
    device: str | None = None,
    random_state: Any = None,
    progress: bool = True,
) -> tuple[Any, np.ndarray]:
    """Simulate the 2D wave equation from random or given sources; snapshots on the nodal grid.

    .. math::

        u_{tt} = \\nabla \\cdot (c^2 \\nabla u) + f \\text{ in } (0, 1)^2, \\qquad
        u = 0 \\;\\text{or}\\; \\partial_n u = -\\tfrac{1}{c} u_t \\text{ on the boundary},

    discretized by P1 triangles on the ``resolution x resolution`` grid ``x_i = i / (resolution - 1)``
    (boundary included; :class:`WaveFEM`) and stepped by explicit leapfrog with the lumped mass
    (:func:`leapfrog`). The step is ``0.9 * 2 / sqrt(lambda_max)`` (``lambda_max`` the largest
    eigenvalue of ``K phi = lambda M_L phi``) unless ``dt`` is given, and is then shortened so that
    every snapshot falls on a step and the last one exactly on ``t_final``.

    Sources, drawn per sample by :func:`draw_sources` unless given:

    - ``"pulse"``: the field starts at rest from ``u0 = sum_k a_k exp(-|x - x_k|^2 / (2 w_k^2))``
      (1 to 3 Gaussians of physical width ``w_k``, at least 4 cells at 64 x 64), ``f = 0``;
    - ``"ricker"``: the field starts at zero and point loads ``f = sum_k a_k R(t; f_k)
      delta(x - x_k)`` act, ``R`` the Ricker wavelet of peak frequency ``f_k`` (:func:`ricker`),
      loaded consistently (``F_i = phi_i(x_k)``: the nearest node when ``x_k`` is a node).

    Every random parameter is drawn independently of ``resolution``, so the same ``random_state``
    gives the same fields on any grid (up to discretization error).

    Parameters
    ----------
    n_samples : int
    resolution : int
        Nodes per side, >= 3.
    n_snapshots : int
        Saved states, >= 2, at ``t = k t_final / (n_snapshots - 1)`` (``t = 0`` included).
    t_final : float
    dt : float, optional
        Time step; refused at or above the CFL bound ``2 / sqrt(lambda_max)``.
    speed : float, callable ``c(x, y)`` or ndarray (resolution, resolution)
        Wave speed, positive everywhere (see :class:`WaveFEM`).
    source : {"pulse", "ricker"}
    sources : sequence, optional
        ``(x, y, width or frequency[, amplitude])`` tuples inside the open square, used for every
        sample, or one such sequence per sample (as :func:`draw_sources` returns).
    initial : callable, array, or a pair of them, optional
        Initial displacement ``u0(x, y)`` (or nodal values, (resolution, resolution) or
        (n_samples, resolution, resolution)), or ``(u0, v0)`` with an initial velocity. Replaces
        the sources. Dirichlet boundaries set the boundary values to zero.
    boundary : {"dirichlet", "absorbing"}
    dtype : float32 or float64
        Working and output precision.
    device : {None, "cpu", "gpu"}
        Where the time loop runs (CuPy and ``cupyx.scipy.sparse`` on the GPU).
    random_state : int, numpy.random.Generator or None
    progress : bool

    Returns
    -------
    u : array (n_samples, n_snapshots, resolution, resolution)
        ``u[s, k, i, j] = u(x_i, y_j, t_k)``.
    times : ndarray (n_snapshots,)

    Examples
    --------
    >>> from physics.wave import wave2d
    >>> u, times = wave2d(2, 16, n_snapshots=5, t_final=0.5, random_state=0, progress=False)
    >>> u.shape, times.tolist()
    ((2, 5, 16, 16), [0.0, 0.125, 0.25, 0.375, 0.5])
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    resolution = check_int(resolution, "resolution", minimum=3)
    n_snapshots = check_int(n_snapshots, "n_snapshots", minimum=2)
    t_final = check_real(t_final, "t_final", minimum=0.0, strict_minimum=True)
    source = check_choice(source, "source", SOURCES)
    check_choice(boundary, "boundary", BOUNDARIES)
    dtype = check_dtype(dtype)
    device = check_choice("cpu" if device is None else device, "device", ("cpu", "gpu"))
    shape = (resolution, resolution)
    fem = WaveFEM(shape, speed=speed, boundary=boundary)
    dt, save_every = choose_step(fem, t_final / (n_snapshots - 1), dt)
    forcing = None
    if initial is not None:
        if sources is not None:
            raise ValueError("give either initial or sources, not both")
        u0, v0 = _initial_state(initial, fem, n_samples)
    else:
        sources = (draw_sources(n_samples, source=source, random_state=random_state)
                   if sources is None else _check_sources(sources, n_samples, source))
        u0 = np.zeros((fem.n_nodes, n_samples))
        v0 = np.zeros_like(u0)
        if source == "pulse":
            _add_pulses(u0, fem, sources)
        else:
            forcing = _ricker_forcing(fem, sources, n_samples)
    u0[fem.fixed] = 0.0
    v0[fem.fixed] = 0.0
    u0 = to_device(np.ascontiguousarray(u0, dtype=dtype), device)
    v0 = to_device(np.ascontiguousarray(v0, dtype=dtype), device)
    if forcing is not None:
        forcing = forcing(u0)
    out = leapfrog(fem, u0, v0, dt, save_every * (n_snapshots - 1), save_every=save_every,
                   forcing=forcing, progress=progress)
    return out.reshape(n_samples, n_snapshots, *shape), np.linspace(0.0, t_final, n_snapshots)


def draw_sources(n_samples: int, *, source: str = "pulse", random_state: Any = None) -> list:
    """Random source parameters for :func:`wave2d`, per sample; independent of any grid.

    Each sample gets 1 to 3 sources ``(x, y, p, a)``: Gaussian pulses (``p`` the width, in
    ``[4/63, 6/63]``, centres in ``[0.3, 0.7]^2``, amplitudes ``+-[0.5, 1]``) or Ricker point
    sources (``p`` the peak frequency in ``[2, 4]``, positions in ``[0.2, 0.8]^2``, amplitude 2).

    >>> from physics.wave import draw_sources
    >>> [len(s) for s in draw_sources(4, random_state=0)]
    [3, 2, 2, 1]
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    source = check_choice(source, "source", SOURCES)
    rng = check_random_state(random_state)
    counts = rng.integers(1, MAX_SOURCES + 1, size=n_samples)
    if source == "pulse":
        positions = rng.uniform(*PULSE_CENTRE, size=(n_samples, MAX_SOURCES, 2))
        params = rng.uniform(*PULSE_WIDTH, size=(n_samples, MAX_SOURCES))
        amplitudes = rng.uniform(*PULSE_AMPLITUDE, size=(n_samples, MAX_SOURCES))
        amplitudes *= rng.choice([-1.0, 1.0], size=(n_samples, MAX_SOURCES))
    else:
        positions = rng.uniform(*RICKER_POSITION, size=(n_samples, MAX_SOURCES, 2))
        params = rng.uniform(*RICKER_FREQUENCY, size=(n_samples, MAX_SOURCES))
        amplitudes = np.full((n_samples, MAX_SOURCES), RICKER_AMPLITUDE)
    return [[(float(positions[s, k, 0]), float(positions[s, k, 1]), float(params[s, k]),
              float(amplitudes[s, k])) for k in range(counts[s])] for s in range(n_samples)]


def ricker(t: Any, frequency: Any) -> np.ndarray:
    """The Ricker wavelet of peak frequency ``f`` (> 0; ``t`` and ``f`` broadcast), delayed by
    ``t0 = 1.2 / f`` so it starts at ~0.

    .. math:: R(t) = (1 - 2 \\pi^2 f^2 (t - t_0)^2)\\, e^{-\\pi^2 f^2 (t - t_0)^2}

    >>> from physics.wave import ricker
    >>> float(ricker(1.2 / 3.0, 3.0)), abs(float(ricker(0.0, 3.0))) < 1e-4
    (1.0, True)
    """
    t = np.asarray(as_float_array(t, "t", allow_complex=False), dtype=np.float64)
    frequency = np.asarray(as_float_array(frequency, "frequency", allow_complex=False), dtype=np.float64)
    if np.any(frequency <= 0):
        raise ValueError(f"frequency must be > 0, got {float(frequency[frequency <= 0].ravel()[0])}")
    return _ricker(t, frequency)


def _ricker(t: Any, frequency: Any) -> np.ndarray:
    """:func:`ricker` without the checks, for the time loop (its frequencies are checked once)."""
    arg = (np.pi * frequency * (t - 1.2 / frequency)) ** 2
    return (1.0 - 2.0 * arg) * np.exp(-arg)


def choose_step(fem: WaveFEM, interval: float, dt: float | None) -> tuple[float, int]:
    """The step and steps per ``interval``: ``dt`` (or ``0.9`` of the CFL bound) shortened so that
    ``interval`` is a whole number of steps.

    Raises
    ------
    ValueError
        When ``dt`` is at or above the bound ``2 / sqrt(lambda_max)``.
    """
    bound = fem.cfl_bound()
    if dt is None:
        dt = 0.9 * bound
    else:
        dt = check_real(dt, "dt", minimum=0.0, strict_minimum=True)
        if dt >= bound:
            raise ValueError(f"dt={dt:.6g} violates the CFL condition: leapfrog needs dt < "
                             f"2 / sqrt(lambda_max) = {bound:.6g} on this mesh and speed")
    # the tolerance keeps an exact divisor (interval = k dt up to round-off) at k steps
    steps = max(1, math.ceil(interval / dt * (1.0 - 1e-12)))
    return interval / steps, steps


def _initial_state(initial, fem: WaveFEM, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    pair = isinstance(initial, (tuple, list)) and len(initial) == 2
    u0 = _nodal_field(initial[0] if pair else initial, "initial", fem, n_samples)
    v0 = _nodal_field(initial[1], "initial velocity", fem, n_samples) if pair else np.zeros_like(u0)
    return u0, v0


def _nodal_field(value, name: str, fem: WaveFEM, n_samples: int) -> np.ndarray:
    """A callable or nodal array as an (N, n_samples) block."""
    if callable(value):
        value = np.broadcast_to(np.asarray(value(fem.x, fem.y), dtype=np.float64), fem.shape)
    value = np.array(value, dtype=np.float64)
    if value.shape == fem.shape:
        value = np.broadcast_to(value, (n_samples, *fem.shape))
    if value.shape != (n_samples, *fem.shape):
        raise ValueError(f"{name} must be a callable u(x, y) or an array of shape {fem.shape} or "
                         f"{(n_samples, *fem.shape)}, got shape {value.shape}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name} must be finite")
    return np.array(value.reshape(n_samples, -1).T, order="C")


def _check_sources(sources, n_samples: int, source: str) -> list:
    """Normalize ``sources`` to one list of ``(x, y, p, a)`` per sample, checking every entry."""
    if not isinstance(sources, Sequence) or len(sources) == 0:
        raise TypeError(f"sources must be a non-empty sequence of (x, y, p) tuples, got {sources!r}")
    per_sample = isinstance(sources[0], Sequence) and len(sources[0]) > 0 and isinstance(
        sources[0][0], Sequence)
    if per_sample and len(sources) != n_samples:
        raise ValueError(f"sources has {len(sources)} per-sample lists for n_samples={n_samples}")
    groups = sources if per_sample else [sources] * n_samples
    label = "width" if source == "pulse" else "frequency"
    default_amplitude = 1.0 if source == "pulse" else RICKER_AMPLITUDE
    checked = []
    for s, group in enumerate(groups):
        entries = []
        for k, entry in enumerate(group):
            name = f"sources[{s}][{k}]" if per_sample else f"sources[{k}]"
            if not isinstance(entry, Sequence) or len(entry) not in (3, 4):
                raise TypeError(f"{name} must be (x, y, {label}[, amplitude]), got {entry!r}")
            x = check_real(entry[0], f"{name} x", minimum=0.0, maximum=1.0, strict_minimum=True,
                           strict_maximum=True)
            y = check_real(entry[1], f"{name} y", minimum=0.0, maximum=1.0, strict_minimum=True,
                           strict_maximum=True)
            p = check_real(entry[2], f"{name} {label}", minimum=0.0, strict_minimum=True)
            a = check_real(entry[3], f"{name} amplitude") if len(entry) == 4 else default_amplitude
            entries.append((x, y, p, a))
        checked.append(entries)
    return checked


def _add_pulses(u0: np.ndarray, fem: WaveFEM, sources: list) -> None:
    x, y = fem.x.ravel(), fem.y.ravel()
    for s, group in enumerate(sources):
        for xk, yk, width, amplitude in group:
            u0[:, s] += amplitude * np.exp(-((x - xk) ** 2 + (y - yk) ** 2) / (2.0 * width**2))


def _ricker_forcing(fem: WaveFEM, sources: list, n_samples: int):
    """A builder: given the device block ``u0``, the load ``F(t) = P^T (R(t) * W)``."""
    flat = [(s, *entry) for s, group in enumerate(sources) for entry in group]
    sample, x, y, freq, amp = (np.array(column) for column in zip(*flat, strict=True))
    loads = sp.csr_matrix(probe_matrix(fem.shape, np.column_stack([x, y])).T)
    weights = np.zeros((len(flat), n_samples))
    weights[np.arange(len(flat)), sample.astype(np.int64)] = amp

    def build(u0):
        xp = get_namespace(u0)
        p = scipy_for(xp).sparse.csr_matrix(loads.astype(u0.dtype))
        w = xp.asarray(weights, dtype=u0.dtype)
        return lambda t: p @ (xp.asarray(_ricker(t, freq), dtype=u0.dtype)[:, None] * w)

    return build
