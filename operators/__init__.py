"""Neural operators built on tensorkit: spectral convolutions, FNO and TFNO.

Every layer is a :class:`tensorkit.nn.Module` with a hand-written adjoint; spectral weights can be
held as CP, Tucker or tensor-train factors and contracted without forming the dense weight.
"""

from ._fno import FNO, TFNO, FNOBlock
from ._spectral_conv import SpectralConv

__all__ = ["FNO", "TFNO", "FNOBlock", "SpectralConv"]
