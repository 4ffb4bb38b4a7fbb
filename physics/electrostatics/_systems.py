"""Systems of point charges to run on: lattices, biomolecule-like clusters, XYZ and PQR files."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorkit.extend import check_int, check_random_state, check_real

_XYZ_LINE = "'element x y z [charge]'"

__all__ = ["ChargeSystem", "lattice", "random_cluster", "read_pqr", "read_xyz"]


@dataclass
class ChargeSystem:
    """Point charges: ``positions`` (N, 3), ``charges`` (N,), optional ``radii`` and ``names``.

    Unpacks as ``positions, charges = system``.
    """

    positions: np.ndarray
    charges: np.ndarray
    radii: np.ndarray | None = None
    names: list[str] | None = None

    def __iter__(self):
        return iter((self.positions, self.charges))

    def __len__(self) -> int:
        return int(self.positions.shape[0])


def lattice(
    shape: Sequence[int], spacing: float = 2.82, charges: Sequence[float] = (1.0, -1.0)
) -> ChargeSystem:
    """A crystal-like simple cubic lattice of alternating charges, centred on the origin.

    Site ``(i, j, k)`` carries ``charges[(i + j + k) % len(charges)]`` (rock salt for the default
    ``(+1, -1)``; spacing 2.82 is the Na-Cl distance in angstrom).

    Examples
    --------
    >>> from physics.electrostatics import lattice
    >>> pos, q = lattice((24, 24, 4))
    >>> pos.shape, float(q.sum())
    ((2304, 3), 0.0)
    """
    try:
        dims = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape must be three positive ints, got {shape!r}") from None
    if len(dims) != 3 or min(dims) < 1 or any(int(s) != s for s in shape):
        raise ValueError(f"shape must be three positive ints, got {shape!r}")
    spacing = check_real(spacing, "spacing", minimum=0.0, strict_minimum=True)
    values = np.asarray(charges, dtype=np.float64)
    if values.ndim != 1 or values.shape[0] < 1 or not np.all(np.isfinite(values)):
        raise ValueError(f"charges must be a non-empty sequence of finite numbers, got {charges!r}")
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in dims], indexing="ij"), axis=-1).reshape(-1, 3)
    positions = (idx - (np.asarray(dims) - 1) / 2.0) * spacing
    return ChargeSystem(positions, values[idx.sum(axis=1) % values.shape[0]])


def random_cluster(
    n_charges: int, random_state: Any = None, *, min_distance: float = 1.2, density: float = 0.1
) -> ChargeSystem:
    """A biomolecule-like blob: atoms at realistic spacing in a compact ball, with partial charges.

    Atoms are placed one at a time uniformly in a ball of the volume that ``density`` (atoms per
    cubic angstrom; proteins have about 0.1 with hydrogens) implies, rejecting any closer than
    ``min_distance`` (a bond length) to an earlier one. Partial charges are normal with standard
    deviation 0.4 e, shifted to a net charge of zero.

    Examples
    --------
    >>> from physics.electrostatics import random_cluster
    >>> system = random_cluster(100, random_state=0)
    >>> len(system), abs(float(system.charges.sum())) < 1e-12
    (100, True)
    """
    from scipy.spatial import cKDTree

    n_charges = check_int(n_charges, "n_charges", minimum=1)
    min_distance = check_real(min_distance, "min_distance", minimum=0.0, strict_minimum=True)
    density = check_real(density, "density", minimum=0.0, strict_minimum=True)
    if density * (4 / 3) * math.pi * (min_distance / 2) ** 3 > 0.5:
        raise ValueError(f"density={density} is too high to keep atoms {min_distance} apart")
    rng = check_random_state(random_state)
    radius = (3 * n_charges / (4 * math.pi * density)) ** (1 / 3)
    accepted = np.empty((0, 3))
    while accepted.shape[0] < n_charges:
        batch = _in_ball(rng, 2 * (n_charges - accepted.shape[0]) + 16, radius)
        for p in batch:
            if accepted.shape[0] == n_charges:
                break
            if accepted.shape[0] and cKDTree(accepted).query(p, k=1)[0] < min_distance:
                continue
            accepted = np.vstack([accepted, p])
    charges = rng.normal(0.0, 0.4, n_charges)
    return ChargeSystem(accepted, charges - charges.mean())


def read_xyz(path: str | os.PathLike, charges: Any = None) -> ChargeSystem:
    """Read an XYZ file: a count line, a comment line, then ``element x y z [charge]`` per atom.

    Charges come from a fifth column when every atom line has one, otherwise from ``charges``.

    Raises
    ------
    ValueError
        A malformed file (the message names the line), a count that does not match, or no
        charges in the file and none given.
    """
    lines = _read_lines(path)
    if len(lines) < 2:
        raise ValueError(f"{str(path)!r}: an XYZ file needs a count line and a comment line")
    try:
        count = int(lines[0].split()[0])
    except (ValueError, IndexError):
        raise ValueError(f"{str(path)!r} line 1: expected the atom count, got {lines[0]!r}") from None
    body = [ln for ln in lines[2:] if ln.strip()]
    if len(body) != count:
        raise ValueError(f"{str(path)!r} announces {count} atoms but lists {len(body)}")
    names, coords, column = [], [], []
    for n, line in enumerate(body, start=3):
        fields = line.split()
        try:
            names.append(fields[0])
            coords.append([float(v) for v in fields[1:4]])
            if len(fields) >= 5:
                column.append(float(fields[4]))
        except (ValueError, IndexError):
            raise ValueError(f"{str(path)!r} line {n}: expected {_XYZ_LINE}, got {line!r}") from None
        if len(coords[-1]) != 3:
            raise ValueError(f"{str(path)!r} line {n}: expected {_XYZ_LINE}, got {line!r}")
    if len(column) == count:
        q = np.asarray(column)
    elif charges is not None:
        q = np.asarray(charges, dtype=np.float64)
        if q.shape != (count,):
            raise ValueError(f"charges must have shape ({count},) for {str(path)!r}, got {q.shape}")
    else:
        raise ValueError(f"{str(path)!r} has no charge column; pass charges=")
    return _finish(path, np.asarray(coords), q, None, names)


def read_pqr(path: str | os.PathLike) -> ChargeSystem:
    """Read a PQR file (PDB-like ``ATOM``/``HETATM`` records ending in ``x y z charge radius``).

    Fields are whitespace-separated and taken from the end of each record, so a missing chain
    identifier does not shift them.
    """
    names, coords, q, radii = [], [], [], []
    for n, line in enumerate(_read_lines(path), start=1):
        if not line.startswith(("ATOM", "HETATM")):
            continue
        fields = line.split()
        try:
            x, y, z, charge, radius = (float(v) for v in fields[-5:])
        except ValueError:
            raise ValueError(
                f"{str(path)!r} line {n}: expected '... x y z charge radius', got {line!r}"
            ) from None
        if len(fields) < 8:
            raise ValueError(f"{str(path)!r} line {n}: too few fields for a PQR record: {line!r}")
        names.append(fields[2])
        coords.append((x, y, z))
        q.append(charge)
        radii.append(radius)
    if not coords:
        raise ValueError(f"{str(path)!r} holds no ATOM or HETATM records")
    return _finish(path, np.asarray(coords), np.asarray(q), np.asarray(radii), names)


def _read_lines(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().splitlines()
    except OSError as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{str(path)!r} is not a text file (byte {exc.start} is not UTF-8): expected XYZ or PQR text"
        ) from exc


def _finish(path, coords, charges, radii, names):
    for name, a in (("coordinates", coords), ("charges", charges), ("radii", radii)):
        if a is not None and not np.all(np.isfinite(a)):
            raise ValueError(f"{str(path)!r}: non-finite {name}")
    return ChargeSystem(coords.reshape(-1, 3), charges, radii, names)


def _in_ball(rng, n, radius):
    direction = rng.standard_normal((n, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return direction * radius * rng.random(n)[:, None] ** (1 / 3)
