"""Measurements at continuous coordinates: :class:`ContinuousObservations`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_float_array, check_real
from ..backend import check_random_state, get_namespace, native, to_numpy

__all__ = ["ContinuousObservations"]

# The authors scale every coordinate mode to [0, 10]; lengthscales are converted to that unit.
SCALE = 10.0


class ContinuousObservations:
    r"""Values ``y_n`` measured at continuous coordinates ``x_n = (x_{n1}, ..., x_{nK})``.

    Each mode's coordinates are mapped affinely onto ``[0, 10]`` (the unit of the functional
    Tucker model's state-space priors, as in the authors' code),
    ``z_{nk} = 10 (x_{nk} - lo_k) / (hi_k - lo_k)``, and their sorted distinct values are kept with
    the index of each observation's value among them (``inverse``), so that the Kalman recursions
    run over distinct coordinates only.

    Parameters
    ----------
    coords : array (N, K)
        Real coordinates (numpy or CuPy; ``values`` decides the device). A 1-D array is one mode.
    values : array (N,)
        Real measurements.

    Attributes
    ----------
    coords, values : arrays (N, K), (N,)
    lows, highs : tuple of float
        Per-mode coordinate range (the normalization).
    unique : list of K arrays
        Sorted distinct normalized coordinates of each mode.
    inverse : int64 array (N, K)
        ``unique[k][inverse[n, k]] == z_{nk}``.

    Raises
    ------
    TypeError
        Non-numeric or complex arrays.
    ValueError
        Mismatched shapes, no observations, non-finite coordinates or values, a mode whose
        coordinates take a single value.

    Examples
    --------
    >>> from tensorkit.functional import ContinuousObservations
    >>> obs = ContinuousObservations([[0.0, 5.0], [1.0, 5.0], [0.5, 7.0]], [1.0, 2.0, 3.0])
    >>> obs.n_modes, obs.n_obs, [u.tolist() for u in obs.unique]
    (2, 3, [[0.0, 5.0, 10.0], [0.0, 10.0]])
    >>> ContinuousObservations([[0.0, 5.0], [1.0, 5.0]], [1.0, 2.0])
    Traceback (most recent call last):
        ...
    ValueError: mode 1 has a single distinct coordinate (5.0); a functional model needs two or more
    """

    def __init__(self, coords: Any, values: Any):
        values = as_float_array(values, "values", allow_complex=False)
        xp = get_namespace(values)
        nxp = native(xp)
        if values.ndim != 1 or values.shape[0] == 0:
            raise ValueError(f"values must be a non-empty 1-D array, got shape {values.shape}")
        coords = nxp.asarray(coords if hasattr(coords, "dtype") else np.asarray(coords))
        coords = as_float_array(coords, "coords", allow_complex=False, xp=xp)
        if coords.ndim == 1:
            coords = coords[:, None]
        if coords.ndim != 2 or coords.shape[0] != values.shape[0]:
            raise ValueError(f"coords must have shape (N, K) with N = {values.shape[0]} (the values), "
                             f"got {coords.shape}")
        self.coords = nxp.asarray(coords, dtype=nxp.float64)
        self.values = nxp.asarray(values, dtype=nxp.float64)
        self._build(nxp, name="")

    def _build(self, nxp, *, name: str) -> None:
        lows = to_numpy(self.coords.min(axis=0))
        highs = to_numpy(self.coords.max(axis=0))
        for k, (lo, hi) in enumerate(zip(lows, highs, strict=True)):
            if hi <= lo:
                raise ValueError(f"mode {k}{name} has a single distinct coordinate ({lo}); a functional "
                                 "model needs two or more")
        self.lows = tuple(float(v) for v in lows)
        self.highs = tuple(float(v) for v in highs)
        z = self.normalize(self.coords)
        self.unique, inverse = [], []
        for k in range(self.n_modes):
            u, inv = nxp.unique(z[:, k], return_inverse=True)
            self.unique.append(u)
            inverse.append(inv.reshape(-1))
        self.inverse = nxp.stack(inverse, axis=1).astype(nxp.int64)

    @property
    def n_modes(self) -> int:
        """Number of coordinate modes ``K``."""
        return self.coords.shape[1]

    @property
    def n_obs(self) -> int:
        """Number of observations ``N``."""
        return self.values.shape[0]

    def normalize(self, coords: Any) -> Any:
        """``coords`` (M, K) in this object's normalized units (``[0, 10]`` on its own range)."""
        nxp = native(get_namespace(self.values))
        lo = nxp.asarray(self.lows)
        return (coords - lo) * (SCALE / (nxp.asarray(self.highs) - lo))

    def split(self, fractions: Any, *, random_state: Any = None) -> tuple[ContinuousObservations, ...]:
        """Disjoint random subsets of sizes proportional to ``fractions`` (normalized to sum 1).

        Each part is a new object with its own coordinate range; a functional model fitted to
        one part keeps that part's normalization for predictions.

        Raises
        ------
        ValueError
            Empty or negative fractions, or a part with a single distinct coordinate in a mode.
        """
        fr = np.asarray([check_real(f, f"fractions[{i}]", minimum=0.0) for i, f in enumerate(fractions)])
        if fr.size == 0 or fr.sum() <= 0:
            raise ValueError(f"fractions must hold at least one positive number, got {fractions!r}")
        rng = check_random_state(random_state)
        perm = rng.permutation(self.n_obs)
        bounds = np.round(np.cumsum(fr / fr.sum()) * self.n_obs).astype(np.int64)
        nxp = native(get_namespace(self.values))
        parts, start = [], 0
        for i, stop in enumerate(bounds):
            idx = nxp.asarray(perm[start:stop])
            if idx.shape[0] == 0:
                raise ValueError(f"split {i} of fractions {tuple(fractions)} is empty "
                                 f"({self.n_obs} observations)")
            part = object.__new__(ContinuousObservations)
            part.coords, part.values = self.coords[idx], self.values[idx]
            part._build(nxp, name=f" of split {i}")
            parts.append(part)
            start = stop
        return tuple(parts)

    def __repr__(self) -> str:
        sizes = ", ".join(str(int(u.shape[0])) for u in self.unique)
        return f"ContinuousObservations(n_obs={self.n_obs}, n_modes={self.n_modes}, distinct=({sizes}))"
