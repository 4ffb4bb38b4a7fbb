"""Sketching operators and fast least squares with an l-infinity guarantee.

Operators (random ``S`` applied without forming it): dense :class:`GaussianSketch`, :class:`SRHT`,
:class:`SRDCT`; sparse :class:`CountSketch`, :class:`SparseSign`; :class:`ComposedSketch` (sparse
then dense, e.g. :func:`sparse_then_gaussian`); :class:`KroneckerSketch` for tensor-product rows.
Solvers: :func:`lstsq` (LAPACK, sketch-and-solve, sketch-and-precondition with iterative
refinement) and its building blocks :func:`sketched_solve`, :func:`refined_cg` (SPIR) and
:func:`preconditioned_cg` (plain CG without refinement); :mod:`tensorkit.distributed` reuses
:func:`refined_cg` with :mod:`tensorkit.sketch.planning` (sketch sizes, seeds, option checks,
scale-safe norms).

>>> import numpy as np
>>> from tensorkit.sketch import GaussianSketch
>>> S = GaussianSketch(8, random_state=0)
>>> A = np.ones((100, 3))
>>> S.apply(A).shape
(8, 3)
>>> bool(np.allclose(S.apply(A)[:, 0], S.apply(A[:, 0])))
True
"""

from . import planning
from ._base import SketchOperator
from ._composed import ComposedSketch, make_sketch, sparse_then_gaussian
from ._dense import SRDCT, SRHT, GaussianSketch
from ._iteration import RefinedSolution, preconditioned_cg, refined_cg
from ._kronecker import KroneckerSketch
from ._lstsq import METHODS, LstsqResult, linf_error, lstsq
from ._solve import sketched_solve
from ._sparse import CountSketch, SparseSign

__all__ = [
    "METHODS",
    "SRDCT",
    "SRHT",
    "ComposedSketch",
    "CountSketch",
    "GaussianSketch",
    "KroneckerSketch",
    "LstsqResult",
    "RefinedSolution",
    "SketchOperator",
    "SparseSign",
    "linf_error",
    "lstsq",
    "make_sketch",
    "planning",
    "preconditioned_cg",
    "refined_cg",
    "sketched_solve",
    "sparse_then_gaussian",
]
