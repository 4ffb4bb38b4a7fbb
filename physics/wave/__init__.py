"""Wave simulators: the 2D wave equation by P1 finite elements, and a submodel of a zone of interest.

- :func:`wave2d`: datasets of ``u_tt = div(c^2 grad u) + f`` on the unit square (random Gaussian
  pulses or Ricker point sources, Dirichlet or absorbing walls, heterogeneous speed), snapshots on
  the nodal grid; :func:`save_wave` / :func:`load_wave` for ``.npz`` datasets.
- :class:`Submodel` and :func:`boundary_trace`: the same solver on a sub-rectangle driven by
  Dirichlet data over time, as in Boukraichi et al. (arXiv 2304.04964), where a network forecasts
  that boundary data and the submodel enforces the physics inside the zone.
- :class:`WaveFEM` and :func:`leapfrog`: the matrices (scikit-fem assembly, lumped mass, CFL
  bound, discrete energy), the explicit time loop underneath both, and :func:`choose_step`
  (the step they take).
- Surrogates (Boukraichi et al.): :class:`WaveCNN`, a U-Net whose convolutions are dense or
  compressed a priori (one-way filters, CP, Tucker); the forecasting task (:func:`forecast_windows`,
  :func:`rollout`) and :func:`compare_compression` with its table and figures
  (:func:`plot_compression`, :func:`plot_rollout`); the boundary generator
  (:func:`compare_boundary_generator`, :class:`ZoneReadout`).
"""

from ._boundary import BoundaryResult, compare_boundary_generator
from ._compare import CompressionResult, CompressionTable, compare_compression, relative_l2
from ._fem import WaveFEM, grid_coordinates, probe_matrix
from ._io import load_wave, save_wave
from ._leapfrog import leapfrog
from ._plots import plot_compression, plot_rollout
from ._simulate import choose_step, draw_sources, ricker, wave2d
from ._submodel import Submodel, boundary_trace
from ._surrogate import CONV_KINDS, WaveCNN, make_conv
from ._tasks import ZoneReadout, forecast_windows, rollout

__all__ = [
    "CONV_KINDS",
    "BoundaryResult",
    "CompressionResult",
    "CompressionTable",
    "Submodel",
    "WaveCNN",
    "WaveFEM",
    "ZoneReadout",
    "boundary_trace",
    "choose_step",
    "compare_boundary_generator",
    "compare_compression",
    "draw_sources",
    "forecast_windows",
    "grid_coordinates",
    "leapfrog",
    "load_wave",
    "make_conv",
    "plot_compression",
    "plot_rollout",
    "probe_matrix",
    "relative_l2",
    "ricker",
    "rollout",
    "save_wave",
    "wave2d",
]
