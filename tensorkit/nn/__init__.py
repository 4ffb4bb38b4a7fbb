"""Neural-network layers, losses, optimizers and a trainer on numpy/CuPy arrays, without autodiff.

Each layer writes out its adjoint (``backward``); parameters and gradients are plain dicts of arrays.
The protocol (``forward`` / ``backward`` / ``zero_grad`` / ``step``) is in :class:`Module`.
"""

from ._module import Module

__all__ = ["Module"]
