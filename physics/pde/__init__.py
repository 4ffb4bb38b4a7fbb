"""PDE datasets for operator learning: Darcy flow and 2D Navier-Stokes (the FNO benchmarks), and
training on them."""

from ._darcy import (
    darcy,
    gaussian_random_field,
    load_darcy,
    save_darcy,
    solve_darcy,
    threshold_coefficient,
)
from ._distributed import darcy_to_zarr, navier_stokes2d_to_zarr, wave2d_to_zarr
from ._learning import DarcyFit, fit_darcy, navier_stokes_pairs, relative_errors
from ._navier_stokes import (
    fno_forcing,
    load_navier_stokes,
    navier_stokes2d,
    random_vorticity,
    save_navier_stokes,
)
from ._plots import plot_prediction

__all__ = [
    "DarcyFit",
    "darcy",
    "darcy_to_zarr",
    "fit_darcy",
    "fno_forcing",
    "gaussian_random_field",
    "load_darcy",
    "load_navier_stokes",
    "navier_stokes2d",
    "navier_stokes2d_to_zarr",
    "navier_stokes_pairs",
    "plot_prediction",
    "random_vorticity",
    "relative_errors",
    "save_darcy",
    "save_navier_stokes",
    "solve_darcy",
    "threshold_coefficient",
    "wave2d_to_zarr",
]
