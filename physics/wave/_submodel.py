"""A finite-element submodel of a zone of interest, driven by Dirichlet data on the zone's boundary.

The pipeline of Boukraichi et al. (arXiv 2304.04964): a surrogate forecasts the field on the
boundary of a sub-rectangle over time, and the same finite-element solver run on the sub-rectangle
alone, with those values imposed, enforces the physics inside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.interpolate import CubicSpline

from tensorkit.extend import check_int, check_real, get_namespace, native, to_numpy

from ._fem import WaveFEM, probe_matrix
from ._leapfrog import leapfrog
from ._simulate import _initial_state, choose_step

__all__ = ["Submodel", "boundary_trace"]


class Submodel:
    """The P1 wave solver on ``zone``, with the field prescribed on the zone's boundary.

    .. math::

        u_{tt} = \\nabla \\cdot (c^2 \\nabla u) \\text{ in } Z, \\qquad u = g(t) \\text{ on } \\partial Z,

    on ``Z = (x0, x1) x (y0, y1)`` meshed exactly as :func:`wave2d` meshes the unit square with
    ``mesh_resolution`` nodes per side: the zone's corners must be nodes of that grid. Fed the
    trace of a full simulation on the same grid at every time step, it reproduces the full solution
    inside the zone to round-off (the interior equations are the same); fed coarser snapshots, it
    interpolates them in time by cubic splines.

    Parameters
    ----------
    zone : ((x0, x1), (y0, y1))
        Inside the unit square, corners on the grid ``k / (mesh_resolution - 1)``, at least
        3 nodes per side.
    mesh_resolution : int
        Nodes per side of the unit-square grid the zone is cut from.
    speed : float, callable ``c(x, y)`` (global coordinates) or ndarray ``shape``
        Wave speed in the zone, positive.

    Attributes
    ----------
    shape : (int, int)
        Nodes per side of the zone.
    fem : WaveFEM
        The zone's matrices (Dirichlet: the boundary nodes are prescribed).
    boundary_points : ndarray (n_boundary, 2)
        Coordinates of the boundary nodes, in the order of a trace's last axis.

    Examples
    --------
    >>> from physics.wave import Submodel, boundary_trace, wave2d
    >>> u, times = wave2d(1, 17, n_snapshots=9, t_final=0.5, random_state=0, progress=False)
    >>> zone = ((0.25, 0.75), (0.5, 1.0))
    >>> sub = Submodel(zone, 17)
    >>> trace = boundary_trace(u, times, zone, 17)
    >>> inside = sub.run(trace, times, initial=sub.sample(u[:, 0]))
    >>> inside.shape, bool(abs(inside - sub.sample(u)).max() < 0.05 * abs(u).max())
    ((1, 9, 9, 9), True)
    """

    def __init__(self, zone: Any, mesh_resolution: int, *, speed: Any = 1.0):
        self.zone, self.shape = _check_zone(zone, mesh_resolution)
        self.mesh_resolution = mesh_resolution
        self.fem = WaveFEM(self.shape, zone=self.zone, speed=speed, boundary="dirichlet")
        self.boundary_points = _boundary_points(self.zone, self.shape)

    @property
    def n_boundary(self) -> int:
        """Number of boundary nodes (the length of a trace's last axis)."""
        return self.boundary_points.shape[0]

    def run(self, trace: Any, times: Any, *, initial: Any = None, dt: float | None = None,
            progress: bool = False) -> Any:
        """Solve in the zone with ``u = trace`` on its boundary; return the field at ``times``.

        Parameters
        ----------
        trace : array (n_samples, n_times, n_boundary)
            Boundary values at ``times`` (as :func:`boundary_trace` returns); its dtype is the
            working precision and its device (numpy or CuPy) where the loop runs.
        times : array (n_times,)
            Equally spaced, increasing, n_times >= 2.
        initial : callable, array, or a pair of them, optional
            Displacement (and velocity) in the zone at ``times[0]``, as ``wave2d``'s ``initial``
            on the zone's grid (``shape``); by default at rest and zero (the boundary values come
            from the trace in any case).
        dt : float, optional
            Time step (below the zone's CFL bound); by default 0.9 of the bound, shortened so that
            the snapshot interval is a whole number of steps.
        progress : bool

        Returns
        -------
        array (n_samples, n_times, nx, ny)
            The zone's field, its boundary equal to ``trace``.
        """
        xp = get_namespace(trace)
        nxp = native(xp)
        values = to_numpy(trace)
        if values.ndim != 3 or values.shape[1:] != (values.shape[1], self.n_boundary):
            raise ValueError(f"trace must have shape (n_samples, n_times, {self.n_boundary}), got "
                             f"{values.shape}")
        if values.dtype.kind != "f" or not np.all(np.isfinite(values)):
            raise ValueError("trace must be a finite float array")
        times = _check_times(times, values.shape[1])
        n_samples = values.shape[0]
        dt, substeps = choose_step(self.fem, float(times[1] - times[0]), dt)
        if substeps == 1:
            def boundary(step):
                return xp.asarray(values[:, step, :].T)
        else:
            spline = CubicSpline(times, values, axis=1)

            def boundary(step):
                return xp.asarray(spline(times[0] + step * dt).T.astype(values.dtype))
        u0, v0 = _initial_state(np.zeros(self.shape) if initial is None else initial, self.fem,
                                n_samples)
        u0 = nxp.asarray(u0, dtype=values.dtype)
        v0 = nxp.asarray(v0, dtype=values.dtype)
        out = leapfrog(self.fem, u0, v0, dt, substeps * (len(times) - 1), save_every=substeps,
                       fixed_values=boundary, progress=progress)
        return out.reshape(n_samples, len(times), *self.shape)

    def sample(self, fields: Any) -> np.ndarray:
        """Values at the zone's nodes of P1 fields ``(..., R, R)`` on the unit-square grid of ``R``
        nodes per side (exact evaluation of the finite-element function; ``R`` need not be
        ``mesh_resolution``)."""
        return _evaluate(fields, self.fem.x.ravel(), self.fem.y.ravel(), "fields").reshape(
            *np.shape(fields)[:-2], *self.shape)


def boundary_trace(u: Any, times: Any, zone: Any, resolution: int) -> np.ndarray:
    """The Dirichlet data of a :class:`Submodel` ``(zone, resolution)`` from a full simulation.

    Evaluates the P1 field of each snapshot of ``u`` exactly at the zone's boundary nodes.

    Parameters
    ----------
    u : array (n_samples, n_times, R, R)
        Snapshots on the unit-square grid (as :func:`wave2d` returns).
    times : array (n_times,)
        Their times (checked: equally spaced and increasing).
    zone : ((x0, x1), (y0, y1))
    resolution : int
        The submodel's ``mesh_resolution``.

    Returns
    -------
    ndarray (n_samples, n_times, n_boundary)
        Ordered as :attr:`Submodel.boundary_points`.
    """
    zone, shape = _check_zone(zone, resolution)
    if np.ndim(u) != 4:
        raise ValueError(f"u must have shape (n_samples, n_times, R, R), got {np.shape(u)}")
    _check_times(times, np.shape(u)[1])
    points = _boundary_points(zone, shape)
    return _evaluate(u, points[:, 0], points[:, 1], "u")


def _evaluate(fields: Any, x: np.ndarray, y: np.ndarray, name: str) -> np.ndarray:
    fields = to_numpy(fields)
    if fields.ndim < 2 or fields.shape[-1] != fields.shape[-2] or fields.shape[-1] < 2:
        raise ValueError(f"{name} must end with a square grid (R, R), got shape {fields.shape}")
    r = fields.shape[-1]
    probes = probe_matrix((r, r), np.column_stack([x, y]))
    flat = fields.reshape(-1, r * r)
    return (probes @ flat.T).T.reshape(*fields.shape[:-2], len(x)).astype(fields.dtype, copy=False)


def _check_zone(zone: Any, resolution: Any) -> tuple[tuple, tuple[int, int]]:
    """The zone as floats and its nodes per side; it must sit inside the unit square on the grid."""
    resolution = check_int(resolution, "mesh_resolution", minimum=3)
    try:
        (x0, x1), (y0, y1) = zone
    except (TypeError, ValueError):
        raise TypeError(f"zone must be ((x0, x1), (y0, y1)), got {zone!r}") from None
    bounds = [check_real(v, f"zone {n}") for v, n in zip((x0, x1, y0, y1), ("x0", "x1", "y0", "y1"),
                                                          strict=True)]
    x0, x1, y0, y1 = bounds
    if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
        raise ValueError(f"zone must lie inside the unit square with x0 < x1 and y0 < y1, got {zone!r}")
    cells = np.array(bounds) * (resolution - 1)
    if np.max(np.abs(cells - np.rint(cells))) > 1e-9 * resolution:
        raise ValueError(f"zone {zone!r} does not align with the grid of mesh_resolution={resolution} "
                         f"nodes per side: its corners must be multiples of 1/{resolution - 1}")
    shape = (int(np.rint(cells[1] - cells[0])) + 1, int(np.rint(cells[3] - cells[2])) + 1)
    if min(shape) < 3:
        raise ValueError(f"zone {zone!r} spans {shape} nodes at mesh_resolution={resolution}; it needs "
                         "at least 3 per side (one interior node)")
    return ((x0, x1), (y0, y1)), shape


def _boundary_points(zone, shape) -> np.ndarray:
    (x0, x1), (y0, y1) = zone
    x, y = np.meshgrid(np.linspace(x0, x1, shape[0]), np.linspace(y0, y1, shape[1]), indexing="ij")
    edge = np.zeros(shape, dtype=bool)
    edge[[0, -1], :] = True
    edge[:, [0, -1]] = True
    return np.column_stack([x[edge], y[edge]])


def _check_times(times: Any, n_times: int) -> np.ndarray:
    times = np.asarray(to_numpy(times), dtype=np.float64)
    if times.shape != (n_times,) or n_times < 2:
        raise ValueError(f"times must have shape ({n_times},) with at least 2 entries, got {times.shape}")
    steps = np.diff(times)
    if not np.all(np.isfinite(times)) or steps.min() <= 0 or np.ptp(steps) > 1e-9 * steps.max():
        raise ValueError("times must be finite, increasing and equally spaced")
    return times
