"""Chebyshev technology in three (or any number of) dimensions: grids, transforms, ChebTucker.

>>> import numpy as np
>>> from tensorkit.chebyshev import ChebTucker
>>> f = ChebTucker.from_function(lambda x, y, z: np.sin(x + 2 * y + 3 * z), (-1, 1), tol=1e-12)
>>> f.ranks
(2, 2, 2)
>>> f.coefficients  # the Chebyshev coefficients, a TuckerTensor
TuckerTensor(shape=(14, 17, 20), ranks=(2, 2, 2), dtype=float64)
"""

from ._chebtucker import ChebTucker
from ._checks import check_domain
from ._transform import (
    chebyshev_points,
    chebyshev_vandermonde,
    coefficients_to_values,
    values_to_coefficients,
)

__all__ = [
    "ChebTucker",
    "chebyshev_points",
    "chebyshev_vandermonde",
    "check_domain",
    "coefficients_to_values",
    "values_to_coefficients",
]
