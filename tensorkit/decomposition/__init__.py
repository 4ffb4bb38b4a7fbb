"""Tensor decompositions: Tucker (HOSVD, ST-HOSVD, HOOI, randomized; rank by tolerance), CP-ALS, TT-SVD.

:mod:`tensorkit.decomposition.linalg` holds the subspace routine they share (public, for other
subpackages and upper layers); :func:`resolve_rank` is the one parser of rank arguments.
"""

from . import linalg
from ._cp import cp
from ._ranks import FACTORIZATIONS, cp_rank, resolve_rank, tt_rank, tucker_rank
from ._tt import tt
from ._tucker import TUCKER_METHODS, check_multilinear_rank, check_ranks, st_hosvd_mode_order, tucker

__all__ = [
    "FACTORIZATIONS",
    "TUCKER_METHODS",
    "check_multilinear_rank",
    "check_ranks",
    "cp",
    "cp_rank",
    "linalg",
    "resolve_rank",
    "st_hosvd_mode_order",
    "tt",
    "tt_rank",
    "tucker",
    "tucker_rank",
]
