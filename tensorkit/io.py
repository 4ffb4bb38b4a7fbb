"""Reading and writing tensors and tensorkit objects (npy, npz, HDF5), always atomically.

A file is written to a temporary name in the target directory and renamed over the target only
once complete, so an interrupted run leaves either the old file or the new one, never half of one.
Objects (formats, models, datasets) are ``.npz`` archives with a ``format`` and a ``version`` key.

A new file gets the mode ``open()`` would give it (``0o666`` less the umask); an overwritten file
keeps its mode. Object arrays are refused at save (they could not be read back without pickle).

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from tensorkit.io import load_array, save_array
>>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
>>> save_array(path, np.arange(3.0))
>>> load_array(path)
array([0., 1., 2.])
"""

from __future__ import annotations

import contextlib
import math
import os
import stat
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import check_int
from .backend import to_numpy

__all__ = [
    "ArchiveKeyError",
    "atomic_path",
    "load_archive",
    "load_array",
    "new_figure",
    "save_archive",
    "save_array",
    "save_figure",
]

NONFINITE_POLICIES = ("warn", "raise", "allow")


class ArchiveKeyError(KeyError, ValueError):
    """A key missing from a loaded archive: a ``ValueError`` (a malformed file) naming the file and
    the key, and a ``KeyError`` for code that treats the archive as a mapping."""

    def __str__(self) -> str:
        return str(self.args[0])


class Archive(dict):
    """The arrays of a loaded archive; a missing key raises :class:`ArchiveKeyError` naming the file."""

    def __init__(self, path: str, arrays: dict[str, Any]):
        super().__init__(arrays)
        self.path = path

    def __missing__(self, key: str) -> Any:
        raise ArchiveKeyError(
            f"{self.path!r} has no key {key!r} (a malformed or truncated archive); it holds {sorted(self)}"
        )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"directory {str(directory)!r} for {str(target)!r} does not exist")
    if target.is_dir():
        raise IsADirectoryError(f"{str(target)!r} is a directory, not a file to write")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # on disk before the rename: after a crash the target is the old file or the whole new one
        # (without it a journaling file system may commit the rename before the data)
        fd = os.open(tmp_path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        # mkstemp creates 0600: give the file the mode it would have had without the detour
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    """The process umask, read without changing it where the platform tells it (Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def _check_savable(name: str, array: np.ndarray) -> np.ndarray:
    if array.dtype.hasobject:
        raise TypeError(
            f"{name} has dtype {array.dtype}: object arrays cannot be saved (they would need pickle "
            "to load); convert to a numeric dtype"
        )
    return array


def save_archive(path: str | os.PathLike, format_name: str, version: int, **arrays: Any) -> None:
    """Write ``arrays`` (moved to the host) and the format/version keys to an ``.npz`` atomically.

    Raises
    ------
    TypeError
        A ``format_name`` that is not a string, a ``version`` that is not an int, object arrays.
    ValueError
        A ``version`` below 1, or an array named ``format`` or ``version`` (the archive's own keys:
        it would be lost).
    """
    if not isinstance(format_name, str):
        raise TypeError(f"format_name must be a str, got {format_name!r} ({type(format_name).__name__})")
    version = check_int(version, "version", minimum=1)
    reserved = sorted({"format", "version"} & set(arrays))
    if reserved:
        raise ValueError(f"array names {reserved} are the archive's own keys; rename those arrays")
    payload = {k: _check_savable(f"array {k!r}", np.asarray(to_numpy(v))) for k, v in arrays.items()}
    payload["format"] = np.asarray(format_name)
    payload["version"] = np.asarray(version)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **payload)


def load_archive(
    path: str | os.PathLike, format_name: str, max_version: int, *, nonfinite: str = "warn"
) -> Archive:
    """Read an archive written by :func:`save_archive`, checking its format and version.

    Parameters
    ----------
    nonfinite : {"warn", "raise", "allow"}
        What NaN or Inf in a float array does: a ``RuntimeWarning`` naming the keys, a
        ``ValueError``, or nothing (for callers that check the arrays themselves).

    Returns
    -------
    Archive
        A dict of arrays without the ``format`` and ``version`` keys; looking up a missing key
        raises :class:`ArchiveKeyError` (a ``ValueError``) naming the file and the key.

    Raises
    ------
    ValueError
        An unreadable file, a missing or different ``format``, a ``version`` that is not an
        integer in ``1..max_version``, or (``nonfinite="raise"``) NaN/Inf entries.
    """
    if nonfinite not in NONFINITE_POLICIES:
        raise ValueError(f"nonfinite must be one of {NONFINITE_POLICIES}, got {nonfinite!r}")
    name = str(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:
        raise ValueError(f"cannot read {name!r} as a tensorkit .npz archive: {exc}") from exc
    if "format" not in arrays:
        raise ValueError(f"{name!r} has no 'format' key: not a tensorkit archive (expected {format_name!r})")
    found = str(arrays.pop("format"))
    if found != format_name:
        raise ValueError(f"{name!r} holds format {found!r}, expected {format_name!r}")
    if "version" not in arrays:
        raise ValueError(f"{name!r} has no 'version' key (a malformed {format_name} archive)")
    raw = arrays.pop("version")
    version = _integer(raw)
    if version is None:
        raise ValueError(f"{name!r}: 'version' must be an integer, got {raw.tolist()!r}")
    if not 1 <= version <= max_version:
        raise ValueError(
            f"{name!r} has {format_name} version {version}; this tensorkit reads 1..{max_version}"
        )
    _report_nonfinite(name, arrays, nonfinite)
    return Archive(name, arrays)


def _integer(value: np.ndarray) -> int | None:
    """The integer a 0-d archive entry holds (an int, an integral float or a digit string), else None."""
    if value.shape != ():
        return None
    item = value.item()
    if isinstance(item, (bytes, str)):
        text = item.decode() if isinstance(item, bytes) else item
        return int(text) if text.strip().lstrip("+-").isdigit() else None
    if isinstance(item, bool) or not isinstance(item, (int, float)):
        return None
    if isinstance(item, float) and not (math.isfinite(item) and item.is_integer()):
        return None
    return int(item)


def _report_nonfinite(name: str, arrays: dict[str, np.ndarray], policy: str) -> None:
    if policy == "allow":
        return
    bad = {
        k: int((~np.isfinite(v)).sum()) for k, v in arrays.items() if v.dtype.kind in "fc" and v.size
    }
    bad = {k: n for k, n in bad.items() if n}
    if not bad:
        return
    message = f"{name!r} holds NaN or Inf entries: " + ", ".join(f"{k!r} ({n})" for k, n in bad.items())
    if policy == "raise":
        raise ValueError(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def load_array(path: str | os.PathLike, *, key: str | None = None) -> np.ndarray:
    """Read a tensor from ``.npy``, ``.npz`` (``key`` names the array; optional if there is one)
    or HDF5 (``.h5``/``.hdf5``, ``key`` names the dataset; needs the ``hdf5`` extra).

    A tensor holding NaN or Inf is returned with a ``RuntimeWarning`` that counts the entries.

    Raises
    ------
    ValueError
        Unknown suffix, missing or ambiguous key, unreadable file, a directory or a missing file.
    """
    array = _load_array(Path(path), key)
    if array.dtype.kind in "fc" and array.size:
        n_bad = int((~np.isfinite(array)).sum())
        if n_bad:
            warnings.warn(
                f"{str(path)!r} holds {n_bad} NaN or Inf entries", RuntimeWarning, stacklevel=2
            )
    return array


def _load_array(path: Path, key: str | None) -> np.ndarray:
    if path.is_dir():
        raise ValueError(f"input {str(path)!r} is a directory, not a file")
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
    """Write one array to ``.npy`` atomically (object arrays are refused: ``TypeError``)."""
    array = _check_savable("array", np.asarray(to_numpy(array)))
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array)


def new_figure(**kwargs: Any):
    """A bare ``matplotlib.figure.Figure`` (no pyplot): the user's backend and open figures are
    left alone, which is what library plots must do (``matplotlib.use`` would switch a notebook's
    backend). ``kwargs`` go to ``Figure`` (``figsize``, ...).

    Raises
    ------
    ValueError
        When matplotlib is not installed (``pip install 'tensorkit[plot]'``).
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ValueError("plotting needs matplotlib: pip install 'tensorkit[plot]'") from None
    return Figure(**kwargs)


def save_figure(fig: Any, path: str | os.PathLike | None, *, dpi: int = 120) -> None:
    """Lay out ``fig`` (tight, unless it has a layout engine) and write it to ``path`` atomically,
    in the format its suffix names (PNG when there is none); ``path=None`` only lays it out (for
    notebooks that display the figure).

    Examples
    --------
    >>> import os, tempfile
    >>> from tensorkit.io import new_figure, save_figure
    >>> fig = new_figure(figsize=(2, 2))
    >>> _ = fig.subplots().plot([0, 1], [1, 0])
    >>> path = os.path.join(tempfile.mkdtemp(), "line.png")
    >>> save_figure(fig, path)
    >>> open(path, "rb").read(4) == b"\\x89PNG"
    True
    """
    if not callable(getattr(fig, "savefig", None)) or not callable(getattr(fig, "get_layout_engine", None)):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    dpi = check_int(dpi, "dpi", minimum=1)
    if fig.get_layout_engine() is None:  # a figure made with layout="constrained" keeps its own
        fig.tight_layout()
    if path is None:
        return
    suffix = Path(path).suffix.lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=suffix, dpi=dpi)

