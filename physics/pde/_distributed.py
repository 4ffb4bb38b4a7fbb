"""Darcy, Navier-Stokes and wave datasets generated on a dask cluster into Zarr stores.

Each sample is one call of the single-machine generator with its own generator
``tensorkit.distributed.sample_rng(random_state, i)``, so a dataset is the same on any number of
workers, or with ``client=None`` (one process, in order), bit for bit. A batched call such as
``darcy(n, ...)`` draws all samples from one stream instead and gives other (equally distributed)
samples.

Requires ``tensorkit[dask]`` (dask, distributed, zarr).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

__all__ = ["darcy_to_zarr", "navier_stokes2d_to_zarr", "wave2d_to_zarr"]


def darcy_to_zarr(path: str | os.PathLike, n_samples: int, resolution: int, *, client: Any = None,
                  chunk: int = 16, random_state: int | None = None, overwrite: bool = False,
                  progress: bool = True) -> Any:
    """:func:`physics.pde.darcy` samples into the Zarr group ``path`` (arrays ``"a"`` and ``"u"``,
    ``(n_samples, resolution, resolution)`` float64), ``chunk`` samples per task.
    """
    from tensorkit.distributed import generate_to_zarr

    fn = functools.partial(_darcy_sample, resolution=resolution)
    return generate_to_zarr(fn, n_samples, path, client=client, chunk=chunk, random_state=random_state,
                            attrs={"generator": "darcy", "resolution": resolution},
                            overwrite=overwrite, progress=progress)


def navier_stokes2d_to_zarr(path: str | os.PathLike, n_samples: int, resolution: int, *,
                            client: Any = None, chunk: int = 4, random_state: int | None = None,
                            overwrite: bool = False, progress: bool = True, **options: Any) -> Any:
    """:func:`physics.pde.navier_stokes2d` flows into the Zarr group ``path``: array ``"w"``
    ``(n_samples, n_snapshots, resolution, resolution)``, the times in ``attrs["times"]``.

    ``options`` go to :func:`~physics.pde.navier_stokes2d` (``viscosity``, ``t_final``,
    ``n_snapshots``, ``dt``, ``forcing``, ``dtype``); each flow takes its own time step (the
    batched call takes one for all).
    """
    from tensorkit.distributed import generate_to_zarr

    from ._navier_stokes import navier_stokes2d

    _refuse(options, ("initial", "device", "random_state", "progress"))
    _, times = navier_stokes2d(1, resolution, initial=np.zeros((resolution, resolution)),
                               progress=False, **{k: v for k, v in options.items() if k != "forcing"})
    fn = functools.partial(_navier_stokes_sample, resolution=resolution, options=options)
    return generate_to_zarr(fn, n_samples, path, client=client, chunk=chunk, random_state=random_state,
                            attrs={"generator": "navier_stokes2d", "resolution": resolution,
                                   "times": times.tolist()},
                            overwrite=overwrite, progress=progress)


def wave2d_to_zarr(path: str | os.PathLike, n_samples: int, resolution: int, *, client: Any = None,
                   chunk: int = 4, random_state: int | None = None, overwrite: bool = False,
                   progress: bool = True, **options: Any) -> Any:
    """:func:`physics.wave.wave2d` runs into the Zarr group ``path``: array ``"u"``
    ``(n_samples, n_snapshots, resolution, resolution)``, the times in ``attrs["times"]``.

    ``options`` go to :func:`~physics.wave.wave2d` (``n_snapshots`` and ``t_final`` are
    required; ``speed``, ``source``, ``boundary``, ``dt``, ``dtype``); sources are drawn per sample.
    """
    from tensorkit.distributed import generate_to_zarr

    _refuse(options, ("initial", "sources", "device", "random_state", "progress"))
    for name in ("n_snapshots", "t_final"):
        if name not in options:
            raise TypeError(f"wave2d_to_zarr needs {name}= (as wave2d does)")
    times = np.linspace(0.0, float(options["t_final"]), int(options["n_snapshots"]))
    fn = functools.partial(_wave_sample, resolution=resolution, options=options)
    return generate_to_zarr(fn, n_samples, path, client=client, chunk=chunk, random_state=random_state,
                            attrs={"generator": "wave2d", "resolution": resolution,
                                   "times": times.tolist()},
                            overwrite=overwrite, progress=progress)


def _darcy_sample(rng, *, resolution):
    from ._darcy import darcy

    a, u = darcy(1, resolution, random_state=rng, progress=False)
    return {"a": a[0], "u": u[0]}


def _navier_stokes_sample(rng, *, resolution, options):
    from ._navier_stokes import navier_stokes2d

    w, _ = navier_stokes2d(1, resolution, random_state=rng, progress=False, **options)
    return {"w": np.asarray(w[0])}


def _wave_sample(rng, *, resolution, options):
    from physics.wave import wave2d

    u, _ = wave2d(1, resolution, random_state=rng, progress=False, **options)
    return {"u": np.asarray(u[0])}


def _refuse(options, names):
    given = sorted(set(options) & set(names))
    if given:
        raise TypeError(f"{', '.join(given)} cannot be given here: samples are drawn per sample seed "
                        "on the CPU, with progress over samples")
