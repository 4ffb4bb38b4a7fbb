"""Chebyshev technology in three (or any number of) dimensions: grids, transforms, ChebTucker.

>>> import numpy as np
>>> from tensorkit.chebyshev import ChebTucker
>>> f = ChebTucker.from_function(lambda x, y, z: np.sin(x + 2 * y + 3 * z), (-1, 1), tol=1e-12)
>>> f.ranks
(2, 2, 2)
"""

from ._chebtucker import ChebTucker, check_domain, grid_fits_in_memory
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
    "grid_fits_in_memory",
    "values_to_coefficients",
]
