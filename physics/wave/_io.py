"""Wave datasets as versioned ``.npz`` archives, written atomically."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tensorkit.extend import to_numpy
from tensorkit.io import load_archive, save_archive

__all__ = ["load_wave", "save_wave"]

_FORMAT = "physics.WaveDataset"
_VERSION = 1


def save_wave(path: str | os.PathLike, u: Any, times: Any) -> None:
    """Write snapshots ``u`` (n_samples, n_snapshots, nx, ny) and their ``times`` to ``path``.

    The file appears only once complete (temporary file, then rename).

    >>> import numpy as np, os, tempfile
    >>> from physics.wave import load_wave, save_wave
    >>> path = os.path.join(tempfile.mkdtemp(), "wave.npz")
    >>> save_wave(path, np.zeros((2, 3, 4, 4)), np.linspace(0.0, 1.0, 3))
    >>> load_wave(path)[0].shape
    (2, 3, 4, 4)
    """
    u, times = _check(to_numpy(u), to_numpy(times), "u")
    save_archive(path, _FORMAT, _VERSION, u=u, times=times)


def load_wave(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read ``(u, times)`` written by :func:`save_wave`.

    Raises
    ------
    ValueError
        For a file that is not a wave dataset (another format, a newer version, bad shapes).
    """
    arrays = load_archive(path, _FORMAT, _VERSION)
    if set(arrays) != {"u", "times"}:
        raise ValueError(f"{str(path)!r} holds {sorted(arrays)}, expected u and times")
    return _check(arrays["u"], arrays["times"], f"u in {str(path)!r}")


def _check(u: np.ndarray, times: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    if u.ndim != 4 or u.dtype.kind != "f":
        raise ValueError(f"{name} must be a float array (n_samples, n_snapshots, nx, ny), got "
                         f"{u.dtype} of shape {u.shape}")
    if times.shape != (u.shape[1],) or times.dtype.kind != "f":
        raise ValueError(f"times must be a float array of shape ({u.shape[1]},), got {times.shape}")
    if not (np.all(np.isfinite(u)) and np.all(np.isfinite(times)) and np.all(np.diff(times) > 0)):
        raise ValueError(f"{name} and times must be finite and times increasing")
    return u, times
