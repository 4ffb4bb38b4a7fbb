"""Sketching operators and fast least squares with an l-infinity guarantee.

>>> import numpy as np
>>> from tensorkit.sketch import GaussianSketch
>>> S = GaussianSketch(8, random_state=0)
>>> A = np.ones((100, 3))
>>> S.apply(A).shape
(8, 3)
>>> bool(np.allclose(S.apply(A)[:, 0], S.apply(A[:, 0])))
True
"""

from ._lstsq import METHODS, LstsqResult, linf_error, lstsq, preconditioned_cg
from ._operators import (
    SRDCT,
    SRHT,
    ComposedSketch,
    CountSketch,
    GaussianSketch,
    KroneckerSketch,
    SketchOperator,
    SparseSign,
    make_sketch,
)

__all__ = [
    "METHODS",
    "SRDCT",
    "SRHT",
    "ComposedSketch",
    "CountSketch",
    "GaussianSketch",
    "KroneckerSketch",
    "LstsqResult",
    "SketchOperator",
    "SparseSign",
    "linf_error",
    "lstsq",
    "make_sketch",
    "preconditioned_cg",
]
