"""The one parser of rank arguments: CP, Tucker and TT ranks given as ints, tuples or fractions.

A float rank is the fraction of the dense tensor's parameter count that the factorized form may
hold (tensorly's and tltorch's convention, so ``rank=0.1`` means the same thing as in
neuraloperator's TFNO); an int or a tuple is explicit. Decompositions (``tucker``, ``tt``, ``cp``)
and factorized layers (:class:`tensorkit.nn.FactorizedConv`, ``operators.SpectralConv``) all call
:func:`resolve_rank`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = ["FACTORIZATIONS", "cp_rank", "int_tuple", "resolve_rank", "tt_rank", "tucker_rank"]

FACTORIZATIONS = ("cp", "tucker", "tt")


def resolve_rank(factorization: str | None, shape: tuple[int, ...], rank: Any) -> Any:
    """The explicit rank of a ``factorization`` of a tensor of ``shape``.

    Parameters
    ----------
    factorization : {"cp", "tucker", "tt"} or None
        None (dense) returns None.
    shape : tuple of int
    rank : float, int or sequence of ints
        A float in ``(0, inf)`` is the fraction of ``prod(shape)`` parameters to keep; an int is
        the CP rank, every Tucker rank, or every inner TT rank; a sequence is explicit (Tucker: one
        per mode; TT: the ``N - 1`` inner ranks or all ``N + 1`` with ones at both ends).

    Returns
    -------
    None, int (CP), tuple (Tucker, one per mode) or tuple (TT, ``N + 1`` entries, ``1`` at both ends)

    Examples
    --------
    >>> from tensorkit.decomposition import resolve_rank
    >>> resolve_rank("cp", (10, 10, 10), 0.5)
    17
    >>> resolve_rank("tucker", (10, 10, 10), 4)
    (4, 4, 4)
    >>> resolve_rank("tt", (10, 10, 10), (3, 2))
    (1, 3, 2, 1)
    """
    if factorization is None:
        return None
    if factorization == "cp":
        return cp_rank(rank, shape)
    if factorization == "tucker":
        return tucker_rank(rank, shape)
    if factorization == "tt":
        return tt_rank(rank, shape)
    raise ValueError(f"factorization must be one of {(None, *FACTORIZATIONS)}, got {factorization!r}")


def cp_rank(rank: Any, shape: tuple[int, ...]) -> int:
    """A CP rank: an int >= 1, or a float fraction ``f`` giving ``round(f prod(I) / sum(I))``."""
    if _is_fraction(rank):
        value = int(np.round(math.prod(shape) * _fraction(rank) / sum(shape)))
        return _at_least_one(value, "cp", shape, rank)
    if not _is_int(rank):
        raise TypeError(f"a CP rank must be an int or a float fraction, got {rank!r}")
    return _at_least_one(int(rank), "cp", shape, rank)


def tucker_rank(rank: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A multilinear rank: one int per mode (an int is repeated), or a float fraction.

    For a fraction ``f`` the ranks are ``round(c I_k)`` (at least 1), with ``c`` solving
    ``c^N prod(I) + c sum(I_k^2) = f prod(I)`` (core plus factors), as tensorly does.
    """
    n = len(shape)
    if _is_fraction(rank):
        from scipy.optimize import brentq

        f = _fraction(rank)
        total = math.prod(shape)
        squares = sum(s * s for s in shape)
        c = brentq(lambda x: total * x**n + squares * x - f * total, 0.0, max(f, 1.0))
        return tuple(max(int(np.round(s * c)), 1) for s in shape)
    ranks = int_tuple(rank, n)
    if len(ranks) != n:
        raise ValueError(f"a Tucker rank needs one entry per mode of {tuple(shape)}, got {rank!r}")
    for k, r in enumerate(ranks):
        if r < 1:
            raise ValueError(f"rank[{k}] must be >= 1, got {r} (rank={rank!r})")
    return ranks


def tt_rank(rank: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """TT bond dimensions ``(1, r_1, ..., r_{N-1}, 1)``.

    An int is every inner rank; a sequence gives the ``N - 1`` inner ranks or all ``N + 1`` with
    ones at both ends; a float fraction ``f`` picks inner ranks proportional to the mean size of
    the two modes each bond joins, so that the cores hold about ``f prod(I)`` numbers (tensorly's
    rule).
    """
    n = len(shape)
    if n < 2:
        raise ValueError(f"a TT rank needs a tensor of order >= 2, got shape {tuple(shape)}")
    if _is_fraction(rank):
        f = _fraction(rank)
        avg = [(shape[i] + shape[i + 1]) / 2 for i in range(n - 1)]
        a = sum(avg[i - 1] * shape[i] * avg[i] for i in range(1, n - 1)) if n > 2 else avg[0] ** 2 * shape[0]
        b = shape[0] * avg[0] + shape[-1] * avg[-1]
        c = -math.prod(shape) * f
        x = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
        return (1, *(max(int(np.round(d * x)), 1) for d in avg), 1)
    if _is_int(rank):
        inner = (int(rank),) * (n - 1)
    else:
        ranks = int_tuple(rank, n - 1)
        if len(ranks) == n + 1:
            if ranks[0] != 1 or ranks[-1] != 1:
                raise ValueError(f"boundary TT ranks must be 1, got rank={rank!r}")
            inner = ranks[1:-1]
        elif len(ranks) == n - 1:
            inner = ranks
        else:
            raise ValueError(
                f"rank needs {n - 1} inner TT ranks (or {n + 1} with the boundary 1s) for an "
                f"order-{n} tensor, got {len(ranks)}: {rank!r}"
            )
    for k, r in enumerate(inner):
        if r < 1:
            raise ValueError(f"TT rank r_{k + 1} must be >= 1, got {r} (rank={rank!r})")
    return (1, *inner, 1)


def int_tuple(rank: Any, repeat: int) -> tuple[int, ...]:
    """``rank`` as a tuple of ints: an int is repeated ``repeat`` times, a sequence is checked."""
    if _is_int(rank):
        return (int(rank),) * repeat
    if isinstance(rank, (str, bytes)):
        raise TypeError(f"rank must be an int or a sequence of ints, got {rank!r}")
    try:
        ranks = tuple(rank)
    except TypeError:
        raise TypeError(f"rank must be an int or a sequence of ints, got {rank!r}") from None
    if not all(_is_int(r) for r in ranks):
        raise TypeError(f"rank must hold ints, got {rank!r}")
    return tuple(int(r) for r in ranks)


def _is_int(value: Any) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_fraction(value: Any) -> bool:
    return isinstance(value, (float, np.floating))


def _fraction(value: Any) -> float:
    f = float(value)
    if not (math.isfinite(f) and f > 0):
        raise ValueError(f"a fractional rank must be positive and finite, got {value!r}")
    return f


def _at_least_one(value: int, factorization: str, shape, rank) -> int:
    if value < 1:
        raise ValueError(
            f"rank={rank!r} gives an empty {factorization} factorization of a {tuple(shape)} tensor "
            f"(rank {value}); use a larger rank"
        )
    return value
