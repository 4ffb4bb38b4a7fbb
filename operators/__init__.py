"""Neural operators built on tensorkit: spectral convolutions, FNO, TFNO and MG-TFNO, multigrid patching.

Every layer is a :class:`tensorkit.nn.Module` with a hand-written adjoint; spectral weights can be
held as CP, Tucker or tensor-train factors (the factorized-weight engine of :mod:`tensorkit.nn`),
per layer or jointly over all layers (:class:`JointSpectralWeight`), and contracted without forming
the dense weight. Spectral layers and FNOs work on 1, 2 or 3 spatial dimensions (3: e.g. the FNO
paper's space-time FNO-3D). :class:`PeriodicCoordinates` appends global periodic coordinates ahead
of MG-TFNO's patching, and :class:`TwoLevelMGTFNO` completes the patches with a global coarse-grid
TFNO; :class:`BandLimit` and :class:`AntialiasedGELU` are band-limited layers for
resolution-consistent operators.
"""

from ._antialias import AntialiasedGELU, BandLimit, trigonometric_matrix
from ._embedding import PeriodicCoordinates
from ._fno import FNO, TFNO, FNOBlock
from ._joint import JointSpectralWeight
from ._mgtfno import MGTFNO
from ._patching import MultigridPatching2D
from ._plots import plot_error_vs_parameters, plot_fields, plot_learning_curves
from ._spectral_conv import SpectralConv
from ._two_level import TwoLevelMGTFNO

__all__ = [
    "FNO",
    "MGTFNO",
    "TFNO",
    "AntialiasedGELU",
    "BandLimit",
    "FNOBlock",
    "JointSpectralWeight",
    "MultigridPatching2D",
    "PeriodicCoordinates",
    "SpectralConv",
    "TwoLevelMGTFNO",
    "plot_error_vs_parameters",
    "plot_fields",
    "plot_learning_curves",
    "trigonometric_matrix",
]
