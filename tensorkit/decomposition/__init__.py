"""Tensor decompositions: Tucker (HOSVD, ST-HOSVD, HOOI, randomized; rank by tolerance) and CP-ALS."""

from ._cp import cp
from ._tt import tt
from ._tucker import TUCKER_METHODS, check_ranks, tucker

__all__ = ["TUCKER_METHODS", "check_ranks", "cp", "tt", "tucker"]
