"""tensorkit: tensor decompositions and scientific computing on numpy (Numba) and CuPy arrays.

The data decides the device: pass numpy arrays to run on the CPU, CuPy arrays to run on the GPU.

>>> import numpy as np, tensorkit
>>> X = np.random.default_rng(0).standard_normal((20, 30, 40))
>>> T = tensorkit.tucker(X, rank=(5, 5, 5))
>>> T.ranks
(5, 5, 5)
"""

from . import tenalg
from ._info import Info
from ._sysinfo import system_info
from ._version import __version__
from .backend import available_backends, to_device, to_numpy
from .decomposition import cp, tt, tucker
from .formats import CPTensor, DecompositionInfo, TTTensor, TuckerTensor
from .observed import ObservedTensor

# Subpackages with heavier tables or optional dependencies load on first use: tensorkit.gaunt etc.
_LAZY_SUBMODULES = frozenset(
    {"chebyshev", "completion", "distributed", "extend", "functional", "gaunt", "io", "nn", "sketch"}
)


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'tensorkit' has no attribute {name!r}")


__all__ = [
    "CPTensor",
    "DecompositionInfo",
    "Info",
    "ObservedTensor",
    "TTTensor",
    "TuckerTensor",
    "__version__",
    "available_backends",
    "cp",
    "system_info",
    "tenalg",
    "to_device",
    "to_numpy",
    "tt",
    "tucker",
]
