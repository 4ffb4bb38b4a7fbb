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
"""

from ._fem import WaveFEM, grid_coordinates, probe_matrix
from ._io import load_wave, save_wave
from ._leapfrog import leapfrog
from ._simulate import choose_step, draw_sources, ricker, wave2d
from ._submodel import Submodel, boundary_trace

__all__ = [
    "Submodel",
    "WaveFEM",
    "boundary_trace",
    "choose_step",
    "draw_sources",
    "grid_coordinates",
    "leapfrog",
    "load_wave",
    "probe_matrix",
    "ricker",
    "save_wave",
    "wave2d",
]
