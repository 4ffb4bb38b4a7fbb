"""PDE datasets for operator learning: Darcy flow (the FNO benchmark), and training on them."""

from ._darcy import (
    darcy,
    gaussian_random_field,
    load_darcy,
    save_darcy,
    solve_darcy,
    threshold_coefficient,
)
from ._learning import DarcyFit, fit_darcy
from ._plots import plot_prediction

__all__ = [
    "DarcyFit",
    "darcy",
    "fit_darcy",
    "gaussian_random_field",
    "load_darcy",
    "plot_prediction",
    "save_darcy",
    "solve_darcy",
    "threshold_coefficient",
]
