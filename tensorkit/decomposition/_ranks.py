"""Parsing rank arguments shared by the decompositions."""

from __future__ import annotations

import numbers
from typing import Any


def int_tuple(rank: Any, repeat: int) -> tuple[int, ...]:
    """``rank`` as a tuple of ints: an int is repeated ``repeat`` times, a sequence is checked."""
    if isinstance(rank, numbers.Integral) and not isinstance(rank, bool):
        return (int(rank),) * repeat
    try:
        ranks = tuple(rank)
    except TypeError:
        raise TypeError(f"rank must be an int or a sequence of ints, got {rank!r}") from None
    if not all(isinstance(r, numbers.Integral) and not isinstance(r, bool) for r in ranks):
        raise TypeError(f"rank must hold ints, got {rank!r}")
    return tuple(int(r) for r in ranks)
