"""Dask arrays over tensors stored on disk (Zarr, HDF5), read chunk by chunk where the tasks run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["from_hdf5", "from_zarr"]


def from_zarr(path: str | os.PathLike, component: str | None = None, chunks: Any = None) -> Any:
    """A dask array reading the Zarr array at ``path`` (``component``: the array inside a group).

    ``chunks`` defaults to the store's chunks (one task reads one stored chunk); give larger
    ones to have fewer tasks.

    Examples
    --------
    >>> import numpy as np, tempfile, zarr
    >>> from tensorkit.distributed import from_zarr
    >>> path = tempfile.mkdtemp() + "/x.zarr"
    >>> zarr.create_array(path, shape=(4, 6), chunks=(2, 3), dtype="f8")[:] = np.arange(24.0).reshape(4, 6)
    >>> A = from_zarr(path)
    >>> A.chunks, float(A.sum().compute())
    (((2, 2), (3, 3)), 276.0)
    """
    import dask.array as da

    path = _existing(path, "path")
    try:
        return da.from_zarr(str(path), component=component, chunks=chunks)
    except (KeyError, FileNotFoundError) as exc:
        where = f"{str(path)!r}" + ("" if component is None else f", component {component!r}")
        raise ValueError(f"no Zarr array at {where}: {exc}") from None


def from_hdf5(path: str | os.PathLike, dataset: str, chunks: Any = None) -> Any:
    """A dask array reading ``dataset`` of the HDF5 file ``path``.

    Every task opens the file itself (an open h5py dataset cannot travel to worker processes), so
    this works on a cluster whose workers see the same file system. ``chunks`` defaults to the
    dataset's own chunks, or dask's ``"auto"`` for a contiguous dataset.
    """
    import dask.array as da
    import h5py
    from dask.base import tokenize

    path = _existing(path, "path")
    if not isinstance(dataset, str):
        raise TypeError(f"dataset must be a str, got {type(dataset).__name__}")
    with h5py.File(path, "r") as f:
        if dataset not in f or not isinstance(f[dataset], h5py.Dataset):
            raise ValueError(f"{str(path)!r} has no dataset {dataset!r}; it holds {sorted(f)}")
        d = f[dataset]
        source = _HDF5Source(str(path), dataset, d.shape, d.dtype)
        if chunks is None:
            chunks = d.chunks if d.chunks is not None else "auto"
    # the name changes with the file's contents (size, time of change): no stale results
    stat = path.stat()
    name = f"hdf5-{tokenize(str(path.resolve()), dataset, stat.st_size, stat.st_mtime_ns)}"
    return da.from_array(source, chunks=chunks, name=name, lock=False, asarray=True,
                         meta=_empty(source.dtype, source.ndim))


class _HDF5Source:
    """Array-like view of an HDF5 dataset that opens the file for every read (picklable)."""

    def __init__(self, path, dataset, shape, dtype):
        self.path, self.dataset = path, dataset
        self.shape, self.dtype, self.ndim = tuple(shape), dtype, len(shape)

    def __getitem__(self, index):
        import h5py

        with h5py.File(self.path, "r") as f:
            return f[self.dataset][index]


def _empty(dtype, ndim):
    import numpy as np

    return np.empty((0,) * ndim, dtype=dtype)


def _existing(path, name) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{name} {str(path)!r} does not exist")
    return path
