"""Reading and writing tensors and tensorkit objects (npy, npz, HDF5), always atomically.

A file is written to a temporary name in the target directory and renamed over the target only
once complete, so an interrupted run leaves either the old file or the new one, never half of one.
Objects (formats, models, datasets) are ``.npz`` archives with a ``format`` and a ``version`` key.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .backend import to_numpy

__all__ = ["atomic_path", "load_archive", "load_array", "save_archive", "save_array"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"directory {str(directory)!r} for {str(target)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def save_archive(path: str | os.PathLike, format_name: str, version: int, **arrays: Any) -> None:
    """Write ``arrays`` (moved to the host) and the format/version keys to an ``.npz`` atomically."""
    payload = {k: to_numpy(v) for k, v in arrays.items()}
    payload["format"] = np.asarray(format_name)
    payload["version"] = np.asarray(version)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **payload)


def load_archive(path: str | os.PathLike, format_name: str, max_version: int) -> dict[str, Any]:
    """Read an archive written by :func:`save_archive`, checking its format and version."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:
        raise ValueError(f"cannot read {str(path)!r} as a tensorkit .npz archive: {exc}") from exc
    found = str(arrays.pop("format", "")) or None
    if found != format_name:
        raise ValueError(f"{str(path)!r} holds format {found!r}, expected {format_name!r}")
    version = int(arrays.pop("version", -1))
    if not 1 <= version <= max_version:
        raise ValueError(
            f"{str(path)!r} has {format_name} version {version}; this tensorkit reads 1..{max_version}"
        )
    return arrays


def load_array(path: str | os.PathLike, *, key: str | None = None) -> np.ndarray:
    """Read a tensor from ``.npy``, ``.npz`` (``key`` names the array; optional if there is one)
    or HDF5 (``.h5``/``.hdf5``, ``key`` names the dataset; needs the ``hdf5`` extra).

    Raises
    ------
    ValueError
        Unknown suffix, missing or ambiguous key, unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"input file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _read(path, lambda: np.load(path, allow_pickle=False))
    if suffix == ".npz":
        with _read(path, lambda: np.load(path, allow_pickle=False)) as data:
            if key is None:
                if len(data.files) != 1:
                    raise ValueError(f"{str(path)!r} holds arrays {data.files}; name one with key")
                key = data.files[0]
            if key not in data.files:
                raise ValueError(f"{str(path)!r} has no array {key!r}; it holds {data.files}")
            return _read(path, lambda: data[key])
    if suffix in (".h5", ".hdf5"):
        try:
            import h5py
        except ImportError:
            raise ValueError("reading HDF5 needs h5py: pip install 'tensorkit[hdf5]'") from None
        if key is None:
            raise ValueError(f"name the dataset of {str(path)!r} to read (key/--dataset)")
        with _read(path, lambda: h5py.File(path, "r")) as fh:
            if key not in fh:
                raise ValueError(f"{str(path)!r} has no dataset {key!r}; it holds {list(fh)}")
            return _read(path, lambda: np.asarray(fh[key]))
    raise ValueError(f"unsupported input format {suffix!r}; use .npy, .npz or .h5")


def _read(path, reader):
    """Run ``reader``; any failure of the underlying library becomes one clear ValueError."""
    try:
        return reader()
    except Exception as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc}") from exc


def save_array(path: str | os.PathLike, array: Any) -> None:
    """Write one array to ``.npy`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, to_numpy(array))
