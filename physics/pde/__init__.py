"""PDE datasets for operator learning: Darcy flow (the FNO benchmark)."""

from ._darcy import (
    darcy,
    gaussian_random_field,
    load_darcy,
    save_darcy,
    solve_darcy,
    threshold_coefficient,
)

__all__ = [
    "darcy",
    "gaussian_random_field",
    "load_darcy",
    "save_darcy",
    "solve_darcy",
    "threshold_coefficient",
]
