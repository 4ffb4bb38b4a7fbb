"""Datasets generated sample by sample on a dask cluster into a Zarr store, reproducibly.

Sample ``i`` draws from ``numpy.random.default_rng(SeedSequence([random_state, i]))`` whatever
worker computes it and however many workers there are, and every task writes whole Zarr chunks
(``chunk`` samples), so the store holds the same bytes on 1 or 16 workers, or without a cluster.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import progress_bar
from .._validation import check_int
from ..backend import thread_limits

__all__ = ["generate_to_zarr", "sample_rng"]


def sample_rng(random_state: int, index: int) -> np.random.Generator:
    """The generator of sample ``index``: seeded by ``(random_state, index)`` only.

    Examples
    --------
    >>> from tensorkit.distributed import sample_rng
    >>> float(sample_rng(0, 3).random()) == float(sample_rng(0, 3).random())
    True
    """
    return np.random.default_rng(np.random.SeedSequence([int(random_state), int(index)]))


def generate_to_zarr(fn: Callable[[np.random.Generator], Any], n_samples: int,
                     path: str | os.PathLike, *, client: Any = None, chunk: int = 16,
                     random_state: int | None = None, attrs: dict | None = None,
                     overwrite: bool = False, progress: bool = True) -> Any:
    """Write ``fn(sample_rng(random_state, i))`` for ``i < n_samples`` into a Zarr group.

    Parameters
    ----------
    fn : callable
        ``fn(rng)`` returns one sample: an array, or a dict of arrays (one Zarr array per key,
        a single array is stored as ``"data"``); shapes and dtypes the same for every sample.
        It must be picklable (a module-level function or a ``functools.partial`` of one) to run
        on a cluster.
    n_samples : int
    path : path of the Zarr group to create
    client : distributed.Client, optional
        Run the blocks of ``chunk`` samples on its workers; None computes them here, in order.
    chunk : int
        Samples per task and per Zarr chunk along the first axis.
    random_state : int, optional
        The dataset's seed; None draws one (stored in the group's attributes either way).
    attrs : dict, optional
        More attributes for the group (JSON-serializable).
    overwrite : bool
        Replace an existing store at ``path`` (refused by default).
    progress : bool
        Progress bar over samples (on by default, as for every data generator).

    Returns
    -------
    zarr.Group, opened read-only: ``group[name]`` is an array ``(n_samples, *sample_shape)``.

    Examples
    --------
    >>> import tempfile
    >>> from tensorkit.distributed import generate_to_zarr
    >>> g = generate_to_zarr(lambda rng: rng.standard_normal(3), 5, tempfile.mkdtemp() + "/d.zarr",
    ...                      chunk=2, random_state=0, progress=False)
    >>> g["data"].shape, g.attrs["random_state"]
    ((5, 3), 0)
    """
    import zarr

    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    chunk = check_int(chunk, "chunk", minimum=1)
    if random_state is None:
        random_state = int(np.random.SeedSequence().generate_state(1)[0])
    random_state = check_int(random_state, "random_state", minimum=0)
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it")
    # The first sample fixes names, shapes and dtypes (its block computes it again, so every chunk
    # has exactly one writer).
    probe = _as_dict(fn(sample_rng(random_state, 0)))
    group = zarr.open_group(str(path), mode="w")
    group.attrs.update({**(attrs or {}), "random_state": random_state, "n_samples": n_samples,
                        "chunk": chunk})
    for name, value in probe.items():
        group.create_array(name, shape=(n_samples, *value.shape), chunks=(chunk, *value.shape),
                           dtype=value.dtype)
    starts = range(0, n_samples, chunk)
    with progress_bar(progress, total=n_samples, desc="generate") as bar:
        if client is None:
            for start in starts:
                bar.update(_write_block(fn, str(path), start, min(start + chunk, n_samples), random_state))
        else:
            import distributed

            futures = [client.submit(_write_block, fn, str(path), s, min(s + chunk, n_samples),
                                     random_state, pure=False) for s in starts]
            for future in distributed.as_completed(futures):
                bar.update(future.result())
    return zarr.open_group(str(path), mode="r")


def _write_block(fn, path, start, stop, random_state) -> int:
    import zarr

    with thread_limits(1):
        samples = [_as_dict(fn(sample_rng(random_state, i))) for i in range(start, stop)]
    group = zarr.open_group(path, mode="r+")
    for name in samples[0]:
        group[name][start:stop] = np.stack([s[name] for s in samples])
    return stop - start


def _as_dict(sample) -> dict[str, np.ndarray]:
    if isinstance(sample, dict):
        if not sample:
            raise ValueError("fn returned an empty dict")
        return {str(k): np.asarray(v) for k, v in sample.items()}
    return {"data": np.asarray(sample)}
