"""Neural operators built on tensorkit: spectral convolutions, FNO, TFNO and MG-TFNO, multigrid patching.

Every layer is a :class:`tensorkit.nn.Module` with a hand-written adjoint; spectral weights can be
held as CP, Tucker or tensor-train factors (the factorized-weight engine of :mod:`tensorkit.nn`),
per layer or jointly over all layers (:class:`JointSpectralWeight`), and contracted without forming
the dense weight.
"""

from ._fno import FNO, TFNO, FNOBlock
from ._joint import JointSpectralWeight
from ._mgtfno import MGTFNO
from ._patching import MultigridPatching2D
from ._plots import plot_error_vs_parameters, plot_fields, plot_learning_curves
from ._spectral_conv import SpectralConv

__all__ = [
    "FNO",
    "MGTFNO",
    "TFNO",
    "FNOBlock",
    "JointSpectralWeight",
    "MultigridPatching2D",
    "SpectralConv",
    "plot_error_vs_parameters",
    "plot_fields",
    "plot_learning_curves",
]
