"""Neural operators built on tensorkit: spectral convolutions, FNO and TFNO, multigrid patching.

Every layer is a :class:`tensorkit.nn.Module` with a hand-written adjoint; spectral weights can be
held as CP, Tucker or tensor-train factors (the factorized-weight engine of :mod:`tensorkit.nn`) and
contracted without forming the dense weight.
"""

from ._fno import FNO, TFNO, FNOBlock
from ._patching import MultigridPatching2D
from ._spectral_conv import SpectralConv

__all__ = ["FNO", "TFNO", "FNOBlock", "MultigridPatching2D", "SpectralConv"]
