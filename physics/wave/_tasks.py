"""The two surrogate tasks on wave data: forecasting the next snapshot from the last ``k``
(:func:`forecast_windows`, :func:`rollout`) and reading a zone's boundary trace or field out of a
predicted space-time field (:class:`ZoneReadout`, for the boundary generator)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkit.extend import check_choice, check_int, get_namespace, native
from tensorkit.nn import Module

from ._submodel import Submodel

__all__ = ["ZoneReadout", "forecast_windows", "rollout"]


def forecast_windows(u: Any, history: int, *, dims: str = "2d") -> tuple[Any, Any]:
    """Training pairs for next-snapshot forecasting from every window of ``history`` snapshots.

    Parameters
    ----------
    u : array (n_samples, n_snapshots, H, W)
        As :func:`wave2d` returns.
    history : int
        ``k``: snapshots in, ``1 <= k < n_snapshots``.
    dims : {"2d", "3d"}
        ``"2d"``: ``x[n] = u[s, t-k:t]`` as channels ``(N, k, H, W)``, ``y[n] = u[s, t]`` ``(N, 1, H, W)``.
        ``"3d"``: ``x[n] = u[s, t-k:t]`` as one channel over time ``(N, 1, k, H, W)`` and ``y[n] =
        u[s, t-k+1:t+1]`` (each frame's successor, of which the last is the forecast).

    Returns
    -------
    x, y : arrays
        ``N = n_samples (n_snapshots - k)`` pairs, sample-major.

    Examples
    --------
    >>> import numpy as np
    >>> from physics.wave import forecast_windows
    >>> u = np.arange(2 * 5 * 4 * 4.0).reshape(2, 5, 4, 4)
    >>> x, y = forecast_windows(u, 3)
    >>> x.shape, y.shape, bool((y[1, 0] == u[0, 4]).all())
    ((4, 3, 4, 4), (4, 1, 4, 4), True)
    """
    u, xp = _check_snapshots(u, "u")
    check_choice(dims, "dims", ("2d", "3d"))
    k = check_int(history, "history", minimum=1, maximum=u.shape[1] - 1)
    n_windows = u.shape[1] - k
    x = xp.stack([u[:, t: t + k] for t in range(n_windows)], axis=1).reshape(-1, k, *u.shape[2:])
    if dims == "2d":
        y = u[:, k:].reshape(-1, 1, *u.shape[2:])
        return x, y
    y = xp.stack([u[:, t + 1: t + k + 1] for t in range(n_windows)], axis=1).reshape(-1, k, *u.shape[2:])
    return x[:, None], y[:, None]


def rollout(model: Module, history: Any, n_steps: int, *, batch_size: int | None = None) -> Any:
    """Autoregressive forecast: predict the next snapshot, append it, drop the oldest, repeat.

    Parameters
    ----------
    model : Module
        A forecaster trained on :func:`forecast_windows` pairs: ``(B, k, H, W) -> (B, 1, H, W)``
        (2D), or ``(B, 1, k, H, W) -> (B, 1, k, H, W)`` whose last frame is the forecast (3D; a
        :class:`WaveCNN` tells which by its ``dims``, any other model is taken as 2D).
    history : array (n_samples, k, H, W)
        The last ``k`` known snapshots.
    n_steps : int
    batch_size : int, optional
        Samples per forward (default all).

    Returns
    -------
    array (n_samples, n_steps, H, W)
        The forecasts, in the model's dtype.
    """
    if not isinstance(model, Module):
        raise TypeError(f"model must be a tensorkit.nn.Module, got {type(model).__name__}")
    history, xp = _check_snapshots(history, "history")
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    n = history.shape[0]
    batch_size = n if batch_size is None else check_int(batch_size, "batch_size", minimum=1)
    space_time = getattr(model, "dims", "2d") == "3d"
    was_training = model.training
    model.eval()
    try:
        outs = []
        for start in range(0, n, batch_size):
            window = model._as_input(history[start: start + batch_size])
            steps = []
            for _ in range(n_steps):
                nxt = model.forward(window[:, None])[:, 0, -1:] if space_time else model.forward(window)
                steps.append(nxt)
                window = xp.concat((window[:, 1:], nxt), axis=1)
            outs.append(xp.concat(steps, axis=1))
        return xp.concat(outs, axis=0)
    finally:
        model.train(was_training)


class ZoneReadout(Module):
    """The nodes of a zone of interest read out of fields on the unit-square grid (no parameters).

    Maps ``(batch, T, R, R)`` to the boundary trace ``(batch, T, n_boundary)`` ordered as
    :attr:`Submodel.boundary_points` (``part="boundary"``), or to the zone's nodal field
    ``(batch, T, nx, ny)`` (``part="zone"``). The zone's nodes are grid nodes, so this is a
    gather; its adjoint scatters the gradient back.

    Parameters
    ----------
    zone : ((x0, x1), (y0, y1))
        As :class:`Submodel` (corners on the grid).
    resolution : int
        ``R``.
    part : {"boundary", "zone"}
    dtype
        See :class:`tensorkit.nn.Module`.

    Examples
    --------
    >>> import numpy as np
    >>> from physics.wave import ZoneReadout, boundary_trace
    >>> zone = ((0.25, 0.75), (0.5, 1.0))
    >>> u = np.random.default_rng(0).standard_normal((2, 3, 9, 9))
    >>> trace = ZoneReadout(zone, 9)(u)
    >>> trace.shape, bool(np.allclose(trace, boundary_trace(u, np.arange(3.0), zone, 9)))
    ((2, 3, 16), True)
    """

    def __init__(self, zone: Any, resolution: int, *, part: str = "boundary", dtype: Any = np.float32):
        super().__init__(dtype=dtype)
        self.part = check_choice(part, "part", ("boundary", "zone"))
        sub = Submodel(zone, resolution)
        self.resolution, self.zone_shape = resolution, sub.shape
        if self.part == "boundary":
            points = sub.boundary_points
        else:
            points = np.column_stack([sub.fem.x.ravel(), sub.fem.y.ravel()])
        ij = np.rint(points * (resolution - 1)).astype(np.int64)
        self.index = ij[:, 0] * resolution + ij[:, 1]
        self._lead = None

    def forward(self, x):
        x = self._as_input(x)
        r = self.resolution
        if x.ndim != 4 or x.shape[2:] != (r, r):
            raise ValueError(f"ZoneReadout expects fields of shape (batch, T, {r}, {r}), "
                             f"got {tuple(x.shape)}")
        self._lead = x.shape[:2]
        index = native(get_namespace(x)).asarray(self.index)
        out = x.reshape(*self._lead, r * r)[:, :, index]
        return out if self.part == "boundary" else out.reshape(*self._lead, *self.zone_shape)

    def backward(self, grad_out):
        if self._lead is None:
            raise RuntimeError("ZoneReadout.backward called before forward")
        nxp = native(get_namespace(grad_out))
        r = self.resolution
        g = nxp.zeros((*self._lead, r * r), dtype=self.dtype)
        g[:, :, nxp.asarray(self.index)] = grad_out.reshape(*self._lead, -1)
        return g.reshape(*self._lead, r, r)


def _check_snapshots(u: Any, name: str) -> tuple[Any, Any]:
    if not hasattr(u, "ndim") or not hasattr(u, "dtype"):
        raise TypeError(f"{name} must be a numpy or CuPy array, got {type(u).__name__}")
    if u.ndim != 4 or u.shape[2] < 1 or u.shape[3] < 1:
        raise ValueError(f"{name} must have shape (n_samples, n_snapshots, H, W), got {tuple(u.shape)}")
    if u.dtype.kind != "f":
        raise TypeError(f"{name} must be a float array, got dtype {u.dtype}")
    return u, get_namespace(u)
